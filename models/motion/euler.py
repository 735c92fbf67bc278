"""Rotation matrices from Euler angles, as the mocap file formats write them, and to unit
quaternions, as BVH and glTF writers need them (numpy, float64)."""

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


def matrix_to_quaternion(matrices: np.ndarray) -> np.ndarray:
    """(w, x, y, z) unit quaternions [..., 4] of rotation matrices [..., 3, 3]."""
    m = matrices
    xx, yy, zz = m[..., 0, 0], m[..., 1, 1], m[..., 2, 2]
    xy, xz, yx, yz, zx, zy = m[..., 0, 1], m[..., 0, 2], m[..., 1, 0], m[..., 1, 2], m[..., 2, 0], m[..., 2, 1]
    # 4 q_k q for each k in w, x, y, z; the one with the largest 4 q_k^2 (its leading entry) is the
    # best conditioned
    candidates = np.stack([
        np.stack([1 + xx + yy + zz, zy - yz, xz - zx, yx - xy], -1),
        np.stack([zy - yz, 1 + xx - yy - zz, xy + yx, xz + zx], -1),
        np.stack([xz - zx, xy + yx, 1 - xx + yy - zz, yz + zy], -1),
        np.stack([yx - xy, xz + zx, yz + zy, 1 - xx - yy + zz], -1),
    ], -2)
    leading = np.stack([candidates[..., k, k] for k in range(4)], -1)
    best = np.take_along_axis(candidates, leading.argmax(-1)[..., None, None], axis=-2)[..., 0, :]
    return best / np.linalg.norm(best, axis=-1, keepdims=True)
