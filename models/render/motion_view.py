"""Looking at a 3D MOTION: project it to POSE_KEYPOINT through a virtual camera, or draw its skeleton.

World-space SMPL layouts (``smpl_22``, ``smpl_52``; metres, y up) map onto OpenPose-18 bodies and,
for ``smpl_52``, onto 21-point hands. SMPL has no nose, eyes or ears: the nose is placed on the
head joint and the eyes and ears are left missing (confidence 0), which renderers skip. SMPL-H
fingers have three joints and no tip, so each finger's fourth hand point is missing too.

The camera is ``camera.project_to_image``'s: fixed for the clip, looking at the clip's mean pelvis,
from a yaw about +y and an elevation, at the smallest distance that frames every joint (times
``distance_scale``). With ``relative_to_facing`` (the default) the yaw is measured from the body's
mean facing over the clip: 0 is a front view, 90 the body's left side; otherwise 0 is the +z side.
"""

from __future__ import annotations

import cv2
import numpy as np

from ..core.errors import InputError
from ..core.layouts import OPENPOSE_18, layout_names, layout_parents
from ..core.motion import Motion, validate_motion
from ..core.pose_keypoint import make_frame, make_person
from .camera import facing_yaw_degrees, project_to_image

# OpenPose-18 point -> SMPL joint name (points not listed have no SMPL counterpart).
_BODY_FROM_SMPL = {
    "nose": "head", "neck": "neck",
    "right_shoulder": "right_shoulder", "right_elbow": "right_elbow", "right_wrist": "right_wrist",
    "left_shoulder": "left_shoulder", "left_elbow": "left_elbow", "left_wrist": "left_wrist",
    "right_hip": "right_hip", "right_knee": "right_knee", "right_ankle": "right_ankle",
    "left_hip": "left_hip", "left_knee": "left_knee", "left_ankle": "left_ankle",
}
# hand_21 order: wrist, then thumb, index, middle, ring, pinky with four points each (base to tip).
_FINGERS = ("thumb", "index", "middle", "ring", "pinky")


def _hand_sources(side: str) -> list[str | None]:
    sources: list[str | None] = [f"{side}_wrist"]
    for finger in _FINGERS:
        sources += [f"{side}_{finger}{k}" for k in (1, 2, 3)] + [None]  # SMPL-H has no finger tips
    return sources


def _openpose_sources(layout: str) -> tuple[list[str | None], bool]:
    """Source joint names for the 18 body points (+ 2 x 21 hand points when the layout has hands)."""
    sources: list[str | None] = [_BODY_FROM_SMPL.get(name) for name in OPENPOSE_18]
    names = set(layout_names(layout))
    with_hands = all(s in names for s in _hand_sources("left") + _hand_sources("right") if s)
    if with_hands:
        sources += _hand_sources("left") + _hand_sources("right")
    return sources, with_hands


def _check_world_motion(motion) -> Motion:
    motion = validate_motion(motion)
    names = set(layout_names(motion.layout))
    if motion.is_image_space or not {"pelvis", "head", "left_wrist", "right_ankle"} <= names:
        raise InputError("motion", f"expected a world-space SMPL motion (smpl_22 or smpl_52), got layout {motion.layout!r}")
    return motion


def _camera_yaw(motion: Motion, yaw_degrees: float, relative_to_facing: bool) -> float:
    return yaw_degrees + (facing_yaw_degrees(motion.joints, motion.layout) if relative_to_facing else 0.0)


def project_motion(motion: Motion, yaw_degrees: float = 0.0, elevation_degrees: float = 10.0,
                   distance_scale: float = 1.1, width: int = 512, height: int = 512,
                   relative_to_facing: bool = True) -> list[dict]:
    """POSE_KEYPOINT frames (one person each) of ``motion`` seen through the virtual camera."""
    motion = _check_world_motion(motion)
    yaw_degrees = _camera_yaw(motion, yaw_degrees, relative_to_facing)
    names = layout_names(motion.layout)
    index = {name: k for k, name in enumerate(names)}
    sources, with_hands = _openpose_sources(motion.layout)
    valid = np.array([s is not None for s in sources])
    picks = [index[s] if s else 0 for s in sources]
    points = motion.joints.numpy()[:, picks]
    pelvis = sources.index("left_hip"), sources.index("right_hip")
    xy, visible = project_to_image(points, valid, yaw_degrees, elevation_degrees, distance_scale,
                                   aspect=(width, height), root_indices=list(pelvis))
    keypoints = np.concatenate([xy, visible[..., None].astype(np.float32)], axis=-1)
    frames = []
    for frame in keypoints:
        hands = (frame[18:39], frame[39:60]) if with_hands else (None, None)
        person = make_person(body=frame[:18], left_hand=hands[0], right_hand=hands[1])
        frames.append(make_frame([person], width, height))
    return frames


# Bone colours (RGB): the body's left side warm, right side cool, the centre line grey-white.
_LEFT, _RIGHT, _CENTRE = (255, 140, 40), (40, 160, 255), (220, 220, 220)


def render_motion(motion: Motion, yaw_degrees: float = 0.0, elevation_degrees: float = 10.0,
                  distance_scale: float = 1.1, width: int = 512, height: int = 512,
                  thickness: int = 0, relative_to_facing: bool = True) -> np.ndarray:
    """Draw every bone of the motion's skeleton: uint8 frames [T, height, width, 3] on black.

    ``thickness`` 0 picks a line width from the image size.
    """
    motion = _check_world_motion(motion)
    if width < 16 or height < 16:
        raise InputError("width/height", f"expected at least 16 pixels, got {width}x{height}")
    yaw_degrees = _camera_yaw(motion, yaw_degrees, relative_to_facing)
    names = layout_names(motion.layout)
    parents = layout_parents(motion.layout)
    xy, visible = project_to_image(motion.joints.numpy(), None, yaw_degrees, elevation_degrees, distance_scale,
                                   aspect=(width, height), root_indices=[names.index("pelvis")])
    pixels = np.round(xy * np.array([width, height]) * 16).astype(np.int32)  # 4 bits of sub-pixel precision
    line = thickness or max(1, round(min(width, height) / 128))
    colours = [_LEFT if n.startswith("left") else _RIGHT if n.startswith("right") else _CENTRE for n in names]
    out = np.zeros((motion.num_frames, height, width, 3), np.uint8)
    for t in range(motion.num_frames):
        img = out[t]
        for child, parent in enumerate(parents):
            if parent >= 0 and visible[t, child] and visible[t, parent]:
                cv2.line(img, tuple(pixels[t, parent]), tuple(pixels[t, child]), colours[child], line,
                         cv2.LINE_AA, shift=4)
        for joint in np.flatnonzero(visible[t]):
            cv2.circle(img, tuple(pixels[t, joint]), (line + 1) * 16, colours[joint], -1, cv2.LINE_AA, shift=4)
    return out
