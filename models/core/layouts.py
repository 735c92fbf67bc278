"""Keypoint layouts: names, bones, drawing colours and conversions between them.

Layout ids are plain strings used everywhere a pose or motion names its joints:

- ``openpose_18``  OpenPose/ControlNet body (nose, neck, right arm, left arm, right leg, left leg, eyes, ears)
- ``mediapipe_33`` MediaPipe Pose landmarks
- ``hand_21``      wrist + 4 points per finger (thumb..pinky); MediaPipe and OpenPose share this order
- ``coco_17``      COCO body keypoints
- ``mediapipe_holistic_75_image`` detection landmarks in 3D: mediapipe_33 body, then left hand_21,
  then right hand_21 (see ``motion.py`` for its coordinate convention)
- ``smpl_22``      SMPL body joints in HumanML3D order (pelvis first); world space, metres, y up,
  x to the subject's left and z forward in SMPL's rest pose
- ``smpl_52``      ``smpl_22`` then 15 left-hand and 15 right-hand SMPL-H joints (index, middle, pinky,
  ring, thumb; joints 1..3 from knuckle to last joint, no finger tips)

Kinematic trees (``layout_parents``) exist for the SMPL layouts: ``parents[j]`` is the joint that
``j`` hangs from, -1 for the pelvis, and every parent comes before its children.
"""

from __future__ import annotations

import numpy as np

from .errors import InputError

OPENPOSE_18 = (
    "nose", "neck", "right_shoulder", "right_elbow", "right_wrist", "left_shoulder", "left_elbow",
    "left_wrist", "right_hip", "right_knee", "right_ankle", "left_hip", "left_knee", "left_ankle",
    "right_eye", "left_eye", "right_ear", "left_ear",
)

MEDIAPIPE_33 = (
    "nose", "left_eye_inner", "left_eye", "left_eye_outer", "right_eye_inner", "right_eye",
    "right_eye_outer", "left_ear", "right_ear", "mouth_left", "mouth_right", "left_shoulder",
    "right_shoulder", "left_elbow", "right_elbow", "left_wrist", "right_wrist", "left_pinky",
    "right_pinky", "left_index", "right_index", "left_thumb", "right_thumb", "left_hip", "right_hip",
    "left_knee", "right_knee", "left_ankle", "right_ankle", "left_heel", "right_heel",
    "left_foot_index", "right_foot_index",
)

HAND_21 = ("wrist",) + tuple(
    f"{finger}_{part}"
    for finger in ("thumb", "index", "middle", "ring", "pinky")
    for part in (("cmc", "mcp", "ip", "tip") if finger == "thumb" else ("mcp", "pip", "dip", "tip"))
)

COCO_17 = (
    "nose", "left_eye", "right_eye", "left_ear", "right_ear", "left_shoulder", "right_shoulder",
    "left_elbow", "right_elbow", "left_wrist", "right_wrist", "left_hip", "right_hip", "left_knee",
    "right_knee", "left_ankle", "right_ankle",
)

HOLISTIC_75 = MEDIAPIPE_33 + tuple("left_" + n for n in HAND_21) + tuple("right_" + n for n in HAND_21)

SMPL_22 = (
    "pelvis", "left_hip", "right_hip", "spine1", "left_knee", "right_knee", "spine2", "left_ankle",
    "right_ankle", "spine3", "left_foot", "right_foot", "neck", "left_collar", "right_collar", "head",
    "left_shoulder", "right_shoulder", "left_elbow", "right_elbow", "left_wrist", "right_wrist",
)
SMPL_22_PARENTS = (-1, 0, 0, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 9, 9, 12, 13, 14, 16, 17, 18, 19)

SMPLH_FINGERS = ("index", "middle", "pinky", "ring", "thumb")  # SMPL-H order within a hand


def _hand_joint_names(side: str) -> tuple[str, ...]:
    return tuple(f"{side}_{finger}{k}" for finger in SMPLH_FINGERS for k in (1, 2, 3))


def _hand_parents(wrist: int, first: int) -> tuple[int, ...]:
    """Each finger's joint 1 hangs from the wrist, joints 2 and 3 from the joint before."""
    return tuple(wrist if k == 0 else first + 3 * f + k - 1 for f in range(len(SMPLH_FINGERS)) for k in range(3))


SMPL_52 = SMPL_22 + _hand_joint_names("left") + _hand_joint_names("right")
SMPL_52_PARENTS = SMPL_22_PARENTS + _hand_parents(SMPL_22.index("left_wrist"), 22) + _hand_parents(
    SMPL_22.index("right_wrist"), 37)

LAYOUTS: dict[str, tuple[str, ...]] = {
    "openpose_18": OPENPOSE_18,
    "mediapipe_33": MEDIAPIPE_33,
    "hand_21": HAND_21,
    "coco_17": COCO_17,
    "mediapipe_holistic_75_image": HOLISTIC_75,
    "smpl_22": SMPL_22,
    "smpl_52": SMPL_52,
}

_PARENTS: dict[str, tuple[int, ...]] = {"smpl_22": SMPL_22_PARENTS, "smpl_52": SMPL_52_PARENTS}

# Bones for drawing, as (parent, child) index pairs in joint order.
SMPL_22_BONES = tuple((p, j) for j, p in enumerate(SMPL_22_PARENTS) if p >= 0)
SMPL_52_BONES = tuple((p, j) for j, p in enumerate(SMPL_52_PARENTS) if p >= 0)

# OpenPose body limbs (0-based) in ControlNet's drawing order (render/openpose.py colours limb k
# with BODY_COLORS[k]).
OPENPOSE_LIMBS = (
    (1, 2), (1, 5), (2, 3), (3, 4), (5, 6), (6, 7), (1, 8), (8, 9), (9, 10), (1, 11), (11, 12),
    (12, 13), (1, 0), (0, 14), (14, 16), (0, 15), (15, 17),
)
HAND_EDGES = tuple(
    edge
    for base in (1, 5, 9, 13, 17)
    for edge in ((0, base), (base, base + 1), (base + 1, base + 2), (base + 2, base + 3))
)

# MediaPipe face-mesh indices (468-point mesh) for the 68 dlib/OpenPose face points, in order:
# jaw (17), right brow, left brow, nose bridge, nose base, right eye, left eye, outer lips, inner lips.
# OpenPose appends two pupils (68 right, 69 left): the means of each eye's six points.
FACE_MESH_TO_68 = (
    127, 234, 93, 132, 58, 136, 150, 176, 152, 400, 379, 365, 288, 361, 323, 454, 356,
    70, 63, 105, 66, 107, 336, 296, 334, 293, 300,
    168, 197, 5, 4, 75, 97, 2, 326, 305,
    33, 160, 158, 133, 153, 144, 362, 385, 387, 263, 373, 380,
    61, 39, 37, 0, 267, 269, 291, 405, 314, 17, 84, 181, 78, 82, 13, 312, 308, 317, 14, 87,
)

# Body bones of the 33-point MediaPipe skeleton used for 3D (normal-map) rendering.
MEDIAPIPE_33_BONES = (
    (11, 12), (11, 23), (12, 24), (23, 24),  # torso
    (11, 13), (13, 15), (12, 14), (14, 16),  # arms
    (23, 25), (25, 27), (27, 29), (29, 31), (27, 31),  # left leg and foot
    (24, 26), (26, 28), (28, 30), (30, 32), (28, 32),  # right leg and foot
    (0, 2), (0, 5), (2, 7), (5, 8),  # head
)


def layout_names(layout: str) -> tuple[str, ...]:
    try:
        return LAYOUTS[layout]
    except KeyError:
        raise InputError("layout", f"unknown layout {layout!r}; expected one of {sorted(LAYOUTS)}") from None


def layout_parents(layout: str) -> tuple[int, ...]:
    """Parent index of every joint of a layout with a kinematic tree (-1 for the root)."""
    layout_names(layout)  # unknown layouts get the usual message
    try:
        return _PARENTS[layout]
    except KeyError:
        raise InputError("layout", f"layout {layout!r} has no kinematic tree; expected one of {sorted(_PARENTS)}") from None


def left_right_swap(names: tuple[str, ...]) -> list[int]:
    """Index of each joint's mirror counterpart (``left_*`` <-> ``right_*``; itself for centre joints),
    the joint order of a left/right mirror image. A name used twice (the holistic layout's body wrist
    and hand wrist) pairs by occurrence: the second ``left_wrist`` with the second ``right_wrist``."""
    swapped = [n.replace("left", "\0").replace("right", "left").replace("\0", "right") for n in names]
    occurrence = [names[:i].count(n) for i, n in enumerate(names)]
    return [[j for j, m in enumerate(names) if m == n][k] for n, k in zip(swapped, occurrence)]


def layout_bones(layout: str) -> tuple[tuple[int, int], ...]:
    """(parent, child) index pairs of a layout's kinematic tree, for drawing."""
    return tuple((p, j) for j, p in enumerate(layout_parents(layout)) if p >= 0)


def _midpoint(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Mean of two keypoints (x, y, conf); confidence is the weaker one, missing if either is."""
    out = np.zeros(a.shape, np.float32)
    both = (a[..., 2] > 0) & (b[..., 2] > 0)
    out[..., :2] = np.where(both[..., None], (a[..., :2] + b[..., :2]) / 2, 0)
    out[..., 2] = np.where(both, np.minimum(a[..., 2], b[..., 2]), 0)
    return out


# OpenPose index <- source index; the neck (OpenPose 1) is the shoulders' midpoint.
_FROM_MEDIAPIPE = {0: 0, 2: 12, 3: 14, 4: 16, 5: 11, 6: 13, 7: 15, 8: 24, 9: 26, 10: 28,
                   11: 23, 12: 25, 13: 27, 14: 5, 15: 2, 16: 8, 17: 7}
_FROM_COCO = {0: 0, 2: 6, 3: 8, 4: 10, 5: 5, 6: 7, 7: 9, 8: 12, 9: 14, 10: 16,
              11: 11, 12: 13, 13: 15, 14: 2, 15: 1, 16: 4, 17: 3}
_SHOULDERS = {"mediapipe_33": (11, 12), "coco_17": (5, 6)}


def to_openpose_18(points: np.ndarray, layout: str) -> np.ndarray:
    """Convert [..., J, 3] (x, y, conf) keypoints of ``layout`` to the OpenPose-18 body layout."""
    names = layout_names(layout)
    points = np.asarray(points, np.float32)
    if points.ndim < 2 or points.shape[-2:] != (len(names), 3):
        raise InputError("points", f"expected [..., {len(names)}, 3] for layout {layout!r}, got {list(points.shape)}")
    if layout == "openpose_18":
        return points.copy()
    if layout not in _SHOULDERS:
        raise InputError("layout", f"no conversion from {layout!r} to openpose_18")
    mapping = _FROM_MEDIAPIPE if layout == "mediapipe_33" else _FROM_COCO
    out = np.zeros(points.shape[:-2] + (18, 3), np.float32)
    for dst, src in mapping.items():
        out[..., dst, :] = points[..., src, :]
    left, right = _SHOULDERS[layout]
    out[..., 1, :] = _midpoint(points[..., left, :], points[..., right, :])
    return out
