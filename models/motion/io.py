"""Motion files in and out: one MOTION-level entry each way over the per-format readers and writers.

:func:`read_motion` loads any supported file as a world-space MOTION (``core/motion.py``):
- ``.bvh`` (``bvh.read_bvh``), ``.asf`` + ``.amc`` (``asf_amc.read_asf_amc``) and DeepMimic ``.txt``
  (``deepmimic.read_deepmimic``: JSON frames, ``humanoid.urdf`` beside the file) give the source
  rig's clip (:func:`read_clip`), retargeted onto SMPL joints (``retarget.py``): ``smpl_52`` when the
  rig has fingers, else ``smpl_22``; metres, y up, the lowest foot joint on y = 0, the source's
  facing kept;
- our ``.npz`` (:func:`read_npz` / :func:`write_npz`, exact round trip): ``joints`` float32
  [T, J, 3], ``fps`` float64 scalar, ``layout`` string, optional ``canvas_size`` int64 [2], and one
  ``param_<name>`` array per MOTION param;
- HumanML3D ``new_joints/<id>.npy`` (:func:`read_humanml3d_joints`): float [T, 22, 3] SMPL joints
  at 20 fps (metres, y up); [T, 52, 3] is read as ``smpl_52``. The 263-dimensional feature files
  (``new_joint_vecs``) are refused.

:func:`write_motion` writes ``.npz``, ``.bvh`` (``bvh.write_bvh``) or ``.glb`` (``gltf.write_glb``: binary
glTF, the same skeleton and rotations as the BVH, with a box per bone) by the file's suffix.
"""

from __future__ import annotations

import os
import zipfile

import numpy as np
import torch

from ..core.errors import InputError
from ..core.layouts import LAYOUTS, layout_names
from ..core.motion import Motion, validate_motion
from .asf_amc import CMU_FPS, read_asf_amc
from .bvh import read_bvh, write_bvh
from .clip import LENGTH_UNITS, MocapClip
from .deepmimic import read_deepmimic
from .gltf import write_glb
from .retarget import retarget_to_smpl

HUMANML3D_FPS = 20.0
MOTION_SUFFIXES = (".bvh", ".asf", ".txt", ".npz", ".npy")
WRITE_SUFFIXES = (".npz", ".bvh", ".glb")


def _existing_file(path, input_name: str) -> str:
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise InputError(input_name, f"file not found: {path!r}")
    return path


# --------------------------------------------------------------------------------------------
# mocap

def read_clip(path, amc_path=None, units: str = "auto", fps: float | None = None,
              loop_seconds: float | None = None) -> MocapClip:
    """The source rig's clip: a ``.bvh``, an ``.asf`` skeleton with its ``.amc`` motion, or a DeepMimic ``.txt``.

    ``units``: 'auto' (BVH: rest-height heuristic; ASF: its ``:units length``) or 'm', 'cm', 'mm',
    'in' for the file's length unit. ``fps`` replaces the file's frame rate (AMC stores none: 120).
    ``loop_seconds``: a clip made to loop (DeepMimic "wrap") is repeated to last at least that long.
    """
    if units != "auto" and units not in LENGTH_UNITS:
        raise InputError("units", f"expected 'auto' or one of {sorted(LENGTH_UNITS)}, got {units!r}")
    if fps is not None and not (isinstance(fps, (int, float)) and fps > 0):
        raise InputError("fps", f"must be positive, got {fps!r}")
    suffix = os.path.splitext(os.fspath(path))[1].lower()
    if suffix == ".bvh":
        clip = read_bvh(path, units)
    elif suffix == ".asf":
        if amc_path is None:
            name = os.path.basename(os.fspath(path))
            raise InputError("amc_path", f"the ASF skeleton {name!r} needs its AMC motion file")
        asf, amc = _existing_file(path, "asf"), _existing_file(amc_path, "amc")
        scale = None if units == "auto" else LENGTH_UNITS[units]
        clip = read_asf_amc(asf, amc, fps or CMU_FPS, metres_per_unit=scale)
    elif suffix == ".amc":
        raise InputError("path", "pass the .asf skeleton as the path and the .amc file as amc_path")
    elif suffix == ".txt":  # DeepMimic JSON motion, metres; its humanoid.urdf beside it or one folder up
        if units not in ("auto", "m"):
            raise InputError("units", f"DeepMimic files are in metres; expected 'auto' or 'm', got {units!r}")
        clip = read_deepmimic(path, loop_seconds=loop_seconds)
    else:
        raise InputError("path", f"expected a .bvh, .asf or DeepMimic .txt mocap file, "
                                 f"got {os.path.basename(os.fspath(path))!r}")
    if fps is not None and clip.fps != fps:
        clip = MocapClip(clip.positions, clip.joint_names, clip.parents, float(fps))
    return clip


# --------------------------------------------------------------------------------------------
# MOTION files

def read_motion(path, amc_path=None, fps: float | None = None, units: str = "auto",
                layout: str | None = None, loop_seconds: float | None = None) -> Motion:
    """Load any supported motion file as a world-space MOTION.

    - ``.bvh`` / ``.asf`` + ``amc_path`` / DeepMimic ``.txt``: retargeted to ``smpl_52`` when the rig has fingers, else
      ``smpl_22`` (``layout`` forces one; 'smpl_22' drops fingers);
    - ``.npz``: our own format, any layout it names;
    - ``.npy``: HumanML3D ``new_joints`` (20 fps).

    ``fps`` replaces the file's frame rate (it does not resample; see ``resample.resample``);
    ``loop_seconds`` as for :func:`read_clip`.
    """
    suffix = os.path.splitext(os.fspath(path))[1].lower()
    if suffix in (".bvh", ".asf", ".amc", ".txt"):
        clip = read_clip(path, amc_path, units, fps, loop_seconds)
        positions, smpl_layout = retarget_to_smpl(clip, layout)
        return Motion(torch.from_numpy(positions), float(clip.fps), smpl_layout)
    if units not in ("auto", "m"):
        raise InputError("units", f"{suffix} files are in metres; expected 'auto' or 'm', got {units!r}")
    if suffix == ".npz":
        motion = read_npz(path)
    elif suffix == ".npy":
        motion = read_humanml3d_joints(path)
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


def read_npz(path) -> Motion:
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


def read_humanml3d_joints(path, fps: float = HUMANML3D_FPS) -> Motion:
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


def write_npz(motion: Motion, path) -> str:
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


def write_motion(motion: Motion, path, units: str = "cm") -> str:
    """Write ``motion`` as ``.npz`` (any layout, exact), ``.bvh`` (SMPL layouts; ``units`` is the
    BVH length unit) or ``.glb`` (SMPL layouts, metres) by the suffix of ``path``; returns the path."""
    suffix = os.path.splitext(os.fspath(path))[1].lower()
    if suffix == ".npz":
        return write_npz(motion, path)
    if suffix == ".bvh":
        return write_bvh(motion, path, units)
    if suffix == ".glb":
        return write_glb(motion, path)
    raise InputError("path", f"expected one of {list(WRITE_SUFFIXES)}, got {os.path.basename(os.fspath(path))!r}")
