"""Resampling in time: frame arrays and MOTIONs, by linear interpolation that keeps the duration."""

from __future__ import annotations

import math

import numpy as np
import torch

from ..core.errors import InputError
from ..core.motion import Motion, validate_motion


def resample_frames(positions: np.ndarray, fps_in: float, fps_out: float) -> np.ndarray:
    """Linearly interpolate [T, ...] frames from ``fps_in`` to ``fps_out`` (float32).

    Output frame k is at time k / fps_out; the clip keeps its duration (T - 1) / fps_in, so the
    result has floor((T - 1) * fps_out / fps_in) + 1 frames.
    """
    x = np.asarray(positions)
    if x.ndim < 1 or x.shape[0] < 1:
        raise InputError("positions", "expected at least one frame")
    if not (fps_in > 0 and fps_out > 0):
        raise InputError("fps", f"fps_in and fps_out must be positive, got {fps_in}, {fps_out}")
    x = x.astype(np.float64)
    num_in = x.shape[0]
    num_out = int(math.floor((num_in - 1) * fps_out / fps_in + 1e-9)) + 1
    t = np.arange(num_out) * (fps_in / fps_out)  # in input-frame units
    i0 = np.clip(np.floor(t).astype(int), 0, num_in - 1)
    i1 = np.minimum(i0 + 1, num_in - 1)
    w = (t - i0).reshape((-1,) + (1,) * (x.ndim - 1))
    return ((1 - w) * x[i0] + w * x[i1]).astype(np.float32)


# --------------------------------------------------------------------------------------------

def resample(motion: Motion, fps: float) -> Motion:
    """Linear interpolation in time to ``fps`` (:func:`resample_frames`: the duration is kept).

    Floating-point params are interpolated like the joints; other params take the nearest frame.
    """
    motion = validate_motion(motion)
    if not (isinstance(fps, (int, float)) and fps > 0):
        raise InputError("fps", f"must be positive, got {fps!r}")
    if fps == motion.fps:
        return motion
    joints = torch.from_numpy(resample_frames(motion.joints.numpy(), motion.fps, fps))
    nearest = np.rint(np.arange(joints.shape[0]) * motion.fps / fps).astype(int).clip(0, motion.num_frames - 1)
    params = {}
    for key, value in motion.params.items():
        if value.is_floating_point():
            params[key] = torch.from_numpy(resample_frames(value.numpy(), motion.fps, fps)).to(value.dtype)
        else:
            params[key] = value[torch.from_numpy(nearest)]
    return Motion(joints, float(fps), motion.layout, params, motion.canvas_size)
