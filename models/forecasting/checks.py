"""Input checks shared by every forecaster (the one-stage model and the baselines)."""

from __future__ import annotations

import torch

from ..core.errors import InputError
from .types import Conditioning


def check_horizon(horizon, maximum: int | None = None) -> int:
    if isinstance(horizon, bool) or not isinstance(horizon, int) or horizon < 1 or (maximum is not None and horizon > maximum):
        limit = f"1..{maximum}" if maximum is not None else "a positive number of"
        raise InputError("horizon", f"expected {limit} frames for this checkpoint, got {horizon!r}")
    return horizon


def check_initial_pose(initial_pose, conditioning, num_joints: int, layout: str, initial_visible=None) -> torch.Tensor:
    """Validate a forecast query (P0 and its conditioning rows); returns P0's [B, J] bool visibility."""
    if not isinstance(initial_pose, torch.Tensor) or initial_pose.ndim != 3 or initial_pose.shape[1:] != (num_joints, 2):
        got = list(initial_pose.shape) if isinstance(initial_pose, torch.Tensor) else type(initial_pose).__name__
        raise InputError("initial_pose", f"expected [B, {num_joints}, 2] keypoints for layout {layout!r}, got {got}")
    if not initial_pose.is_floating_point() or not torch.isfinite(initial_pose).all():
        raise InputError("initial_pose", "contains NaN or infinite coordinates (expected finite floating point)")
    if not isinstance(conditioning, Conditioning):
        raise InputError("conditioning", f"expected a Conditioning, got {type(conditioning).__name__}")
    if len(conditioning) != initial_pose.shape[0]:
        raise InputError("conditioning", f"{len(conditioning)} rows for {initial_pose.shape[0]} initial poses")
    if initial_visible is None:
        return torch.ones(initial_pose.shape[:2], dtype=torch.bool, device=initial_pose.device)
    if (not isinstance(initial_visible, torch.Tensor) or initial_visible.dtype != torch.bool
            or initial_visible.shape != initial_pose.shape[:2]):
        raise InputError("initial_visible", f"expected a bool [B, J] = {list(initial_pose.shape[:2])} tensor")
    return initial_visible


def check_conditioning(conditioning: Conditioning, encoder: str, cond_dim: int) -> Conditioning:
    """Features must come from the encoder (and width) the model was trained with."""
    if conditioning.encoder != encoder:
        raise InputError("conditioning", f"features come from encoder {conditioning.encoder!r} but the checkpoint "
                         f"was trained on {encoder!r}")
    if conditioning.dim != cond_dim:
        raise InputError("conditioning", f"expected {cond_dim}-d tokens, got {conditioning.dim}-d")
    return conditioning
