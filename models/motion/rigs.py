"""Source rigs (CMU ASF, MocapBank BVH, Mixamo BVH, DeepMimic, SMPL-named BVH) and their OpenPose-18 body.

:data:`RIGS` maps each OpenPose-18 joint to one source joint name, or to a tuple of names whose
positions are averaged; :func:`detect_rig` picks the rig whose joints are all present and
:func:`rig_to_openpose_18` maps a clip's joints onto the OpenPose-18 body (world space, metres).
"""

from __future__ import annotations

from typing import Iterable, Sequence

import numpy as np

from ..core.errors import InputError
from ..core.layouts import OPENPOSE_18


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
    "deepmimic": {
        # DeepMimic's humanoid.urdf (deepmimic.py): "neck" is the neck base between the shoulders;
        # no face points, the head sphere's centre stands in for the nose.
        "nose": "head_center", "neck": "neck",
        "right_shoulder": "right_shoulder", "right_elbow": "right_elbow", "right_wrist": "right_wrist",
        "left_shoulder": "left_shoulder", "left_elbow": "left_elbow", "left_wrist": "left_wrist",
        "right_hip": "right_hip", "right_knee": "right_knee", "right_ankle": "right_ankle",
        "left_hip": "left_hip", "left_knee": "left_knee", "left_ankle": "left_ankle",
    },
    "smpl": {
        # SMPL joint names, as bvh.write_bvh writes them; the head joint stands in for the nose.
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
    for rig, pool in (("mixamo_bvh", plain), ("cmu_asf", exact), ("mocapbank_bvh", exact), ("deepmimic", exact),
                      ("smpl", exact)):
        if _rig_sources(RIGS[rig]) <= pool:
            return rig
    raise InputError("joint_names", f"unknown skeleton; none of {sorted(RIGS)} matches joints {names[:8]}...")


def rig_to_openpose_18(
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

