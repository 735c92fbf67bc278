"""Read and write a HumanML3D-layout motion-text folder, exactly as HumanML3D and KIT-ML ship it.

Layout of ``folder`` (every trainer in the pack reads this one layout, so a user's real HumanML3D or
KIT-ML folder drops in unchanged):

- ``new_joint_vecs/NAME.npy``: features ``[T-1, D]`` float32, D = 263 (HumanML3D, ``humanml3d.py``)
  or 251 (KIT-ML);
- ``new_joints/NAME.npy``: joint positions ``[T, J, 3]`` float32 in the dataset's units, J = 22
  (``smpl_22``) or 21 (KIT-ML); y up. HumanML3D's release stores ``recover_from_ric`` of the features
  here, so its joint files have as many rows as its feature files (T-1); writers here keep all T
  frames the features were computed from; both are accepted;
- ``texts/NAME.txt``: one caption per line, ``caption#tokens#start#end``; tokens are space-separated
  ``word/POS``; start and end are seconds of a sub-span of the motion, ``0.0#0.0`` (or NaN, as a few
  HumanML3D lines have) meaning the whole motion;
- ``train.txt``, ``val.txt``, ``test.txt`` (and any other ``SPLIT.txt``): item names, one per line;
- ``Mean.npy`` / ``Std.npy``: per-feature mean and standard deviation ``[D]`` float32 (over the
  training split), used to normalise the features.

Writers create folders as needed and write arrays as float32 with ``np.save`` (deterministic bytes).
Readers raise ``ModelFileError`` naming the folder and file when something is missing, and
``InputError("folder", ...)`` naming the file and line when something is malformed.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass
from typing import Iterable, Sequence

import numpy as np

from ..core.errors import InputError, ModelFileError

FEATURES_DIR, JOINTS_DIR, TEXTS_DIR = "new_joint_vecs", "new_joints", "texts"
MEAN_FILE, STD_FILE = "Mean.npy", "Std.npy"
SPLITS = ("train", "val", "test")
FEATURE_DIMS = (263, 251)  # HumanML3D, KIT-ML
JOINT_COUNTS = (22, 21)  # HumanML3D (smpl_22), KIT-ML
TEXT_FIELDS = 4  # caption, tokens, start, end


@dataclass(frozen=True)
class TextLine:
    caption: str
    tokens: tuple[str, ...]  # "word/POS"
    start: float  # seconds; 0.0 together with end 0.0: the whole motion
    end: float

    @property
    def whole_motion(self) -> bool:
        return (self.start == 0.0 and self.end == 0.0) or math.isnan(self.start) or math.isnan(self.end)

    def to_line(self) -> str:
        return format_text_line(self.caption, self.tokens, self.start, self.end)


def format_text_line(caption: str, tokens: Sequence[str], start: float = 0.0, end: float = 0.0) -> str:
    """One ``caption#tokens#start#end`` line (no newline)."""
    if "#" in caption or any("#" in token for token in tokens):
        raise InputError("text_lines", f"a caption or token contains '#', which separates the fields: {caption!r}")
    return f"{caption}#{' '.join(tokens)}#{float(start)}#{float(end)}"


def parse_text_line(line: str, where: str = "text line") -> TextLine:
    """Parse ``caption#tokens#start#end``; ``where`` names the file and line in errors."""
    fields = line.rstrip("\r\n").split("#")
    if len(fields) != TEXT_FIELDS:
        raise InputError("folder", f"{where}: expected 'caption#tokens#start#end' (3 '#'), got {len(fields) - 1} '#' "
                                   f"in {line.strip()!r}")
    caption, tokens, start, end = fields
    try:
        start_s, end_s = float(start or 0.0), float(end or 0.0)
    except ValueError:
        raise InputError("folder", f"{where}: start/end must be numbers (seconds), got {start!r} and {end!r}") from None
    return TextLine(caption.strip(), tuple(tokens.split()), start_s, end_s)


# --------------------------------------------------------------------------------------------
# writing

def _check_array(array, name: str, input_name: str, ndim: int, dims: tuple[int, ...], last_axis: int) -> np.ndarray:
    array = np.asarray(array)
    if array.ndim != ndim or array.shape[last_axis] not in dims or (ndim == 3 and array.shape[2] != 3):
        raise InputError(input_name, f"{name}: unexpected shape {list(array.shape)}")
    if not np.isfinite(array).all():
        raise InputError(input_name, f"{name}: contains NaN or infinite values")
    return np.ascontiguousarray(array, dtype=np.float32)


def _check_name(name: str) -> str:
    if not isinstance(name, str) or not name or any(c in name for c in "/\\#\n") or name.startswith("."):
        raise InputError("name", f"item name must be a plain file name, got {name!r}")
    return name


def write_item(folder: str, name: str, features, joints, text_lines: Iterable[str]) -> None:
    """Write one item: ``features [T-1, 263|251]``, ``joints [T, 22|21, 3]``, its caption lines.

    ``features`` may be None for an item that has no feature vector (then only joints and texts).
    Every text line is parsed first, so a malformed line fails before anything is written.
    """
    name = _check_name(name)
    joints = _check_array(joints, name, "joints", 3, JOINT_COUNTS, 1)
    if features is not None:
        features = _check_array(features, name, "features", 2, FEATURE_DIMS, 1)
        if features.shape[0] not in (joints.shape[0] - 1, joints.shape[0]):
            raise InputError("features", f"{name}: {features.shape[0]} feature rows for {joints.shape[0]} frames "
                                         f"(expected frames - 1, or frames as in HumanML3D's release)")
    lines = _checked_lines(name, text_lines)
    for sub in (FEATURES_DIR, JOINTS_DIR, TEXTS_DIR):
        os.makedirs(os.path.join(folder, sub), exist_ok=True)
    if features is not None:
        np.save(os.path.join(folder, FEATURES_DIR, name + ".npy"), features)
    np.save(os.path.join(folder, JOINTS_DIR, name + ".npy"), joints)
    write_texts(folder, name, lines)


def _checked_lines(name: str, text_lines: Iterable[str]) -> list[str]:
    """The lines without line ends, each parsed (InputError naming the item and line), at least one."""
    if isinstance(text_lines, str):
        raise InputError("text_lines", f"{name}: expected a list of caption lines, got one string")
    lines = [line.rstrip("\r\n") for line in text_lines]
    if not lines:
        raise InputError("text_lines", f"{name}: needs at least one caption line")
    for number, line in enumerate(lines, 1):
        parse_text_line(line, f"{name} line {number}")
    return lines


def write_texts(folder: str, name: str, text_lines: Iterable[str]) -> None:
    """``texts/NAME.txt`` alone (items without features, e.g. 2D-only poses); lines checked as in write_item."""
    lines = _checked_lines(_check_name(name), text_lines)
    os.makedirs(os.path.join(folder, TEXTS_DIR), exist_ok=True)
    with open(os.path.join(folder, TEXTS_DIR, name + ".txt"), "w", encoding="utf-8", newline="\n") as f:
        f.write("".join(line + "\n" for line in lines))


def write_split(folder: str, split: str, names: Iterable[str]) -> None:
    """``SPLIT.txt``: the names, one per line, in the given order."""
    names = [_check_name(n) for n in names]  # all checked before the file is opened
    os.makedirs(folder, exist_ok=True)
    with open(os.path.join(folder, _check_name(split) + ".txt"), "w", encoding="utf-8", newline="\n") as f:
        f.write("".join(n + "\n" for n in names))


def write_stats(folder: str, mean, std) -> None:
    mean, std = np.asarray(mean, np.float32), np.asarray(std, np.float32)
    if mean.ndim != 1 or mean.shape != std.shape:
        raise InputError("stats", f"mean and std must be vectors of one length, got {list(mean.shape)} and "
                                  f"{list(std.shape)}")
    if not (np.isfinite(mean).all() and np.isfinite(std).all()):
        raise InputError("stats", "mean and std contain NaN or infinite values")
    os.makedirs(folder, exist_ok=True)
    np.save(os.path.join(folder, MEAN_FILE), mean)
    np.save(os.path.join(folder, STD_FILE), std)


# --------------------------------------------------------------------------------------------
# reading

def _require(path: str, what: str) -> str:
    if not os.path.isfile(path):
        folder = os.path.dirname(path)
        raise ModelFileError(f"{what}: file not found: {path!r} (HumanML3D layout expected in {folder or '.'})")
    return path


def _load(path: str, what: str) -> np.ndarray:
    try:
        return np.load(_require(path, what), allow_pickle=False)
    except (ValueError, OSError) as error:
        raise ModelFileError(f"{what}: {path} is not a readable .npy array ({error})") from None


def read_split(folder: str, split: str) -> list[str]:
    """Names listed in ``SPLIT.txt`` (blank lines skipped)."""
    path = _require(os.path.join(folder, split + ".txt"), f"split {split!r}")
    with open(path, encoding="utf-8") as f:
        return [line.strip() for line in f if line.strip()]


def read_texts(folder: str, name: str) -> list[TextLine]:
    path = _require(os.path.join(folder, TEXTS_DIR, name + ".txt"), f"texts of {name!r}")
    with open(path, encoding="utf-8") as f:
        lines = [(number, line) for number, line in enumerate(f, 1) if line.strip()]
    return [parse_text_line(line, f"{path} line {number}") for number, line in lines]


def read_item(folder: str, name: str) -> np.ndarray:
    """Features ``[T-1, D]`` float32 of one item."""
    path = os.path.join(folder, FEATURES_DIR, name + ".npy")
    features = _load(path, f"features of {name!r}")
    if features.ndim != 2:
        raise InputError("folder", f"{path}: features must be [frames, dims], got {list(features.shape)}")
    return features.astype(np.float32, copy=False)


def read_joints(folder: str, name: str) -> np.ndarray:
    """Joint positions ``[T, J, 3]`` float32 of one item."""
    path = os.path.join(folder, JOINTS_DIR, name + ".npy")
    joints = _load(path, f"joints of {name!r}")
    if joints.ndim != 3 or joints.shape[2] != 3:
        raise InputError("folder", f"{path}: joints must be [frames, joints, 3], got {list(joints.shape)}")
    return joints.astype(np.float32, copy=False)


def read_stats(folder: str) -> tuple[np.ndarray, np.ndarray]:
    """``(mean, std)`` vectors from ``Mean.npy`` / ``Std.npy``."""
    mean = _load(os.path.join(folder, MEAN_FILE), "feature mean")
    std = _load(os.path.join(folder, STD_FILE), "feature std")
    if mean.ndim != 1 or mean.shape != std.shape:
        raise InputError("folder", f"{folder}: Mean.npy {list(mean.shape)} and Std.npy {list(std.shape)} must be "
                                   f"vectors of one length")
    return mean.astype(np.float32, copy=False), std.astype(np.float32, copy=False)


def has_features(folder: str, name: str) -> bool:
    return os.path.isfile(os.path.join(folder, FEATURES_DIR, name + ".npy"))
