"""Conversions between ComfyUI IMAGE tensors ([B,H,W,C] float32 0..1, CPU) and uint8 RGB arrays."""

from __future__ import annotations

import numpy as np
import torch

from ..core.errors import InputError


def as_uint8_frames(frames, input_name: str = "image") -> np.ndarray:
    """IMAGE tensor [B,H,W,C] (C in 1, 3, 4) or uint8 array [B,H,W,3] -> contiguous uint8 RGB [B,H,W,3]."""
    if isinstance(frames, torch.Tensor):
        if frames.ndim != 4 or frames.shape[-1] not in (1, 3, 4):
            raise InputError(input_name, f"expected an IMAGE batch [B,H,W,C] with C in 1,3,4, got shape {list(frames.shape)}")
        if frames.shape[0] == 0:
            raise InputError(input_name, "empty batch: expected at least one frame")
        if frames.shape[1] < 1 or frames.shape[2] < 1:
            raise InputError(input_name, f"image has no pixels: shape {list(frames.shape)}")
        # Frame by frame: whole-batch float temporaries cost more than detection itself on long clips.
        out = np.empty((*frames.shape[:3], 3), np.uint8)
        for i, frame in enumerate(frames):
            if not torch.isfinite(frame).all():
                raise InputError(input_name, f"frame {i} contains NaN or infinite values")
            pixels = frame[..., :3].mul(255).add_(0.5).clamp_(0, 255).to(torch.uint8).numpy()
            out[i] = pixels  # broadcasts a single channel to RGB
        return out
    if isinstance(frames, np.ndarray) and frames.dtype == np.uint8 and frames.ndim == 4 and frames.shape[-1] == 3:
        if frames.shape[0] == 0:
            raise InputError(input_name, "empty batch: expected at least one frame")
        return np.ascontiguousarray(frames)
    raise InputError(input_name, f"expected an IMAGE tensor [B,H,W,C] or uint8 frames [B,H,W,3], got {type(frames).__name__}")


def to_image(frames: np.ndarray) -> torch.Tensor:
    """uint8 [B,H,W,3] (or float 0..1) -> IMAGE tensor [B,H,W,3] float32 on the CPU."""
    if frames.dtype == np.uint8:
        return torch.from_numpy(frames).to(torch.float32).div_(255.0)
    return torch.from_numpy(np.ascontiguousarray(frames, np.float32))
