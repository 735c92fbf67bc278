"""Euler-angle rotation matrices (numpy, float64), as the mocap file formats write them."""

from __future__ import annotations

import numpy as np


def axis_rotation(axis: str, angles: np.ndarray) -> np.ndarray:
    """[N, 3, 3] rotation matrices about one of x/y/z by ``angles`` (radians, [N])."""
    c, s = np.cos(angles), np.sin(angles)
    out = np.zeros(angles.shape + (3, 3))
    i = "xyz".index(axis)
    j, k = (i + 1) % 3, (i + 2) % 3
    out[..., i, i] = 1.0
    out[..., j, j] = c
    out[..., k, k] = c
    out[..., j, k] = -s
    out[..., k, j] = s
    return out


def euler_to_matrix(axes: str, angles: np.ndarray) -> np.ndarray:
    """Rotation R = R_axes[0](a0) R_axes[1](a1) ... for angles [N, len(axes)] in radians."""
    angles = np.asarray(angles, np.float64)
    out = np.broadcast_to(np.eye(3), angles.shape[:-1] + (3, 3)).copy()
    for n, axis in enumerate(axes):
        out = out @ axis_rotation(axis, angles[..., n])
    return out


def fixed_axes_to_matrix(axes: str, angles: np.ndarray) -> np.ndarray:
    """Rotations applied about fixed axes in the order written: R = R_axes[-1] ... R_axes[0]."""
    angles = np.asarray(angles, np.float64)
    return euler_to_matrix(axes[::-1], angles[..., ::-1])
