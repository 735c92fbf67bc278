"""A virtual pinhole camera for world-space joints, and the body's facing that aims it.

:func:`project_to_image`
    A fixed pinhole camera orbits the clip's mean root position: ``yaw`` turns about +y starting on
    the +z side (yaw 0 looks along -z, so a subject facing +z is seen from the front and its left
    appears on the image right; yaw 90 sees its left side), ``elevation`` lifts it above the target
    (looking down). ``fov_degrees`` is the vertical field of view. The distance is the smallest one
    that keeps every valid point of every frame inside the image with a margin, times
    ``distance_scale``. Image coordinates are normalised to 0..1 (x right, y down).

:func:`facing_yaw_degrees`
    The mean facing of a clip as a yaw about +y in the camera's convention (facing +z = 0, facing
    +x = 90): forward = (left - right, hips and shoulders) x up, summed over frames.
"""

from __future__ import annotations

import math
from typing import Sequence

import numpy as np

from ..core.errors import InputError
from ..core.layouts import OPENPOSE_18, layout_names


def facing_yaw_degrees(joints, layout: str) -> float:
    """Mean facing of a world-space clip ``[T, J, 3]`` (numpy or torch) of ``layout``, as a yaw.

    ``project_to_image(..., yaw_degrees=facing + a)`` views it from angle ``a`` (0 front, 90 its left
    side, 180 back). The layout must name left/right hips and shoulders (OpenPose-18, SMPL).
    """
    names = layout_names(layout)
    needed = ("left_hip", "right_hip", "left_shoulder", "right_shoulder")
    if not set(needed) <= set(names):
        raise InputError("layout", f"facing needs hips and shoulders; layout {layout!r} lacks some of {needed}")
    p = np.asarray(joints, np.float64)
    left = p[:, names.index("left_hip")] + p[:, names.index("left_shoulder")]
    right = p[:, names.index("right_hip")] + p[:, names.index("right_shoulder")]
    across = (left - right).sum(axis=0)  # right -> left; forward = across x up = (-z, 0, x)
    return math.degrees(math.atan2(-across[2], across[0]))


def _camera_basis(yaw_degrees: float, elevation_degrees: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(right, up, forward) unit vectors of the camera; forward points from the camera to the target."""
    yaw, el = math.radians(yaw_degrees), math.radians(elevation_degrees)
    back = np.array([math.sin(yaw) * math.cos(el), math.sin(el), math.cos(yaw) * math.cos(el)])
    forward = -back
    right = np.cross(forward, np.array([0.0, 1.0, 0.0]))
    norm = np.linalg.norm(right)
    if norm < 1e-8:  # looking straight down/up: keep yaw's horizontal right vector
        right = np.array([math.cos(yaw), 0.0, -math.sin(yaw)])
    else:
        right /= norm
    up = np.cross(right, forward)
    return right, up, forward


def project_to_image(
    points: np.ndarray,
    valid: np.ndarray | None = None,
    yaw_degrees: float = 0.0,
    elevation_degrees: float = 10.0,
    distance_scale: float = 1.0,
    fov_degrees: float = 50.0,
    aspect: tuple[int, int] = (640, 480),
    margin: float = 0.1,
    root_indices: Sequence[int] | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Project world points [T, J, 3] (metres, y up) through a fixed virtual pinhole camera.

    Returns (xy [T, J, 2] float32 in 0..1, x right / y down; visible [T, J] bool). The camera looks
    at the mean over the clip of the root (mean of ``root_indices``; default: the OpenPose hips 8 and
    11 when J == 18 and both are valid, else all valid joints), from ``yaw_degrees`` about +y
    (0 = on the +z side) and ``elevation_degrees`` above. It does not move during the clip. Its
    distance is the smallest that keeps every valid point of the clip inside the image shrunk by
    ``margin`` (a fraction of each half-size), multiplied by ``distance_scale`` (> 1 leaves more room,
    < 1 crops). ``fov_degrees`` is the vertical field of view, ``aspect`` the image (width, height).
    Invalid joints, points behind the camera and points outside the image are not visible; their
    ``xy`` is 0.
    """
    pts = np.asarray(points, np.float64)
    if pts.ndim != 3 or pts.shape[-1] != 3 or pts.shape[0] < 1:
        raise InputError("points", f"expected [T>=1, J, 3], got {list(pts.shape)}")
    num_joints = pts.shape[1]
    valid = np.ones(num_joints, bool) if valid is None else np.asarray(valid, bool)
    if valid.shape != (num_joints,):
        raise InputError("valid", f"expected [{num_joints}] booleans, got {list(valid.shape)}")
    if not valid.any():
        raise InputError("valid", "no valid joint to frame")
    if not np.isfinite(pts[:, valid]).all():
        raise InputError("points", "valid joints contain NaN or infinite values")
    if not 1.0 <= fov_degrees <= 170.0:
        raise InputError("fov_degrees", f"expected 1..170, got {fov_degrees}")
    if not -89.0 <= elevation_degrees <= 89.0:
        raise InputError("elevation_degrees", f"expected -89..89, got {elevation_degrees}")
    if not distance_scale > 0:
        raise InputError("distance_scale", f"must be positive, got {distance_scale}")
    if not 0.0 <= margin < 1.0:
        raise InputError("margin", f"expected 0 <= margin < 1, got {margin}")
    width, height = (int(v) for v in aspect)
    if width < 1 or height < 1:
        raise InputError("aspect", f"expected (width, height) >= 1, got {aspect}")

    if root_indices is None:
        root_indices = [8, 11] if num_joints == len(OPENPOSE_18) and valid[8] and valid[11] else np.flatnonzero(valid)
    root_indices = list(root_indices)
    if not root_indices or not all(0 <= i < num_joints and valid[i] for i in root_indices):
        raise InputError("root_indices", f"expected indices of valid joints, got {root_indices}")
    target = pts[:, root_indices].mean(axis=1).mean(axis=0)

    right, up, forward = _camera_basis(yaw_degrees, elevation_degrees)
    rel = pts - target
    cx, cy, cz = rel @ right, rel @ up, rel @ forward  # camera-frame coordinates (before distance)
    tan_y = math.tan(math.radians(fov_degrees) / 2)
    tan_x = tan_y * width / height
    shrink = 1.0 - margin
    v = valid[None, :].repeat(len(pts), 0)
    # a point at depth cz + d projects inside when |cx| <= (cz + d) tan_x shrink (same for y)
    need = np.maximum(np.abs(cx[v]) / (tan_x * shrink), np.abs(cy[v]) / (tan_y * shrink)) - cz[v]
    near = 0.05
    fit = max(float(need.max()), float((near - cz[v]).max()), near)
    distance = fit * distance_scale

    depth = cz + distance
    in_front = depth > near
    safe = np.where(in_front, depth, 1.0)
    focal = 0.5 / tan_y  # in units of the image height
    x = 0.5 + focal * (cx / safe) * height / width
    y = 0.5 - focal * (cy / safe)
    visible = v & in_front & (x >= 0) & (x <= 1) & (y >= 0) & (y <= 1)
    xy = np.where(visible[..., None], np.stack([x, y], axis=-1), 0.0)
    return xy.astype(np.float32), visible


# --------------------------------------------------------------------------------------------
