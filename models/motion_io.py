"""Motion files in and out: mocap (BVH, ASF/AMC), our ``.npz``, HumanML3D ``.npy``; resampling.

Reading
    :func:`read_mocap` gives a raw ``mocap.MocapClip`` (the source rig's own joints, metres, y up).
    BVH goes through the ``bvhio`` library for forward kinematics, after ``mocap.parse_bvh`` has
    checked the whole file (bvhio loops forever on a truncated file and reports faults without the
    file's name); files bvhio's stricter grammar refuses (a brace on a joint's line, names with
    spaces) fall back to ``mocap``'s own forward kinematics, which agrees with bvhio to < 1e-4 m.
    :func:`load_motion_file` returns a MOTION (``motion.py``) retargeted onto SMPL joints
    (``retarget.py``): ``smpl_52`` when the rig has fingers, else ``smpl_22``; metres, y up, the
    lowest foot joint on y = 0, the source's facing kept.

Our ``.npz`` (:func:`save_npz`, exact round trip)
    ``joints`` float32 [T, J, 3], ``fps`` float64 scalar, ``layout`` string, optional
    ``canvas_size`` int64 [2], and one ``param_<name>`` array per MOTION param.

HumanML3D ``.npy``
    ``new_joints/<id>.npy``: float [T, 22, 3] SMPL joints at 20 fps (metres, y up); [T, 52, 3]
    is read as ``smpl_52``. The 263-dimensional feature files (``new_joint_vecs``) are refused.

BVH export (:func:`save_bvh`)
    ``smpl_22``/``smpl_52`` motions become a BVH skeleton named with SMPL joint names: T-pose
    offsets from mean bone lengths, per-frame rotations fitted to the positions
    (``retarget.fit_rotations``), pelvis translation channels, ``Zrotation Xrotation Yrotation``
    channels (intrinsic, degrees), centimetres by default. Leaves carry a short End Site along their
    bone for viewers. Reloading reproduces the joints up to the clip's bone-length changes.
"""

from __future__ import annotations

import os
import zipfile

import numpy as np
import torch

from . import mocap, retarget
from .errors import InputError
from .layouts import LAYOUTS, layout_names, layout_parents
from .motion import Motion, validate_motion

HUMANML3D_FPS = 20.0
MOTION_SUFFIXES = (".bvh", ".asf", ".npz", ".npy")

__all__ = [
    "read_mocap", "read_bvh_bvhio", "load_motion_file", "load_npz", "load_humanml3d_npy", "save_npz",
    "save_bvh", "resample", "MOTION_SUFFIXES",
]


def _existing_file(path, input_name: str) -> str:
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise InputError(input_name, f"file not found: {path!r}")
    return path


# --------------------------------------------------------------------------------------------
# mocap

def read_bvh_bvhio(path, units: str = "auto") -> mocap.MocapClip:
    """A BVH file's joints and end sites (``mocap`` naming and order), positions from bvhio's FK."""
    import bvhio
    from pyglm import glm

    path = _existing_file(path, "bvh")
    data = mocap.parse_bvh(path)  # every fault of the file becomes an InputError with its line
    scale = data.metres_per_unit(units)
    try:
        container = bvhio.readAsBvh(path)
        root = bvhio.convertBvhToHierarchy(container.Root).loadRestPose(recursive=True)
    except (SyntaxError, ValueError, IndexError):
        return mocap.read_bvh(path, units)  # valid BVH in a layout bvhio's parser does not accept
    file_joints = {joint.Name: joint for joint, _, _ in container.Root.layout()}
    joints = {joint.Name: joint for joint, _, _ in root.layout()}
    names, parents, offsets, end_sites = data.joint_names, data.parents, data.offsets, data.is_end_site
    if set(joints) != {n for n, end in zip(names, end_sites) if not end}:
        return mocap.read_bvh(path, units)  # bvhio keeps only a name's first word ("My Hips" -> "My")
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
    return mocap.MocapClip((positions * scale).astype(np.float32), names, parents, data.fps)


def read_mocap(path, amc_path=None, units: str = "auto", fps: float | None = None) -> mocap.MocapClip:
    """The source rig's clip: a ``.bvh``, or an ``.asf`` skeleton with its ``.amc`` motion.

    ``units``: 'auto' (BVH: rest-height heuristic; ASF: its ``:units length``) or 'm', 'cm', 'mm',
    'in' for the file's length unit. ``fps`` replaces the file's frame rate (AMC stores none: 120).
    """
    if units != "auto" and units not in mocap.LENGTH_UNITS:
        raise InputError("units", f"expected 'auto' or one of {sorted(mocap.LENGTH_UNITS)}, got {units!r}")
    if fps is not None and not (isinstance(fps, (int, float)) and fps > 0):
        raise InputError("fps", f"must be positive, got {fps!r}")
    suffix = os.path.splitext(os.fspath(path))[1].lower()
    if suffix == ".bvh":
        clip = read_bvh_bvhio(path, units)
    elif suffix == ".asf":
        if amc_path is None:
            name = os.path.basename(os.fspath(path))
            raise InputError("amc_path", f"the ASF skeleton {name!r} needs its AMC motion file")
        asf, amc = _existing_file(path, "asf"), _existing_file(amc_path, "amc")
        scale = None if units == "auto" else mocap.LENGTH_UNITS[units]
        clip = mocap.read_asf_amc(asf, amc, fps or mocap.CMU_FPS, metres_per_unit=scale)
    elif suffix == ".amc":
        raise InputError("path", "pass the .asf skeleton as the path and the .amc file as amc_path")
    else:
        raise InputError("path", f"expected a .bvh or .asf mocap file, got {os.path.basename(os.fspath(path))!r}")
    if fps is not None and clip.fps != fps:
        clip = mocap.MocapClip(clip.positions, clip.joint_names, clip.parents, float(fps))
    return clip


# --------------------------------------------------------------------------------------------
# MOTION files

def load_motion_file(path, amc_path=None, fps: float | None = None, units: str = "auto",
                     layout: str | None = None) -> Motion:
    """Load any supported motion file as a world-space MOTION.

    - ``.bvh`` / ``.asf`` + ``amc_path``: retargeted to ``smpl_52`` when the rig has fingers, else
      ``smpl_22`` (``layout`` forces one; 'smpl_22' drops fingers);
    - ``.npz``: our own format, any layout it names;
    - ``.npy``: HumanML3D ``new_joints`` (20 fps).

    ``fps`` replaces the file's frame rate (it does not resample; see :func:`resample`).
    """
    suffix = os.path.splitext(os.fspath(path))[1].lower()
    if suffix in (".bvh", ".asf", ".amc"):
        clip = read_mocap(path, amc_path, units, fps)
        positions, smpl_layout = retarget.retarget_to_smpl(clip, layout)
        return Motion(torch.from_numpy(positions), float(clip.fps), smpl_layout)
    if units not in ("auto", "m"):
        raise InputError("units", f"{suffix} files are in metres; expected 'auto' or 'm', got {units!r}")
    if suffix == ".npz":
        motion = load_npz(path)
    elif suffix == ".npy":
        motion = load_humanml3d_npy(path)
    else:
        raise InputError("path", f"expected one of {list(MOTION_SUFFIXES)}, got {os.path.basename(os.fspath(path))!r}")
    if fps is not None:
        if not (isinstance(fps, (int, float)) and fps > 0):
            raise InputError("fps", f"must be positive, got {fps!r}")
        motion = Motion(motion.joints, float(fps), motion.layout, motion.params, motion.canvas_size)
    if layout is not None and layout != motion.layout:
        motion = _to_layout(motion, layout)
    return motion


def _to_layout(motion: Motion, layout: str) -> Motion:
    if (motion.layout, layout) != ("smpl_52", "smpl_22"):
        raise InputError("layout", f"cannot turn a {motion.layout!r} motion into {layout!r}")
    params = {k: v[:, :22] if k == "visibility" else v for k, v in motion.params.items()}
    return Motion(motion.joints[:, :22].clone(), motion.fps, layout, params)


def _check_joints(joints: np.ndarray, expected: int | None, name: str, kind: str) -> None:
    if joints.ndim != 3 or joints.shape[-1] != 3 or joints.shape[0] < 1 or (expected and joints.shape[1] != expected):
        want = f"[T, {expected}, 3]" if expected else "[T, J, 3]"
        raise InputError(kind, f"{name}: joints must be {want}, got {list(joints.shape)}")
    if not np.issubdtype(joints.dtype, np.floating):
        raise InputError(kind, f"{name}: joints must be floating point, got {joints.dtype}")
    if not np.isfinite(joints).all():
        raise InputError(kind, f"{name}: joints contain NaN or infinite values")


def _load_arrays(path, kind: str):
    path = _existing_file(path, kind)
    try:
        return np.load(path, allow_pickle=False)
    except (ValueError, OSError, EOFError, zipfile.BadZipFile) as exc:
        raise InputError(kind, f"{os.path.basename(path)}: not a readable {kind} file ({exc})") from None


def load_npz(path) -> Motion:
    """A MOTION saved by :func:`save_npz`."""
    name = os.path.basename(os.fspath(path))
    arrays = _load_arrays(path, "npz")
    if not isinstance(arrays, np.lib.npyio.NpzFile):
        raise InputError("npz", f"{name}: expected an .npz archive")
    with arrays:
        missing = [k for k in ("joints", "fps", "layout") if k not in arrays.files]
        if missing:
            raise InputError("npz", f"{name}: missing arrays {missing} (has {arrays.files})")
        layout = str(arrays["layout"])
        if layout not in LAYOUTS:
            raise InputError("npz", f"{name}: unknown layout {layout!r}; expected one of {sorted(LAYOUTS)}")
        joints = arrays["joints"]
        _check_joints(joints, len(layout_names(layout)), name, "npz")
        fps = arrays["fps"]
        if fps.shape != () or not np.isfinite(fps) or float(fps) <= 0:
            raise InputError("npz", f"{name}: fps must be one positive number, got {fps!r}")
        canvas = tuple(int(v) for v in arrays["canvas_size"]) if "canvas_size" in arrays.files else None
        params = {k[len("param_"):]: torch.from_numpy(arrays[k].copy()) for k in arrays.files if k.startswith("param_")}
        try:
            return Motion(torch.from_numpy(joints.astype(np.float32)), float(fps), layout, params, canvas)
        except InputError as exc:
            raise InputError("npz", f"{name}: {exc}") from None


def load_humanml3d_npy(path, fps: float = HUMANML3D_FPS) -> Motion:
    """HumanML3D ``new_joints`` [T, 22, 3] (or [T, 52, 3] with SMPL-H hands) as a MOTION."""
    name = os.path.basename(os.fspath(path))
    joints = _load_arrays(path, "npy")
    if not isinstance(joints, np.ndarray):
        raise InputError("npy", f"{name}: expected one array, got an archive")
    if joints.ndim == 2 and joints.shape[-1] == 263:
        raise InputError("npy", f"{name}: holds HumanML3D features [T, 263] (new_joint_vecs); load the matching "
                                "new_joints file (joint positions [T, 22, 3]) instead")
    _check_joints(joints, None, name, "npy")
    layouts = {22: "smpl_22", 52: "smpl_52"}
    if joints.shape[1] not in layouts:
        raise InputError("npy", f"{name}: joints must be [T, 22, 3] (or [T, 52, 3]), got {list(joints.shape)}")
    return Motion(torch.from_numpy(joints.astype(np.float32)), float(fps), layouts[joints.shape[1]])


def save_npz(motion: Motion, path) -> str:
    """Write ``motion`` to ``path`` (an ``.npz``; see the module docstring); returns the path."""
    motion = validate_motion(motion)
    path = os.fspath(path)
    arrays = {"joints": motion.joints.numpy(), "fps": np.float64(motion.fps), "layout": np.str_(motion.layout)}
    if motion.canvas_size is not None:
        arrays["canvas_size"] = np.asarray(motion.canvas_size, np.int64)
    for key, value in motion.params.items():
        arrays[f"param_{key}"] = value.detach().cpu().numpy()
    with open(path, "wb") as f:  # a file object keeps numpy from appending ".npz" to other names
        np.savez_compressed(f, **arrays)
    return path


# --------------------------------------------------------------------------------------------
# BVH export

def _quaternions(matrices: np.ndarray) -> np.ndarray:
    """(w, x, y, z) unit quaternions [..., 4] of rotation matrices [..., 3, 3]."""
    m = matrices
    xx, yy, zz = m[..., 0, 0], m[..., 1, 1], m[..., 2, 2]
    xy, xz, yx, yz, zx, zy = m[..., 0, 1], m[..., 0, 2], m[..., 1, 0], m[..., 1, 2], m[..., 2, 0], m[..., 2, 1]
    # 4 q_k q for each k in w, x, y, z; the one with the largest 4 q_k^2 (its leading entry) is the
    # best conditioned
    candidates = np.stack([
        np.stack([1 + xx + yy + zz, zy - yz, xz - zx, yx - xy], -1),
        np.stack([zy - yz, 1 + xx - yy - zz, xy + yx, xz + zx], -1),
        np.stack([xz - zx, xy + yx, 1 - xx + yy - zz, yz + zy], -1),
        np.stack([yx - xy, xz + zx, yz + zy, 1 - xx - yy + zz], -1),
    ], -2)
    leading = np.stack([candidates[..., k, k] for k in range(4)], -1)
    best = np.take_along_axis(candidates, leading.argmax(-1)[..., None, None], axis=-2)[..., 0, :]
    return best / np.linalg.norm(best, axis=-1, keepdims=True)


def save_bvh(motion: Motion, path, units: str = "cm") -> str:
    """Write an ``smpl_22``/``smpl_52`` motion as BVH through bvhio; returns the path.

    ``units`` is the file's length unit: 'cm' (the common choice), 'm', 'mm' or 'in'.
    """
    import bvhio
    from pyglm import glm

    motion = validate_motion(motion)
    if motion.layout not in ("smpl_22", "smpl_52"):
        raise InputError("motion", f"BVH export needs an smpl_22 or smpl_52 motion, got {motion.layout!r}")
    if units not in mocap.LENGTH_UNITS:
        raise InputError("units", f"expected one of {sorted(mocap.LENGTH_UNITS)}, got {units!r}")
    to_file = 1.0 / mocap.LENGTH_UNITS[units]
    names, parents = layout_names(motion.layout), layout_parents(motion.layout)
    positions = motion.joints.numpy().astype(np.float64)
    offsets = retarget.rest_offsets(positions, motion.layout)
    quats = _quaternions(retarget.fit_rotations(positions, motion.layout, offsets))  # [T, J, 4]
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
# time

def resample(motion: Motion, fps: float) -> Motion:
    """Linear interpolation in time to ``fps`` (``mocap.resample``: the duration is kept).

    Floating-point params are interpolated like the joints; other params take the nearest frame.
    """
    motion = validate_motion(motion)
    if not (isinstance(fps, (int, float)) and fps > 0):
        raise InputError("fps", f"must be positive, got {fps!r}")
    if fps == motion.fps:
        return motion
    joints = torch.from_numpy(mocap.resample(motion.joints.numpy(), motion.fps, fps))
    nearest = np.rint(np.arange(joints.shape[0]) * motion.fps / fps).astype(int).clip(0, motion.num_frames - 1)
    params = {}
    for key, value in motion.params.items():
        if value.is_floating_point():
            params[key] = torch.from_numpy(mocap.resample(value.numpy(), motion.fps, fps)).to(value.dtype)
        else:
            params[key] = value[torch.from_numpy(nearest)]
    return Motion(joints, float(fps), motion.layout, params, motion.canvas_size)
