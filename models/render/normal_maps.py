"""Normal maps of a MOTION: each bone a capsule, rendered with per-pixel camera-space normals.

Hands (the PoseGen hand-normal condition), the body, or both, from image-space landmarks such as
the detector's ``mediapipe_holistic_75_image`` motion. Capsule radii scale with the skeleton (palm
length for hands, torso length for the body) so renders look alike at any resolution.
"""

from __future__ import annotations

import numpy as np

from ..core.errors import InputError
from ..core.layouts import HAND_EDGES, MEDIAPIPE_33_BONES
from ..core.motion import Motion, validate_motion
from .normal_raster import capsule_normals

NORMAL_MAP_PARTS = ("hands", "body", "whole")
_HAND_OFFSETS = (33, 54)  # left and right hand in the holistic 75 layout


def _holistic_bones(part: str) -> list[tuple[int, int, str | int]]:
    """(joint a, joint b, radius key): the key is "body" or the hand's first landmark index."""
    bones = []
    if part in ("body", "whole"):
        bones += [(a, b, "body") for a, b in MEDIAPIPE_33_BONES]
    if part in ("hands", "whole"):
        bones += [(o + a, o + b, o) for o in _HAND_OFFSETS for a, b in HAND_EDGES]
    return bones


def render_motion_normals(motion: Motion, part: str = "hands", width: int = 0, height: int = 0,
                          thickness: float = 1.0, progress=None) -> tuple[np.ndarray, np.ndarray]:
    """-> (rgb float32 [T,H,W,3] in 0..1, mask bool [T,H,W]); see ``normals`` for the convention.

    Frames where the chosen part was not seen stay black with an empty mask.
    """
    validate_motion(motion)
    if motion.layout != "mediapipe_holistic_75_image":
        raise InputError("motion", f"normal maps need layout 'mediapipe_holistic_75_image', got {motion.layout!r}")
    if part not in NORMAL_MAP_PARTS:
        raise InputError("part", f"expected one of {NORMAL_MAP_PARTS}, got {part!r}")
    if not thickness > 0:
        raise InputError("thickness", f"expected > 0, got {thickness}")
    width = int(width or motion.canvas_size[0])
    height = int(height or motion.canvas_size[1])
    if width < 1 or height < 1:
        raise InputError("width/height", f"expected a positive canvas size, got {width}x{height}")
    bones = _holistic_bones(part)
    joints = motion.joints.numpy()
    visible = motion.visibility().numpy() > 0.0
    rgb = np.zeros((motion.num_frames, height, width, 3), np.float32)
    mask = np.zeros((motion.num_frames, height, width), bool)
    for t in range(motion.num_frames):
        points = joints[t] * np.array([width, height, width], np.float32)
        radius = {"body": _body_radius(points, visible[t])}
        radius.update({o: _hand_radius(points, visible[t], o) for o in _HAND_OFFSETS})
        drawn = [(a, b, radius[key] * thickness) for a, b, key in bones if radius[key] > 0]
        if drawn:
            rgb[t], mask[t], _ = capsule_normals(points, [(a, b) for a, b, _ in drawn],
                                                 np.array([r for _, _, r in drawn]), height, width, valid=visible[t])
        if progress is not None:
            progress(t + 1, motion.num_frames)
    return rgb, mask


def _hand_radius(points: np.ndarray, visible: np.ndarray, wrist: int) -> float:
    """12 % of the palm (wrist to middle-finger knuckle) in pixels; 0 when the hand was not seen."""
    if not (visible[wrist] and visible[wrist + 9]):
        return 0.0
    return 0.12 * float(np.linalg.norm(points[wrist, :2] - points[wrist + 9, :2]))


def _body_radius(points: np.ndarray, visible: np.ndarray) -> float:
    """6 % of the torso (shoulder centre to hip centre), or 8 % of the shoulder width without hips."""
    if not visible[[11, 12]].all():
        return 0.0
    if not visible[[23, 24]].all():
        return 0.08 * float(np.linalg.norm(points[11, :2] - points[12, :2]))
    shoulders = (points[11, :2] + points[12, :2]) / 2
    hips = (points[23, :2] + points[24, :2]) / 2
    return 0.06 * float(np.linalg.norm(shoulders - hips))
