"""Normal maps of a MOTION that look like a body: solid shapes rendered with per-pixel camera-space normals.

Hands (the PoseGen hand-normal condition), the body, or both, from image-space landmarks such as the
detector's ``mediapipe_holistic_75_image`` motion (x, y normalised to the canvas, z scaled like x).

- Body: a filled torso (an elliptic frustum from the shoulder line to the hip line, closed by a
  rounded shoulder dome and a pelvis dome), a neck, a head ellipsoid, and tapered limbs (round cones).
- Hands: a filled palm (a flat frustum from the wrist to the knuckle line, rounded at both ends) and
  tapered round-cone fingers and thumb.

Sizes are fractions of the skeleton's on-screen scale (the torso for the body, the palm for a hand), so
renders look alike at any resolution; the fractions below are adult proportions (e.g. a 50 cm torso:
head 17 x 23 x 20 cm, neck 5 cm radius, thigh 7.5 cm radius at the hip). ``thickness`` scales every radius
and the torso's and palm's depth; widths that are anchored at joints (shoulders, hips, knuckles) stay.
"""

from __future__ import annotations

import numpy as np

from ..core.errors import InputError
from ..core.motion import Motion, validate_motion
from .normal_raster import shape_normals
from .normal_shapes import ellipsoid, elliptic_frustum, round_cone

NORMAL_MAP_PARTS = ("hands", "body", "whole")
_HAND_OFFSETS = (33, 54)  # left and right hand in the holistic 75 layout

# Body, in fractions of the torso length (on screen, shoulder centre to hip centre; at least
# TORSO_PER_SHOULDERS shoulder widths, so a torso seen end-on keeps its size).
TORSO_PER_SHOULDERS = 1.33
TORSO_DEPTH = 0.55  # chest and belly half-depth / half-width
SHOULDER_WIDTH = 1.0  # torso half-width at the shoulders / half the shoulder-joint distance
HIP_FLESH = 0.12  # pelvis half-width beyond the hip joints (MediaPipe's hips are the joints, inside the thighs)
TORSO_WIDTH_RANGE = (0.2, 0.6)  # half-widths kept within this (of the torso length) against bad detections
SHOULDER_DOME = 0.35  # height of the rounded top above the shoulder line / shoulder half-width
PELVIS_DOME = 0.45  # depth of the rounded bottom below the hip line / pelvis half-width
NECK_RADIUS = 0.1
HEAD_RADII = (0.17, 0.23, 0.2)  # half width, half height, half depth
HEAD_FORWARD = 0.2  # head centre: from the ear midpoint this far towards the nose
# MediaPipe's image-space body z is exaggerated (a shin 85 px long on screen can recede 300 px), which
# would tip every limb and the torso away from the camera; body depths are scaled by this. Hand z
# (relative to its wrist, which the detector places at the body's wrist) is kept as it is.
BODY_DEPTH_SCALE = 0.3
# (joint a, joint b, radius at a, radius at b) for the limbs and feet.
LIMBS = (
    (11, 13, 0.11, 0.075), (13, 15, 0.075, 0.055), (12, 14, 0.11, 0.075), (14, 16, 0.075, 0.055),  # arms
    (23, 25, 0.15, 0.095), (25, 27, 0.095, 0.065), (24, 26, 0.15, 0.095), (26, 28, 0.095, 0.065),  # legs
    (27, 29, 0.06, 0.05), (27, 31, 0.06, 0.04), (29, 31, 0.05, 0.04),  # left foot
    (28, 30, 0.06, 0.05), (28, 32, 0.06, 0.04), (30, 32, 0.05, 0.04),  # right foot
)
# The body's coarse hand (wrist to the middle of the index and pinky knuckles, thumb) where no hand
# landmarks are drawn: (wrist, pinky, index, thumb).
BODY_HANDS = ((15, 17, 19, 21), (16, 18, 20, 22))
BODY_HAND_RADII = (0.055, 0.045, 0.03)  # at the wrist, at the knuckles, thumb

# Hands, in fractions of the palm length (wrist to middle-finger knuckle, in 3D: hand depths are sound).
PALM_DEPTH = 0.35  # palm half-thickness / half-width
PALM_WRIST_WIDTH = 0.32  # palm half-width at the wrist
PALM_KNUCKLE_WIDTH = 1.2  # palm half-width at the knuckles / half the index-to-pinky knuckle distance
PALM_DOME = 0.12  # rounding beyond the wrist and the knuckle line
FINGER_RADII = (0.105, 0.09, 0.08, 0.07)  # at the knuckle, the two finger joints and the tip (index, middle, ring)
PINKY_SCALE = 0.85
THUMB_RADII = (0.14, 0.13, 0.11, 0.095, 0.08)  # at the wrist, then at thumb landmarks 1 (base) to 4 (tip)


def render_motion_normals(motion: Motion, part: str = "hands", width: int = 0, height: int = 0,
                          thickness: float = 1.0, progress=None) -> tuple[np.ndarray, np.ndarray]:
    """-> (rgb float32 [T,H,W,3] in 0..1, mask bool [T,H,W]); see ``normal_raster`` for the convention.

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
    joints = motion.joints.numpy().astype(np.float64)
    visible = (motion.visibility().numpy() > 0.0) & np.isfinite(joints).all(axis=-1)
    rgb = np.zeros((motion.num_frames, height, width, 3), np.float32)
    mask = np.zeros((motion.num_frames, height, width), bool)
    for t in range(motion.num_frames):
        shapes = frame_shapes(joints[t] * np.array([width, height, width]), visible[t], part, thickness)
        if shapes:
            rgb[t], mask[t], _ = shape_normals(shapes, height, width)
        if progress is not None:
            progress(t + 1, motion.num_frames)
    return rgb, mask


def _depth_scaled(points: np.ndarray) -> np.ndarray:
    """Body z scaled by BODY_DEPTH_SCALE; each hand keeps its own depth relief around its moved wrist."""
    out = points.copy()
    out[:, 2] *= BODY_DEPTH_SCALE
    for offset in _HAND_OFFSETS:
        wrist_z = points[offset, 2]
        out[offset:offset + 21, 2] = points[offset:offset + 21, 2] - wrist_z + wrist_z * BODY_DEPTH_SCALE
    return out


def frame_shapes(points: np.ndarray, visible: np.ndarray, part: str = "whole", thickness: float = 1.0) -> list:
    """One frame's holistic landmarks in pixels [75, 3] (x, z times the width, y times the height) and
    their visibility [75] -> the ``normal_shapes`` to render (depths scaled first, see BODY_DEPTH_SCALE)."""
    points = _depth_scaled(np.asarray(points, dtype=np.float64))
    visible = np.asarray(visible, dtype=bool)
    hands = [o for o in _HAND_OFFSETS if visible[o] and visible[o + 9]] if part in ("hands", "whole") else []
    shapes = []
    if part in ("body", "whole"):
        shapes += _body_shapes(points, visible, thickness, detailed_hands=hands)
    for offset in hands:
        shapes += _hand_shapes(points[offset:offset + 21], visible[offset:offset + 21], thickness)
    return [shape for shape in shapes if _well_formed(shape)]


def _well_formed(shape) -> bool:
    """Detections can put landmarks on top of each other; such a frame's degenerate shapes are left out."""
    try:
        shape.check()
    except InputError:
        return False
    return True


def _unit(v):
    n = float(np.linalg.norm(v))
    return v / n if n > 1e-9 else None


def _body_shapes(points, visible, thickness, detailed_hands) -> list:
    """detailed_hands: offsets of the hands drawn from hand landmarks (their body hands are left out)."""
    if not visible[[11, 12]].all():
        return []
    shoulders = (points[11] + points[12]) / 2
    has_hips = bool(visible[[23, 24]].all())
    hips = (points[23] + points[24]) / 2
    scale = float(np.linalg.norm((shoulders - hips)[:2])) if has_hips else 0.0
    scale = max(scale, TORSO_PER_SHOULDERS * float(np.linalg.norm((points[11] - points[12])[:2])))
    if scale < 1e-6:
        return []
    shapes = []
    up = _unit(shoulders - hips) if has_hips else None
    if has_hips and up is not None:
        shapes += _torso(points, shoulders, hips, scale, thickness)
    shapes += _head_and_neck(points, visible, shoulders, up, scale, thickness)
    for a, b, ra, rb in LIMBS:
        if visible[a] and visible[b]:
            shapes.append(round_cone(points[a], points[b], ra * scale * thickness, rb * scale * thickness))
    drawn = {15: 33 in detailed_hands, 16: 54 in detailed_hands}
    for wrist, pinky, index, thumb in BODY_HANDS:
        if drawn[wrist] or not visible[[wrist, pinky, index]].all():
            continue
        r_wrist, r_knuckles, r_thumb = (r * scale * thickness for r in BODY_HAND_RADII)
        shapes.append(round_cone(points[wrist], (points[pinky] + points[index]) / 2, r_wrist, r_knuckles))
        if visible[thumb]:
            shapes.append(round_cone(points[wrist], points[thumb], r_thumb, r_thumb))
    return shapes


def _torso(points, shoulders, hips, scale, thickness) -> list:
    """Frustum from the shoulder line to the hip line plus a dome on each end (their equators are the
    frustum's end ellipses, so the surface closes without a step)."""
    across = _unit((points[11] - points[12]) + (points[23] - points[24]))
    spine = hips - shoulders
    depth_dir = _unit(np.cross(spine, across)) if across is not None else None
    if depth_dir is None:
        return []
    low, high = (f * scale for f in TORSO_WIDTH_RANGE)
    half_shoulders = np.clip(SHOULDER_WIDTH * abs((points[11] - points[12]) @ across) / 2, low, high)
    half_hips = np.clip(abs((points[23] - points[24]) @ across) / 2 + HIP_FLESH * scale, low, high)
    depth = TORSO_DEPTH * thickness
    top = [half_shoulders * across, depth * half_shoulders * depth_dir]
    bottom = [half_hips * across, depth * half_hips * depth_dir]
    down = spine / np.linalg.norm(spine)
    return [elliptic_frustum(shoulders, hips, top, half_hips / half_shoulders),
            ellipsoid(shoulders, top + [SHOULDER_DOME * half_shoulders * down]),
            ellipsoid(hips, bottom + [PELVIS_DOME * half_hips * down])]


def _head_and_neck(points, visible, shoulders, up, scale, thickness) -> list:
    if not visible[[7, 8]].all():
        return []
    ears = (points[7] + points[8]) / 2
    centre = ears + (HEAD_FORWARD * (points[0] - ears) if visible[0] else 0.0)
    side = _unit(points[7] - points[8])
    head_up = _unit(ears - shoulders) if up is None else up
    if visible[[2, 5, 9, 10]].all():  # the face's own up: mouth to eyes
        face_up = _unit((points[2] + points[5]) / 2 - (points[9] + points[10]) / 2)
        head_up = head_up if face_up is None else face_up
    if side is None or head_up is None:
        return []
    forward = _unit(np.cross(side, head_up))
    if forward is None:
        return []
    head_up = np.cross(forward, side)
    radii = [r * scale * thickness for r in HEAD_RADII]
    neck = NECK_RADIUS * scale * thickness
    return [round_cone(shoulders, centre, neck, neck),
            ellipsoid(centre, [radii[0] * side, radii[1] * head_up, radii[2] * forward])]


def _hand_shapes(hand, visible, thickness) -> list:
    """Palm (flat rounded frustum, wrist to knuckles) plus tapered fingers; hand is [21, 3] pixels."""
    palm = float(np.linalg.norm(hand[9] - hand[0]))
    if palm < 1e-6:
        return []
    shapes = []
    if visible[[0, 5, 17]].all():
        knuckles = (hand[5] + hand[17]) / 2
        across = _unit(hand[5] - hand[17])
        normal = _unit(np.cross(knuckles - hand[0], across)) if across is not None else None
        if normal is not None:
            half_wrist = PALM_WRIST_WIDTH * palm
            half_knuckles = max(PALM_KNUCKLE_WIDTH * float(np.linalg.norm(hand[5] - hand[17])) / 2, half_wrist)
            along = knuckles - hand[0]
            along_unit = along / np.linalg.norm(along)
            wrist_end = [half_wrist * across, PALM_DEPTH * thickness * half_wrist * normal]
            knuckle_end = [half_knuckles * across, PALM_DEPTH * thickness * half_knuckles * normal]
            dome = PALM_DOME * palm * along_unit
            shapes += [elliptic_frustum(hand[0], knuckles, wrist_end, half_knuckles / half_wrist),
                       ellipsoid(hand[0], wrist_end + [dome]), ellipsoid(knuckles, knuckle_end + [dome])]
    chains = [((0, 1, 2, 3, 4), THUMB_RADII)]
    chains += [((base, base + 1, base + 2, base + 3), tuple(r * (PINKY_SCALE if base == 17 else 1.0)
                                                            for r in FINGER_RADII)) for base in (5, 9, 13, 17)]
    for chain, radii in chains:
        for (a, b), (ra, rb) in zip(zip(chain, chain[1:]), zip(radii, radii[1:])):
            if visible[a] and visible[b]:
                shapes.append(round_cone(hand[a], hand[b], ra * palm * thickness, rb * palm * thickness))
    return shapes
