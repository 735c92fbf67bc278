"""What every Table 1 baseline shares: the ``ForecastModel`` contract (see ``baselines.py``) and the
helpers for training windows, future frames and inference."""

from __future__ import annotations

from contextlib import contextmanager
from typing import Protocol, runtime_checkable

import torch
from torch import nn

from ..core.errors import InputError
from .types import Conditioning, PoseWindows


@runtime_checkable
class ForecastModel(Protocol):
    name: str

    def forecast(self, initial_pose: torch.Tensor, conditioning: Conditioning, horizon: int,
                 initial_visible: torch.Tensor | None = None, aspect=None) -> torch.Tensor:
        """[B, J, 2] -> [B, horizon, J, 2]; ``initial_visible`` [B, J] and ``aspect`` (canvas width /
        height, [B] or a number) are for models that need them (the bone head); others ignore them."""
        ...


# ----------------------------------------------------------------------------------------------
# Shared helpers


def fill_invisible(poses: torch.Tensor, visible: torch.Tensor) -> torch.Tensor:
    """[S, T, J, 2]: each invisible keypoint replaced by its last visible position in an earlier
    frame (kept as is where it was never visible before)."""
    out = poses.clone()
    for t in range(1, poses.shape[1]):
        out[:, t] = torch.where(visible[:, t, :, None], poses[:, t], out[:, t - 1])
    return out


def fit_horizon(future: torch.Tensor, horizon: int) -> torch.Tensor:
    """[B, horizon, ...]: ``future`` [B, k, ...] truncated, or padded by repeating its last frame."""
    k = future.shape[1]
    if horizon <= k:
        return future[:, :horizon]
    return torch.cat([future, future[:, -1:].expand(-1, horizon - k, *future.shape[2:])], dim=1)


def check_train(train) -> PoseWindows:
    if not isinstance(train, PoseWindows):
        raise InputError("train", f"expected PoseWindows, got {type(train).__name__}")
    if len(train) == 0 or train.horizon < 1:
        raise InputError("train", "expected at least one window with at least one future frame")
    return train


def displacements(windows: PoseWindows) -> tuple[torch.Tensor, torch.Tensor]:
    """Per-frame displacements from P0, [S, k, J, 2], and where they are defined, [S, k, J]
    (the keypoint visible both in P0 and in the frame)."""
    poses = windows.poses.float()
    valid = windows.visible[:, 1:] & windows.visible[:, :1]
    disp = torch.where(valid[..., None], poses[:, 1:] - poses[:, :1], torch.zeros(()))
    return disp, valid


@contextmanager
def eval_no_grad(module: nn.Module):
    was_training = module.training
    module.eval()
    try:
        with torch.no_grad():
            yield
    finally:
        module.train(was_training)
