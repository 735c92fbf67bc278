"""Left/right mirror images of motions and poses: the one place a motion is mirrored.

- ``mirror_joints(joints, layout)``: world-space joints ``[..., J, 3]`` (x to the subject's left in
  the SMPL layouts): x negated, every ``left_*`` joint swapped with its ``right_*`` counterpart.
- ``mirror_image_points(points, layout, visible=None)``: normalised image points ``[..., J, C]``
  (x, y in 0..1, x to the right, then any channels such as confidence, carried along unchanged):
  x -> 1 - x and sides swapped. With ``visible`` (``[..., J]`` bool, of the input points), unseen
  points come out as 0 in x and y, OpenPose's convention for a point not seen.
- ``swap_sides(values, layout, axis=-1)``: only the reordering, for anything per joint (a separate
  visibility array, per-joint confidences).

Numpy arrays and torch tensors are both accepted; the result has the input's type and dtype and is
always a new array. The side swap is ``core.layouts.left_right_swap`` of the layout's joint names.
"""

from __future__ import annotations

import numpy as np
import torch

from ..core.errors import InputError
from ..core.layouts import layout_names, left_right_swap

Array = np.ndarray | torch.Tensor


def _joint_axis(values: Array, layout: str, axis: int, input_name: str) -> int:
    count = len(layout_names(layout))
    axis = axis if axis >= 0 else values.ndim + axis
    if not 0 <= axis < values.ndim or values.shape[axis] != count:
        raise InputError(input_name, f"expected {count} {layout} joints on axis {axis}, got shape {list(values.shape)}")
    return axis


def swap_sides(values: Array, layout: str, axis: int = -1) -> Array:
    """``values`` with its joint axis (``axis``, -1 by default) in mirror order: left and right swapped."""
    axis = _joint_axis(values, layout, axis, "values")
    index = (slice(None),) * axis + (left_right_swap(layout_names(layout)),)
    return values[index]  # advanced indexing: a copy, numpy and torch alike


def _check_points(values: Array, layout: str, input_name: str, channels: int, exact: bool) -> None:
    """``values`` is ``[..., J, C]``: J the layout's joints, C ``channels`` (at least, unless ``exact``)."""
    count = len(layout_names(layout))
    if values.ndim < 2 or values.shape[-2] != count or values.shape[-1] < channels or (
            exact and values.shape[-1] != channels):
        wanted = str(channels) if exact else f"{channels}+"
        raise InputError(input_name, f"expected {layout} {input_name} [..., {count}, {wanted}], "
                                     f"got {list(values.shape)}")


def mirror_joints(joints: Array, layout: str) -> Array:
    """World-space ``[..., J, 3]`` joints of ``layout`` -> their mirror image (x negated, sides swapped)."""
    _check_points(joints, layout, "joints", 3, exact=True)
    out = swap_sides(joints, layout, axis=-2)
    out[..., 0] *= -1
    return out


def mirror_image_points(points: Array, layout: str, visible: Array | None = None) -> Array:
    """Normalised image points ``[..., J, C >= 2]`` of ``layout`` -> the mirrored image: x -> 1 - x,
    sides swapped, channels after x, y carried along; unseen points (``visible`` False) -> 0 in x, y."""
    _check_points(points, layout, "points", 2, exact=False)
    out = swap_sides(points, layout, axis=-2)
    out[..., 0] = 1.0 - out[..., 0]
    if visible is not None:
        if tuple(visible.shape) != tuple(points.shape[:-1]):
            raise InputError("visible", f"expected {list(points.shape[:-1])} (one flag per point), "
                                        f"got {list(visible.shape)}")
        out[..., :2][swap_sides(visible, layout) == 0] = 0
    return out
