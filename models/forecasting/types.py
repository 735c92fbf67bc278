"""Data types of the forecasting capability, documented once.

Poses are 2D keypoints in normalised image coordinates (x, y in 0..1 of the canvas, as in
POSE_KEYPOINT) with a per-keypoint visibility flag; layouts are ``openpose_18`` (body) or
``hand_21``. Tensors are float32 on the CPU unless a model moved them.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from ..core.errors import InputError
from .pose_frame import from_pose_frame


@dataclass(frozen=True)
class Conditioning:
    """FORECAST_CONDITIONING: what the decoder cross-attends to, for a batch of B samples.

    - ``tokens`` [B, N, D]: F_M, the image-grounded text encoder's fused tokens (BLIP), or the
      MiniLM text tokens of the embedded default encoder;
    - ``mask`` [B, N] bool, True where a token is real (not padding);
    - ``image_tokens`` [B, N_I, D_I] / ``image_mask``: F_I, BLIP's frozen image tokens, or None;
    - ``encoder``: the encoder's id (e.g. ``"blip:blip-itm-base-coco"`` or ``"minilm-l6"``),
      stored in every checkpoint so features from another encoder are refused.
    """

    tokens: torch.Tensor
    mask: torch.Tensor
    encoder: str
    image_tokens: torch.Tensor | None = None
    image_mask: torch.Tensor | None = None

    def __post_init__(self):
        if self.tokens.ndim != 3 or self.mask.shape != self.tokens.shape[:2] or self.mask.dtype != torch.bool:
            raise InputError("conditioning", f"expected tokens [B,N,D] and a bool mask [B,N], got "
                             f"{list(self.tokens.shape)} and {list(self.mask.shape)} {self.mask.dtype}")
        if not self.mask.any(dim=1).all():
            raise InputError("conditioning", "every sample needs at least one unmasked token")

    @property
    def dim(self) -> int:
        return int(self.tokens.shape[-1])

    def __len__(self) -> int:
        return int(self.tokens.shape[0])

    def pooled(self) -> torch.Tensor:
        """[B, D] float32: the mean of ``tokens`` over the unmasked tokens (a sentence-level vector)."""
        weights = self.mask.to(torch.float32)[..., None]
        return (self.tokens.float() * weights).sum(1) / weights.sum(1).clamp_min(1)

    def select(self, index) -> "Conditioning":
        """Rows ``index`` (a slice, list or tensor of indices) of the batch."""
        pick = (lambda t: None if t is None else t[index])
        return Conditioning(self.tokens[index], self.mask[index], self.encoder,
                            pick(self.image_tokens), pick(self.image_mask))

    def to(self, device) -> "Conditioning":
        move = (lambda t: None if t is None else t.to(device))
        return Conditioning(self.tokens.to(device), self.mask.to(device), self.encoder,
                            move(self.image_tokens), move(self.image_mask))


@dataclass(frozen=True)
class PoseWindows:
    """A set of forecasting samples: an initial pose and the next ``horizon`` poses.

    - ``poses`` [S, horizon + 1, J, 2]: frame 0 is P0;
    - ``visible`` [S, horizon + 1, J] bool: keypoints seen in the source (metrics and losses
      ignore the others);
    - ``conditioning``: one row per sample;
    - ``texts``, ``clips``: the action text and the source clip of each sample (splits are by clip);
    - ``box`` [S, 3] or None: when set, ``poses`` are in the P0-box frame (``pose_frame.py``) and
      ``box`` maps them back to image coordinates;
    - ``aspect`` [S] or None: each sample's canvas width / height (None: 1), the unit in which 2D
      bone lengths are compared.
    """

    poses: torch.Tensor
    visible: torch.Tensor
    conditioning: Conditioning
    texts: list[str]
    clips: list[str]
    layout: str
    fps: float
    box: torch.Tensor | None = None
    aspect: torch.Tensor | None = None

    def __len__(self) -> int:
        return int(self.poses.shape[0])

    @property
    def horizon(self) -> int:
        return int(self.poses.shape[1]) - 1

    @property
    def num_joints(self) -> int:
        return int(self.poses.shape[2])

    def select(self, index) -> "PoseWindows":
        rows = index if not isinstance(index, slice) else list(range(len(self)))[index]
        rows = torch.as_tensor(rows, dtype=torch.long)
        return PoseWindows(self.poses[rows], self.visible[rows], self.conditioning.select(rows),
                           [self.texts[i] for i in rows.tolist()], [self.clips[i] for i in rows.tolist()],
                           self.layout, self.fps, None if self.box is None else self.box[rows],
                           None if self.aspect is None else self.aspect[rows])

    def to(self, device) -> "PoseWindows":
        move = (lambda t: None if t is None else t.to(device))
        return PoseWindows(self.poses.to(device), self.visible.to(device), self.conditioning.to(device),
                           self.texts, self.clips, self.layout, self.fps, move(self.box), move(self.aspect))

    def image_poses(self) -> torch.Tensor:
        """Poses in image coordinates (undoing the P0-box frame when there is one)."""
        if self.box is None:
            return self.poses

        return from_pose_frame(self.poses, self.box)
