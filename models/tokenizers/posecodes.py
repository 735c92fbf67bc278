"""PoseScript-style pose codes as CoMo and PGR2M use them: 70 slots, 392 categories, one active per slot.

Data types
- joints: float ``[..., T, 22, 3]`` (torch or numpy), ``smpl_22`` order (pelvis, left_hip, right_hip,
  spine1, left_knee, right_knee, spine2, left_ankle, right_ankle, spine3, left_foot, right_foot, neck,
  left_collar, right_collar, head, left_shoulder, right_shoulder, left_elbow, right_elbow, left_wrist,
  right_wrist), metres, HumanML3D frame: y up, the subject facing +z, its left side towards +x.
- pose codes: torch bool ``[..., T, 392]`` multi-hot; for every frame exactly one category of each of
  the 70 slots is set (the categories of a slot are the bins of one measured quantity).

Parser (facts from CoMo's ``posescript/captioning.py`` and PoseScript's operators)
- Three virtual joints: a prosthetic middle-finger phalanx 0.1367 m beyond each wrist along the
  forearm, the hand = midpoint of wrist and phalanx, the torso = mean of pelvis, spine3 and neck.
- Kinds, each with its bin edges (a value equal to an edge falls into the lower bin):
  angle at the middle joint of a triplet, 18 bins of 10 degrees; distance between two joints, 10 bins
  of 0.1 m (the last is 0.9 m and more); relative position of joint A with respect to joint B along x,
  y or z, 3 bins split at -0.15 / +0.15 m; inclination of a segment from the vertical, 3 bins split
  at 10 / 80 degrees; height of a joint above the lowest of all 27 joints, 2 bins split at 0.10 m.
- Slot order (category index = sum of the preceding slots' bins + bin): 4 angles, 18 distances,
  6 relative-x, 16 relative-y, 9 relative-z, 13 vertical-axis, 4 on-ground; within a kind, the order
  of PoseScript's joint-set lists (``ALL_ELEMENTARY_POSECODES``).
- CoMo turns the HumanML3D joints by 180 degrees about y (``diag(-1, 1, -1)``) before measuring, so
  in the official layout the first relative-x bin holds "A at least 0.15 m to the subject's LEFT of
  B" and the first relative-z bin "A at least 0.15 m IN FRONT of B", although the source labels
  them "at the right of" and "behind". Our indices follow the official layout (so published
  checkpoints see the codes they were trained on); our names say what the geometry is.
  (PGR2M's display list ``utils/codebook.py`` also names relative-y slots 3..5 in another order
  than the parser computes them; the parser's order is used here.)
- CoMo jitters every measured value by up to +-5 degrees / +-0.05 m when it builds training data;
  :func:`pose_codes` measures exactly unless a ``jitter_generator`` is given.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass

import numpy as np
import torch

from ..core.errors import InputError

NUM_JOINTS = 22
NUM_CATEGORIES = 392
NUM_SLOTS = 70

_JOINTS = (
    "pelvis", "left_hip", "right_hip", "spine1", "left_knee", "right_knee", "spine2", "left_ankle",
    "right_ankle", "spine3", "left_foot", "right_foot", "neck", "left_collar", "right_collar", "head",
    "left_shoulder", "right_shoulder", "left_elbow", "right_elbow", "left_wrist", "right_wrist",
    # virtual joints appended by _with_virtual_joints
    "left_middle2", "right_middle2", "left_hand", "right_hand", "torso",
)
_JOINT_ID = {name: index for index, name in enumerate(_JOINTS)}
_PHALANX_DISTANCE = 0.1367  # metres from wrist to the middle finger's 2nd phalanx (PoseScript's mean)


@dataclass(frozen=True)
class PoseCodeKind:
    name: str
    edges: tuple[float, ...]          # bin edges; value <= edges[i] (and > edges[i-1]) -> bin i
    jitter: float                     # CoMo's random offset, in the kind's unit


KINDS = {
    "angle": PoseCodeKind("angle", tuple(float(10 * i) for i in range(1, 18)), 5.0),
    "distance": PoseCodeKind("distance", tuple(round(0.1 * i, 1) for i in range(1, 10)), 0.05),
    "relative_x": PoseCodeKind("relative_x", (-0.15, 0.15), 0.05),
    "relative_y": PoseCodeKind("relative_y", (-0.15, 0.15), 0.05),
    "relative_z": PoseCodeKind("relative_z", (-0.15, 0.15), 0.05),
    "vertical_axis": PoseCodeKind("vertical_axis", (10.0, 80.0), 5.0),
    "on_ground": PoseCodeKind("on_ground", (0.10,), 0.05),
}


@dataclass(frozen=True)
class PoseCodeSlot:
    """One measured quantity: its kind, the joints it reads, and its mutually exclusive categories."""

    index: int
    kind: str
    joints: tuple[str, ...]
    subject: str                      # readable name of what is measured
    categories: tuple[int, ...]       # global category indices, bin order


def _words(joint: str) -> str:
    return joint.replace("_", " ")


_SLOT_SPECS: list[tuple[str, tuple[str, ...], str]] = []
for side in ("left", "right"):
    _SLOT_SPECS.append(("angle", (f"{side}_hip", f"{side}_knee", f"{side}_ankle"), f"{side} knee"))
for side in ("left", "right"):
    _SLOT_SPECS.append(("angle", (f"{side}_shoulder", f"{side}_elbow", f"{side}_wrist"), f"{side} elbow"))
for pair in (
    ("left_elbow", "right_elbow"), ("left_hand", "right_hand"), ("left_knee", "right_knee"),
    ("left_foot", "right_foot"), ("left_hand", "left_shoulder"), ("left_hand", "right_shoulder"),
    ("right_hand", "right_shoulder"), ("right_hand", "left_shoulder"), ("left_hand", "right_elbow"),
    ("right_hand", "left_elbow"), ("left_hand", "left_knee"), ("left_hand", "right_knee"),
    ("right_hand", "right_knee"), ("right_hand", "left_knee"), ("left_hand", "left_foot"),
    ("left_hand", "right_foot"), ("right_hand", "right_foot"), ("right_hand", "left_foot"),
):
    _SLOT_SPECS.append(("distance", pair, f"{_words(pair[0])} to {_words(pair[1])} distance"))
for pair in (
    ("left_hand", "right_hand"), ("neck", "pelvis"), ("left_hand", "left_shoulder"),
    ("right_hand", "right_shoulder"), ("left_foot", "left_hip"), ("right_foot", "right_hip"),
):
    _SLOT_SPECS.append(("relative_x", pair, ""))
for pair in (
    ("left_shoulder", "right_shoulder"), ("left_elbow", "right_elbow"), ("left_hand", "right_hand"),
    ("left_knee", "right_knee"), ("left_ankle", "neck"), ("right_ankle", "neck"), ("left_hip", "left_knee"),
    ("right_hip", "right_knee"), ("left_hand", "left_shoulder"), ("right_hand", "right_shoulder"),
    ("left_foot", "left_hip"), ("right_foot", "right_hip"), ("left_wrist", "neck"), ("right_wrist", "neck"),
    ("left_hand", "left_hip"), ("right_hand", "right_hip"),
):
    _SLOT_SPECS.append(("relative_y", pair, ""))
for pair in (
    ("left_shoulder", "right_shoulder"), ("left_elbow", "right_elbow"), ("left_hand", "right_hand"),
    ("left_knee", "right_knee"), ("neck", "pelvis"), ("left_hand", "torso"), ("right_hand", "torso"),
    ("left_foot", "torso"), ("right_foot", "torso"),
):
    _SLOT_SPECS.append(("relative_z", pair, ""))
for pair, segment in (
    (("left_hip", "left_knee"), "left thigh"), (("right_hip", "right_knee"), "right thigh"),
    (("left_knee", "left_ankle"), "left calf"), (("right_knee", "right_ankle"), "right calf"),
    (("left_shoulder", "left_elbow"), "left upper arm"), (("right_shoulder", "right_elbow"), "right upper arm"),
    (("left_elbow", "left_wrist"), "left forearm"), (("right_elbow", "right_wrist"), "right forearm"),
    (("pelvis", "left_shoulder"), "pelvis to left shoulder line"),
    (("pelvis", "right_shoulder"), "pelvis to right shoulder line"),
    (("pelvis", "neck"), "torso"), (("left_hand", "right_hand"), "line between the hands"),
    (("left_foot", "right_foot"), "line between the feet"),
):
    _SLOT_SPECS.append(("vertical_axis", pair, segment))
for joint in ("left_knee", "right_knee", "left_foot", "right_foot"):
    _SLOT_SPECS.append(("on_ground", (joint,), _words(joint)))


def _category_names(kind: str, joints: tuple[str, ...], subject: str) -> list[str]:
    if kind == "angle":
        return [f"{subject} angle {10 * i}-{10 * (i + 1)} degrees" for i in range(18)]
    if kind == "distance":
        return [f"{subject} {i / 10:.1f}-{(i + 1) / 10:.1f} m" for i in range(9)] + [f"{subject} 0.9 m or more"]
    if kind == "on_ground":
        return [f"{subject} on the ground", f"{subject} off the ground"]
    if kind == "vertical_axis":
        return [f"{subject} vertical", f"{subject} neither vertical nor horizontal", f"{subject} horizontal"]
    a, b = _words(joints[0]), _words(joints[1])
    if kind == "relative_x":  # official bin 0 = A towards the subject's left (see module docstring)
        return [f"{a} to the left of {b}", f"{a} and {b} within 0.15 m sideways", f"{a} to the right of {b}"]
    if kind == "relative_y":
        return [f"{a} below {b}", f"{a} and {b} within 0.15 m in height", f"{a} above {b}"]
    # relative_z: official bin 0 = A in front of B (see module docstring)
    return [f"{a} in front of {b}", f"{a} and {b} within 0.15 m front to back", f"{a} behind {b}"]


def _build_tables() -> tuple[tuple[PoseCodeSlot, ...], tuple[str, ...]]:
    slots, names = [], []
    for index, (kind, joints, subject) in enumerate(_SLOT_SPECS):
        bins = _category_names(kind, joints, subject)
        first = len(names)
        names.extend(bins)
        if not subject:
            axis_words = {"relative_x": "sideways", "relative_y": "height", "relative_z": "front to back"}[kind]
            subject = f"{_words(joints[0])} vs {_words(joints[1])} {axis_words}"
        slots.append(PoseCodeSlot(index, kind, joints, subject,
                                  tuple(range(first, first + len(bins)))))
    return tuple(slots), tuple(names)


SLOTS, CATEGORY_NAMES = _build_tables()
SLOT_OF_CATEGORY = np.array([slot.index for slot in SLOTS for _ in slot.categories], dtype=np.int64)
_NAME_TO_INDEX = {name: index for index, name in enumerate(CATEGORY_NAMES)}
assert len(SLOTS) == NUM_SLOTS and len(CATEGORY_NAMES) == NUM_CATEGORIES == len(_NAME_TO_INDEX)

# Per kind: joint-id matrix [slots, joints in set] and the offset of the kind's first category.
_KIND_QUERIES = {
    kind: (
        torch.tensor([[_JOINT_ID[j] for j in slot.joints] for slot in SLOTS if slot.kind == kind]),
        torch.tensor([slot.categories[0] for slot in SLOTS if slot.kind == kind]),
    )
    for kind in KINDS
}
_OFFICIAL_FRAME = torch.tensor([-1.0, 1.0, -1.0])  # CoMo's diag(-1, 1, -1) turn about y


def _with_virtual_joints(joints: torch.Tensor) -> torch.Tensor:
    """[..., 22, 3] -> [..., 27, 3]: phalanxes, hands and torso appended as PoseScript defines them."""
    wrists = joints[..., [_JOINT_ID["left_wrist"], _JOINT_ID["right_wrist"]], :]
    forearms = wrists - joints[..., [_JOINT_ID["left_elbow"], _JOINT_ID["right_elbow"]], :]
    phalanxes = wrists + _PHALANX_DISTANCE * torch.nn.functional.normalize(forearms, dim=-1)
    hands = 0.5 * (wrists + phalanxes)
    torso = joints[..., [_JOINT_ID["pelvis"], _JOINT_ID["spine3"], _JOINT_ID["neck"]], :].mean(-2, keepdim=True)
    return torch.cat([joints, phalanxes, hands, torso], dim=-2)


def _measure(kind: str, ids: torch.Tensor, coords: torch.Tensor) -> torch.Tensor:
    """Values [..., slots] of one kind, in the kind's unit (degrees or metres)."""
    if kind == "angle":
        middle = coords[..., ids[:, 1], :]
        first = torch.nn.functional.normalize(coords[..., ids[:, 0], :] - middle, dim=-1)
        last = torch.nn.functional.normalize(coords[..., ids[:, 2], :] - middle, dim=-1)
        return torch.rad2deg(torch.acos((first * last).sum(-1).clamp(-1.0, 1.0)))
    if kind == "distance":
        return torch.linalg.vector_norm(coords[..., ids[:, 0], :] - coords[..., ids[:, 1], :], dim=-1)
    if kind.startswith("relative_"):
        axis = "xyz".index(kind[-1])
        official = coords * _OFFICIAL_FRAME.to(coords)
        return official[..., ids[:, 0], axis] - official[..., ids[:, 1], axis]
    if kind == "vertical_axis":
        segment = torch.nn.functional.normalize(coords[..., ids[:, 1], :] - coords[..., ids[:, 0], :], dim=-1)
        return torch.rad2deg(torch.acos(segment[..., 1].abs().clamp(max=1.0)))
    lowest = coords[..., 1].min(dim=-1, keepdim=True).values
    return coords[..., ids[:, 0], 1] - lowest


def pose_codes(joints, jitter_generator: torch.Generator | None = None) -> torch.Tensor:
    """Joints ``[..., T, 22, 3]`` (metres, y up, facing +z) -> bool pose codes ``[..., T, 392]``.

    ``jitter_generator`` reproduces CoMo's training-data jitter (a uniform offset of up to +-5
    degrees or +-0.05 m on every measured value); without it the measurement is exact.
    """
    if isinstance(joints, np.ndarray):
        joints = torch.from_numpy(joints)
    if not isinstance(joints, torch.Tensor) or joints.ndim < 2 or tuple(joints.shape[-2:]) != (NUM_JOINTS, 3):
        shape = tuple(joints.shape) if hasattr(joints, "shape") else type(joints).__name__
        raise InputError("joints", f"expected smpl_22 joint positions [..., T, 22, 3], got {shape}")
    coords = _with_virtual_joints(joints.detach().to("cpu", torch.float64))
    if not torch.isfinite(coords).all():
        raise InputError("joints", "joint positions contain NaN or infinite values")
    codes = torch.zeros(*coords.shape[:-2], NUM_CATEGORIES, dtype=torch.bool)
    for kind, (ids, offsets) in _KIND_QUERIES.items():
        values = _measure(kind, ids, coords)
        spec = KINDS[kind]
        if jitter_generator is not None:
            noise = torch.rand(values.shape, generator=jitter_generator, dtype=values.dtype)
            values = values + (2 * noise - 1) * spec.jitter
        bins = torch.bucketize(values, torch.tensor(spec.edges, dtype=values.dtype), right=False)
        codes.scatter_(-1, bins + offsets, True)
    return codes


def category_index(category: int | str) -> int:
    """A category's index from its index or its name (see :data:`CATEGORY_NAMES`)."""
    if isinstance(category, (int, np.integer)) and not isinstance(category, bool):
        if 0 <= int(category) < NUM_CATEGORIES:
            return int(category)
        raise InputError("category", f"index {int(category)} is outside 0..{NUM_CATEGORIES - 1}")
    if isinstance(category, str):
        key = " ".join(category.strip().split())
        if key in _NAME_TO_INDEX:
            return _NAME_TO_INDEX[key]
        lowered = {name.lower(): index for name, index in _NAME_TO_INDEX.items()}
        if key.lower() in lowered:
            return lowered[key.lower()]
        close = difflib.get_close_matches(key, CATEGORY_NAMES, n=5, cutoff=0.5)
        hint = f"; close matches: {', '.join(repr(c) for c in close)}" if close else ""
        raise InputError("category", f"unknown pose-code category {category!r}{hint}")
    raise InputError("category", f"expected a category name or index, got {type(category).__name__}")


def validate_pose_codes(codes, input_name: str = "pose_codes") -> torch.Tensor:
    """Bool torch codes ``[..., 392]`` (numpy and 0/1 arrays are converted); InputError otherwise."""
    if isinstance(codes, np.ndarray):
        codes = torch.from_numpy(codes)
    if not isinstance(codes, torch.Tensor) or codes.ndim < 1 or codes.shape[-1] != NUM_CATEGORIES:
        shape = tuple(codes.shape) if hasattr(codes, "shape") else type(codes).__name__
        raise InputError(input_name, f"expected pose codes [..., {NUM_CATEGORIES}], got {shape}")
    if codes.dtype != torch.bool:
        if not ((codes == 0) | (codes == 1)).all():
            raise InputError(input_name, "pose codes must be bool or 0/1 values")
        codes = codes != 0
    return codes


def edit_pose_codes(codes, category: int | str, start_frame: int, end_frame: int) -> torch.Tensor:
    """A copy of ``codes [T, 392]`` with ``category`` active in frames [start, end), its slot's others off."""
    codes = validate_pose_codes(codes)
    if codes.ndim != 2:
        raise InputError("pose_codes", f"expected one clip's codes [T, {NUM_CATEGORIES}], got {tuple(codes.shape)}")
    index = category_index(category)
    frames = codes.shape[0]
    for name, value in (("start_frame", start_frame), ("end_frame", end_frame)):
        if not isinstance(value, (int, np.integer)) or isinstance(value, bool):
            raise InputError(name, f"expected a whole frame number, got {value!r}")
    if not 0 <= start_frame < end_frame <= frames:
        raise InputError("end_frame" if start_frame >= 0 else "start_frame",
                         f"need 0 <= start_frame < end_frame <= {frames}, got [{start_frame}, {end_frame})")
    edited = codes.clone()
    slot = SLOTS[SLOT_OF_CATEGORY[index]]
    edited[start_frame:end_frame, list(slot.categories)] = False
    edited[start_frame:end_frame, index] = True
    return edited


def active_category_names(frame_codes) -> list[str]:
    """Names of the categories set in one frame's codes ``[392]``."""
    frame_codes = validate_pose_codes(frame_codes, "frame_codes")
    if frame_codes.ndim != 1:
        raise InputError("frame_codes", f"expected one frame [{NUM_CATEGORIES}], got {tuple(frame_codes.shape)}")
    return [CATEGORY_NAMES[i] for i in torch.nonzero(frame_codes).flatten().tolist()]


def slots_are_exclusive(codes) -> bool:
    """True when every frame of ``codes [..., 392]`` has exactly one category set in every slot."""
    codes = validate_pose_codes(codes)
    counts = torch.zeros(*codes.shape[:-1], NUM_SLOTS, dtype=torch.int64)
    counts.index_add_(-1, torch.from_numpy(SLOT_OF_CATEGORY), codes.to(torch.int64))
    return bool((counts == 1).all())


def pose_codes_per_step(codes, downsample: int = 4) -> torch.Tensor:
    """Frame codes ``[..., T, 392]`` -> token-step codes ``[..., T // downsample, 392]``.

    PGR2M pairs token step n with the codes of its first frame, ``n * downsample``.
    """
    codes = validate_pose_codes(codes)
    steps = codes.shape[-2] // downsample
    if codes.ndim < 2 or steps < 1:
        raise InputError("pose_codes", f"need at least {downsample} frames of codes, got {tuple(codes.shape)}")
    return codes[..., : steps * downsample : downsample, :]
