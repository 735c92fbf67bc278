"""Pose-centred coordinates: every sample is expressed relative to its initial pose's box.

People appear at very different sizes (a far-away walker vs. mocap projected to fill the
frame), and a displacement learned in image coordinates does not transfer across scales. All
forecasters therefore work in the frame of P0's bounding box: x' = (x - centre) / size, where
``size`` is the box's longer side. Keypoints unseen in a frame are 0 in both frames.
"""

from __future__ import annotations

import torch

POSE_FRAME = "p0_box"  # recorded in checkpoints trained in this frame
MIN_SIZE = 1e-3


def p0_box(initial_pose: torch.Tensor, visible: torch.Tensor) -> torch.Tensor:
    """[B, J, 2] P0 and [B, J] visibility -> [B, 3] (centre x, centre y, size)."""
    big = torch.finfo(initial_pose.dtype).max
    seen = visible[..., None]
    low = torch.where(seen, initial_pose, torch.full_like(initial_pose, big)).amin(1)
    high = torch.where(seen, initial_pose, torch.full_like(initial_pose, -big)).amax(1)
    centre = (low + high) / 2
    size = (high - low).amax(-1, keepdim=True).clamp(min=MIN_SIZE)
    return torch.cat([centre, size], dim=-1)


def to_pose_frame(poses: torch.Tensor, visible: torch.Tensor, box: torch.Tensor) -> torch.Tensor:
    """poses [B, ..., J, 2] and visible [B, ..., J] in image coordinates -> the P0-box frame."""
    shape = (box.shape[0],) + (1,) * (poses.ndim - 2)
    out = (poses - box[:, :2].reshape(*shape, 2)) / box[:, 2:].reshape(*shape, 1)
    return torch.where(visible[..., None], out, torch.zeros_like(out))


def from_pose_frame(poses: torch.Tensor, box: torch.Tensor) -> torch.Tensor:
    shape = (box.shape[0],) + (1,) * (poses.ndim - 2)
    return poses * box[:, 2:].reshape(*shape, 1) + box[:, :2].reshape(*shape, 2)
