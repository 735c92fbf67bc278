"""Hand-built smpl_22 motions for the fact finders' tests: a stick figure, metres, y up, facing +z, its
left side towards +x (the HumanML3D frame), and the moves each fact kind describes."""

from __future__ import annotations

import numpy as np
from posemotion.models.core.layouts import OPENPOSE_18, SMPL_22
from posemotion.models.motion.rigs import rig_to_openpose_18
from posemotion.models.render.camera import facing_yaw_degrees, project_to_image

FPS = 30.0
J = {name: index for index, name in enumerate(SMPL_22)}
REST = np.array([
    (0.0, 0.95, 0.0), (0.09, 0.88, 0.0), (-0.09, 0.88, 0.0), (0.0, 1.05, 0.0),        # pelvis, hips, spine1
    (0.1, 0.50, 0.02), (-0.1, 0.50, 0.02), (0.0, 1.18, 0.0),                          # knees, spine2
    (0.1, 0.08, 0.0), (-0.1, 0.08, 0.0), (0.0, 1.30, 0.0),                            # ankles, spine3
    (0.1, 0.02, 0.12), (-0.1, 0.02, 0.12), (0.0, 1.50, 0.0),                          # feet, neck
    (0.07, 1.42, 0.0), (-0.07, 1.42, 0.0), (0.0, 1.62, 0.02),                         # collars, head
    (0.18, 1.42, 0.0), (-0.18, 1.42, 0.0), (0.20, 1.15, 0.0), (-0.20, 1.15, 0.0),     # shoulders, elbows
    (0.21, 0.90, 0.03), (-0.21, 0.90, 0.03),                                          # wrists
])
UPPER = [J[n] for n in ("pelvis", "left_hip", "right_hip", "spine1", "spine2", "spine3", "neck", "left_collar",
                        "right_collar", "head", "left_shoulder", "right_shoulder", "left_elbow", "right_elbow",
                        "left_wrist", "right_wrist")]


def standing(seconds: float = 2.0) -> np.ndarray:
    return np.repeat(REST[None], int(round(seconds * FPS)), axis=0).copy()


def times(joints: np.ndarray) -> np.ndarray:
    return np.arange(len(joints)) / FPS


def yawed(joints: np.ndarray, degrees) -> np.ndarray:
    """Turn each frame about +y through its pelvis by ``degrees`` (scalar or [T]); positive = to the left."""
    angle = np.radians(np.broadcast_to(np.asarray(degrees, float), (len(joints),)))[:, None]
    centre = joints[:, :1] * np.array([1.0, 0.0, 1.0])
    rel = joints - centre
    x, z = rel[..., 0], rel[..., 2]
    # +z (facing) towards +x (the left): counter-clockwise seen from above
    out = np.stack([x * np.cos(angle) + z * np.sin(angle), rel[..., 1], -x * np.sin(angle) + z * np.cos(angle)], -1)
    return out + centre


def translated(joints: np.ndarray, velocity) -> np.ndarray:
    """Move the whole figure at ``velocity`` (m/s, 3 numbers, world frame)."""
    return joints + times(joints)[:, None, None] * np.asarray(velocity, float)


def with_leg_swings(joints: np.ndarray, speed: float, step_seconds: float = 0.5) -> np.ndarray:
    """Feet that alternate: each foot stands while the other swings, so the feet carry the body."""
    out = joints.copy()
    t = times(joints)
    phase = (t / step_seconds) % 2.0
    for side, active in (("left", phase < 1.0), ("right", phase >= 1.0)):
        swing = np.where(active, np.sin(np.pi * (phase % 1.0)), 0.0)
        for joint in (f"{side}_ankle", f"{side}_foot", f"{side}_knee"):
            out[:, J[joint], 1] += 0.08 * swing * (1.0 if joint != f"{side}_knee" else 0.5)
    return out


def walking(seconds: float = 3.0, speed: float = 1.0, step_seconds: float = 0.3) -> np.ndarray:
    """A walk along +z (forward) with planted feet: each foot stands while the other swings past it."""
    joints = translated(standing(seconds), (0.0, 0.0, speed))
    t = times(joints)
    stride = 2 * speed * step_seconds
    for index, side in enumerate(("left", "right")):
        phase = (t / step_seconds - index) / 2.0           # the left foot swings first, then the right
        cycle, within = np.floor(phase), phase % 1.0
        swing = np.clip(within * 2.0, 0.0, 1.0)             # first half of its cycle: swinging
        z = stride * (cycle + swing) - stride / 2 * index
        z = np.maximum(z, 0.0 if index == 0 else -stride / 2)
        lift = np.where(within < 0.5, 0.08 * np.sin(np.pi * swing), 0.0)
        for joint in (f"{side}_ankle", f"{side}_foot"):
            joints[:, J[joint], 2] = REST[J[joint], 2] + z
            joints[:, J[joint], 1] = REST[J[joint], 1] + lift
        hip = joints[:, J[f"{side}_hip"]]
        ankle = joints[:, J[f"{side}_ankle"]]
        joints[:, J[f"{side}_knee"]] = 0.5 * (hip + ankle) + np.array([0.0, 0.0, 0.05])
    return joints


def waving(side: str = "right", seconds: float = 2.0, amplitude: float = 0.15, hertz: float = 1.5) -> np.ndarray:
    """The ``side`` hand held above the shoulder, moving side to side."""
    joints = standing(seconds)
    sign = 1.0 if side == "left" else -1.0
    shoulder = REST[J[f"{side}_shoulder"]]
    lateral = amplitude * np.sin(2 * np.pi * hertz * times(joints))
    joints[:, J[f"{side}_elbow"]] = shoulder + np.array([sign * 0.25, 0.05, 0.05])
    joints[:, J[f"{side}_wrist"]] = shoulder + np.array([sign * 0.25, 0.15, 0.08])
    joints[:, J[f"{side}_wrist"], 0] += lateral
    return joints


def arms_up(sides=("left", "right"), seconds: float = 2.0, height: float = 0.45) -> np.ndarray:
    """Wrists ``height`` above the shoulders (0.45: above the head) from 0.5 s to 1.5 s."""
    joints = standing(seconds)
    up = (times(joints) >= 0.5) & (times(joints) < 1.5)
    for side in sides:
        shoulder = REST[J[f"{side}_shoulder"]]
        joints[up, J[f"{side}_elbow"]] = shoulder + np.array([0.0, 0.25, 0.0])
        joints[up, J[f"{side}_wrist"]] = shoulder + np.array([0.0, height, 0.02])
    return joints


def clapping(seconds: float = 2.0) -> np.ndarray:
    """Hands in front of the chest, apart (0.5 m) and together (0.04 m) once a second."""
    joints = standing(seconds)
    gap = 0.04 + 0.46 * 0.5 * (1 + np.cos(2 * np.pi * times(joints)))
    for side, sign in (("left", 1.0), ("right", -1.0)):
        joints[:, J[f"{side}_elbow"]] = REST[J[f"{side}_shoulder"]] + np.array([0.05 * sign, -0.2, 0.2])
        joints[:, J[f"{side}_wrist"]] = np.array([0.0, 1.25, 0.35]) + np.array([sign, 0, 0]) * (gap / 2)[:, None]
    return joints


def jumping(seconds: float = 2.0, height: float = 0.3) -> np.ndarray:
    """A vertical jump: the whole body leaves the floor from 0.8 s to 1.3 s (a parabola)."""
    joints = standing(seconds)
    t = times(joints)
    flight = (t >= 0.8) & (t <= 1.3)
    lift = np.where(flight, 4 * height * (t - 0.8) * (1.3 - t) / 0.25, 0.0)
    joints[..., 1] += lift[:, None]
    return joints


def lowered(depth: float, seconds: float = 2.0) -> np.ndarray:
    """Hips and upper body lowered by ``depth`` from 0.5 s to 1.5 s, knees bent forward (bone lengths kept)."""
    joints = standing(seconds)
    down = (times(joints) >= 0.5) & (times(joints) < 1.5)
    joints[np.ix_(down, UPPER)] -= np.array([0.0, depth, 0.0])
    for side in ("left", "right"):
        hip, ankle = joints[down, J[f"{side}_hip"]], joints[down, J[f"{side}_ankle"]]
        thigh, shin = 0.38, 0.42
        span = np.linalg.norm(hip - ankle, axis=-1, keepdims=True)
        along = (thigh ** 2 - shin ** 2 + span ** 2) / (2 * span)
        out = np.sqrt(np.maximum(thigh ** 2 - along ** 2, 0.0))
        direction = (ankle - hip) / span
        joints[down, J[f"{side}_knee"]] = hip + along * direction + out * np.array([0.0, 0.0, 1.0])
    return joints


def kneeling(seconds: float = 2.0) -> np.ndarray:
    """Down on the right knee from 0.5 s to 1.5 s: knee on the floor, shin behind, hips above the knee."""
    joints = lowered(0.45, seconds)
    down = (times(joints) >= 0.5) & (times(joints) < 1.5)
    joints[down, J["right_knee"]] = (-0.1, 0.05, 0.0)
    joints[down, J["right_ankle"]] = (-0.1, 0.08, -0.4)
    joints[down, J["right_foot"]] = (-0.1, 0.02, -0.48)
    joints[np.ix_(down, [J["left_knee"]])] = (0.1, 0.45, 0.35)
    joints[down, J["left_ankle"]] = (0.1, 0.08, 0.35)
    joints[down, J["left_foot"]] = (0.1, 0.02, 0.47)
    return joints


def sitting(seconds: float = 2.0) -> np.ndarray:
    """Seated on a chair from 0.5 s to 1.5 s: thighs horizontal forward, shins vertical, torso upright."""
    joints = standing(seconds)
    down = (times(joints) >= 0.5) & (times(joints) < 1.5)
    joints[np.ix_(down, UPPER)] += np.array([0.0, 0.5 - 0.95, -0.38])
    for side, x in (("left", 0.1), ("right", -0.1)):
        joints[down, J[f"{side}_knee"]] = (x, 0.5, 0.0)
        joints[down, J[f"{side}_ankle"]] = (x, 0.08, 0.0)
        joints[down, J[f"{side}_foot"]] = (x, 0.02, 0.12)
    return joints


def lying(seconds: float = 2.0) -> np.ndarray:
    """Lying face down, head towards +z, for the whole clip."""
    joints = standing(seconds)
    y, z = joints[..., 1].copy(), joints[..., 2].copy()
    joints[..., 1], joints[..., 2] = 0.1 - z, y
    return joints


def kicking(side: str = "right", seconds: float = 2.0) -> np.ndarray:
    """The ``side`` foot swings forward and up (ankle 0.58 m above the floor) within 0.2 s at 1.0 s, and back."""
    joints = standing(seconds)
    t = times(joints)
    reach = np.clip(1.0 - np.abs(t - 1.0) / 0.2, 0.0, 1.0)[:, None]
    hip = REST[J[f"{side}_hip"]]
    ankle_up = hip + np.array([0.0, -0.3, 0.74])
    for joint, target in ((f"{side}_ankle", ankle_up), (f"{side}_foot", ankle_up + np.array([0.0, 0.05, 0.1])),
                          (f"{side}_knee", hip + np.array([0.0, -0.13, 0.37]))):
        joints[:, J[joint]] = (1 - reach) * REST[J[joint]] + reach * target
    return joints


def stepping(sides=("right",), seconds: float = 3.0, distance: float = 0.3) -> np.ndarray:
    """Each foot of ``sides`` in turn lifts, moves ``distance`` outwards and lands (0.5 s per step)."""
    joints = standing(seconds)
    t = times(joints)
    for index, side in enumerate(sides):
        sign = 1.0 if side == "left" else -1.0
        start = 0.5 + 1.0 * index
        progress = np.clip((t - start) / 0.5, 0.0, 1.0)
        lift = 0.1 * np.sin(np.pi * progress)
        for joint in (f"{side}_ankle", f"{side}_foot", f"{side}_knee"):
            joints[:, J[joint], 0] += sign * distance * progress * (1.0 if joint != f"{side}_knee" else 0.5)
            joints[:, J[joint], 1] += lift
    return joints


def swinging_arms(seconds: float = 2.0, opposite: bool = True, amplitude: float = 0.2) -> np.ndarray:
    """Wrists swinging forward and back at 1 Hz, in opposite phase (walking) or together."""
    joints = standing(seconds)
    swing = amplitude * np.sin(2 * np.pi * times(joints))
    joints[:, J["left_wrist"], 2] += swing
    joints[:, J["right_wrist"], 2] += -swing if opposite else swing
    joints[:, J["left_elbow"], 2] += swing / 2
    joints[:, J["right_elbow"], 2] += (-swing if opposite else swing) / 2
    return joints


def arm_out(side: str = "left", seconds: float = 2.0) -> np.ndarray:
    """The ``side`` arm held straight out sideways (upper arm horizontal) for the whole clip."""
    joints = standing(seconds)
    sign = 1.0 if side == "left" else -1.0
    shoulder = REST[J[f"{side}_shoulder"]]
    joints[:, J[f"{side}_elbow"]] = shoulder + np.array([sign * 0.27, 0.0, 0.0])
    joints[:, J[f"{side}_wrist"]] = shoulder + np.array([sign * 0.52, 0.0, 0.0])
    return joints


def projected(joints: np.ndarray, view_degrees: float = 0.0, aspect=(640, 480)):
    """OpenPose-18 (xy [T, 18, 2], visible [T, 18], aspect) of a smpl_22 motion seen by a fixed camera at
    ``view_degrees`` from the body's first-frame facing (0 front, 90 its left side)."""
    points, valid = rig_to_openpose_18(joints, SMPL_22)
    yaw = facing_yaw_degrees(joints[:1], "smpl_22") + view_degrees
    xy, visible = project_to_image(points, valid, yaw_degrees=yaw, aspect=aspect)
    assert xy.shape[1] == len(OPENPOSE_18)
    return xy, visible, aspect[0] / aspect[1]
