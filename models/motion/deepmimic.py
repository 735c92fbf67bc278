"""DeepMimic reference motions (``humanoid3d_*.txt``, as the pybullet wheel ships them) as a ``MocapClip``.

File: JSON ``{"Loop": "wrap"|"none", "Frames": [[44 numbers], ...]}``. Each frame is ``dt`` (the
frame's duration in seconds; frame ``i`` is shown at ``sum(dt[:i])``, so the last frame's value is
unused and often 0), the root (pelvis) position x y z in metres, then joint rotations in
:data:`FRAME_JOINTS` order: a quaternion ``w x y z`` for spherical joints (root, chest, neck, hips,
ankles, shoulders), one angle in radians about the joint's URDF axis for the revolute knees and
elbows. Rotations are local (child link frame in the parent link frame); the world is y up, the
character faces +x in its rest pose with its right side towards +z (a right-handed frame, so no
mirroring).

Skeleton: ``humanoid.urdf`` (parsed with ``xml.etree``: each joint's parent and child link, origin
``xyz``, revolute axis; every origin has ``rpy = 0``), scaled by :data:`URDF_SCALE`. The clip's points
are the URDF's links at their joint origins (``root`` is the pelvis, ``chest`` the lower spine,
``neck`` the neck base between the shoulders, ``*_wrist`` the fixed wrist links) plus end points
from the links' collision shapes: ``pelvis`` (centre of the root's sphere, 7 cm above the hip
joints, where SMPL's pelvis joint is), ``skull_base`` (bottom of the head sphere), ``head_center``
and ``head_top`` (its centre and crown), ``*_toe`` (front edge of the foot box at the sole).

``cycles`` (wrap clips only) repeats the cycle: cycle ``k`` is the clip turned about y by ``k``
times the cycle's heading change and moved so its first frame lands on the previous cycle's last
frame (a wrap clip's last frame is the next cycle's first, so it is not repeated); the root height
is never accumulated. For a straight cycle this is DeepMimic's own continuation (adding each
cycle's root displacement); for a turning cycle it keeps turning instead of snapping back.
"""

from __future__ import annotations

import json
import os
import xml.etree.ElementTree as ET
from dataclasses import dataclass

import numpy as np

from ..core.errors import InputError
from .clip import MocapClip

# pybullet's DeepMimic environments load humanoid.urdf with globalScaling=0.25; only that scale fits
# the clips' root heights (0.85 m when walking) to the URDF's legs (hip->knee->ankle 3.33 units).
URDF_SCALE = 0.25
URDF_NAME = "humanoid.urdf"
# (joint, number of values) after dt and the root position, in file order.
FRAME_JOINTS = (
    ("root", 4), ("chest", 4), ("neck", 4),
    ("right_hip", 4), ("right_knee", 1), ("right_ankle", 4), ("right_shoulder", 4), ("right_elbow", 1),
    ("left_hip", 4), ("left_knee", 1), ("left_ankle", 4), ("left_shoulder", 4), ("left_elbow", 1),
)
FRAME_VALUES = 1 + 3 + sum(n for _, n in FRAME_JOINTS)  # 44
# The clips as scripts/fetch_mocap.sh lays them out under a mocap folder, alphabetical within each group.
CLIP_FILES = tuple(f"deepmimic/humanoid3d_{name}.txt" for name in (
    "backflip", "cartwheel", "crawl", "dance_a", "dance_b", "getup_facedown", "getup_faceup", "jump", "kick", "punch",
    "roll", "run", "spin", "spinkick", "walk")) + tuple(f"deepmimic/walker/{name}.txt" for name in (
        "0walk_forward", "turn_left0", "turn_left1", "turn_right0", "turn_right1"))
ACROBATICS = tuple(f"deepmimic/humanoid3d_{name}.txt" for name in ("backflip", "cartwheel", "roll", "spinkick"))
FPS_SNAP = 0.01  # a frame rate within this of a whole number is that number (0.033332 s -> 30 fps)


@dataclass(frozen=True)
class UrdfJoint:
    """One URDF joint: it places ``child`` at ``origin`` (URDF units) in ``parent``'s frame."""

    name: str
    kind: str  # "fixed", "spherical" or "revolute"
    parent: str
    child: str
    origin: np.ndarray  # [3]
    axis: np.ndarray  # [3], revolute joints only (zeros otherwise)


@dataclass(frozen=True)
class UrdfSkeleton:
    joints: list[UrdfJoint]  # parents before children
    spheres: dict[str, tuple[np.ndarray, float]]  # link -> (collision centre, radius)
    boxes: dict[str, tuple[np.ndarray, np.ndarray]]  # link -> (collision centre, size)


def _vector(element, attribute: str, where: str) -> np.ndarray:
    text = element.get(attribute) if element is not None else None
    try:
        values = np.array([float(v) for v in (text or "").split()])
    except ValueError:
        values = np.zeros(0)
    if values.shape != (3,):
        raise InputError("urdf_path", f"{where}: expected 3 numbers in {attribute!r}, got {text!r}")
    return values


def read_urdf(path) -> UrdfSkeleton:
    """Joints (parents first) and collision spheres/boxes of a URDF file, in URDF units."""
    path = os.fspath(path)
    name = os.path.basename(path)
    if not os.path.isfile(path):
        raise InputError("urdf_path", f"file not found: {path!r}")
    with open(path, "rb") as f:
        data = f.read().replace(b"\x00", b"")  # the wheel's humanoid.urdf ends with a NUL byte
    try:
        robot = ET.fromstring(data)
    except ET.ParseError as exc:
        raise InputError("urdf_path", f"{name}: not a readable URDF ({exc})") from None
    joints = []
    for element in robot.findall("joint"):
        where = f"{name}, joint {element.get('name')!r}"
        parent, child = element.find("parent"), element.find("child")
        if parent is None or child is None:
            raise InputError("urdf_path", f"{where}: needs a parent and a child link")
        kind = element.get("type", "")
        axis = _vector(element.find("axis"), "xyz", where) if kind == "revolute" else np.zeros(3)
        if kind == "revolute":
            axis = axis / max(np.linalg.norm(axis), 1e-12)
        joints.append(UrdfJoint(element.get("name", ""), kind, parent.get("link", ""), child.get("link", ""),
                                _vector(element.find("origin"), "xyz", where), axis))
    spheres, boxes = {}, {}
    for link in robot.findall("link"):
        collision = link.find("collision")
        if collision is None:
            continue
        where = f"{name}, link {link.get('name')!r}"
        centre = _vector(collision.find("origin"), "xyz", where)
        sphere, box = collision.find("geometry/sphere"), collision.find("geometry/box")
        if sphere is not None:
            spheres[link.get("name")] = (centre, float(sphere.get("radius", "0")))
        if box is not None:
            boxes[link.get("name")] = (centre, _vector(box, "size", where))
    # order parents first, from the links no joint creates
    children = {j.child for j in joints}
    placed = {j.parent for j in joints if j.parent not in children}
    ordered, pending = [], list(joints)
    while pending:
        ready = [j for j in pending if j.parent in placed]
        if not ready:
            raise InputError("urdf_path", f"{name}: joints {[j.name for j in pending]} do not hang from the tree")
        for j in ready:
            ordered.append(j)
            placed.add(j.child)
            pending.remove(j)
    return UrdfSkeleton(ordered, spheres, boxes)


def _quat_matrices(q: np.ndarray) -> np.ndarray:
    """Rotation matrices [..., 3, 3] (acting on column vectors) of quaternions [..., 4] (w x y z)."""
    q = q / np.maximum(np.linalg.norm(q, axis=-1, keepdims=True), 1e-12)
    w, x, y, z = np.moveaxis(q, -1, 0)
    return np.stack([
        np.stack([1 - 2 * (y * y + z * z), 2 * (x * y - w * z), 2 * (x * z + w * y)], -1),
        np.stack([2 * (x * y + w * z), 1 - 2 * (x * x + z * z), 2 * (y * z - w * x)], -1),
        np.stack([2 * (x * z - w * y), 2 * (y * z + w * x), 1 - 2 * (x * x + y * y)], -1),
    ], -2)


def _axis_angle_matrices(axis: np.ndarray, angle: np.ndarray) -> np.ndarray:
    half = angle[..., None] / 2
    return _quat_matrices(np.concatenate([np.cos(half), np.sin(half) * axis], axis=-1))


def _yaw(rotation: np.ndarray) -> np.ndarray:
    """Heading angle about +y of the rotated +x axis (the facing), for rotations [..., 3, 3]."""
    return np.arctan2(-rotation[..., 2, 0], rotation[..., 0, 0])


def _load_frames(path) -> tuple[np.ndarray, bool]:
    path = os.fspath(path)
    name = os.path.basename(path)
    if not os.path.isfile(path):
        raise InputError("path", f"file not found: {path!r}")
    try:
        with open(path, encoding="utf-8") as f:
            data = json.load(f)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise InputError("path", f"{name}: not a DeepMimic motion (JSON with 'Frames'): {exc}") from None
    if not isinstance(data, dict) or not isinstance(data.get("Frames"), list) or not data["Frames"]:
        raise InputError("path", f"{name}: not a DeepMimic motion: expected a JSON object with a non-empty 'Frames' list")
    loop = data.get("Loop", "none")
    if loop not in ("wrap", "none"):
        raise InputError("path", f"{name}: 'Loop' must be 'wrap' or 'none', got {loop!r}")
    for i, frame in enumerate(data["Frames"]):
        if not isinstance(frame, list) or len(frame) != FRAME_VALUES:
            size = len(frame) if isinstance(frame, list) else type(frame).__name__
            raise InputError("path", f"{name}: frame {i} has {size} values, expected {FRAME_VALUES} "
                                     "(dt, root position, 12 joint rotations)")
    try:
        frames = np.array(data["Frames"], np.float64)
    except (TypeError, ValueError):
        raise InputError("path", f"{name}: frames must hold numbers only") from None
    if not np.isfinite(frames).all():
        raise InputError("path", f"{name}: frames contain NaN or infinite values")
    return frames, loop == "wrap"


def _frame_rate(dt: np.ndarray, name: str) -> float:
    # the last frame's duration is unused (and 0 in most files); one odd frame time (roll) is
    # ignored: time is taken as uniform at the typical duration
    durations = dt[:-1] if len(dt) > 1 else dt
    step = float(np.median(durations))
    if not step > 0:
        raise InputError("path", f"{name}: frame durations (the first value of each frame) must be positive")
    fps = 1.0 / step
    return float(round(fps)) if abs(fps - round(fps)) < FPS_SNAP else fps


def _default_urdf(path: str) -> str:
    folder = os.path.dirname(os.path.abspath(path))
    for candidate in (os.path.join(folder, URDF_NAME), os.path.join(os.path.dirname(folder), URDF_NAME)):
        if os.path.isfile(candidate):
            return candidate
    raise InputError("urdf_path", f"no {URDF_NAME} next to {os.path.basename(path)!r} or in its parent folder; "
                                  "pass urdf_path (scripts/fetch_mocap.sh puts it in data/mocap/deepmimic)")


def _repeat_cycles(root_pos: np.ndarray, rotations: dict[str, np.ndarray], cycles: int):
    """Root positions and rotations of ``cycles`` wrap cycles (see the module docstring)."""
    start_yaw, end_yaw = _yaw(rotations["root"][0]), _yaw(rotations["root"][-1])
    turn = end_yaw - start_yaw
    positions, rots = [root_pos], {k: [v] for k, v in rotations.items()}
    anchor_pos = root_pos[-1]
    for k in range(1, cycles):
        c, s = np.cos(turn * k), np.sin(turn * k)
        spin = np.array([[c, 0, s], [0, 1, 0], [-s, 0, c]])
        moved = (root_pos[1:] - root_pos[0]) @ spin.T
        moved[:, 1] = root_pos[1:, 1]  # heights are never accumulated
        moved[:, [0, 2]] += anchor_pos[[0, 2]]
        positions.append(moved)
        for key, value in rotations.items():
            rots[key].append(spin @ value[1:] if key == "root" else value[1:])
        anchor_pos = moved[-1]
    return np.concatenate(positions), {k: np.concatenate(v) for k, v in rots.items()}


def read_deepmimic(path, urdf_path=None, cycles: int | None = None, loop_seconds: float | None = None) -> MocapClip:
    """A DeepMimic motion file as a clip (see the module docstring).

    ``urdf_path`` None looks for ``humanoid.urdf`` next to the file, then in its parent folder.
    ``cycles`` (wrap clips only) repeats the cycle that many times; None or 1 reads it once.
    ``loop_seconds`` repeats a wrap clip as often as needed to last at least that long (a clip
    that does not loop is read as it is), so callers can ask every clip for usable lengths.
    """
    path = os.fspath(path)
    name = os.path.basename(path)
    frames, wraps = _load_frames(path)
    if cycles is not None:
        if not isinstance(cycles, int) or isinstance(cycles, bool) or cycles < 1:
            raise InputError("cycles", f"must be a whole number >= 1, got {cycles!r}")
        if cycles > 1 and not wraps:
            raise InputError("cycles", f"{name} is not a cycle (its 'Loop' is 'none'); it cannot be repeated")
    if loop_seconds is not None and wraps:
        if not np.isfinite(loop_seconds) or loop_seconds <= 0:
            raise InputError("loop_seconds", f"expected a positive number of seconds, got {loop_seconds!r}")
        cycle_seconds = (len(frames) - 1) / _frame_rate(frames[:, 0], name)
        cycles = max(cycles or 1, int(np.ceil(loop_seconds / cycle_seconds - 1e-9)))
    urdf_path = os.fspath(urdf_path) if urdf_path is not None else _default_urdf(path)
    skeleton = read_urdf(urdf_path)
    urdf_name = os.path.basename(urdf_path)
    fps = _frame_rate(frames[:, 0], name)

    rotations, column = {}, 4
    by_name = {j.name: j for j in skeleton.joints}
    for joint, size in FRAME_JOINTS:
        values = frames[:, column:column + size]
        column += size
        if joint != "root" and joint not in by_name:
            raise InputError("urdf_path", f"{urdf_name} has no joint {joint!r}, which {name} animates")
        if size == 4:
            rotations[joint] = _quat_matrices(values)
        else:
            rotations[joint] = _axis_angle_matrices(by_name[joint].axis, values[:, 0])
    root_pos = frames[:, 1:4]
    if cycles is not None and cycles > 1:
        root_pos, rotations = _repeat_cycles(root_pos, rotations, cycles)

    # forward kinematics: link frames (rotation, origin) in the world, parents first
    world = {}
    for joint in skeleton.joints:
        if joint.parent not in world:  # the tree's base: the root link sits on the root position
            world[joint.parent] = (rotations["root"], root_pos)
        parent_rot, parent_pos = world[joint.parent]
        position = parent_pos + parent_rot @ (joint.origin * URDF_SCALE)
        local = rotations.get(joint.name)
        rot = parent_rot if local is None or joint.kind == "fixed" else parent_rot @ local
        world[joint.child] = (rot, position)

    # one point per link at its joint origin; the URDF's "base" link coincides with "root"
    names, points, parents, index = [], [], [], {}
    for joint in skeleton.joints:
        index[joint.child] = len(names)
        names.append(joint.child)
        points.append(world[joint.child][1])
        parents.append(index.get(joint.parent, -1))

    def end_point(label: str, link: str, offset: np.ndarray) -> None:
        rot, origin = world[link]
        names.append(label)
        points.append(origin + rot @ (offset * URDF_SCALE))
        parents.append(index[link])

    for link, what in (("root", "the pelvis"), ("neck", "the head")):
        if link not in skeleton.spheres:
            raise InputError("urdf_path", f"{urdf_name}: expected a collision sphere on the {link!r} link ({what})")
    end_point("pelvis", "root", skeleton.spheres["root"][0])
    centre, radius = skeleton.spheres["neck"]
    up = np.array([0.0, radius, 0.0])
    end_point("skull_base", "neck", centre - up)
    end_point("head_center", "neck", centre)
    end_point("head_top", "neck", centre + up)
    for side in ("right", "left"):
        foot = skeleton.boxes.get(f"{side}_ankle")
        if foot is None:
            raise InputError("urdf_path", f"{urdf_name}: expected a collision box on the '{side}_ankle' link (the foot)")
        centre, size = foot
        end_point(f"{side}_toe", f"{side}_ankle", centre + np.array([size[0], -size[1], 0.0]) / 2)
    return MocapClip(np.stack(points, axis=1).astype(np.float32), names, parents, fps)
