"""Retarget mocap skeletons onto SMPL joints, and fit joint rotations to SMPL joint positions.

Position retargeting (:func:`retarget_to_smpl`)
    A ``MocapClip`` (positions [T, J, 3] float32 metres, y up; see ``clip.py``) of a known rig
    (``rigs.detect_rig``: CMU ASF, MocapBank BVH, Mixamo BVH, DeepMimic, or SMPL-named BVH such as our own
    exports) becomes ``smpl_22`` positions, or ``smpl_52`` when the rig has SMPL-H's finger joints.
    Joints the rig has are copied; the others are synthesised where SMPL's neutral rest skeleton
    puts them relative to joints the rig has (spine1..3 along the rig's own spine chain, collars
    from spine3, neck and shoulder). The result keeps the source's facing and ground position; only
    the height moves so that the lowest foot joint (ankles and feet over the whole clip) is at y = 0,
    HumanML3D's floor convention.

Rotation fitting (:func:`fit_rotations`, used by the BVH export)
    Rest offsets: each bone gets its mean length along a T-pose direction taken from SMPL's rest
    skeleton (x to the subject's left, y up, z forward), so exported files open in a familiar pose.
    A joint with several children (pelvis, spine3, the wrists of ``smpl_52``) keeps its children's
    mean relative geometry instead: a single rotation must carry all of them, so their rest
    directions come from the data, averaged in a frame built from its first two children.
    Per frame, joints are solved parents first: a one-child joint takes the smallest rotation
    (swing) that turns its bone from where its parent's rotation carries it onto the target; a
    several-children joint takes the rotation that best carries all its rest offsets onto its
    children (least squares, which also fixes the twist; on the CMU clip it halves the worst error of
    aligning two children exactly). Bones are aimed from the *reconstructed* joint position, so a
    joint's error does not carry on to its descendants; what remains is bone-length change and the
    children of one joint moving relative to each other (a synthesised spine1 or collar).
    Local rotations are ``G_parent^T G_joint`` with ``G`` world rotations acting on column vectors.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..core.errors import InputError
from ..core.layouts import SMPL_22, SMPL_52, SMPLH_FINGERS, layout_names, layout_parents
from .clip import MocapClip
from .rigs import detect_rig

# SMPL's neutral rest joints (metres; x left, y up, z forward): the proportions used to place joints
# a rig lacks, and the bone directions of exported T-poses.
SMPL_22_REST = np.array([
    [-0.0018, -0.2233, 0.0282], [0.0677, -0.3147, 0.0214], [-0.0695, -0.3139, 0.0239],
    [-0.0043, -0.1144, 0.0015], [0.1020, -0.6899, 0.0169], [-0.1078, -0.6964, 0.0150],
    [0.0012, 0.0208, 0.0026], [0.0884, -1.0879, -0.0268], [-0.0920, -1.0948, -0.0273],
    [0.0026, 0.0737, 0.0280], [0.1148, -1.1437, 0.0925], [-0.1174, -1.1430, 0.0961],
    [-0.0002, 0.2876, -0.0148], [0.0815, 0.1955, -0.0060], [-0.0791, 0.1926, -0.0106],
    [0.0050, 0.3526, 0.0365], [0.1724, 0.2260, -0.0149], [-0.1752, 0.2251, -0.0197],
    [0.4321, 0.2132, -0.0424], [-0.4289, 0.2118, -0.0411], [0.6813, 0.2222, -0.0435],
    [-0.6842, 0.2196, -0.0467],
])

_I = {name: i for i, name in enumerate(SMPL_52)}


def _spine_fractions() -> np.ndarray:
    """Where spine1..3 sit along SMPL's pelvis -> neck chain, as fractions of its length."""
    chain = SMPL_22_REST[[_I["pelvis"], _I["spine1"], _I["spine2"], _I["spine3"], _I["neck"]]]
    cumulative = np.concatenate([[0.0], np.cumsum(np.linalg.norm(np.diff(chain, axis=0), axis=1))])
    return cumulative[1:4] / cumulative[-1]


def _collar_weights() -> np.ndarray:
    """(a, b) with collar ~ spine3 + a (neck - spine3) + b (shoulder - spine3) on SMPL's rest skeleton."""
    rows, targets = [], []
    for side in ("left", "right"):
        spine3 = SMPL_22_REST[_I["spine3"]]
        basis = np.stack([SMPL_22_REST[_I["neck"]] - spine3, SMPL_22_REST[_I[f"{side}_shoulder"]] - spine3], axis=1)
        rows.append(basis)
        targets.append(SMPL_22_REST[_I[f"{side}_collar"]] - spine3)
    weights, *_ = np.linalg.lstsq(np.concatenate(rows), np.concatenate(targets), rcond=None)
    return weights


SPINE_FRACTIONS = _spine_fractions()  # about 0.21, 0.47, 0.58
COLLAR_WEIGHTS = _collar_weights()  # about 0.25 toward the neck, 0.45 toward the shoulder


@dataclass(frozen=True)
class SmplRig:
    """How one source rig maps onto SMPL joints (source names without a ``namespace:`` prefix)."""

    joints: dict[str, str]  # SMPL joint -> source joint, copied as is
    spine: tuple[str, ...] = ()  # source chain pelvis -> neck; spine1..3 are resampled along it
    fingers: dict[str, str] | None = None  # SMPL-H finger joint -> source joint

    def required(self) -> list[str]:
        return list(dict.fromkeys([*self.joints.values(), *self.spine]))


def _sided(template: dict[str, str]) -> dict[str, str]:
    """Expand ``{side}``/``{Side}``/``{s}`` placeholders to left and right joints."""
    out = {}
    for side, cap, short in (("left", "Left", "l"), ("right", "Right", "r")):
        for smpl, source in template.items():
            out[smpl.format(side=side)] = source.format(side=side, Side=cap, s=short)
    return out


SMPL_RIGS: dict[str, SmplRig] = {
    # CMU/Acclaim points are bone *ends*: "lhipjoint" is the hip joint, "lfemur" the knee, "ltibia"
    # the ankle, "lfoot" the ball of the foot, "lclavicle" the shoulder joint, "lhumerus" the elbow,
    # "lradius" the wrist. "thorax" ends 7 cm below the shoulders, "lowerneck" just above them, where
    # SMPL's neck joint is; "upperneck" ends at the skull base (SMPL's head joint). No lateral collar.
    "cmu_asf": SmplRig(
        joints={"pelvis": "root", "neck": "lowerneck", "head": "upperneck", **_sided({
            "{side}_hip": "{s}hipjoint", "{side}_knee": "{s}femur", "{side}_ankle": "{s}tibia",
            "{side}_foot": "{s}foot", "{side}_shoulder": "{s}clavicle", "{side}_elbow": "{s}humerus",
            "{side}_wrist": "{s}radius"})},
        spine=("root", "lowerback", "upperback", "thorax", "lowerneck"),
    ),
    # MocapBank: the ankle's end site lies on the floor ahead of the ankle (ball of the foot); its
    # "Collar" joints sit on the neck base, on the midline, so collars are synthesised.
    "mocapbank_bvh": SmplRig(
        joints={"pelvis": "Hips", "neck": "Neck", "head": "Head", **_sided({
            "{side}_hip": "{Side}Hip", "{side}_knee": "{Side}Knee", "{side}_ankle": "{Side}Ankle",
            "{side}_foot": "{Side}Ankle_End", "{side}_shoulder": "{Side}Shoulder",
            "{side}_elbow": "{Side}Elbow", "{side}_wrist": "{Side}Wrist"})},
        spine=("Hips", "Chest", "Chest2", "Neck"),
    ),
    # Mixamo: "Shoulder" is the clavicle (SMPL's collar), "Arm" the shoulder joint, "UpLeg" the hip,
    # "Leg" the knee, "Foot" the ankle, "ToeBase" the ball of the foot; fingers 1..3 match SMPL-H's.
    "mixamo_bvh": SmplRig(
        joints={"pelvis": "Hips", "neck": "Neck", "head": "Head", **_sided({
            "{side}_hip": "{Side}UpLeg", "{side}_knee": "{Side}Leg", "{side}_ankle": "{Side}Foot",
            "{side}_foot": "{Side}ToeBase", "{side}_collar": "{Side}Shoulder", "{side}_shoulder": "{Side}Arm",
            "{side}_elbow": "{Side}ForeArm", "{side}_wrist": "{Side}Hand"})},
        spine=("Hips", "Spine", "Spine1", "Spine2", "Neck"),
        fingers=_sided({f"{{side}}_{finger}{k}": f"{{Side}}Hand{finger.capitalize()}{k}"
                        for finger in SMPLH_FINGERS for k in (1, 2, 3)}),
    ),
    # DeepMimic (deepmimic.py): URDF links at their joints; its "root" is level with the hip joints,
    # its "pelvis" the root sphere's centre above them; "chest" is the lower spine, "neck" the neck
    # base at shoulder height (SMPL's neck), "skull_base" the bottom of the head sphere (SMPL's
    # head), "toe" the front of the foot box at the sole (SMPL's foot, 13 cm ahead of the ankle).
    "deepmimic": SmplRig(
        joints={"pelvis": "pelvis", "neck": "neck", "head": "skull_base", **_sided({
            "{side}_hip": "{side}_hip", "{side}_knee": "{side}_knee", "{side}_ankle": "{side}_ankle",
            "{side}_foot": "{side}_toe", "{side}_shoulder": "{side}_shoulder",
            "{side}_elbow": "{side}_elbow", "{side}_wrist": "{side}_wrist"})},
        spine=("pelvis", "chest", "neck"),
    ),
    # SMPL names (our own BVH export, or any SMPL-named skeleton): everything is copied.
    "smpl": SmplRig(
        joints={name: name for name in SMPL_22},
        fingers={name: name for name in SMPL_52[22:]},
    ),
}


def _plain(name: str) -> str:
    return name.rsplit(":", 1)[-1]


def _find_rig(names: list[str]) -> tuple[str, SmplRig]:
    available = {_plain(n) for n in names}
    try:
        rig = detect_rig(names)
    except InputError:
        rig = None
    if rig is not None:
        missing = [n for n in SMPL_RIGS[rig].required() if n not in available]
        if not missing:
            return rig, SMPL_RIGS[rig]
    else:  # name the rig that comes closest, so the message says what is missing
        rig = min(SMPL_RIGS, key=lambda r: sum(n not in available for n in SMPL_RIGS[r].required()))
        missing = [n for n in SMPL_RIGS[rig].required() if n not in available]
    raise InputError("joint_names", f"cannot map this skeleton onto SMPL joints; the closest known rig, {rig!r}, "
                                    f"needs joints {missing} (the file has {names[:8]}...)")


def _along_chain(chain: np.ndarray, fractions: np.ndarray) -> np.ndarray:
    """Points at arc-length ``fractions`` of each frame's polyline: chain [T, K, 3] -> [T, F, 3]."""
    segments = np.linalg.norm(np.diff(chain, axis=1), axis=-1)  # [T, K-1]
    cumulative = np.concatenate([np.zeros((len(chain), 1)), np.cumsum(segments, axis=1)], axis=1)
    out = np.empty((len(chain), len(fractions), 3))
    for f, fraction in enumerate(fractions):
        target = fraction * cumulative[:, -1]
        seg = np.clip((cumulative[:, 1:] < target[:, None]).sum(axis=1), 0, segments.shape[1] - 1)
        rows = np.arange(len(chain))
        length = np.maximum(segments[rows, seg], 1e-9)
        w = np.clip((target - cumulative[rows, seg]) / length, 0.0, 1.0)[:, None]
        out[:, f] = (1 - w) * chain[rows, seg] + w * chain[rows, seg + 1]
    return out


def retarget_to_smpl(clip: MocapClip, layout: str | None = None) -> tuple[np.ndarray, str]:
    """(positions [T, J, 3] float32 metres y-up, layout) of ``clip`` on SMPL joints.

    ``layout`` None picks ``smpl_52`` when the rig has finger joints, else ``smpl_22``; asking for
    ``smpl_52`` from a rig without fingers is an InputError naming the missing joints.
    """
    if layout not in (None, "smpl_22", "smpl_52"):
        raise InputError("layout", f"expected None, 'smpl_22' or 'smpl_52', got {layout!r}")
    names = list(clip.joint_names)
    rig_name, rig = _find_rig(names)
    index = {_plain(n): i for i, n in enumerate(names)}
    src = np.asarray(clip.positions, np.float64)

    if rig.fingers is None:
        finger_missing = ["(this rig has no finger joints)"]
    else:
        finger_missing = [s for s in rig.fingers.values() if s not in index]
    if layout == "smpl_52" and finger_missing:
        raise InputError("layout", f"smpl_52 needs finger joints; rig {rig_name!r} lacks {finger_missing[:6]}")
    if layout is None:
        layout = "smpl_22" if finger_missing else "smpl_52"

    out = np.zeros((src.shape[0], len(layout_names(layout)), 3))
    filled = np.zeros(out.shape[1], bool)
    for smpl, source in rig.joints.items():
        out[:, _I[smpl]] = src[:, index[source]]
        filled[_I[smpl]] = True
    if layout == "smpl_52":
        for smpl, source in rig.fingers.items():
            out[:, _I[smpl]] = src[:, index[source]]
            filled[_I[smpl]] = True
    if rig.spine:
        # Rigs put their vertebra joints at different heights (CMU lowerback/upperback/thorax,
        # MocapBank Chest/Chest2, Mixamo Spine/Spine1/Spine2); resampling the rig's own chain at
        # SMPL's proportions gives every source the same spine while following its bend.
        chain = src[:, [index[n] for n in rig.spine]]
        out[:, [_I["spine1"], _I["spine2"], _I["spine3"]]] = _along_chain(chain, SPINE_FRACTIONS)
        filled[[_I["spine1"], _I["spine2"], _I["spine3"]]] = True
    for side in ("left", "right"):
        collar = _I[f"{side}_collar"]
        if not filled[collar]:
            # A clavicle's inner end: where SMPL's rest skeleton has it relative to spine3, the neck
            # and this shoulder, so it follows shrugs and leans of the source.
            spine3 = out[:, _I["spine3"]]
            a, b = COLLAR_WEIGHTS
            out[:, collar] = spine3 + a * (out[:, _I["neck"]] - spine3) + b * (out[:, _I[f"{side}_shoulder"]] - spine3)
            filled[collar] = True
    assert filled.all(), [n for n, f in zip(layout_names(layout), filled) if not f]

    feet = [_I[n] for n in ("left_ankle", "right_ankle", "left_foot", "right_foot")]
    out[..., 1] -= out[:, feet, 1].min()
    return out.astype(np.float32), layout


# --------------------------------------------------------------------------------------------
# rotations from positions

def _unit(v: np.ndarray) -> np.ndarray:
    return v / np.maximum(np.linalg.norm(v, axis=-1, keepdims=True), 1e-12)


def _swing(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Smallest rotations [..., 3, 3] turning directions ``a`` onto ``b`` ([..., 3], any length)."""
    a, b = _unit(a), _unit(b)
    axis = np.cross(a, b)
    sin = np.linalg.norm(axis, axis=-1)
    cos = np.sum(a * b, axis=-1)
    # opposite directions: half turn about any axis perpendicular to a
    helper = np.where(np.abs(a[..., :1]) < 0.9, np.array([1.0, 0, 0]), np.array([0, 1.0, 0]))
    axis = np.where((sin < 1e-9)[..., None], np.cross(a, helper), axis)
    axis = _unit(axis)
    x, y, z = axis[..., 0], axis[..., 1], axis[..., 2]
    k = np.zeros(a.shape[:-1] + (3, 3))
    k[..., 0, 1], k[..., 0, 2], k[..., 1, 0] = -z, y, z
    k[..., 1, 2], k[..., 2, 0], k[..., 2, 1] = -x, -y, x
    angle = np.arctan2(sin, cos)[..., None, None]
    return np.eye(3) + np.sin(angle) * k + (1 - np.cos(angle)) * (k @ k)


def _frame(first: np.ndarray, second: np.ndarray) -> np.ndarray:
    """Orthonormal frames [..., 3, 3] with column 0 along ``first`` and ``second`` in the 0-1 plane."""
    e0 = _unit(first)
    e1 = _unit(second - np.sum(second * e0, axis=-1, keepdims=True) * e0)
    return np.stack([e0, e1, np.cross(e0, e1)], axis=-1)


def _best_rotation(rest: np.ndarray, current: np.ndarray) -> np.ndarray:
    """Rotations [T, 3, 3] taking rest vectors [K, 3] closest (least squares) to current [T, K, 3].

    Kabsch: the SVD of the cross-covariance, with the sign fixed so the result is not a mirror.
    """
    u, _, vt = np.linalg.svd(np.einsum("ki,tkj->tij", rest, current))
    v, ut = np.swapaxes(vt, -1, -2), np.swapaxes(u, -1, -2)
    fix = np.broadcast_to(np.eye(3), u.shape).copy()
    fix[:, 2, 2] = np.sign(np.linalg.det(v @ ut))
    return v @ fix @ ut


def _children(parents) -> list[list[int]]:
    kids: list[list[int]] = [[] for _ in parents]
    for j, p in enumerate(parents):
        if p >= 0:
            kids[p].append(j)
    return kids


def _template_directions(layout: str) -> np.ndarray:
    """T-pose unit direction of every bone (parent -> joint), [J, 3]; the root's row is unused."""
    parents = layout_parents(layout)
    dirs = np.zeros((len(parents), 3))
    for j in range(1, 22):
        dirs[j] = _unit(SMPL_22_REST[j] - SMPL_22_REST[parents[j]])
    # Fingers point along the arm (x outward), spread a little front to back; the thumb also points
    # forward. Only the look of the rest pose depends on these.
    spread = {"index": 0.25, "middle": 0.05, "ring": -0.15, "pinky": -0.35}
    for side, sign in (("left", 1.0), ("right", -1.0)):
        for finger in SMPLH_FINGERS:
            for k in (1, 2, 3):
                j = _I.get(f"{side}_{finger}{k}")
                if j is None or j >= len(parents):
                    continue
                if finger == "thumb":
                    d = (0.5 * sign, -0.2, 0.6) if k == 1 else (0.6 * sign, 0.0, 0.8)
                else:
                    d = (sign, 0.0, spread[finger] if k == 1 else 0.0)
                dirs[j] = _unit(np.array(d))
    return dirs


def rest_offsets(positions: np.ndarray, layout: str) -> np.ndarray:
    """Rest offsets [J, 3] (row j: joint j relative to its parent, metres) fitted to ``positions``.

    Mean bone lengths along T-pose directions; children of a several-children joint keep their
    mean geometry relative to the joint's first two children (see the module docstring).
    """
    p = np.asarray(positions, np.float64)
    parents = layout_parents(layout)
    if p.ndim != 3 or p.shape[1:] != (len(parents), 3):
        raise InputError("positions", f"expected [T, {len(parents)}, 3] for {layout}, got {list(p.shape)}")
    dirs = _template_directions(layout)
    offsets = np.zeros((len(parents), 3))
    for j, kids in enumerate(_children(parents)):
        for c in kids:
            offsets[c] = dirs[c] * np.linalg.norm(p[:, c] - p[:, j], axis=-1).mean()
        if len(kids) > 1:
            data = _frame(p[:, kids[0]] - p[:, j], p[:, kids[1]] - p[:, j])  # [T, 3, 3]
            rest = _frame(dirs[kids[0]], dirs[kids[1]])
            for c in kids:
                local = np.einsum("tji,tj->ti", data, _unit(p[:, c] - p[:, j])).mean(axis=0)
                offsets[c] = rest @ _unit(local) * np.linalg.norm(offsets[c])
    return offsets


def fit_rotations(positions: np.ndarray, layout: str, offsets: np.ndarray) -> np.ndarray:
    """Local joint rotations [T, J, 3, 3] that carry ``offsets`` onto ``positions`` (see docstring).

    The root's rotation is its world rotation; leaves (no child to aim at) get the identity.
    """
    p = np.asarray(positions, np.float64)
    parents = layout_parents(layout)
    kids = _children(parents)
    num_frames = p.shape[0]
    world = np.zeros((num_frames, len(parents), 3, 3))
    local = np.zeros_like(world)
    placed = np.zeros((num_frames, len(parents), 3))
    for j, parent in enumerate(parents):  # parents come first in SMPL layouts
        parent_rot = np.broadcast_to(np.eye(3), (num_frames, 3, 3)) if parent < 0 else world[:, parent]
        placed[:, j] = p[:, j] if parent < 0 else placed[:, parent] + parent_rot @ offsets[j]
        if not kids[j]:
            world[:, j] = parent_rot
        elif len(kids[j]) == 1:
            c = kids[j][0]
            world[:, j] = _swing(parent_rot @ offsets[c], p[:, c] - placed[:, j]) @ parent_rot
        else:
            world[:, j] = _best_rotation(offsets[kids[j]], p[:, kids[j]] - placed[:, j, None])
        local[:, j] = np.swapaxes(parent_rot, -1, -2) @ world[:, j]
    return local


def forward_kinematics(root_positions: np.ndarray, local_rotations: np.ndarray, offsets: np.ndarray,
                       layout: str) -> np.ndarray:
    """Joint positions [T, J, 3] from root positions [T, 3], local rotations [T, J, 3, 3] and offsets."""
    parents = layout_parents(layout)
    world = np.zeros_like(local_rotations)
    out = np.zeros(local_rotations.shape[:2] + (3,))
    for j, parent in enumerate(parents):
        if parent < 0:
            world[:, j], out[:, j] = local_rotations[:, j], root_positions
        else:
            world[:, j] = world[:, parent] @ local_rotations[:, j]
            out[:, j] = out[:, parent] + world[:, parent] @ offsets[j]
    return out
