"""HumanML3D motion features (263-d body, 360-d hands) from joint positions and back.

Joints
    ``smpl_22`` or ``smpl_52`` (``layouts.py``: the 22 body joints, then 15 left-hand and 15
    right-hand joints in SMPL-H order), ``[T, J, 3]`` positions in metres, y up,
    at 20 fps (the rate HumanML3D features are defined at: velocities are per frame and the foot
    contact threshold is per frame).

Canonical placement (:func:`canonicalize`, HumanML3D's): the lowest y over all joints and frames
becomes the floor (y = 0); the pelvis of frame 0 moves to x = z = 0; the clip turns about +y so that
frame 0 faces +z, its facing being ``up x across`` with ``across = (right_hip - left_hip) +
(right_shoulder - left_shoulder)``.

Heading ``theta[t]`` (radians): the yaw taking frame ``t``'s facing to +z (``rotations.yaw_rotate``
convention), exactly as HumanML3D computes it: the facing is ``up x across`` with ``across`` made
unit length per frame and here ``across = (left_hip - right_hip) + (right_shoulder - left_shoulder)``
(HumanML3D's inverse kinematics names the two hip indices the other way round, so its per-frame
heading follows the shoulders' twist relative to the hips; its released features only match with
this term); the facings are smoothed over time (Gaussian, sigma 20 frames, clamped at the ends)
before the angle is taken, and ``theta[0]`` is 0 whatever the smoothed facing of frame 0 (so row 0
of the yaw velocity can hold a jump).

Body feature, ``[T-1, 263]``, row ``t`` describes frame ``t`` (HumanML3D order):
    [0]        (theta[t+1] - theta[t]) / 2, the difference wrapped to (-pi, pi] (HumanML3D stores
               the half angle: it is the y part of the relative yaw quaternion)
    [1:3]      pelvis x, z displacement from frame t to t+1, turned by theta[t+1]
    [3]        pelvis height y of frame t
    [4:67]     joints 1..21 relative to the pelvis in x and z (y stays absolute), turned by theta[t]
    [67:193]   joints 1..21: 6D rotations (``rotations.py``) from HumanML3D's inverse kinematics
    [193:259]  joints 0..21: displacement from frame t to t+1, turned by theta[t]
    [259:263]  foot contacts (1 or 0) of left ankle, left foot, right ankle, right foot: squared
               displacement from frame t to t+1 below 0.002 m^2

Rotations (HumanML3D's convention, kept so that features match its data and checkpoints): every
joint except the pelvis has a rest direction (``REST_DIRECTIONS``: hips along +-x, spine up, legs
and arms down, feet and head along +z, fingers along +-x). The kinematic chains of
``KINEMATIC_CHAINS`` are walked separately, each starting from the *root rotation* ``Y(theta[t])``
(the yaw matrix, i.e. the world-to-facing rotation, not its inverse). For the bone from ``a`` to
``b``, ``S_b`` is the smallest rotation taking ``b``'s rest direction to the bone's world direction;
the stored rotation is ``R_b = S_a^T S_b`` with ``S_a = Y(theta[t])`` for the first bone of a chain.
So forward kinematics ``b = a + Y R_b1 ... R_b (rest_b * length_b)`` rebuilds the world pose
(:func:`rotations_to_joints`, HumanML3D's ``recover_from_rot``). Two consequences of the
convention: the collars and the hips hang from the root rotation, not from their spine parent, and
the rotations carry no twist about the bone.

Hand feature, ``[T-1, 360]`` (``smpl_52`` input): the 30 hand joints (22..51) in the same three
blocks: 30 x 3 pelvis-relative positions, 30 x 6 rotations (one chain per finger from its wrist,
again starting from the root rotation), 30 x 3
velocities. ``body (263) + hand (360)`` together are HumanML3D's representation extended to 52 joints,
as MotionGPT-2 uses on Motion-X (623 dims) with its Part-Aware VQ-VAE; this module concatenates them
as ``[body | hand]`` (:func:`holistic_features`), Motion-X files interleave them
(:func:`from_motionx_order`). With 52 joints the floor is the lowest of all 52 (Motion-X's choice).

Checked against HumanML3D's released sample (``new_joints/012314.npy`` -> ``new_joint_vecs``): all
columns agree to 1e-5 on the rows its missing last frame cannot reach through the smoothing, and
:func:`features_to_joints` of its features gives its joints to 3e-7 m (see the optional test).

Differences from HumanML3D's script, both on purpose: the yaw velocity of a frame whose heading
crosses +-180 degrees keeps its sign (HumanML3D takes the arcsin of the relative quaternion's y
part without making its w part positive first, which flips it there), and the uniform-skeleton
retargeting is optional (:func:`to_uniform_skeleton`, ``joints_to_features(..., uniform_skeleton=True)``)
rather than always on.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Sequence

import numpy as np
import torch
from scipy.ndimage import gaussian_filter1d

from ..core.errors import InputError, ModelFileError
from ..core.layouts import SMPL_22_PARENTS, SMPL_52, SMPL_52_PARENTS
from .rotations import cont6d_to_matrix, matrix_to_cont6d, quat_between, quat_to_matrix, yaw_matrix, yaw_rotate

BODY_JOINTS, HAND_JOINTS = 22, 30
BODY_DIM = 4 + (BODY_JOINTS - 1) * 9 + BODY_JOINTS * 3 + 4  # 263
HAND_DIM = HAND_JOINTS * (3 + 6 + 3)  # 360
HOLISTIC_DIM = BODY_DIM + HAND_DIM  # 623
FPS = 20.0

# HumanML3D's chains (pelvis -> right leg, left leg, spine -> head, right arm, left arm), then each
# wrist -> finger; every chain starts again from the root rotation.
BODY_CHAINS = ((0, 2, 5, 8, 11), (0, 1, 4, 7, 10), (0, 3, 6, 9, 12, 15), (9, 14, 17, 19, 21), (9, 13, 16, 18, 20))
HAND_CHAINS = tuple((wrist, base, base + 1, base + 2)
                    for wrist, first in ((20, 22), (21, 37)) for base in range(first, first + 15, 3))
KINEMATIC_CHAINS = {22: BODY_CHAINS, 52: BODY_CHAINS + HAND_CHAINS}

_BODY_REST = (
    (0, 0, 0), (1, 0, 0), (-1, 0, 0), (0, 1, 0), (0, -1, 0), (0, -1, 0), (0, 1, 0), (0, -1, 0), (0, -1, 0),
    (0, 1, 0), (0, 0, 1), (0, 0, 1), (0, 1, 0), (1, 0, 0), (-1, 0, 0), (0, 0, 1), (0, -1, 0), (0, -1, 0),
    (0, -1, 0), (0, -1, 0), (0, -1, 0), (0, -1, 0),
)
REST_DIRECTIONS = {
    22: np.array(_BODY_REST, np.float64),
    52: np.array(_BODY_REST + ((1, 0, 0),) * 15 + ((-1, 0, 0),) * 15, np.float64),
}
PARENTS = {22: SMPL_22_PARENTS, 52: SMPL_52_PARENTS}  # the chains above, as parent indices

# HumanML3D's uniform skeleton: bone lengths (metres) ending at joints 1..21, measured on its data.
UNIFORM_BONE_LENGTHS = np.array([
    0.10307, 0.10988, 0.13157, 0.39362, 0.39019, 0.14319, 0.43243, 0.42564, 0.05736, 0.14338, 0.14942,
    0.21936, 0.13749, 0.14338, 0.10304, 0.13161, 0.12298, 0.25684, 0.26309, 0.26601, 0.26988,
])
_LEG_JOINTS = (5, 8)  # right knee and ankle: their bones (thigh, shin) measure the leg for retargeting

FACE_JOINTS = (2, 1, 17, 16)  # right hip, left hip, right shoulder, left shoulder
FOOT_JOINTS = (7, 10, 8, 11)  # left ankle, left foot, right ankle, right foot (contact column order)
FOOT_THRESHOLD = 0.002  # squared metres per frame (at 20 fps)
FACING_SIGMA = 20.0  # frames


# --------------------------------------------------------------------------------------------
# input checks and placement

def _check_joints(joints, input_name: str = "joints", allowed: tuple[int, ...] = (22, 52)) -> torch.Tensor:
    if isinstance(joints, np.ndarray):
        joints = torch.from_numpy(joints)
    if not isinstance(joints, torch.Tensor) or not (joints.is_floating_point() or joints.dtype in (torch.int32, torch.int64)):
        raise InputError(input_name, f"expected a float array [T, J, 3], got {type(joints).__name__}")
    shapes = " or ".join(f"[T, {j}, 3]" for j in allowed)
    if joints.ndim != 3 or joints.shape[1] not in allowed or joints.shape[2] != 3:
        raise InputError(input_name, f"expected {shapes} joint positions, got {list(joints.shape)}")
    if joints.shape[0] < 2:
        raise InputError(input_name, f"need at least 2 frames (features describe frame-to-frame motion), got {joints.shape[0]}")
    joints = joints.detach().to("cpu", torch.float64)
    if not bool(torch.isfinite(joints).all()):
        raise InputError(input_name, "joint positions contain NaN or infinite values")
    return joints


def _facing(joints: torch.Tensor, sigma: float, per_frame: bool) -> torch.Tensor:
    """Unit facing directions [T, 3] (horizontal), smoothed over time when sigma > 0.

    ``per_frame`` selects HumanML3D's per-frame heading, whose hip term is reversed (module docstring).
    """
    r_hip, l_hip, r_shoulder, l_shoulder = FACE_JOINTS
    hips = joints[:, r_hip] - joints[:, l_hip]
    across = (-hips if per_frame else hips) + (joints[:, r_shoulder] - joints[:, l_shoulder])
    across = across / across.norm(dim=-1, keepdim=True).clamp_min(1e-12)
    forward = torch.stack([across[:, 2], torch.zeros_like(across[:, 0]), -across[:, 0]], dim=-1)  # up x across
    if sigma > 0:
        forward = torch.from_numpy(gaussian_filter1d(forward.numpy(), sigma, axis=0, mode="nearest"))
    norm = forward.norm(dim=-1, keepdim=True)
    if bool((norm < 1e-6).any()):
        frame = int((norm[:, 0] < 1e-6).nonzero()[0])
        raise InputError("joints", f"frame {frame}: hips and shoulders give no horizontal facing direction")
    return forward / norm


def _heading(forward: torch.Tensor) -> torch.Tensor:
    """Yaw angles taking each facing to +z."""
    return -torch.atan2(forward[..., 0], forward[..., 2])


def _canonical(joints: torch.Tensor) -> torch.Tensor:
    joints = joints.clone()
    joints[..., 1] -= joints[..., 1].min()
    joints[..., [0, 2]] -= joints[0, 0, [0, 2]]
    angle = _heading(_facing(joints[:1], sigma=0.0, per_frame=False))[0]
    return yaw_rotate(joints, angle)


def canonicalize(joints) -> np.ndarray:
    """HumanML3D's placement of a clip (module docstring): [T, 22 or 52, 3] -> float32, same shape."""
    return _canonical(_check_joints(joints)).numpy().astype(np.float32)


def bone_lengths(joints) -> np.ndarray:
    """Median length over frames of the bone ending at each joint 1..J-1: [J-1] metres."""
    joints = _check_joints(joints)
    parents = PARENTS[joints.shape[1]]
    lengths = (joints[:, 1:] - joints[:, list(parents[1:])]).norm(dim=-1)
    return lengths.median(dim=0).values.numpy()


def to_uniform_skeleton(joints) -> np.ndarray:
    """Retarget smpl_22 joints onto HumanML3D's skeleton (float32 [T, 22, 3]), as its data are.

    Every bone keeps its direction and takes the uniform length; the pelvis path is scaled by the
    ratio of uniform to source leg length (thigh + shin of the right leg in frame 0).
    """
    joints = _check_joints(joints, allowed=(22,))
    return _uniform(joints).numpy().astype(np.float32)


def _uniform(joints: torch.Tensor) -> torch.Tensor:
    parents = PARENTS[22]
    lengths = (joints[:, 1:] - joints[:, list(parents[1:])]).norm(dim=-1)
    _check_bones(lengths, 22)
    leg = [j - 1 for j in _LEG_JOINTS]
    scale = UNIFORM_BONE_LENGTHS[leg].sum() / float(lengths[0, leg].sum())
    return _with_lengths(joints, torch.as_tensor(UNIFORM_BONE_LENGTHS, dtype=joints.dtype), joints[:, 0] * scale)


def _with_lengths(joints: torch.Tensor, lengths: torch.Tensor, root: torch.Tensor) -> torch.Tensor:
    """Joints rebuilt from ``root`` outwards: every bone keeps its direction and takes ``lengths[j-1]``."""
    parents = PARENTS[joints.shape[1]]
    bones = joints[:, 1:] - joints[:, list(parents[1:])]
    directions = bones / bones.norm(dim=-1, keepdim=True).clamp_min(1e-9)
    out = torch.zeros_like(joints)
    out[:, 0] = root
    for j in range(1, joints.shape[1]):  # parents come before children in SMPL order
        out[:, j] = out[:, parents[j]] + directions[:, j - 1] * lengths[j - 1]
    return out


def steady_bones(joints, lengths=None) -> np.ndarray:
    """Every bone at its median length over the clip (or at ``lengths`` [J-1], e.g. a keyframe's own),
    directions kept: float32 [T, J, 3]. The pelvis keeps its horizontal path; each frame moves up or
    down so that its lowest joint keeps its height (a foot on the floor stays there). Decoders that
    predict joint positions (the tokenizers' HumanML3D features) let bone lengths drift from frame to
    frame; a body's do not."""
    joints = _check_joints(joints)
    if lengths is None:
        lengths = torch.from_numpy(bone_lengths(joints)).to(joints.dtype)
    else:
        lengths = torch.as_tensor(np.asarray(lengths), dtype=joints.dtype)
        if lengths.shape != (joints.shape[1] - 1,):
            raise InputError("lengths", f"expected {joints.shape[1] - 1} bone lengths, got {list(lengths.shape)}")
    steady = _with_lengths(joints, lengths, joints[:, 0])
    steady[..., 1] += (joints[..., 1].min(dim=1).values - steady[..., 1].min(dim=1).values)[:, None]
    return steady.numpy().astype(np.float32)


def _check_bones(lengths: torch.Tensor, num_joints: int) -> None:
    short = lengths < 1e-6
    if bool(short.any()):
        frame, bone = (int(i) for i in short.nonzero()[0])
        names = SMPL_52
        joint = bone + 1
        parent = PARENTS[num_joints][joint]
        raise InputError("joints", f"frame {frame}: bone {names[parent]} -> {names[joint]} has zero length, "
                                   "so its rotation is undefined")


# --------------------------------------------------------------------------------------------
# joints -> features

def _inverse_kinematics(joints: torch.Tensor, heading: torch.Tensor) -> torch.Tensor:
    """HumanML3D's per-joint rotation matrices [T, J, 3, 3] (joint 0: the root rotation)."""
    num_joints = joints.shape[1]
    rest = torch.from_numpy(REST_DIRECTIONS[num_joints])
    parents = PARENTS[num_joints]
    bones = joints[:, 1:] - joints[:, list(parents[1:])]
    _check_bones(bones.norm(dim=-1), num_joints)
    # S_j: smallest rotation from joint j's rest direction to its bone's world direction
    swing = quat_to_matrix(quat_between(rest[1:].expand_as(bones), bones))
    root = yaw_matrix(heading)
    local = torch.empty(joints.shape[:2] + (3, 3), dtype=joints.dtype)
    local[:, 0] = root
    for chain in KINEMATIC_CHAINS[num_joints]:
        above = root
        for joint in chain[1:]:
            local[:, joint] = above.transpose(-1, -2) @ swing[:, joint - 1]
            above = swing[:, joint - 1]
    return local


def _feature_blocks(joints: torch.Tensor, uniform_skeleton: bool, foot_threshold: float,
                    facing_sigma: float) -> dict[str, torch.Tensor]:
    """Canonical joints [T, J, 3] float64 -> the HumanML3D blocks (T-1 rows each)."""
    if uniform_skeleton:
        if joints.shape[1] != 22:
            raise InputError("uniform_skeleton", "HumanML3D's uniform skeleton has body joints only; use smpl_22 joints")
        joints = _uniform(joints)
    joints = _canonical(joints)
    heading = _heading(_facing(joints, facing_sigma, per_frame=True))
    heading[0] = 0.0  # frame 0 faces +z by construction (HumanML3D fixes the root rotation there)
    turn = heading[1:] - heading[:-1]
    turn = torch.atan2(torch.sin(turn), torch.cos(turn))
    root = joints[:, 0]
    root_velocity = yaw_rotate(root[1:] - root[:-1], heading[1:])
    relative = joints.clone()
    relative[..., [0, 2]] -= root[:, None, [0, 2]]
    ric = yaw_rotate(relative, heading[:, None])
    velocity = yaw_rotate(joints[1:] - joints[:-1], heading[:-1, None])
    rotations = matrix_to_cont6d(_inverse_kinematics(joints, heading))
    feet = joints[:, list(FOOT_JOINTS)]
    contacts = (((feet[1:] - feet[:-1]) ** 2).sum(-1) < foot_threshold).to(joints.dtype)
    return {
        "root": torch.stack([turn / 2, root_velocity[:, 0], root_velocity[:, 2], root[:-1, 1]], dim=-1),
        "ric": ric[:-1, 1:], "rotations": rotations[:-1, 1:], "velocity": velocity, "contacts": contacts,
    }


def _body(blocks: dict[str, torch.Tensor]) -> torch.Tensor:
    rows = blocks["root"].shape[0]
    body = BODY_JOINTS
    return torch.cat([
        blocks["root"], blocks["ric"][:, : body - 1].reshape(rows, -1), blocks["rotations"][:, : body - 1].reshape(rows, -1),
        blocks["velocity"][:, :body].reshape(rows, -1), blocks["contacts"],
    ], dim=-1)


def _hands(blocks: dict[str, torch.Tensor]) -> torch.Tensor:
    rows = blocks["root"].shape[0]
    body = BODY_JOINTS
    return torch.cat([
        blocks["ric"][:, body - 1:].reshape(rows, -1), blocks["rotations"][:, body - 1:].reshape(rows, -1),
        blocks["velocity"][:, body:].reshape(rows, -1),
    ], dim=-1)


def joints_to_features(joints, *, uniform_skeleton: bool = False, foot_threshold: float = FOOT_THRESHOLD,
                       facing_sigma: float = FACING_SIGMA) -> np.ndarray:
    """smpl_22 joints [T, 22, 3] (numpy or torch, metres, y up, 20 fps) -> float32 [T-1, 263].

    ``uniform_skeleton`` first retargets onto HumanML3D's skeleton (needed to feed checkpoints
    trained on HumanML3D); without it the features describe the clip's own bone lengths.
    """
    blocks = _feature_blocks(_check_joints(joints, allowed=(22,)), uniform_skeleton, foot_threshold, facing_sigma)
    return _body(blocks).numpy().astype(np.float32)


def holistic_features(joints, *, foot_threshold: float = FOOT_THRESHOLD,
                      facing_sigma: float = FACING_SIGMA) -> np.ndarray:
    """smpl_52 joints [T, 52, 3] -> float32 [T-1, 623] = ``[body 263 | hand 360]``."""
    blocks = _feature_blocks(_check_joints(joints, allowed=(52,)), False, foot_threshold, facing_sigma)
    return torch.cat([_body(blocks), _hands(blocks)], dim=-1).numpy().astype(np.float32)


def hand_features(joints, **options) -> np.ndarray:
    """smpl_52 joints [T, 52, 3] -> float32 [T-1, 360], the hand part of :func:`holistic_features`."""
    return holistic_features(joints, **options)[:, BODY_DIM:]


_BODY_RIC = slice(4, 4 + (BODY_JOINTS - 1) * 3)
_BODY_ROT = slice(_BODY_RIC.stop, _BODY_RIC.stop + (BODY_JOINTS - 1) * 6)
_BODY_VEL = slice(_BODY_ROT.stop, _BODY_ROT.stop + BODY_JOINTS * 3)
_HAND_RIC = slice(BODY_DIM, BODY_DIM + HAND_JOINTS * 3)
_HAND_ROT = slice(_HAND_RIC.stop, _HAND_RIC.stop + HAND_JOINTS * 6)
_HAND_VEL = slice(_HAND_ROT.stop, _HAND_ROT.stop + HAND_JOINTS * 3)
FEATURE_SLICES = {
    "root_yaw_velocity": slice(0, 1), "root_xz_velocity": slice(1, 3), "root_height": slice(3, 4),
    "ric": _BODY_RIC, "rotations": _BODY_ROT, "local_velocity": _BODY_VEL, "foot_contacts": slice(_BODY_VEL.stop, BODY_DIM),
    "hand_ric": _HAND_RIC, "hand_rotations": _HAND_ROT, "hand_local_velocity": _HAND_VEL,
}


def _motionx_permutation() -> np.ndarray:
    """Index into ``[body | hand]`` for each column of Motion-X's interleaved 623 layout."""
    s = FEATURE_SLICES
    parts = ["root_yaw_velocity", "root_xz_velocity", "root_height", "ric", "hand_ric", "rotations", "hand_rotations",
             "local_velocity", "hand_local_velocity", "foot_contacts"]
    return np.concatenate([np.arange(s[p].start, s[p].stop) for p in parts])


def _permute(features, order: np.ndarray):
    _check_dim(features, (HOLISTIC_DIM,))
    if isinstance(features, torch.Tensor):
        return features[..., torch.from_numpy(order).to(features.device)]
    return features[..., order]


def to_motionx_order(features):
    """``[..., 623]`` ``[body | hand]`` -> Motion-X / HumanTOMATO's order (root, ric 51, rot 51,
    velocity 52, contacts), i.e. HumanML3D's layout for 52 joints. numpy or torch in and out."""
    return _permute(features, _motionx_permutation())


def from_motionx_order(features):
    """Inverse of :func:`to_motionx_order`."""
    return _permute(features, np.argsort(_motionx_permutation()))


def _check_dim(features, dims: tuple[int, ...], input_name: str = "features") -> None:
    if not isinstance(features, (np.ndarray, torch.Tensor)) or features.ndim < 1 or features.shape[-1] not in dims:
        got = list(features.shape) if isinstance(features, (np.ndarray, torch.Tensor)) else type(features).__name__
        raise InputError(input_name, f"expected [..., {' or '.join(map(str, dims))}] features, got {got}")


# --------------------------------------------------------------------------------------------
# features -> joints

def _as_feature_tensor(features, dims: tuple[int, ...], input_name: str = "features") -> torch.Tensor:
    if isinstance(features, np.ndarray):
        features = torch.from_numpy(features)
    _check_dim(features, dims, input_name)
    if not features.is_floating_point() or features.ndim < 2 or features.shape[-2] < 1:
        raise InputError(input_name, f"expected a float tensor [..., T>=1, {features.shape[-1]}]")
    return features


def _root_path(features: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Heading [..., T] and pelvis positions [..., T, 3] integrated from the root channels."""
    turn = 2 * features[..., :-1, 0]
    heading = torch.cat([torch.zeros_like(features[..., :1, 0]), torch.cumsum(turn, dim=-1)], dim=-1)
    step = torch.stack([features[..., :-1, 1], torch.zeros_like(turn), features[..., :-1, 2]], dim=-1)
    step = yaw_rotate(step, -heading[..., 1:])
    xz = torch.cat([torch.zeros_like(step[..., :1, :]), torch.cumsum(step, dim=-2)], dim=-2)
    root = torch.stack([xz[..., 0], features[..., 3], xz[..., 2]], dim=-1)
    return heading, root


def features_to_joints(features) -> torch.Tensor:
    """HumanML3D's ``recover_from_ric``: [..., T, 263] -> smpl_22 [..., T, 22, 3]; [..., T, 623]
    (``[body | hand]``) -> smpl_52 [..., T, 52, 3]. Torch, differentiable, in the input's dtype.

    The result is in the canonical frame of the clip the features came from (frame 0's pelvis at
    x = z = 0, facing +z, floor at y = 0).
    """
    features = _as_feature_tensor(features, (BODY_DIM, HOLISTIC_DIM))
    heading, root = _root_path(features)
    ric = features[..., _BODY_RIC].unflatten(-1, (BODY_JOINTS - 1, 3))
    if features.shape[-1] == HOLISTIC_DIM:
        ric = torch.cat([ric, features[..., _HAND_RIC].unflatten(-1, (HAND_JOINTS, 3))], dim=-2)
    world = yaw_rotate(ric, -heading[..., None])
    offset = torch.stack([root[..., 0], torch.zeros_like(root[..., 1]), root[..., 2]], dim=-1)
    return torch.cat([root[..., None, :], world + offset[..., None, :]], dim=-2)


def hand_features_to_joints(body_features, hand_features) -> torch.Tensor:
    """Inverse of :func:`hand_features` given the body: [..., T, 263] + [..., T, 360] -> [..., T, 52, 3]."""
    body = _as_feature_tensor(body_features, (BODY_DIM,), "body_features")
    hand = _as_feature_tensor(hand_features, (HAND_DIM,), "hand_features")
    if body.shape[:-1] != hand.shape[:-1]:
        raise InputError("hand_features", f"frames {list(hand.shape[:-1])} do not match the body's {list(body.shape[:-1])}")
    return features_to_joints(torch.cat([body, hand.to(body)], dim=-1))


def rotations_to_joints(features, lengths) -> torch.Tensor:
    """HumanML3D's ``recover_from_rot``: forward kinematics from the 6D rotations, root path and
    bone ``lengths`` ([J-1] metres, e.g. :func:`bone_lengths` or :data:`UNIFORM_BONE_LENGTHS`).

    [..., T, 263] -> [..., T, 22, 3]; [..., T, 623] -> [..., T, 52, 3]; same frame as
    :func:`features_to_joints`, which it matches when the lengths are the clip's.
    """
    features = _as_feature_tensor(features, (BODY_DIM, HOLISTIC_DIM))
    num_joints = 52 if features.shape[-1] == HOLISTIC_DIM else 22
    lengths = torch.as_tensor(np.asarray(lengths), dtype=features.dtype)
    if lengths.shape != (num_joints - 1,):
        raise InputError("lengths", f"expected {num_joints - 1} bone lengths, got {list(lengths.shape)}")
    cont6d = features[..., _BODY_ROT].unflatten(-1, (BODY_JOINTS - 1, 6))
    if num_joints == 52:
        cont6d = torch.cat([cont6d, features[..., _HAND_ROT].unflatten(-1, (HAND_JOINTS, 6))], dim=-2)
    local = cont6d_to_matrix(cont6d)
    offsets = torch.as_tensor(REST_DIRECTIONS[num_joints][1:], dtype=features.dtype) * lengths[:, None]
    heading, root = _root_path(features)
    root_rotation = yaw_matrix(heading)
    positions: list[torch.Tensor | None] = [root] + [None] * (num_joints - 1)
    for chain in KINEMATIC_CHAINS[num_joints]:
        rotation = root_rotation
        for parent, joint in zip(chain, chain[1:]):
            rotation = rotation @ local[..., joint - 1, :, :]
            positions[joint] = positions[parent] + (rotation @ offsets[joint - 1, :, None])[..., 0]
    return torch.stack(positions, dim=-2)


# --------------------------------------------------------------------------------------------
# normalisation statistics

def feature_groups(dim: int) -> list[slice]:
    """Column groups that share one std under HumanML3D's convention, for 263, 360 or 623 columns."""
    s = FEATURE_SLICES
    body = [s["root_yaw_velocity"], s["root_xz_velocity"], s["root_height"], s["ric"], s["rotations"],
            s["local_velocity"], s["foot_contacts"]]
    hand = [s["hand_ric"], s["hand_rotations"], s["hand_local_velocity"]]
    if dim == BODY_DIM:
        return body
    if dim == HAND_DIM:
        return [slice(g.start - BODY_DIM, g.stop - BODY_DIM) for g in hand]
    if dim == HOLISTIC_DIM:
        return body + hand
    raise InputError("features", f"no HumanML3D column groups for {dim} columns; expected {BODY_DIM}, {HAND_DIM} or {HOLISTIC_DIM}")


@dataclass(frozen=True)
class FeatureStats:
    """Per-column ``mean`` and ``std`` (float32 [D]) that normalise features: ``(x - mean) / std``.

    Files: HumanML3D's pair ``Mean.npy`` / ``Std.npy`` in one folder (:meth:`save_npy`,
    :meth:`load_npy`), or tensors ``{prefix}mean`` / ``{prefix}std`` for a safetensors file.
    """

    mean: np.ndarray
    std: np.ndarray

    def __post_init__(self):
        mean = np.asarray(self.mean, np.float32).reshape(-1)
        std = np.asarray(self.std, np.float32).reshape(-1)
        if mean.shape != std.shape or mean.size == 0:
            raise InputError("stats", f"mean and std must have the same length, got {mean.shape} and {std.shape}")
        if not (np.isfinite(mean).all() and np.isfinite(std).all() and (std > 0).all()):
            raise InputError("stats", "mean must be finite and std finite and positive")
        object.__setattr__(self, "mean", mean)
        object.__setattr__(self, "std", std)

    @property
    def dim(self) -> int:
        return int(self.mean.shape[0])

    @classmethod
    def compute(cls, features: Sequence, std_floor: float = 0.01, grouped: bool = True) -> "FeatureStats":
        """Statistics over all rows of ``features`` (arrays or tensors [T, D]).

        ``grouped`` gives every column of a feature group (:func:`feature_groups`) the group's mean
        std, as HumanML3D's Mean/Std do; ``std_floor`` keeps near-constant columns from blowing up.
        """
        arrays = [f.detach().cpu().numpy() if isinstance(f, torch.Tensor) else np.asarray(f) for f in features]
        if not arrays:
            raise InputError("features", "need at least one feature array")
        dim = arrays[0].shape[-1] if arrays[0].ndim == 2 else None
        for k, a in enumerate(arrays):
            if a.ndim != 2 or a.shape[1] != dim or a.shape[0] < 1:
                raise InputError("features", f"array {k} has shape {list(a.shape)}; expected [T>=1, {dim}] like the first")
            if not np.isfinite(a).all():
                raise InputError("features", f"array {k} contains NaN or infinite values")
        data = np.concatenate(arrays).astype(np.float64)
        mean, std = data.mean(0), data.std(0)
        if grouped:
            for group in feature_groups(dim):
                std[group] = std[group].mean()
        return cls(mean, np.maximum(std, std_floor))

    def save_npy(self, folder: str) -> tuple[str, str]:
        os.makedirs(folder, exist_ok=True)
        paths = os.path.join(folder, "Mean.npy"), os.path.join(folder, "Std.npy")
        np.save(paths[0], self.mean)
        np.save(paths[1], self.std)
        return paths

    @classmethod
    def load_npy(cls, folder: str, dim: int | None = None) -> "FeatureStats":
        arrays = []
        for name in ("Mean.npy", "Std.npy"):
            path = os.path.join(folder, name)
            if not os.path.isfile(path):
                raise ModelFileError(f"feature statistics: file not found: {path!r} (expected HumanML3D's Mean.npy and Std.npy)")
            try:
                arrays.append(np.load(path, allow_pickle=False))
            except ValueError as error:
                raise ModelFileError(f"feature statistics: {path} is not a numpy array file: {error}") from error
        try:
            stats = cls(*arrays)
        except InputError as error:
            raise ModelFileError(f"feature statistics in {folder}: {error}") from error
        if dim is not None and stats.dim != dim:
            raise ModelFileError(f"feature statistics in {folder} have {stats.dim} columns; expected {dim}")
        return stats

    def to_tensors(self, prefix: str = "") -> dict[str, torch.Tensor]:
        return {f"{prefix}mean": torch.from_numpy(self.mean.copy()), f"{prefix}std": torch.from_numpy(self.std.copy())}

    @classmethod
    def from_tensors(cls, tensors: dict, prefix: str = "") -> "FeatureStats":
        missing = [k for k in (f"{prefix}mean", f"{prefix}std") if k not in tensors]
        if missing:
            raise ModelFileError(f"feature statistics: tensors {missing} are missing")
        return cls(*(np.asarray(tensors[f"{prefix}{k}"].detach().cpu().float()) for k in ("mean", "std")))

    def _like(self, x):
        if isinstance(x, torch.Tensor):
            return torch.from_numpy(self.mean).to(x), torch.from_numpy(self.std).to(x)
        return self.mean, self.std

    def _check(self, x) -> None:
        _check_dim(x, (self.dim,))

    def normalize(self, features):
        """(features - mean) / std over the last axis; numpy or torch (differentiable)."""
        self._check(features)
        mean, std = self._like(features)
        return (features - mean) / std

    def denormalize(self, features):
        self._check(features)
        mean, std = self._like(features)
        return features * std + mean
