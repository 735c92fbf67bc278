"""MOTION: 3D joint motion shared by every capability of the pack.

``Motion`` holds
- ``joints``: torch float32 CPU tensor [T, J, 3];
- ``fps``: frames per second (> 0);
- ``layout``: a skeleton layout id from ``layouts.LAYOUTS`` naming the J joints in order;
- ``params``: optional per-frame tensors, each [T, ...] (e.g. ``visibility`` [T, J] in 0..1, body
  model parameters in later capabilities);
- ``canvas_size``: (width, height) for image-space layouts, else None.

Coordinates depend on the layout's space:
- layouts ending in ``_image`` are image-space: x and y normalised to 0..1 of the canvas (x right,
  y down), z a relative depth away from the camera in the units of x (MediaPipe's convention);
  joints that were not seen have visibility 0;
- all other layouts are world space in metres, y up.

A Motion is immutable: operations return new instances and never touch the input tensors.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Mapping

import torch

from .errors import InputError
from .layouts import layout_names
from .pose_keypoint import MAX_CANVAS_SIDE


@dataclass(frozen=True)
class Motion:
    joints: torch.Tensor
    fps: float
    layout: str
    params: Mapping[str, torch.Tensor] = field(default_factory=dict)
    canvas_size: tuple[int, int] | None = None

    def __post_init__(self):
        validate_motion(self)

    @property
    def num_frames(self) -> int:
        return int(self.joints.shape[0])

    @property
    def is_image_space(self) -> bool:
        return self.layout.endswith("_image")

    def visibility(self) -> torch.Tensor:
        """[T, J] visibility; all ones when the motion carries none."""
        vis = self.params.get("visibility")
        return torch.ones(self.joints.shape[:2]) if vis is None else vis


def validate_motion(motion, input_name: str = "motion") -> "Motion":
    if not isinstance(motion, Motion):
        raise InputError(input_name, f"expected a MOTION, got {type(motion).__name__}")
    joints = motion.joints
    if not isinstance(joints, torch.Tensor) or joints.dtype != torch.float32 or joints.device.type != "cpu":
        raise InputError(input_name, "joints must be a float32 CPU torch tensor")
    try:
        names = layout_names(motion.layout)
    except InputError as error:
        raise InputError(input_name, str(error)) from None
    if joints.ndim != 3 or joints.shape[1:] != (len(names), 3) or joints.shape[0] < 1:
        raise InputError(input_name, f"joints must be [T>=1, {len(names)}, 3] for layout {motion.layout!r}, got {list(joints.shape)}")
    if not torch.isfinite(joints).all():
        raise InputError(input_name, "joints contain NaN or infinite values")
    if not (isinstance(motion.fps, (int, float)) and motion.fps > 0):
        raise InputError(input_name, f"fps must be positive, got {motion.fps!r}")
    for key, value in motion.params.items():
        if not isinstance(value, torch.Tensor) or value.ndim < 1 or value.shape[0] != joints.shape[0]:
            raise InputError(input_name, f"param {key!r} must be a tensor with {joints.shape[0]} frames first")
    if motion.layout.endswith("_image") and motion.canvas_size is None:
        raise InputError(input_name, f"image-space layout {motion.layout!r} needs canvas_size")
    size = motion.canvas_size
    if size is not None and not (isinstance(size, (tuple, list)) and len(size) == 2 and all(
            isinstance(v, int) and not isinstance(v, bool) and 1 <= v <= MAX_CANVAS_SIDE for v in size)):
        raise InputError(input_name, f"canvas_size must be (width, height), each 1..{MAX_CANVAS_SIDE}, got {size!r}")
    return motion
