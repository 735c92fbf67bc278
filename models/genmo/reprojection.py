"""2D reprojection error of a 3D motion against 2D keypoints: the loss GENMO trains with when a clip has
only 2D annotations (paper, sec. 3.2 and Eq. 6), differentiable in the joints.

Inputs (one batch; torch):

- ``joints`` [B, L, 22, 3]: ``smpl_22`` joints in metres, y up (the denoiser's motion decoded, in its
  canonical frame: the camera relative to it is unknown);
- ``keypoints`` [B, L, 17, 3], ``keypoints_mask`` [B, L]: the condition's COCO-17 keypoints
  (``keypoints2d``: x, y in units of each frame's square person box, which spans -1..1, y down;
  confidence), and the frames that have a person.

Camera model (the 263-d representation has no camera, and the keypoints are box-normalised): one
static viewing direction per clip, searched on a grid of ``YAW_STEP`` degrees x ``ELEVATIONS``
(``keypoints2d.camera_axes``' convention, no gradient through the choice), and per frame a
weak-perspective scale and offset in box units solved in closed form (weighted least squares, scale
held >= ``MIN_SCALE`` so a camera on its head, a negative scale, can never fit). Weak perspective has
the depth ambiguity of any single view: a mirrored body fits as well as the body (it is the body
flipped in depth, seen from the opposite side). Joints used: the ones keypoints carry for
SMPL (``keypoints2d.SMPL_FOR_COCO``: no eyes or ears) with confidence >= ``KEYPOINT_MIN_CONFIDENCE``.

``reprojection_error`` returns, per clip, the mean over its fitted frames of the mean squared 2D
residual of its joints, in box units squared (box side = 2 units, so an RMS of 0.1 is 5 % of the
box); a clip with no fitted frame gives 0 and does not count (``fitted`` says which clips count).
"""

from __future__ import annotations

import numpy as np
import torch

from ..core.errors import InputError
from .conditions import COCO_JOINTS, KEYPOINT_MIN_CONFIDENCE
from .keypoints2d import SMPL_FOR_COCO, camera_axes

YAW_STEP = 10.0  # degrees, over the full circle
ELEVATIONS = (-10.0, 0.0, 10.0, 20.0, 30.0)  # degrees of the camera above the subject
MIN_SCALE = 1e-3  # box units per metre; a person 1.7 m tall fills a box of 2 units at about 0.98
MIN_FRAME_JOINTS = 3  # confident joints a frame needs to fit its own scale and offset

_COCO = list(SMPL_FOR_COCO)
_SMPL = [SMPL_FOR_COCO[k] for k in _COCO]


def _grid() -> tuple[torch.Tensor, torch.Tensor]:
    yaw, elevation = (g.reshape(-1) for g in np.meshgrid(np.arange(0.0, 360.0, YAW_STEP), np.asarray(ELEVATIONS),
                                                         indexing="ij"))
    right, up, _ = camera_axes(yaw, elevation)
    return torch.from_numpy(right).float(), torch.from_numpy(up).float()  # [G, 3] each


_RIGHT, _UP = _grid()


def _frame_residuals(points: torch.Tensor, target: torch.Tensor, weight: torch.Tensor, right: torch.Tensor,
                     up: torch.Tensor) -> torch.Tensor:
    """Mean squared residual per frame and camera after each frame's own weak-perspective fit.

    points [B, L, J, 3], target [B, L, J, 2], weight [B, L, J] (0/1), right / up [..., G, 3] broadcast
    against [B, L] -> [B, L, G]."""
    a = torch.einsum("bljc,blgc->bljg", points, right.expand(*points.shape[:2], -1, -1))
    b = -torch.einsum("bljc,blgc->bljg", points, up.expand(*points.shape[:2], -1, -1))
    w = weight[..., None]
    total = w.sum(2, keepdim=True).clamp_min(1.0)

    def centred(x):
        return x - (x * w).sum(2, keepdim=True) / total
    da, db = centred(a), centred(b)
    du, dv = centred(target[..., 0:1]), centred(target[..., 1:2])
    scale = ((w * (da * du + db * dv)).sum(2) / (w * (da ** 2 + db ** 2)).sum(2).clamp_min(1e-12)).clamp_min(MIN_SCALE)
    residual = (du - scale[:, :, None] * da) ** 2 + (dv - scale[:, :, None] * db) ** 2
    return (w * residual).sum(2) / total[:, :, 0]


def reprojection_error(joints: torch.Tensor, keypoints: torch.Tensor, keypoints_mask: torch.Tensor
                       ) -> tuple[torch.Tensor, torch.Tensor]:
    """(error [B], fitted [B] bool): see the module docstring."""
    rows, length = joints.shape[:2]
    if joints.shape[2:] != (22, 3):
        raise InputError("joints", f"expected smpl_22 joints [B, L, 22, 3], got {list(joints.shape)}")
    if keypoints.shape != (rows, length, COCO_JOINTS, 3) or keypoints_mask.shape != (rows, length):
        raise InputError("keypoints", f"expected keypoints [{rows}, {length}, 17, 3] and mask [{rows}, {length}] "
                                      f"for joints {list(joints.shape)}, got {list(keypoints.shape)} and "
                                      f"{list(keypoints_mask.shape)}")
    points = joints[:, :, _SMPL]
    target = keypoints[:, :, _COCO, :2].to(points)
    weight = ((keypoints[:, :, _COCO, 2] >= KEYPOINT_MIN_CONFIDENCE) & keypoints_mask[..., None]).to(points)
    frames = (weight.sum(-1) >= MIN_FRAME_JOINTS).to(points)  # [B, L]
    weight = weight * frames[..., None]
    count = frames.sum(1)
    right, up = _RIGHT.to(points), _UP.to(points)
    with torch.no_grad():  # the viewing direction is chosen, not learned
        per_camera = (_frame_residuals(points, target, weight, right, up) * frames[..., None]).sum(1)
        best = per_camera.argmin(dim=1)  # [B]
    chosen = _frame_residuals(points, target, weight, right[best][:, None, None], up[best][:, None, None])[..., 0]
    error = (chosen * frames).sum(1) / count.clamp_min(1.0)
    return error, count > 0
