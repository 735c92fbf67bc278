"""Acclaim ASF/AMC (CMU Graphics Lab database flavour) -> a :class:`MocapClip`.

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

Parsing errors raise :class:`InputError` naming the file kind (``"asf"``, ``"amc"``) with the file
name and line number.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

import numpy as np

from ..core.errors import InputError
from .clip import INCH, MocapClip
from .euler import fixed_axes_to_matrix
from .text_parsing import FileErrors, parse_floats, read_lines

CMU_FPS = 120.0


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
    name, lines = read_lines(path, "asf")
    err = FileErrors("asf", name)
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
                scale = parse_floats(tokens[1:2], err, n, "length unit")
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
                root_position = np.array(parse_floats(tokens[1:], err, n, "root position"))
            elif key == "orientation":
                if len(tokens) != 4:
                    raise err(n, "root orientation needs 3 numbers")
                root_orientation = np.array(parse_floats(tokens[1:], err, n, "root orientation"))
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
                current["direction"] = parse_floats(tokens[1:], err, n, "direction")
            elif key == "length":
                if len(tokens) != 2:
                    raise err(n, "length needs 1 number")
                current["length"] = parse_floats(tokens[1:], err, n, "length")[0]
            elif key == "axis":
                if len(tokens) != 5 or sorted(tokens[4].upper()) != ["X", "Y", "Z"]:
                    raise err(n, "axis needs 3 angles and an order such as XYZ")
                current["axis"] = parse_floats(tokens[1:4], err, n, "axis")
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


def _finish_bone(data: dict, err: FileErrors) -> _Bone:
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
    name, lines = read_lines(path, "amc")
    err = FileErrors("amc", name)
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
        current[bone] = parse_floats(tokens[1:], err, n, bone)
    if current is not None:
        _check_amc_frame(current, expected, err, frame_lines[-1], len(lines))
        frames.append(current)
    if not frames:
        raise err(len(lines), "no frames")

    data = {b: np.array([f[b] for f in frames], np.float64) for b in expected}
    return data, len(frames), to_rad


def _check_amc_frame(frame, expected, err: FileErrors, start: int, last: int):
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
    c_root = fixed_axes_to_matrix(skel["root_axis"].lower(), skel["root_orientation"] * skel["to_rad"])
    m_root = fixed_axes_to_matrix(rot_axes, root_vals[:, rot_cols] * to_rad) if rot_axes else np.eye(3)
    glob = {"root": c_root @ m_root @ c_root.T}
    pos = {"root": translation * to_m}

    for bname in skel["fk_order"]:
        bone = bones[bname]
        c = fixed_axes_to_matrix(bone.axis_order.lower(), bone.axis * skel["to_rad"])
        if bone.dof:
            m = fixed_axes_to_matrix("".join(d[1] for d in bone.dof), values[bname] * to_rad)
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

