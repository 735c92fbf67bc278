"""Facts found in a 3D motion: ``find_facts_3d(joints, fps) -> list[Fact]`` (``facts.py`` defines Fact).

Input: joints ``[T, 22 | 52, 3]`` (numpy or torch) in ``smpl_22`` order (the first 22 of
``smpl_52``), metres, y up, any facing and placement; ``fps`` > 0; at least ``MIN_SECONDS`` of frames.
The floor is the lowest joint of the clip. The facing is ``up x across`` with ``across = (right hip -
left hip) + (right shoulder - left shoulder)``, smoothed; "left" is ``up x facing``; the heading
(yaw of the facing about +y) grows when the body turns left (counter-clockwise seen from above).
``leg`` = median hip-knee-ankle length; heights that depend on the body are fractions of it.

Positions are used as measured; rates (speeds, the heading's rate) come from positions smoothed with a
Gaussian of SMOOTH_SECONDS 0.1 s. Facts are derived from the motion with these thresholds (module constants):

============  ==========================================  ===================================  =====================
kind          signal                                      threshold                            why
============  ==========================================  ===================================  =====================
walk / run    pelvis horizontal speed; direction = the    >= WALK_SPEED 0.3 m/s for >= 0.5 s,  standing sway < 0.1
              sector of its angle in the facing frame     net travel >= WALK_DISTANCE 0.5 m,   m/s; a lunge or a
              (forward within +-45 deg, backward beyond   feet moving in >= 30 % of frames;    two-footed jump is
              +-135, else left / right); run: mean        near a jump the feet must alternate  no walk; jogging is
              speed >= RUN_SPEED 2 m/s                    (ALTERNATION 0.5)                    > 2 m/s
turn          heading rate                                > TURN_RATE 30 deg/s, widened while  slow drift and hip
                                                          > 10 deg/s; amount >= 45 deg,        twist stay below
                                                          rounded to TURN_ROUND 5 deg          45 deg
stand_still   pelvis and feet speeds, heading rate,       < STILL_SPEED 0.15 m/s, feet < 0.3   upright, not
              pelvis height                               m/s, < 30 deg/s, pelvis >= 0.85      travelling or
                                                          leg, for >= STILL_SECONDS 1 s        turning
jump          both feet (lower of ankle and toe) above    > JUMP_CLEARANCE 0.08 m for >= 0.1   standing feet stay
              the floor; pelvis peak; take-off            s, pelvis peak >= 1.0 leg; not a     within 0.03 m;
                                                          flight from one foot (no two-footed  a run's flights
                                                          stance in TAKEOFF_SECONDS 0.2 s)     are 0.2 s long
                                                          at >= RUN_SPEED (a running stride)
crouch        pelvis height / leg                         < CROUCH_RATIO 0.8 for >= 0.25 s,    a jump's take-off
                                                          no knee down, not sit / lie          dip stays > 0.85
kneel         a knee above the floor                      < KNEE_FLOOR 0.12 m for >= 0.25 s    a knee on the floor
sit           pelvis / leg, thigh tilt, pelvis behind     pelvis < 0.8 leg, a thigh > 55 deg   a chair carries the
              the ankles (facing frame), torso tilt       from vertical, behind > 0.35 leg,    weight; or the
                                                          torso < 45 deg; or pelvis < 0.35     floor
                                                          leg, torso < 45 deg; >= 0.5 s
lie           torso (pelvis-neck) tilt, pelvis and neck   > LIE_DEGREES 60 deg, both < 0.5     torso near
              heights                                     leg, >= 0.5 s                        horizontal and low
raise_arm     wrist above the shoulder (detail            > RAISE_MARGIN 0.05 m for >= 0.3 s   hanging arms: wrist
              "above_head": above the head joint)         (above the head for >= 0.2 s)        > 0.3 m below
wave          wrist's sideways position relative to its   >= 2 reversals of >= WAVE_AMPLITUDE  side to side; arm
              shoulder (facing frame)                     0.1 m, <= 1 s apart; wrist >         swing and jitter
                                                          shoulder - 0.1 m in >= 40 % of it    are no wave
clap          distance between the wrists                 < CLAP_MEET 0.12 m within 1 s after  hands meet after
                                                          > CLAP_APART 0.3 m                   being apart
kick          ankle ahead of or beside the pelvis         > 0.45 leg out, > 0.28 leg up,       a walking step
              (facing frame) and above the floor; its     >= KICK_SPEED 1.5 m/s, other foot    reaches < 0.4 leg
              horizontal speed; the other foot            < 0.12 m up                          ahead, at the floor
step          a foot lifts (> 0.05 m up or moving >       lands >= STEP_DISTANCE 0.1 m away,   stepping in place
              0.3 m/s) and lands displaced, the other     outside walk / run / jump; steps     or aside, not
              foot on the floor                           <= 1 s apart are one fact            walking
swing_arms    wrists' forward position relative to the    rolling 1 s correlation <= -0.5,     walking arms; a big
              pelvis, detrended (side "both"); or one     std >= 0.03 m each, wrists below     fast swing of one
              wrist relative to its shoulder (its side)   the shoulders, >= 0.5 s; or out and  arm (raising one
                                                          back >= ARM_SWING_ARC 0.4 m along    slowly is not)
                                                          an axis at >= 1.2 m/s
pose          pose-code categories (tokenizers/           active >= POSE_SECONDS 1 s; only     salient, and none
              posecodes.py) on the joints turned to       POSE_CATEGORIES                      holds in a neutral
              face +z frame by frame                                                           standing pose
============  ==========================================  ===================================  =====================
"""

from __future__ import annotations

import numpy as np
import torch

from ..core.errors import InputError
from ..core.layouts import SMPL_22
from .facts import MIN_SECONDS, Fact
from .signals import (
    big_swings,
    feet_walk,
    grouped_by_side,
    oscillation_spans,
    overlap,
    raises_and_waves,
    rolling_anticorrelation,
    runs,
    segments,
    sides_from_spans,
    smooth,
    span_mask,
    velocity,
    widen,
)

# joints (smpl_22)
PELVIS, L_HIP, R_HIP, L_KNEE, R_KNEE, L_ANKLE, R_ANKLE, L_FOOT, R_FOOT = (SMPL_22.index(name) for name in (
    "pelvis", "left_hip", "right_hip", "left_knee", "right_knee", "left_ankle", "right_ankle", "left_foot",
    "right_foot"))
NECK, HEAD, L_SHOULDER, R_SHOULDER, L_WRIST, R_WRIST = (SMPL_22.index(name) for name in (
    "neck", "head", "left_shoulder", "right_shoulder", "left_wrist", "right_wrist"))

SMOOTH_SECONDS = 0.1        # Gaussian sigma for positions and facing before rates are taken
WALK_SPEED = 0.3            # m/s: pelvis speed above which the body travels
WALK_DISTANCE = 0.5         # m: the least net travel of a walk
RUN_SPEED = 2.0             # m/s: mean speed of a run
ALTERNATION = 0.5           # share of foot-moving frames with one foot moving (walk ~0.8, jump ~0.1)
FOOT_MOVING = 0.4           # m/s: a foot's horizontal speed while it swings
LOCOMOTION_GAP = 0.25       # s: pauses this short do not split a walk
TURN_RATE = 30.0            # deg/s: heading rate that starts a turn
TURN_RATE_LOW = 10.0        # deg/s: a turn extends while the rate stays above this
TURN_MIN_DEGREES = 45.0     # smallest reported turn
TURN_ROUND = 5.0            # degrees: amounts are rounded to this
STILL_SPEED = 0.15          # m/s: pelvis speed of standing still
STILL_FOOT_SPEED = 0.3      # m/s
STILL_SECONDS = 1.0
STANDING_RATIO = 0.85       # pelvis height / leg of an upright body
JUMP_CLEARANCE = 0.08       # m: both feet this far above the floor are in the air
JUMP_SECONDS = 0.1
JUMP_PEAK_RATIO = 1.0       # pelvis / leg at the jump's peak
CROUCH_RATIO = 0.8          # pelvis / leg below this: crouching
KNEE_FLOOR = 0.12           # m: a knee this close to the floor is down
ROOT_EVENT_SECONDS = 0.25   # shortest crouch / kneel
SIT_THIGH_DEGREES = 55.0
SIT_BEHIND = 0.35           # pelvis behind the ankles, in legs
SIT_FLOOR_RATIO = 0.35      # pelvis / leg of sitting on the floor
UPRIGHT_DEGREES = 45.0
LIE_DEGREES = 60.0
LIE_RATIO = 0.5             # pelvis and neck below this many legs
FEET_MOVING_SHARE = 0.3     # a walk moves the feet in at least this share of its frames
TAKEOFF_SECONDS = 0.2       # s before a flight: a jump takes off from both feet, a running stride from one
JUMP_MARGIN = 0.3           # s around a jump where travel is checked for alternating feet
HELD_SECONDS = 0.5          # shortest sit / lie
RAISE_MARGIN = 0.05         # m above the shoulder (or the head)
RAISE_SECONDS = 0.3
ABOVE_HEAD_SECONDS = 0.2
WAVE_BELOW_SHOULDER = 0.1   # m: a waving wrist is at most this far below its shoulder ...
WAVE_NEAR_SHARE = 0.4       # ... in at least this share of the wave (arms flapped up and down pass below it)
WAVE_AMPLITUDE = 0.1        # m: each side-to-side move
WAVE_REVERSALS = 2
WAVE_HALF_PERIOD = 1.0      # s: longest time between reversals
CLAP_MEET = 0.12            # m between the wrists
CLAP_APART = 0.3
CLAP_WINDOW = 1.0           # s: apart this recently before meeting; claps this close are one fact
KICK_REACH = 0.45           # legs ahead of or beside the pelvis
KICK_HEIGHT = 0.28          # legs above the floor
KICK_SPEED = 1.5            # m/s horizontally, relative to the pelvis
KICK_OTHER_FOOT = 0.12      # m: the standing foot stays this low
STEP_LIFT = 0.05            # m above the floor, or moving faster than STILL_FOOT_SPEED
STEP_DISTANCE = 0.1         # m between lift-off and landing
STEP_GROUP = 1.0            # s between steps of one fact
STEP_MAX_SECONDS = 1.5      # a longer swing is not a step
SWING_WINDOW = 1.0          # s: rolling window of the arm-swing correlation
SWING_CORRELATION = -0.5
SWING_STD = 0.03            # m: each wrist's forward-back spread in the window
ARM_SWING_ARC = 0.4         # m: a single big swing of one arm: out and back along one axis ...
ARM_SWING_SPEED = 1.2       # m/s: ... fast (raising an arm slowly is not a swing)
POSE_SECONDS = 1.0
# Salient pose-code categories (tokenizers/posecodes.py), none active in a neutral standing pose. Each is
# measured here exactly as pose_codes measures it (a test checks they agree): (name, kind, joint a, joint b).
# "vertical_axis": the a->b segment more than POSE_TILT_EDGES from the vertical; "sideways": b minus a along
# the subject's left beyond POSE_SIDEWAYS (sign: +1 to the left, -1 to the right).
POSE_TILT_EDGES = (10.0, 80.0)   # degrees: the bins vertical / neither / horizontal
POSE_SIDEWAYS = 0.15             # m: the relative-x bins
POSE_CATEGORIES = (
    ("torso neither vertical nor horizontal", "tilt_mid", PELVIS, NECK),          # leaning or bent over
    ("left thigh horizontal", "tilt_high", L_HIP, L_KNEE),                        # a knee lifted, or sitting
    ("right thigh horizontal", "tilt_high", R_HIP, R_KNEE),
    ("left upper arm horizontal", "tilt_high", L_SHOULDER, 18),                   # an arm held out
    ("right upper arm horizontal", "tilt_high", R_SHOULDER, 19),
    ("left foot to the left of left hip", "left", L_HIP, L_FOOT),                 # a wide stance
    ("right foot to the right of right hip", "right", R_HIP, R_FOOT),
)


def _check(joints, fps) -> np.ndarray:
    if isinstance(joints, torch.Tensor):
        joints = joints.detach().to("cpu", torch.float64).numpy()
    if not isinstance(joints, np.ndarray):
        raise InputError("motion", f"expected joint positions [T, 22 or 52, 3], got {type(joints).__name__}")
    if joints.ndim != 3 or joints.shape[1] not in (22, 52) or joints.shape[2] != 3:
        raise InputError("motion", f"expected smpl_22 / smpl_52 joints [T, 22 or 52, 3], got {list(joints.shape)}")
    if not isinstance(fps, (int, float, np.number)) or isinstance(fps, bool) or not np.isfinite(fps) or fps <= 0:
        raise InputError("fps", f"must be a positive number, got {fps!r}")
    if joints.shape[0] < MIN_SECONDS * fps:
        raise InputError("motion", f"need at least {MIN_SECONDS} s ({int(np.ceil(MIN_SECONDS * fps))} frames at "
                                   f"{fps:g} fps), got {joints.shape[0]} frames")
    joints = joints[:, :22].astype(np.float64)
    if not np.isfinite(joints).all():
        raise InputError("motion", "joint positions contain NaN or infinite values")
    return joints


class _Body:
    """The signals every finder reads, measured once."""

    def __init__(self, joints: np.ndarray, fps: float):
        self.fps, self.frames = fps, len(joints)
        self.raw = self.joints = joints                                        # positions: as measured
        self.smoothed = j = smooth(joints, fps, SMOOTH_SECONDS)                # rates and the facing
        self.height = joints[..., 1] - joints[..., 1].min()                    # [T, 22] above the floor
        legs = (np.linalg.norm(joints[:, [L_HIP, R_HIP]] - joints[:, [L_KNEE, R_KNEE]], axis=-1)
                + np.linalg.norm(joints[:, [L_KNEE, R_KNEE]] - joints[:, [L_ANKLE, R_ANKLE]], axis=-1))
        self.leg = max(float(np.median(legs)), 1e-3)
        across = (j[:, R_HIP] - j[:, L_HIP]) + (j[:, R_SHOULDER] - j[:, L_SHOULDER])
        forward = np.stack([across[:, 2], np.zeros(len(j)), -across[:, 0]], -1)  # up x across
        forward /= np.maximum(np.linalg.norm(forward, axis=-1, keepdims=True), 1e-9)
        self.forward = forward
        self.left = np.stack([forward[:, 2], np.zeros(len(j)), -forward[:, 0]], -1)  # up x forward
        self.heading = np.degrees(np.unwrap(np.arctan2(forward[:, 0], forward[:, 2])))
        self.turn_rate = velocity(self.heading, fps)
        self.pelvis_velocity = velocity(j[:, PELVIS], fps) * np.array([1.0, 0.0, 1.0])
        self.speed = np.linalg.norm(self.pelvis_velocity, axis=-1)
        feet = j[:, [L_ANKLE, R_ANKLE]] * np.array([1.0, 0.0, 1.0])
        self.foot_speed = np.linalg.norm(velocity(feet, fps), axis=-1)        # [T, 2] left, right
        self.foot_height = np.minimum(self.height[:, [L_ANKLE, R_ANKLE]], self.height[:, [L_FOOT, R_FOOT]])
        self.pelvis_ratio = self.height[:, PELVIS] / self.leg

    def facing_coords(self, joint: int, origin: int, smoothed: bool = False) -> tuple[np.ndarray, np.ndarray]:
        """(forward, left) coordinates of ``joint`` relative to ``origin`` in the body's facing frame."""
        j = self.smoothed if smoothed else self.joints
        offset = j[:, joint] - j[:, origin]
        return (offset * self.forward).sum(-1), (offset * self.left).sum(-1)

    def fact(self, kind: str, span: tuple[int, int], **fields) -> Fact:
        return Fact(kind, span[0] / self.fps, span[1] / self.fps, **fields)


def _jumps(body: _Body) -> list[tuple[int, int]]:
    airborne = (body.foot_height > JUMP_CLEARANCE).all(axis=1)
    both_down = (body.foot_height < JUMP_CLEARANCE).all(axis=1)
    before = max(1, int(round(TAKEOFF_SECONDS * body.fps)))
    jumps = []
    for span in segments(airborne, body.fps, JUMP_SECONDS):
        if body.pelvis_ratio[span[0]:span[1]].max() < JUMP_PEAK_RATIO:
            continue
        one_footed = not both_down[max(0, span[0] - before):span[0]].any()
        if one_footed and body.speed[span[0]:span[1]].mean() >= RUN_SPEED:
            continue  # the flight of a running stride: taken off from one foot at running speed
        jumps.append(span)
    return jumps


def _locomotion(body: _Body, jump_mask: np.ndarray) -> list[Fact]:
    fwd = (body.pelvis_velocity * body.forward).sum(-1)
    side = (body.pelvis_velocity * body.left).sum(-1)
    angle = np.degrees(np.arctan2(side, fwd))
    moving = body.speed >= WALK_SPEED
    sectors = {"forward": np.abs(angle) <= 45, "backward": np.abs(angle) >= 135,
               "left": (angle > 45) & (angle < 135), "right": (angle < -45) & (angle > -135)}
    margin = int(round(JUMP_MARGIN * body.fps))
    facts = []
    for direction, sector in sectors.items():
        for span in segments(moving & sector, body.fps, MIN_SECONDS, LOCOMOTION_GAP):
            travel = body.joints[span[1] - 1, PELVIS, [0, 2]] - body.joints[span[0], PELVIS, [0, 2]]
            if np.linalg.norm(travel) < WALK_DISTANCE:
                continue  # a lunge or a shift of weight, not a walk
            if not feet_walk(body.foot_speed[span[0]:span[1]], FOOT_MOVING, FEET_MOVING_SHARE,
                             overlap(widen(span, body.frames, margin), jump_mask) > 0, ALTERNATION):
                continue  # the feet do not carry the body: standing up, or jumping along
            kind = "run" if body.speed[span[0]:span[1]].mean() >= RUN_SPEED else "walk"
            facts.append(body.fact(kind, span, direction=direction))
    return facts


def _turns(body: _Body) -> list[Fact]:
    facts = []
    for sign, direction in ((1.0, "left"), (-1.0, "right")):
        rate = sign * body.turn_rate
        low = rate > TURN_RATE_LOW
        for start, end in segments(rate > TURN_RATE, body.fps, 0.0, LOCOMOTION_GAP):
            while start > 0 and low[start - 1]:
                start -= 1
            while end < body.frames and low[end]:
                end += 1
            amount = sign * (body.heading[end - 1] - body.heading[start])
            if amount >= TURN_MIN_DEGREES and not any(f.start <= start / body.fps < f.end for f in facts):
                rounded = TURN_ROUND * round(amount / TURN_ROUND)
                facts.append(body.fact("turn", (start, end), direction=direction, amount=float(rounded)))
    return facts


def _stand_still(body: _Body) -> list[Fact]:
    still = ((body.speed < STILL_SPEED) & (body.foot_speed < STILL_FOOT_SPEED).all(axis=1)
             & (np.abs(body.turn_rate) < TURN_RATE) & (body.pelvis_ratio >= STANDING_RATIO))
    return [body.fact("stand_still", span) for span in segments(still, body.fps, STILL_SECONDS)]


def _root_events(body: _Body, jumps: list[tuple[int, int]]) -> list[Fact]:
    fps, h = body.fps, body.height
    knee_down = (h[:, [L_KNEE, R_KNEE]] < KNEE_FLOOR).any(axis=1)
    torso = body.joints[:, NECK] - body.joints[:, PELVIS]
    torso_tilt = np.degrees(np.arccos(np.clip(torso[:, 1] / np.maximum(np.linalg.norm(torso, axis=-1), 1e-9), -1, 1)))
    thighs = body.joints[:, [L_KNEE, R_KNEE]] - body.joints[:, [L_HIP, R_HIP]]
    thigh_tilt = np.degrees(np.arccos(np.clip(-thighs[..., 1] / np.maximum(np.linalg.norm(thighs, axis=-1), 1e-9),
                                              -1, 1))).min(axis=1)
    ankles = 0.5 * (body.joints[:, L_ANKLE] + body.joints[:, R_ANKLE]) - body.joints[:, PELVIS]
    behind = (ankles * body.forward).sum(-1) / body.leg
    lie = (torso_tilt > LIE_DEGREES) & (body.pelvis_ratio < LIE_RATIO) & (h[:, NECK] < LIE_RATIO * body.leg)
    sit = ~lie & ~knee_down & (((body.pelvis_ratio < CROUCH_RATIO) & (thigh_tilt > SIT_THIGH_DEGREES)
                                & (behind > SIT_BEHIND) & (torso_tilt < UPRIGHT_DEGREES))
                               | ((body.pelvis_ratio < SIT_FLOOR_RATIO) & (torso_tilt < UPRIGHT_DEGREES)))
    kneel = knee_down & ~lie
    crouch = (body.pelvis_ratio < CROUCH_RATIO) & ~knee_down & ~sit & ~lie
    facts = [body.fact("jump", widen(span, body.frames, 1)) for span in jumps]
    for kind, mask, seconds in (("lie", lie, HELD_SECONDS), ("sit", sit, HELD_SECONDS),
                                ("kneel", kneel, ROOT_EVENT_SECONDS), ("crouch", crouch, ROOT_EVENT_SECONDS)):
        facts += [body.fact(kind, span) for span in segments(mask, fps, seconds, 0.1)]
    return facts


def _arm_facts(body: _Body) -> list[Fact]:
    h, fps, frames = body.height, body.fps, body.frames
    raised, high, waving = {}, {}, {}
    for side, wrist, shoulder in (("left", L_WRIST, L_SHOULDER), ("right", R_WRIST, R_SHOULDER)):
        raised[side] = h[:, wrist] > h[:, shoulder] + RAISE_MARGIN
        high[side] = h[:, wrist] > h[:, HEAD] + RAISE_MARGIN
        near = h[:, wrist] > h[:, shoulder] - WAVE_BELOW_SHOULDER
        _, sideways = body.facing_coords(wrist, shoulder)
        waving[side] = [span for span in oscillation_spans(sideways, np.ones(frames, bool), fps,
                                                           WAVE_AMPLITUDE, WAVE_REVERSALS, WAVE_HALF_PERIOD)
                        if overlap(span, near) >= WAVE_NEAR_SHARE]
    facts = [body.fact(kind, span, side=side, detail=detail) for kind, span, side, detail in
             raises_and_waves(raised, high, waving, fps, RAISE_SECONDS, ABOVE_HEAD_SECONDS)]
    return facts + _claps(body) + _arm_swings(body)


def _claps(body: _Body) -> list[Fact]:
    fps = body.fps
    distance = np.linalg.norm(body.joints[:, L_WRIST] - body.joints[:, R_WRIST], axis=-1)
    apart_frames = np.flatnonzero(distance > CLAP_APART)
    window = int(round(CLAP_WINDOW * fps))
    events = []
    for start, end in runs(distance < CLAP_MEET):
        before = apart_frames[(apart_frames < start) & (apart_frames >= start - window)]
        if len(before):
            events.append((int(before[-1]), end))
    grouped: list[tuple[int, int]] = []
    for start, end in events:
        if grouped and (start - grouped[-1][1]) <= window:
            grouped[-1] = (grouped[-1][0], end)
        else:
            grouped.append((start, end))
    return [body.fact("clap", span) for span in grouped]


def _arm_swings(body: _Body) -> list[Fact]:
    left_fwd, _ = body.facing_coords(L_WRIST, PELVIS)
    right_fwd, _ = body.facing_coords(R_WRIST, PELVIS)
    corr, std_l, std_r = rolling_anticorrelation(left_fwd, right_fwd, int(round(SWING_WINDOW * body.fps)))
    h = body.height
    low = (h[:, L_WRIST] < h[:, L_SHOULDER]) & (h[:, R_WRIST] < h[:, R_SHOULDER])
    swinging = (corr <= SWING_CORRELATION) & (std_l >= SWING_STD) & (std_r >= SWING_STD) & low
    walking_swings = segments(swinging, body.fps, MIN_SECONDS, 0.2)
    j = body.smoothed
    big = {side: big_swings(j[:, wrist] - j[:, shoulder], body.fps, ARM_SWING_ARC, ARM_SWING_SPEED)
           for side, wrist, shoulder in (("left", L_WRIST, L_SHOULDER), ("right", R_WRIST, R_SHOULDER))}
    facts = [body.fact("swing_arms", span, side="both") for span in walking_swings]
    walking = span_mask(walking_swings, body.frames)
    facts += [body.fact("swing_arms", span, side=side) for side, span in sides_from_spans(big["left"], big["right"],
                                                                                          body.frames)
              if overlap(span, walking) < 0.5]
    return facts


def _kicks(body: _Body) -> list[Fact]:
    facts = []
    pad = max(1, int(round(0.1 * body.fps)))
    for side, ankle, other in (("left", L_ANKLE, 1), ("right", R_ANKLE, 0)):
        ahead, aside = body.facing_coords(ankle, PELVIS)
        reach = np.hypot(np.maximum(ahead, 0.0), aside)  # forward or sideways; a run's heel flicks up behind
        smooth_ahead, smooth_aside = body.facing_coords(ankle, PELVIS, smoothed=True)
        speed = np.hypot(velocity(smooth_ahead, body.fps), velocity(smooth_aside, body.fps))
        up = body.height[:, ankle] > KICK_HEIGHT * body.leg
        kicking = (reach > KICK_REACH * body.leg) & up & (body.foot_height[:, other] < KICK_OTHER_FOOT)
        for span in runs(kicking):
            lo = max(0, span[0] - pad * 3)
            if speed[lo:span[1]].max() >= KICK_SPEED:
                facts.append(body.fact("kick", widen(span, body.frames, pad), side=side))
    return facts


def _steps(body: _Body, travel_mask: np.ndarray, jump_mask: np.ndarray) -> list[Fact]:
    fps = body.fps
    lifted = (body.foot_height > STEP_LIFT) | (body.foot_speed > STILL_FOOT_SPEED)
    feet = body.joints[:, [L_ANKLE, R_ANKLE]][..., [0, 2]]
    steps = []
    for index, side in enumerate(("left", "right")):
        for start, end in runs(lifted[:, index]):
            lift, land = max(start - 1, 0), min(end, body.frames - 1)  # at a clip's edge: its first / last frame
            if land <= lift or (end - start) / fps > STEP_MAX_SECONDS:
                continue
            if np.linalg.norm(feet[land, index] - feet[lift, index]) < STEP_DISTANCE:
                continue
            if lifted[start:end, 1 - index].mean() > 0.5 or overlap((start, end), travel_mask | jump_mask) > 0.5:
                continue
            steps.append((lift, land + 1, side))
    return [body.fact("step", span, side=side) for span, side in grouped_by_side(steps, fps, STEP_GROUP)]


def _pose_masks(body: _Body) -> np.ndarray:
    """[T, len(POSE_CATEGORIES)] bool: each category's frames, measured as pose_codes measures it on the joints
    turned so that each frame's (smoothed) facing is +z."""
    j = body.raw
    masks = []
    for _, test, first, second in POSE_CATEGORIES:
        segment = j[:, second] - j[:, first]
        if test.startswith("tilt"):
            tilt = np.degrees(np.arccos(np.clip(np.abs(segment[:, 1]) / np.maximum(
                np.linalg.norm(segment, axis=-1), 1e-12), 0.0, 1.0)))
            masks.append(tilt > POSE_TILT_EDGES[1] if test == "tilt_high" else (
                (tilt > POSE_TILT_EDGES[0]) & (tilt <= POSE_TILT_EDGES[1])))
        else:
            sideways = (segment * body.left).sum(-1) * (1.0 if test == "left" else -1.0)
            masks.append(sideways >= POSE_SIDEWAYS)
    return np.stack(masks, -1)


def _poses(body: _Body) -> list[Fact]:
    masks = _pose_masks(body)
    return [body.fact("pose", span, detail=name) for column, (name, *_) in enumerate(POSE_CATEGORIES)
            for span in segments(masks[:, column], body.fps, POSE_SECONDS, 0.1)]


def find_facts_3d(joints, fps: float) -> list[Fact]:
    """Time-stamped facts of a ``smpl_22`` / ``smpl_52`` motion (module docstring), sorted by start."""
    body = _Body(_check(joints, fps), float(fps))
    jumps = _jumps(body)
    jump_mask = span_mask(jumps, body.frames)
    locomotion = _locomotion(body, jump_mask)
    travel_mask = span_mask([(round(f.start * body.fps), round(f.end * body.fps)) for f in locomotion], body.frames)
    facts = (locomotion + _turns(body) + _stand_still(body) + _root_events(body, jumps) + _arm_facts(body)
             + _kicks(body) + _steps(body, travel_mask, jump_mask) + _poses(body))
    return sorted(facts, key=lambda f: (f.start, f.end, f.kind, f.side or "", f.direction or "", f.detail or ""))
