"""BVH files: one reader (:func:`read_bvh`) and one writer (:func:`write_bvh`).

Reading
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

    :func:`parse_bvh` checks the whole file first (hierarchy, frame count, every value), so every
    fault becomes an :class:`InputError` naming the file and line: the ``bvhio`` library loops
    forever on a truncated file and reports faults without the file's name. Forward kinematics then
    go through bvhio (``kinematics="bvhio"``, the default); files bvhio's stricter grammar refuses (a
    brace on a joint's line, names with spaces) fall back to our own numpy forward kinematics
    (``kinematics="numpy"``), which agrees with bvhio to < 1e-4 m on real files.

Writing (:func:`write_bvh`)
    ``smpl_22``/``smpl_52`` motions become a BVH skeleton named with SMPL joint names: T-pose
    offsets from mean bone lengths, per-frame rotations fitted to the positions
    (``retarget.fit_rotations``), pelvis translation channels, ``Zrotation Xrotation Yrotation``
    channels (intrinsic, degrees), centimetres by default. Leaves carry a short End Site along their
    bone for viewers. Reloading reproduces the joints up to the clip's bone-length changes.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass

import bvhio
import numpy as np
from pyglm import glm

from ..core.errors import InputError
from ..core.layouts import layout_names, layout_parents
from ..core.motion import Motion, validate_motion
from .clip import LENGTH_UNITS, MocapClip
from .euler import euler_to_matrix, matrix_to_quaternion
from .retarget import fit_rotations, rest_offsets
from .text_parsing import FileErrors, parse_floats, read_lines

KINEMATICS = ("bvhio", "numpy")

_BVH_CHANNELS = {
    "xposition": "px", "yposition": "py", "zposition": "pz",
    "xrotation": "rx", "yrotation": "ry", "zrotation": "rz",
}


@dataclass
class _BvhJoint:
    name: str
    parent: int
    offset: np.ndarray
    channels: list[str]
    line: int
    first_channel: int = 0
    is_end_site: bool = False


def _parse_bvh_hierarchy(lines: list[str], err: FileErrors) -> tuple[list[_BvhJoint], int]:
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
            vals.extend(parse_floats([tok], err, n, what))
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


def _parse_bvh_motion(lines: list[str], start: int, num_channels: int, err: FileErrors) -> tuple[np.ndarray, float]:
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
    frame_time = parse_floats([ttok], err, tline, "Frame Time")[0]
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
        data[row] = parse_floats(toks, err, line_no, f"frame {row + 1}")
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
        local = euler_to_matrix(axes, np.radians(data[:, cols])) if axes else np.broadcast_to(np.eye(3), (num_frames, 3, 3))
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
    name, lines = read_lines(path, "bvh")
    err = FileErrors("bvh", name)
    joints, motion_index = _parse_bvh_hierarchy(lines, err)
    num_channels = sum(len(j.channels) for j in joints)
    data, frame_time = _parse_bvh_motion(lines, motion_index, num_channels, err)
    return BvhData(name, joints, data, frame_time)


def read_bvh(path, units: str = "auto", kinematics: str = "bvhio") -> MocapClip:
    """A BVH file's joints and end sites as a clip in metres, y up (see the module docstring).

    ``units``: 'auto' (rest-height heuristic) or 'm', 'cm', 'mm', 'in'. ``kinematics``: 'bvhio'
    (falls back to 'numpy' for files bvhio's grammar refuses) or 'numpy' (our own).
    """
    if units != "auto" and units not in LENGTH_UNITS:
        raise InputError("units", f"expected 'auto' or one of {sorted(LENGTH_UNITS)}, got {units!r}")
    if kinematics not in KINEMATICS:
        raise InputError("kinematics", f"expected one of {list(KINEMATICS)}, got {kinematics!r}")
    if not os.path.isfile(os.fspath(path)):
        raise InputError("bvh", f"file not found: {os.fspath(path)!r}")
    data = parse_bvh(path)
    scale = data.metres_per_unit(units)
    positions = _bvhio_positions(os.fspath(path), data) if kinematics == "bvhio" else None
    if positions is None:
        positions = _bvh_fk(data.joints, data.values)
    return MocapClip((positions * scale).astype(np.float32), data.joint_names, data.parents, data.fps)


def _bvhio_positions(path: str, data: BvhData) -> np.ndarray | None:
    """World positions [T, J, 3] in file units from bvhio, or None where bvhio cannot read the file."""
    try:
        container = bvhio.readAsBvh(path)
        root = bvhio.convertBvhToHierarchy(container.Root).loadRestPose(recursive=True)
    except (SyntaxError, ValueError, IndexError):
        return None  # valid BVH in a layout bvhio's parser does not accept
    file_joints = {joint.Name: joint for joint, _, _ in container.Root.layout()}
    joints = {joint.Name: joint for joint, _, _ in root.layout()}
    names, parents, offsets, end_sites = data.joint_names, data.parents, data.offsets, data.is_end_site
    if set(joints) != {n for n, end in zip(names, end_sites) if not end}:
        return None  # bvhio keeps only a name's first word ("My Hips" -> "My")
    # bvhio turns each joint so its bone runs along +y; an end site's file offset is in the joint's
    # unturned frame, so undo that turn (the bone-alignment rotation of the file joint) first.
    unturn = {n: glm.inverse(file_joints[n].getRotation()) for n in joints}
    positions = np.empty((container.FrameCount, len(names), 3))
    # (row, bvhio joint whose transform places the point, is an end site)
    order = [(j, joints[names[parents[j]]] if end else joints[n], end) for j, (n, end) in enumerate(zip(names, end_sites))]
    for frame in range(container.FrameCount):
        root.loadPose(frame)
        for j, joint, end in order:
            if end:
                offset = unturn[joint.Name] * glm.vec3(*offsets[j])
                positions[frame, j] = joint.PositionWorld + joint.RotationWorld * offset
            else:
                positions[frame, j] = joint.PositionWorld
    return positions


# --------------------------------------------------------------------------------------------
# writing


def write_bvh(motion: Motion, path, units: str = "cm") -> str:
    """Write an ``smpl_22``/``smpl_52`` motion as BVH through bvhio; returns the path.

    ``units`` is the file's length unit: 'cm' (the common choice), 'm', 'mm' or 'in'.
    """
    motion = validate_motion(motion)
    if motion.layout not in ("smpl_22", "smpl_52"):
        raise InputError("motion", f"BVH export needs an smpl_22 or smpl_52 motion, got {motion.layout!r}")
    if units not in LENGTH_UNITS:
        raise InputError("units", f"expected one of {sorted(LENGTH_UNITS)}, got {units!r}")
    to_file = 1.0 / LENGTH_UNITS[units]
    names, parents = layout_names(motion.layout), layout_parents(motion.layout)
    positions = motion.joints.numpy().astype(np.float64)
    offsets = rest_offsets(positions, motion.layout)
    quats = matrix_to_quaternion(fit_rotations(positions, motion.layout, offsets))  # [T, J, 4]
    num_frames = positions.shape[0]

    joints = []
    for j, name in enumerate(names):
        joint = bvhio.BvhJoint(name, glm.vec3(*(offsets[j] * to_file)))
        joint.Channels = (["Xposition", "Yposition", "Zposition"] if parents[j] < 0 else []) + \
            ["Zrotation", "Xrotation", "Yrotation"]
        translation = positions[:, j] if parents[j] < 0 else np.broadcast_to(offsets[j], (num_frames, 3))
        translation = translation * to_file
        joint.Keyframes = [bvhio.Pose(glm.vec3(*translation[t]), glm.quat(*quats[t, j])) for t in range(num_frames)]
        # viewers draw a leaf's bone to its End Site: half its incoming bone, same direction
        joint.EndSite = glm.vec3(*(0.5 * offsets[j] * to_file))
        if parents[j] >= 0:
            joints[parents[j]].Children.append(joint)
        joints.append(joint)
    path = os.fspath(path)
    bvhio.writeBvh(path, bvhio.BvhContainer(joints[0], num_frames, 1.0 / motion.fps), percision=6)
    return path


# --------------------------------------------------------------------------------------------
