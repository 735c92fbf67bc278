"""Conversions between ComfyUI IMAGE tensors ([B,H,W,C] float32 0..1, CPU) and uint8 RGB arrays."""

from __future__ import annotations

import numpy as np
import torch

from ..core.errors import InputError
from ..core.pose_keypoint import MAX_CANVAS_SIDE

ASPECT_TOLERANCE = 0.02  # aspect ratios this close count as the same: scaled, not cropped


def as_uint8_frames(frames, input_name: str = "image") -> np.ndarray:
    """IMAGE tensor [B,H,W,C] (C in 1, 3, 4) or uint8 array [B,H,W,3] -> contiguous uint8 RGB [B,H,W,3]."""
    if isinstance(frames, torch.Tensor):
        _check_image_shape(frames, input_name)
        # Frame by frame: whole-batch float temporaries cost more than detection itself on long clips.
        out = np.empty((*frames.shape[:3], 3), np.uint8)
        for i, frame in enumerate(frames):
            _check_finite(frame, i, input_name)
            pixels = frame[..., :3].mul(255).add_(0.5).clamp_(0, 255).to(torch.uint8).numpy()
            out[i] = pixels  # broadcasts a single channel to RGB
        return out
    if isinstance(frames, np.ndarray) and frames.dtype == np.uint8 and frames.ndim == 4 and frames.shape[-1] == 3:
        if frames.shape[0] == 0:
            raise InputError(input_name, "empty batch: expected at least one frame")
        return np.ascontiguousarray(frames)
    raise InputError(input_name, f"expected an IMAGE tensor [B,H,W,C] or uint8 frames [B,H,W,3], got {type(frames).__name__}")


def validate_image(frames, input_name: str = "image") -> torch.Tensor:
    """An IMAGE input: a float tensor [B>=1, H>=1, W>=1, C in 1,3,4] of finite values."""
    if not isinstance(frames, torch.Tensor):
        raise InputError(input_name, f"expected an IMAGE tensor [B,H,W,C], got {type(frames).__name__}")
    _check_image_shape(frames, input_name)
    for i, frame in enumerate(frames):  # frame by frame, as above
        _check_finite(frame, i, input_name)
    return frames


def _check_image_shape(frames: torch.Tensor, input_name: str) -> None:
    if frames.ndim != 4 or frames.shape[-1] not in (1, 3, 4):
        raise InputError(input_name, f"expected an IMAGE batch [B,H,W,C] with C in 1,3,4, got shape {list(frames.shape)}")
    if not frames.is_floating_point():
        raise InputError(input_name, f"expected float pixel values 0..1, got {frames.dtype}")
    if frames.shape[0] == 0:
        raise InputError(input_name, "empty batch: expected at least one frame")
    if frames.shape[1] < 1 or frames.shape[2] < 1:
        raise InputError(input_name, f"image has no pixels: shape {list(frames.shape)}")
    if max(frames.shape[1:3]) > MAX_CANVAS_SIDE:
        raise InputError(input_name, f"image side above {MAX_CANVAS_SIDE} px: shape {list(frames.shape)}")


def _check_finite(frame: torch.Tensor, index: int, input_name: str) -> None:
    # One float64 sum instead of torch.isfinite(frame).all() (a bool tensor per frame: 2-5 ms at 640 px, a
    # tenth of Detect Pose's time): NaN and inf carry into the sum, and finite float32 values cannot
    # overflow a float64 sum.
    if not torch.isfinite(frame.sum(dtype=torch.float64)):
        raise InputError(input_name, f"frame {index} contains NaN or infinite values")


def centre_crop(size: tuple[int, int], width: int, height: int) -> tuple[int, int, int, int] | None:
    """The centre crop (x0, y0, crop width, crop height) of a ``size`` = (w, h) picture to the aspect
    ratio of width x height, or None when the aspects agree within ``ASPECT_TOLERANCE`` (then the
    picture is scaled as it is). The one rule for PoseGen's reference image and the poses fitted to it."""
    w, h = size
    if abs((w / h) / (width / height) - 1) <= ASPECT_TOLERANCE:
        return None
    if w / h > width / height:
        crop = round(h * width / height)
        return (w - crop) // 2, 0, crop, h
    crop = round(w * height / width)
    return 0, (h - crop) // 2, w, crop


def to_image(frames: np.ndarray) -> torch.Tensor:
    """uint8 [B,H,W,3] (or float 0..1) -> IMAGE tensor [B,H,W,3] float32 on the CPU."""
    if frames.dtype == np.uint8:
        return torch.from_numpy(frames).to(torch.float32).div_(255.0)
    return torch.from_numpy(np.ascontiguousarray(frames, np.float32))
