"""Render POSE_KEYPOINT frames as OpenPose-style skeleton images (the ControlNet / Wan pose convention).

Body: 17 limbs as filled ellipses (half-width ``stick_width``) in the limb colours darkened to 60 %,
then 18 joint discs. Hands: 20 bones as lines in the HSV edge palette, then blue joint discs. Face:
white dots. Coordinates are normalised, so any canvas size works.
"""

from __future__ import annotations

import cv2
import numpy as np

from ..core.errors import InputError
from ..core.layouts import HAND_EDGES, OPENPOSE_LIMBS
from ..core.pose_keypoint import person_arrays, validate_pose_keypoint

# One colour per OpenPose keypoint (RGB); limbs use them darkened to 60 %.
BODY_COLORS = (
    (255, 0, 0), (255, 85, 0), (255, 170, 0), (255, 255, 0), (170, 255, 0), (85, 255, 0), (0, 255, 0),
    (0, 255, 85), (0, 255, 170), (0, 255, 255), (0, 170, 255), (0, 85, 255), (0, 0, 255), (85, 0, 255),
    (170, 0, 255), (255, 0, 255), (255, 0, 170), (255, 0, 85),
)
LIMB_COLOR_SCALE = 0.6
HAND_POINT_COLOR = (0, 0, 255)
FACE_POINT_COLOR = (255, 255, 255)


def _hsv_hue_to_rgb(hue: float) -> tuple[int, int, int]:
    """Fully saturated, full-value HSV colour as 0..255 RGB (the OpenPose hand edge palette)."""
    sector = hue * 6.0
    i = int(sector) % 6
    f = sector - int(sector)
    v, p, q, t = 1.0, 0.0, 1.0 - f, f
    r, g, b = ((v, t, p), (q, v, p), (p, v, t), (p, q, v), (t, p, v), (v, p, q))[i]
    return int(r * 255), int(g * 255), int(b * 255)


HAND_EDGE_COLORS = tuple(_hsv_hue_to_rgb(k / len(HAND_EDGES)) for k in range(len(HAND_EDGES)))

_LIMB_A = np.array([a for a, _ in OPENPOSE_LIMBS])
_LIMB_B = np.array([b for _, b in OPENPOSE_LIMBS])
_LIMB_COLORS = [tuple(int(c * LIMB_COLOR_SCALE) for c in BODY_COLORS[k]) for k in range(len(OPENPOSE_LIMBS))]
_HAND_A = np.array([a for a, _ in HAND_EDGES])
_HAND_B = np.array([b for _, b in HAND_EDGES])


def render_skeletons(pose_keypoint, width: int = 0, height: int = 0, body: bool = True, hands: bool = True,
                     face: bool = False, body_threshold: float = 0.3, hand_threshold: float = 0.7,
                     face_threshold: float = 0.3, stick_width: int = 4, point_radius: int = 4) -> np.ndarray:
    """POSE_KEYPOINT -> uint8 RGB frames [B, H, W, 3] on black.

    ``width``/``height`` of 0 take the first frame's canvas size. Points with confidence below a
    part's threshold are not drawn, nor limbs that touch them.
    """
    frames = validate_pose_keypoint(pose_keypoint)
    if width < 0 or height < 0:
        raise InputError("width/height", f"expected >= 0 (0 = from the keypoints), got {width}x{height}")
    width = int(width or frames[0]["canvas_width"])
    height = int(height or frames[0]["canvas_height"])
    if stick_width < 1 or point_radius < 0:
        raise InputError("stick_width", f"expected stick_width >= 1 and point_radius >= 0, got {stick_width}, {point_radius}")
    canvas = np.zeros((len(frames), height, width, 3), np.uint8)
    scale = np.array([width, height], np.float32)
    for i, frame in enumerate(frames):
        for person in frame["people"]:
            parts = person_arrays(person)
            if body and parts["body"] is not None:
                _draw_body(canvas[i], parts["body"], scale, body_threshold, stick_width, point_radius)
            if hands:
                for hand in (parts["left_hand"], parts["right_hand"]):
                    if hand is not None:
                        _draw_hand(canvas[i], hand, scale, hand_threshold, point_radius)
            if face and parts["face"] is not None:
                _draw_points(canvas[i], parts["face"], scale, face_threshold, max(point_radius - 1, 1), FACE_POINT_COLOR)
    return canvas


def _draw_body(img: np.ndarray, points: np.ndarray, scale: np.ndarray, threshold: float,
               stick_width: int, radius: int) -> None:
    xy = points[:, :2] * scale
    ok = points[:, 2] >= threshold
    limbs = np.flatnonzero(ok[_LIMB_A] & ok[_LIMB_B])
    if len(limbs):
        a, b = xy[_LIMB_A[limbs]], xy[_LIMB_B[limbs]]
        center = (a + b) / 2
        delta = a - b
        half_length = np.hypot(delta[:, 0], delta[:, 1]) / 2
        angle = np.degrees(np.arctan2(delta[:, 1], delta[:, 0]))
        # The convention truncates centre, half-length and angle to integers and draws a
        # 1-degree polygon; doing the same keeps our pixels identical to other OpenPose renders.
        for k, (cx, cy), length, degrees in zip(limbs, center.tolist(), half_length.tolist(), angle.tolist()):
            polygon = cv2.ellipse2Poly((int(cx), int(cy)), (int(length), stick_width), int(degrees), 0, 360, 1)
            cv2.fillConvexPoly(img, polygon, _LIMB_COLORS[k])
    if radius > 0:
        centers = xy.astype(np.int32)
        for k in np.flatnonzero(ok):
            cv2.circle(img, (int(centers[k, 0]), int(centers[k, 1])), radius, BODY_COLORS[k], thickness=-1)


def _draw_hand(img: np.ndarray, points: np.ndarray, scale: np.ndarray, threshold: float, radius: int) -> None:
    xy = (points[:, :2] * scale).astype(np.int32)
    ok = points[:, 2] >= threshold
    for k in np.flatnonzero(ok[_HAND_A] & ok[_HAND_B]):
        a, b = xy[_HAND_A[k]], xy[_HAND_B[k]]
        cv2.line(img, (int(a[0]), int(a[1])), (int(b[0]), int(b[1])), HAND_EDGE_COLORS[k], thickness=2)
    _draw_points(img, points, scale, threshold, radius, HAND_POINT_COLOR)


def _draw_points(img: np.ndarray, points: np.ndarray, scale: np.ndarray, threshold: float, radius: int,
                 color: tuple[int, int, int]) -> None:
    xy = (points[:, :2] * scale).astype(np.int32)
    for k in np.flatnonzero(points[:, 2] >= threshold):
        cv2.circle(img, (int(xy[k, 0]), int(xy[k, 1])), radius, color, thickness=-1)

