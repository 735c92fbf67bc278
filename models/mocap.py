"""Motion-capture files (ASF/AMC, BVH) -> world joint positions, OpenPose-18 mapping, virtual camera.

Conventions (all loaders):
- positions are float32 numpy arrays ``[T, J, 3]`` in metres, in the file's own world frame,
  which for both formats is y up (CMU ASF/AMC and common BVH exporters: x to the subject's left
  in the rest pose, z forward);
- ``joint_names[j]`` names row ``j``; ``parents[j]`` is the index of the joint it hangs from
  (-1 for the root), so ``positions[:, j] - positions[:, parents[j]]`` is a rigid bone.

ASF/AMC (Acclaim; CMU Graphics Lab database flavour)
    Joints: ``root`` then one point per bone, in ASF ``:bonedata`` order, named after the bone and
    placed at the bone's *end* (a bone starts where its parent ends; the root's children start at
    the root). Forward kinematics follow the Acclaim convention: ``C`` is the rotation given by the
    bone's ``axis`` angles; the AMC values give ``M`` (one elementary rotation per ``dof`` entry);
    local rotation ``L = C M C^-1``; ``G = G_parent L``; ``end = start + G (direction * length)``.
    Euler angle lists are applied in the order written (``axis ... XYZ`` and ``dof rx ry rz`` rotate
    about x first, then y, then z, about fixed axes: ``R = Rz Ry Rx``; on the CMU clip this order
    bends knees forward and elbows backward, the reverse order bends the elbows forward in ~98 % of
    the frames where they flex). The root uses its ``order``
    line for both the AMC value order and the rotation order and its ``orientation`` (in the
    ``axis`` order) as ``C``; AMC root translations are absolute (axes missing from ``order`` take
    the ASF ``position``). Units: the ASF ``:units length`` value ``s`` (1 when absent) means
    file lengths are inches multiplied by ``s`` (CMU: ``length 0.45``), so metres =
    value / s * 0.0254; this scaling applies to bone lengths and to the AMC root translation
    (``metres_per_unit=`` overrides it). Angles are degrees unless the ASF says
    ``angle rad`` or the AMC says ``:RADIANS``. AMC stores no frame rate: CMU captures are 120 fps,
    the default.

BVH
    Joints: every ``ROOT``/``JOINT`` in file order, plus one point per ``End Site`` named
    ``<parent name>_End``. Local transform = translate(t) rotate(R): ``t`` is the joint's ``OFFSET``,
    except that position channels, where present, replace the matching offset component (for a root
    that is the absolute position; exporters that give every joint position channels write the
    offset there). ``R`` is the product of the rotation channels in the order listed
    (``Zrotation Xrotation Yrotation`` -> ``R = Rz Rx Ry``, i.e. intrinsic rotations in that
    order). Units are not stored in BVH: the rest-pose height (vertical extent of the skeleton with
    all rotations zero, end sites included) decides. Under 10 file units -> metres; under 1000 ->
    centimetres (the common case); otherwise millimetres. ``units=`` overrides it. fps =
    1 / ``Frame Time``, rounded to a whole number when within 0.01 of one (0.033333 -> 30).
    :func:`parse_bvh` checks a whole file without forward kinematics (``motion_io`` runs it before
    handing the file to bvhio); :func:`read_bvh` is ``parse_bvh`` plus the kinematics above.

Virtual camera (:func:`project_to_image`)
    A fixed pinhole camera orbits the clip's mean root position: ``yaw`` turns about +y starting on
    the +z side (yaw 0 looks along -z, so a subject facing +z is seen from the front and its left
    appears on the image right; yaw 90 sees its left side), ``elevation`` lifts it above the target
    (looking down). ``fov_degrees`` is the vertical field of view. The distance is the smallest one
    that keeps every valid point of every frame inside the image with a margin, times
    ``distance_scale``. Image coordinates are normalised to 0..1 (x right, y down).

Parsing errors raise :class:`InputError` naming the file kind (``"asf"``, ``"amc"``, ``"bvh"``) with
the file name and line number.
"""

from __future__ import annotations

import math
import os
import re
from dataclasses import dataclass
from typing import Iterable, Sequence

import numpy as np

from .errors import InputError
from .layouts import OPENPOSE_18

INCH = 0.0254
CMU_FPS = 120.0

__all__ = [
    "MocapClip", "read_asf_amc", "load_asf_amc", "BvhData", "parse_bvh", "read_bvh", "load_bvh", "detect_rig", "RIGS",
    "bvh_unit_scale", "LENGTH_UNITS", "to_openpose_18", "facing_yaw_degrees", "project_to_image", "resample",
    "load_motion",
]


@dataclass(frozen=True)
class MocapClip:
    """A loaded clip: positions [T, J, 3] float32 metres (y up), names, parent indices, fps."""

    positions: np.ndarray
    joint_names: list[str]
    parents: list[int]
    fps: float

    @property
    def num_frames(self) -> int:
        return int(self.positions.shape[0])

    def as_tuple(self) -> tuple[np.ndarray, list[str], float]:
        return self.positions, list(self.joint_names), self.fps


# --------------------------------------------------------------------------------------------
# rotations

def _axis_rotation(axis: str, angles: np.ndarray) -> np.ndarray:
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


def _euler(axes: str, angles: np.ndarray) -> np.ndarray:
    """Rotation R = R_axes[0](a0) R_axes[1](a1) ... for angles [N, len(axes)] in radians."""
    angles = np.asarray(angles, np.float64)
    out = np.broadcast_to(np.eye(3), angles.shape[:-1] + (3, 3)).copy()
    for n, axis in enumerate(axes):
        out = out @ _axis_rotation(axis, angles[..., n])
    return out


def _fixed_axes(axes: str, angles: np.ndarray) -> np.ndarray:
    """Rotations applied about fixed axes in the order written: R = R_axes[-1] ... R_axes[0]."""
    angles = np.asarray(angles, np.float64)
    return _euler(axes[::-1], angles[..., ::-1])


# --------------------------------------------------------------------------------------------
# file helpers

def _read_lines(path, kind: str) -> tuple[str, list[str]]:
    name = os.path.basename(os.fspath(path))
    try:
        with open(path, "r", encoding="utf-8", errors="replace") as f:
            return name, f.read().splitlines()
    except OSError as exc:
        raise InputError(kind, f"cannot read {os.fspath(path)!r}: {exc.strerror or exc}") from None


class _Err:
    """Builds InputErrors for one file: ``kind: name line N: problem``."""

    def __init__(self, kind: str, name: str):
        self.kind, self.name = kind, name

    def __call__(self, line: int | None, problem: str) -> InputError:
        where = f"{self.name} line {line}" if line is not None else self.name
        return InputError(self.kind, f"{where}: {problem}")


def _floats(tokens: Sequence[str], err: _Err, line: int, what: str) -> list[float]:
    try:
        values = [float(t) for t in tokens]
    except ValueError:
        raise err(line, f"{what}: expected numbers, got {' '.join(tokens)!r}") from None
    if not all(math.isfinite(v) for v in values):
        raise err(line, f"{what}: values must be finite")
    return values


# --------------------------------------------------------------------------------------------
# ASF / AMC

@dataclass
class _Bone:
    name: str
    line: int
    direction: np.ndarray
    length: float
    axis: np.ndarray  # degrees or radians as written
    axis_order: str
    dof: list[str]
    parent: str | None = None


def _parse_asf(path):
    name, lines = _read_lines(path, "asf")
    err = _Err("asf", name)
    length_scale, angle_unit = 1.0, "deg"
    root_order: list[str] | None = None
    root_axis, root_position, root_orientation = "XYZ", np.zeros(3), np.zeros(3)
    bones: dict[str, _Bone] = {}
    children: dict[str, list[str]] = {}
    section = None
    current: dict | None = None
    in_limits = False
    saw_hierarchy_end = False

    for n, raw in enumerate(lines, 1):
        text = raw.split("#", 1)[0].strip()
        if not text:
            continue
        if text.startswith(":"):
            if current is not None:
                raise err(n, f"bone started on line {current['line']} has no 'end'")
            parts = text.split()
            section = parts[0][1:].lower()
            if section == "hierarchy":
                saw_hierarchy_end = False
            continue
        tokens = text.split()
        key = tokens[0].lower()
        if section == "units":
            if key == "length":
                scale = _floats(tokens[1:2], err, n, "length unit")
                if len(tokens) != 2 or scale[0] <= 0:
                    raise err(n, "':units length' needs one positive number")
                length_scale = scale[0]
            elif key == "angle":
                if len(tokens) != 2 or tokens[1].lower() not in ("deg", "rad"):
                    raise err(n, "':units angle' must be 'deg' or 'rad'")
                angle_unit = tokens[1].lower()
        elif section == "root":
            if key == "order":
                root_order = [t.upper() for t in tokens[1:]]
                bad = [t for t in root_order if t not in ("TX", "TY", "TZ", "RX", "RY", "RZ")]
                if bad or not root_order:
                    raise err(n, f"root order: unknown channel(s) {bad or '(none)'}")
            elif key == "axis":
                if len(tokens) != 2 or sorted(tokens[1].upper()) != ["X", "Y", "Z"]:
                    raise err(n, "root axis must be a permutation of XYZ")
                root_axis = tokens[1].upper()
            elif key == "position":
                if len(tokens) != 4:
                    raise err(n, "root position needs 3 numbers")
                root_position = np.array(_floats(tokens[1:], err, n, "root position"))
            elif key == "orientation":
                if len(tokens) != 4:
                    raise err(n, "root orientation needs 3 numbers")
                root_orientation = np.array(_floats(tokens[1:], err, n, "root orientation"))
        elif section == "bonedata":
            if key == "begin":
                if current is not None:
                    raise err(n, f"'begin' before the 'end' of the bone started on line {current['line']}")
                current = {"line": n}
                in_limits = False
                continue
            if current is None:
                raise err(n, f"expected 'begin', got {tokens[0]!r}")
            if key == "end":
                bone = _finish_bone(current, err)
                if bone.name in bones or bone.name == "root":
                    raise err(current["line"], f"duplicate bone name {bone.name!r}")
                bones[bone.name] = bone
                current = None
                continue
            if key == "limits":
                in_limits = True
                continue
            if text.startswith("("):
                if not in_limits:
                    raise err(n, "limit values outside a 'limits' entry")
                continue
            in_limits = False
            if key == "name":
                if len(tokens) != 2:
                    raise err(n, "bone name must be one word")
                current["name"] = tokens[1]
            elif key == "direction":
                if len(tokens) != 4:
                    raise err(n, "direction needs 3 numbers")
                current["direction"] = _floats(tokens[1:], err, n, "direction")
            elif key == "length":
                if len(tokens) != 2:
                    raise err(n, "length needs 1 number")
                current["length"] = _floats(tokens[1:], err, n, "length")[0]
            elif key == "axis":
                if len(tokens) != 5 or sorted(tokens[4].upper()) != ["X", "Y", "Z"]:
                    raise err(n, "axis needs 3 angles and an order such as XYZ")
                current["axis"] = _floats(tokens[1:4], err, n, "axis")
                current["axis_order"] = tokens[4].upper()
            elif key == "dof":
                dof = [t.lower() for t in tokens[1:]]
                bad = [d for d in dof if d not in ("rx", "ry", "rz")]
                if bad:
                    raise err(n, f"unsupported dof {bad} (only rx, ry, rz are supported)")
                if len(set(dof)) != len(dof):
                    raise err(n, "repeated dof")
                current["dof"] = dof
            # id, bodymass, cofmass and unknown keys are ignored
        elif section == "hierarchy":
            if key == "begin":
                continue
            if key == "end":
                saw_hierarchy_end = True
                continue
            parent, kids = tokens[0], tokens[1:]
            if parent != "root" and parent not in bones:
                raise err(n, f"hierarchy names unknown bone {parent!r}")
            for kid in kids:
                if kid not in bones:
                    raise err(n, f"hierarchy names unknown bone {kid!r}")
                if bones[kid].parent is not None:
                    raise err(n, f"bone {kid!r} has two parents")
                bones[kid].parent = parent
            children.setdefault(parent, []).extend(kids)
    if current is not None:
        raise err(len(lines), f"file ends inside the bone started on line {current['line']}")
    if not bones:
        raise err(None, "no ':bonedata' bones")
    if not children:
        raise err(None, "no ':hierarchy' section")
    if not saw_hierarchy_end:
        raise err(len(lines), "':hierarchy' has no closing 'end' (truncated file?)")
    orphans = [b.name for b in bones.values() if b.parent is None]
    if orphans:
        raise err(None, f"bones missing from the hierarchy: {orphans}")
    if root_order is None:
        root_order = ["TX", "TY", "TZ", "RX", "RY", "RZ"]

    # parents-first order for forward kinematics; refuse cycles
    order, stack = [], list(reversed(children.get("root", [])))
    while stack:
        b = stack.pop()
        order.append(b)
        stack.extend(reversed(children.get(b, [])))
    if len(order) != len(bones):
        raise err(None, "the hierarchy is not a tree hanging from 'root'")

    to_rad = math.pi / 180.0 if angle_unit == "deg" else 1.0
    return {
        "name": name, "bones": bones, "fk_order": order, "length_to_m": INCH / length_scale,
        "angle_unit": angle_unit, "to_rad": to_rad, "root_order": root_order, "root_axis": root_axis,
        "root_position": root_position, "root_orientation": root_orientation,
    }


def _finish_bone(data: dict, err: _Err) -> _Bone:
    line = data["line"]
    for key in ("name", "direction", "length"):
        if key not in data:
            raise err(line, f"bone has no {key!r}")
    direction = np.array(data["direction"], np.float64)
    norm = float(np.linalg.norm(direction))
    if norm > 0:
        direction = direction / norm
    elif data["length"] != 0:
        raise err(line, f"bone {data['name']!r} has a zero direction")
    return _Bone(
        name=data["name"], line=line, direction=direction, length=float(data["length"]),
        axis=np.array(data.get("axis", [0.0, 0.0, 0.0]), np.float64),
        axis_order=data.get("axis_order", "XYZ"), dof=data.get("dof", []),
    )


def _parse_amc(path, skeleton) -> tuple[dict[str, np.ndarray], int, float]:
    name, lines = _read_lines(path, "amc")
    err = _Err("amc", name)
    bones: dict[str, _Bone] = skeleton["bones"]
    expected = {"root": len(skeleton["root_order"])}
    expected.update({b.name: len(b.dof) for b in bones.values() if b.dof})
    to_rad = skeleton["to_rad"]

    frames: list[dict[str, list[float]]] = []
    frame_lines: list[int] = []
    current: dict[str, list[float]] | None = None
    for n, raw in enumerate(lines, 1):
        text = raw.strip()
        if not text or text.startswith("#"):
            continue
        if text.startswith(":"):
            if frames or current is not None:
                raise err(n, f"header keyword {text!r} after the first frame")
            word = text[1:].upper()
            if word == "RADIANS":
                to_rad = 1.0
            elif word == "DEGREES":
                to_rad = math.pi / 180.0
            continue
        tokens = text.split()
        if len(tokens) == 1 and re.fullmatch(r"\d+", tokens[0]):
            if current is not None:
                _check_amc_frame(current, expected, err, frame_lines[-1], n - 1)
                frames.append(current)
            current = {}
            frame_lines.append(n)
            continue
        if current is None:
            raise err(n, f"expected a frame number before {tokens[0]!r}")
        bone = tokens[0]
        if bone not in expected:
            if bone in bones:
                raise err(n, f"bone {bone!r} has no dof in the ASF but has values here")
            raise err(n, f"unknown bone {bone!r} (not in the ASF)")
        if bone in current:
            raise err(n, f"bone {bone!r} given twice in frame {len(frames) + 1}")
        if len(tokens) - 1 != expected[bone]:
            raise err(n, f"bone {bone!r} needs {expected[bone]} values, got {len(tokens) - 1} (truncated line?)")
        current[bone] = _floats(tokens[1:], err, n, bone)
    if current is not None:
        _check_amc_frame(current, expected, err, frame_lines[-1], len(lines))
        frames.append(current)
    if not frames:
        raise err(len(lines), "no frames")

    data = {b: np.array([f[b] for f in frames], np.float64) for b in expected}
    return data, len(frames), to_rad


def _check_amc_frame(frame, expected, err: _Err, start: int, last: int):
    missing = [b for b in expected if b not in frame]
    if missing:
        raise err(last, f"frame starting on line {start} lacks {missing} (truncated file?)")


def read_asf_amc(asf_path, amc_path, fps: float = CMU_FPS, metres_per_unit: float | None = None) -> MocapClip:
    """Load an Acclaim skeleton (ASF) and its motion (AMC); see the module docstring.

    ``metres_per_unit`` overrides the length conversion read from ``:units length``.
    """
    if not (isinstance(fps, (int, float)) and fps > 0):
        raise InputError("fps", f"must be positive, got {fps!r}")
    if metres_per_unit is not None and not metres_per_unit > 0:
        raise InputError("metres_per_unit", f"must be positive, got {metres_per_unit!r}")
    skel = _parse_asf(asf_path)
    values, num_frames, to_rad = _parse_amc(amc_path, skel)
    to_m = skel["length_to_m"] if metres_per_unit is None else float(metres_per_unit)
    bones: dict[str, _Bone] = skel["bones"]

    # root: translation and rotation from the AMC root line in the ASF 'order'
    root_vals = values["root"]
    translation = np.broadcast_to(skel["root_position"], (num_frames, 3)).copy()
    rot_axes, rot_cols = "", []
    for col, channel in enumerate(skel["root_order"]):
        axis = "xyz".index(channel[1].lower())
        if channel[0] == "T":
            translation[:, axis] = root_vals[:, col]
        else:
            rot_axes += channel[1].lower()
            rot_cols.append(col)
    c_root = _fixed_axes(skel["root_axis"].lower(), skel["root_orientation"] * skel["to_rad"])
    m_root = _fixed_axes(rot_axes, root_vals[:, rot_cols] * to_rad) if rot_axes else np.eye(3)
    glob = {"root": c_root @ m_root @ c_root.T}
    pos = {"root": translation * to_m}

    for bname in skel["fk_order"]:
        bone = bones[bname]
        c = _fixed_axes(bone.axis_order.lower(), bone.axis * skel["to_rad"])
        if bone.dof:
            m = _fixed_axes("".join(d[1] for d in bone.dof), values[bname] * to_rad)
            local = c @ m @ c.T
        else:
            local = np.eye(3)
        g = glob[bone.parent] @ local
        glob[bname] = g
        pos[bname] = pos[bone.parent] + (g @ (bone.direction * bone.length * to_m))

    names = ["root"] + list(bones)
    index = {n: i for i, n in enumerate(names)}
    parents = [-1] + [index[bones[b].parent] for b in bones]
    positions = np.stack([np.broadcast_to(pos[n], (num_frames, 3)) for n in names], axis=1)
    return MocapClip(positions.astype(np.float32), names, parents, float(fps))


def load_asf_amc(
    asf_path, amc_path, fps: float = CMU_FPS, metres_per_unit: float | None = None
) -> tuple[np.ndarray, list[str], float]:
    """(positions [T, J, 3] float32 metres y-up, joint names, fps) of an ASF/AMC pair."""
    return read_asf_amc(asf_path, amc_path, fps, metres_per_unit).as_tuple()


# --------------------------------------------------------------------------------------------
# BVH

_BVH_CHANNELS = {
    "xposition": "px", "yposition": "py", "zposition": "pz",
    "xrotation": "rx", "yrotation": "ry", "zrotation": "rz",
}
LENGTH_UNITS = {"m": 1.0, "cm": 0.01, "mm": 0.001, "in": INCH}


@dataclass
class _BvhJoint:
    name: str
    parent: int
    offset: np.ndarray
    channels: list[str]
    line: int
    first_channel: int = 0
    is_end_site: bool = False


def _parse_bvh_hierarchy(lines: list[str], err: _Err) -> tuple[list[_BvhJoint], int]:
    """Joints (end sites included, with no channels) and the index of the 'MOTION' line."""
    tokens: list[tuple[int, str]] = []
    motion_line = None
    for n, raw in enumerate(lines, 1):
        text = raw.strip()
        if text.upper() == "MOTION":
            motion_line = n - 1
            break
        # braces may touch words: "{", "}", "ROOT Hips{" ...
        for tok in re.findall(r"[{}]|[^\s{}]+", text):
            tokens.append((n, tok))
    if motion_line is None:
        raise err(len(lines), "no 'MOTION' section (truncated file?)")
    if not tokens or tokens[0][1].upper() != "HIERARCHY":
        raise err(tokens[0][0] if tokens else 1, "file must start with 'HIERARCHY'")

    joints: list[_BvhJoint] = []
    stack: list[int] = []  # open joint indices
    pos = 1
    total_channels = 0

    def take(what: str) -> tuple[int, str]:
        nonlocal pos
        if pos >= len(tokens):
            raise err(motion_line + 1, f"hierarchy ends early: expected {what}")
        item = tokens[pos]
        pos += 1
        return item

    def take_numbers(count: int, what: str) -> tuple[int, list[float]]:
        first_line = None
        vals = []
        for _ in range(count):
            n, tok = take(what)
            first_line = first_line or n
            vals.extend(_floats([tok], err, n, what))
        return first_line, vals

    names: set[str] = set()
    while pos < len(tokens):
        n, tok = take("a joint")
        word = tok.upper()
        if word in ("ROOT", "JOINT"):
            if word == "ROOT" and stack:
                raise err(n, "ROOT inside another joint")
            if word == "JOINT" and not stack:
                raise err(n, "JOINT outside any ROOT")
            if word == "ROOT" and joints:
                raise err(n, "more than one ROOT is not supported")
            nline, jname = take("a joint name")
            # names may contain spaces in some exporters: join words up to the "{"
            while pos < len(tokens) and tokens[pos][1] != "{" and tokens[pos][0] == nline:
                jname += " " + tokens[pos][1]
                pos += 1
            if jname in names:
                raise err(n, f"duplicate joint name {jname!r}")
            names.add(jname)
            bn, brace = take("'{'")
            if brace != "{":
                raise err(bn, f"expected '{{' after joint {jname!r}, got {brace!r}")
            on, kw = take("OFFSET")
            if kw.upper() != "OFFSET":
                raise err(on, f"expected OFFSET in joint {jname!r}, got {kw!r}")
            _, offset = take_numbers(3, f"OFFSET of {jname!r}")
            cn, kw = take("CHANNELS")
            if kw.upper() != "CHANNELS":
                raise err(cn, f"expected CHANNELS in joint {jname!r}, got {kw!r}")
            kn, count_tok = take("channel count")
            if not re.fullmatch(r"\d+", count_tok):
                raise err(kn, f"channel count must be a whole number, got {count_tok!r}")
            channels = []
            for _ in range(int(count_tok)):
                chn, ch = take("a channel name")
                if ch.lower() not in _BVH_CHANNELS:
                    raise err(chn, f"unknown channel {ch!r} in joint {jname!r}")
                channels.append(_BVH_CHANNELS[ch.lower()])
            if len(set(channels)) != len(channels):
                raise err(cn, f"repeated channel in joint {jname!r}")
            joints.append(_BvhJoint(jname, stack[-1] if stack else -1, np.array(offset), channels, n,
                                    total_channels))
            total_channels += len(channels)
            stack.append(len(joints) - 1)
        elif word == "END":
            sn, site = take("'Site'")
            if site.upper() != "SITE":
                raise err(sn, f"expected 'End Site', got 'End {site}'")
            if not stack:
                raise err(n, "End Site outside any joint")
            bn, brace = take("'{'")
            if brace != "{":
                raise err(bn, f"expected '{{' after End Site, got {brace!r}")
            on, kw = take("OFFSET")
            if kw.upper() != "OFFSET":
                raise err(on, f"expected OFFSET in End Site, got {kw!r}")
            _, offset = take_numbers(3, "End Site OFFSET")
            cn, close = take("'}'")
            if close != "}":
                raise err(cn, f"expected '}}' closing the End Site, got {close!r}")
            parent = stack[-1]
            ename = f"{joints[parent].name}_End"
            while ename in names:
                ename += "_"
            names.add(ename)
            joints.append(_BvhJoint(ename, parent, np.array(offset), [], n, total_channels, is_end_site=True))
        elif tok == "}":
            if not stack:
                raise err(n, "unmatched '}'")
            stack.pop()
        else:
            raise err(n, f"unexpected {tok!r} in the hierarchy")
    if stack:
        open_joint = joints[stack[-1]]
        raise err(motion_line + 1, f"joint {open_joint.name!r} (line {open_joint.line}) is not closed before MOTION")
    if not joints:
        raise err(motion_line + 1, "the hierarchy has no ROOT")
    return joints, motion_line


def _parse_bvh_motion(lines: list[str], start: int, num_channels: int, err: _Err) -> tuple[np.ndarray, float]:
    """Channel values [T, C] and the frame time; ``start`` is the 0-based index of 'MOTION'."""
    n = start + 1
    header: dict[str, tuple[int, str]] = {}
    while n < len(lines) and len(header) < 2:
        text = lines[n].strip()
        n += 1
        if not text:
            continue
        m = re.fullmatch(r"(Frames|Frame\s+Time)\s*:\s*(\S+)", text, re.IGNORECASE)
        if not m:
            raise err(n, f"expected 'Frames:' and 'Frame Time:' after MOTION, got {text[:40]!r}")
        key = "frames" if m.group(1).lower() == "frames" else "time"
        header[key] = (n, m.group(2))
    for key, label in (("frames", "Frames:"), ("time", "Frame Time:")):
        if key not in header:
            raise err(len(lines), f"missing {label!r} line after MOTION (truncated file?)")
    fline, ftok = header["frames"]
    if not re.fullmatch(r"\d+", ftok) or int(ftok) < 1:
        raise err(fline, f"'Frames:' must be a positive whole number, got {ftok!r}")
    num_frames = int(ftok)
    tline, ttok = header["time"]
    frame_time = _floats([ttok], err, tline, "Frame Time")[0]
    if frame_time <= 0:
        raise err(tline, f"'Frame Time:' must be positive, got {ttok!r}")

    data = np.empty((num_frames, num_channels), np.float64)
    row = 0
    for idx in range(n, len(lines)):
        text = lines[idx].strip()
        if not text:
            continue
        line_no = idx + 1
        if row >= num_frames:
            raise err(line_no, f"more frame lines than 'Frames: {num_frames}'")
        toks = text.split()
        if len(toks) != num_channels:
            raise err(line_no, f"frame {row + 1} has {len(toks)} values, the hierarchy declares {num_channels} channels")
        data[row] = _floats(toks, err, line_no, f"frame {row + 1}")
        row += 1
    if row < num_frames:
        raise err(len(lines), f"only {row} of the {num_frames} frames declared in 'Frames:' (truncated file?)")
    return data, frame_time


def _bvh_fk(joints: list[_BvhJoint], data: np.ndarray) -> np.ndarray:
    """World positions [T, J, 3] (file units)."""
    num_frames = data.shape[0]
    rot = [None] * len(joints)
    pos = [None] * len(joints)
    for j, joint in enumerate(joints):
        trans = np.broadcast_to(joint.offset, (num_frames, 3)).copy()
        axes, cols = "", []
        for k, ch in enumerate(joint.channels):
            col = joint.first_channel + k
            if ch[0] == "p":
                trans[:, "xyz".index(ch[1])] = data[:, col]
            else:
                axes += ch[1]
                cols.append(col)
        local = _euler(axes, np.radians(data[:, cols])) if axes else np.broadcast_to(np.eye(3), (num_frames, 3, 3))
        if joint.parent < 0:
            rot[j], pos[j] = local, trans
        else:
            p = joint.parent
            pos[j] = pos[p] + np.einsum("tij,tj->ti", rot[p], trans)
            rot[j] = rot[p] @ local
    return np.stack(pos, axis=1)


def _rest_height(joints: list[_BvhJoint]) -> float:
    """Vertical (y) extent of the rest pose: offsets only, all rotations zero."""
    ys = np.zeros(len(joints))
    for j, joint in enumerate(joints):
        ys[j] = joint.offset[1] + (ys[joint.parent] if joint.parent >= 0 else 0.0)
    return float(ys.max() - ys.min())


def bvh_unit_scale(rest_height: float) -> float:
    """Metres per file unit guessed from the rest-pose height (see the module docstring)."""
    if rest_height < 10.0:
        return 1.0
    if rest_height < 1000.0:
        return 0.01
    return 0.001


@dataclass(frozen=True)
class BvhData:
    """A validated BVH file before forward kinematics, in file units.

    Points are the joints and end sites in file order (end sites named ``<parent>_End``, with no
    channels); ``values`` holds the MOTION rows [T, C].
    """

    file_name: str
    joints: list[_BvhJoint]
    values: np.ndarray
    frame_time: float

    @property
    def joint_names(self) -> list[str]:
        return [j.name for j in self.joints]

    @property
    def parents(self) -> list[int]:
        return [j.parent for j in self.joints]

    @property
    def offsets(self) -> np.ndarray:
        return np.stack([j.offset for j in self.joints])

    @property
    def is_end_site(self) -> list[bool]:
        return [j.is_end_site for j in self.joints]

    @property
    def fps(self) -> float:
        """1 / frame time, rounded to a whole number when within 0.01 of one (0.033333 -> 30)."""
        fps = 1.0 / self.frame_time
        return float(round(fps)) if abs(fps - round(fps)) < 0.01 else fps

    def metres_per_unit(self, units: str = "auto") -> float:
        """Length scale for ``units`` ('auto': the rest-height heuristic, or 'm', 'cm', 'mm', 'in')."""
        if units == "auto":
            return bvh_unit_scale(_rest_height(self.joints))
        if units not in LENGTH_UNITS:
            raise InputError("units", f"expected 'auto' or one of {sorted(LENGTH_UNITS)}, got {units!r}")
        return LENGTH_UNITS[units]


def parse_bvh(path) -> BvhData:
    """Read and check a whole BVH file (hierarchy, frame count, every value); InputError on any fault."""
    name, lines = _read_lines(path, "bvh")
    err = _Err("bvh", name)
    joints, motion_index = _parse_bvh_hierarchy(lines, err)
    num_channels = sum(len(j.channels) for j in joints)
    data, frame_time = _parse_bvh_motion(lines, motion_index, num_channels, err)
    return BvhData(name, joints, data, frame_time)


def read_bvh(path, units: str = "auto") -> MocapClip:
    """Load a BVH file; ``units`` is 'auto' (rest-height heuristic), 'm', 'cm', 'mm' or 'in'."""
    if units != "auto" and units not in LENGTH_UNITS:
        raise InputError("units", f"expected 'auto' or one of {sorted(LENGTH_UNITS)}, got {units!r}")
    bvh = parse_bvh(path)
    positions = _bvh_fk(bvh.joints, bvh.values) * bvh.metres_per_unit(units)
    return MocapClip(positions.astype(np.float32), bvh.joint_names, bvh.parents, bvh.fps)


def load_bvh(path, units: str = "auto") -> tuple[np.ndarray, list[str], float]:
    """(positions [T, J, 3] float32 metres y-up, joint names, fps) of a BVH file."""
    return read_bvh(path, units).as_tuple()


# --------------------------------------------------------------------------------------------
# OpenPose-18 mapping

def _strip_ns(name: str) -> str:
    return name.rsplit(":", 1)[-1]


# OpenPose joint -> one source joint name, or a tuple of names whose positions are averaged.
# Names for Mixamo are matched without their namespace prefix ("mixamorig:", "mixamorig1:", ...).
RIGS: dict[str, dict[str, str | tuple[str, ...]]] = {
    "cmu_asf": {
        # bones are named at their end point: "lowerneck" is mid-neck, "lclavicle" the shoulder
        # joint, "lhumerus" the elbow, "lradius" the wrist, "lhipjoint" the hip, "lfemur" the knee,
        # "ltibia" the ankle; the nose is approximated by the middle of the head bone.
        "nose": ("upperneck", "head"), "neck": "lowerneck",
        "right_shoulder": "rclavicle", "right_elbow": "rhumerus", "right_wrist": "rradius",
        "left_shoulder": "lclavicle", "left_elbow": "lhumerus", "left_wrist": "lradius",
        "right_hip": "rhipjoint", "right_knee": "rfemur", "right_ankle": "rtibia",
        "left_hip": "lhipjoint", "left_knee": "lfemur", "left_ankle": "ltibia",
    },
    "mocapbank_bvh": {
        # "Head" sits at the skull base and "Head_End" on the crown: the nose is their middle.
        "nose": ("Head", "Head_End"), "neck": "Neck",
        "right_shoulder": "RightShoulder", "right_elbow": "RightElbow", "right_wrist": "RightWrist",
        "left_shoulder": "LeftShoulder", "left_elbow": "LeftElbow", "left_wrist": "LeftWrist",
        "right_hip": "RightHip", "right_knee": "RightKnee", "right_ankle": "RightAnkle",
        "left_hip": "LeftHip", "left_knee": "LeftKnee", "left_ankle": "LeftAnkle",
    },
    "mixamo_bvh": {
        # Mixamo: "Shoulder" is the clavicle, "Arm" the shoulder joint, "UpLeg" the hip joint;
        # no nose joint, the eyes' midpoint stands in for it.
        "nose": ("LeftEye", "RightEye"), "neck": "Neck",
        "right_shoulder": "RightArm", "right_elbow": "RightForeArm", "right_wrist": "RightHand",
        "left_shoulder": "LeftArm", "left_elbow": "LeftForeArm", "left_wrist": "LeftHand",
        "right_hip": "RightUpLeg", "right_knee": "RightLeg", "right_ankle": "RightFoot",
        "left_hip": "LeftUpLeg", "left_knee": "LeftLeg", "left_ankle": "LeftFoot",
        "right_eye": "RightEye", "left_eye": "LeftEye",
    },
    "smpl": {
        # SMPL joint names, as motion_io.save_bvh writes them; the head joint stands in for the nose.
        "nose": "head", "neck": "neck",
        "right_shoulder": "right_shoulder", "right_elbow": "right_elbow", "right_wrist": "right_wrist",
        "left_shoulder": "left_shoulder", "left_elbow": "left_elbow", "left_wrist": "left_wrist",
        "right_hip": "right_hip", "right_knee": "right_knee", "right_ankle": "right_ankle",
        "left_hip": "left_hip", "left_knee": "left_knee", "left_ankle": "left_ankle",
    },
}


def _rig_sources(mapping) -> set[str]:
    out = set()
    for src in mapping.values():
        out.update((src,) if isinstance(src, str) else src)
    return out


def detect_rig(joint_names: Iterable[str]) -> str:
    """The RIGS key whose joints are all present in ``joint_names``; InputError if none fits."""
    names = list(joint_names)
    plain = {_strip_ns(n) for n in names}
    exact = set(names)
    # Mixamo first: it also has "LeftShoulder"/"Neck", but with a different meaning.
    for rig, pool in (("mixamo_bvh", plain), ("cmu_asf", exact), ("mocapbank_bvh", exact), ("smpl", exact)):
        if _rig_sources(RIGS[rig]) <= pool:
            return rig
    raise InputError("joint_names", f"unknown skeleton; none of {sorted(RIGS)} matches joints {names[:8]}...")


def to_openpose_18(
    positions: np.ndarray, joint_names: Sequence[str], rig: str | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Map rig joints onto the OpenPose-18 body: (points [T, 18, 3] float32, valid [18] bool).

    ``rig`` is a key of :data:`RIGS` or None to detect it. Joints without a source (the ears
    everywhere, the eyes except on Mixamo) are invalid and left at zero.
    """
    positions = np.asarray(positions, np.float32)
    names = list(joint_names)
    if positions.ndim != 3 or positions.shape[1:] != (len(names), 3):
        raise InputError("positions", f"expected [T, {len(names)}, 3], got {list(positions.shape)}")
    if rig is None:
        rig = detect_rig(names)
    if rig not in RIGS:
        raise InputError("rig", f"unknown rig {rig!r}; expected one of {sorted(RIGS)}")
    lookup = {n: i for i, n in enumerate(names)}
    if rig == "mixamo_bvh":
        lookup = {_strip_ns(n): i for i, n in enumerate(names)}
    points = np.zeros((positions.shape[0], len(OPENPOSE_18), 3), np.float32)
    valid = np.zeros(len(OPENPOSE_18), bool)
    for k, op_name in enumerate(OPENPOSE_18):
        src = RIGS[rig].get(op_name)
        if src is None:
            continue
        srcs = (src,) if isinstance(src, str) else src
        missing = [s for s in srcs if s not in lookup]
        if missing:
            raise InputError("joint_names", f"rig {rig!r} needs joints {missing}")
        points[:, k] = positions[:, [lookup[s] for s in srcs]].mean(axis=1)
        valid[k] = True
    return points, valid


def facing_yaw_degrees(points18: np.ndarray) -> float:
    """Mean facing direction of an OpenPose-18 world clip as a yaw (same convention as the camera).

    Forward = (left - right, hips and shoulders) x up, averaged over frames; a subject facing +z
    gives 0, one facing +x gives 90. ``project_to_image(..., yaw_degrees=facing + a)`` views it from angle ``a``
    (0 front, 90 its left side, 180 back).
    """
    p = np.asarray(points18, np.float64)
    across = (p[:, 11] - p[:, 8]) + (p[:, 5] - p[:, 2])  # right -> left, hips and shoulders
    forward = np.stack([-across[:, 2], np.zeros(len(p)), across[:, 0]], axis=-1)  # across x up
    f = forward.sum(axis=0)
    return float(np.degrees(np.arctan2(f[0], f[2])))


# --------------------------------------------------------------------------------------------
# virtual camera

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
# time

def resample(positions: np.ndarray, fps_in: float, fps_out: float) -> np.ndarray:
    """Linearly interpolate [T, ...] frames from ``fps_in`` to ``fps_out`` (float32).

    Output frame k is at time k / fps_out; the clip keeps its duration (T - 1) / fps_in, so the
    result has floor((T - 1) * fps_out / fps_in) + 1 frames.
    """
    x = np.asarray(positions)
    if x.ndim < 1 or x.shape[0] < 1:
        raise InputError("positions", "expected at least one frame")
    if not (fps_in > 0 and fps_out > 0):
        raise InputError("fps", f"fps_in and fps_out must be positive, got {fps_in}, {fps_out}")
    x = x.astype(np.float64)
    num_in = x.shape[0]
    num_out = int(math.floor((num_in - 1) * fps_out / fps_in + 1e-9)) + 1
    t = np.arange(num_out) * (fps_in / fps_out)  # in input-frame units
    i0 = np.clip(np.floor(t).astype(int), 0, num_in - 1)
    i1 = np.minimum(i0 + 1, num_in - 1)
    w = (t - i0).reshape((-1,) + (1,) * (x.ndim - 1))
    return ((1 - w) * x[i0] + w * x[i1]).astype(np.float32)


# --------------------------------------------------------------------------------------------
# MOTION

def load_motion(path, amc_path=None, fps: float | None = None, units: str = "auto"):
    """Load a BVH (or an ASF with ``amc_path``) as an OpenPose-18 world-space MOTION.

    Joints without a source are zero with ``params['visibility']`` 0. ``fps`` overrides the file's
    (ASF/AMC default 120).
    """
    import torch

    from .motion import Motion

    if amc_path is not None:
        clip = read_asf_amc(path, amc_path, fps or CMU_FPS)
    else:
        clip = read_bvh(path, units)
    points, valid = to_openpose_18(clip.positions, clip.joint_names)
    vis = np.broadcast_to(valid.astype(np.float32), points.shape[:2]).copy()
    return Motion(
        joints=torch.from_numpy(points.copy()), fps=float(fps or clip.fps), layout="openpose_18",
        params={"visibility": torch.from_numpy(vis)},
    )
