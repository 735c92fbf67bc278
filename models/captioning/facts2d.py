"""Facts found in a 2D pose sequence: ``find_facts_2d(xy, visible, fps, aspect=1.0) -> list[Fact]``.

Input: ``xy [T, 18, 2]`` OpenPose-18 points (``core/layouts.py`` order) in normalised image
coordinates (x right, y down, 0..1 of the canvas), ``visible [T, 18]`` (bool; numbers count as seen
when > 0.5), ``fps`` > 0, ``aspect`` = canvas width / height (x is multiplied by it so that x and y
distances compare), at least ``MIN_SECONDS`` of frames. Bad input raises ``InputError("motion", ...)``
(``"fps"`` / ``"aspect"`` for those two numbers); NaN or inf is an error only at a visible joint.

Everything is measured in torso units (TU): the body size is the neck-to-mid-hip length, its rolling
75th percentile over SIZE_SECONDS 3 s (TU ~ 0.5 m on an adult; shoulder width x 1.5 when the hips are
never seen; no facts when neither is). One view cannot judge depth, so walk / run have
``direction=None``, turns and pose facts are not reported, a seated body reads as ``crouch`` (``sit``
is not reported), and waves, kicks and steps are judged from what moves in the image plane. The
camera is assumed fixed (a panning camera makes the body travel). A joint that is not visible never
makes a fact: its signals are NaN in those frames, and any test on NaN is false (gaps of up to
SEEN_GAP_SECONDS 0.1 s between seen frames are interpolated: detectors flicker).

============  ==============================================  =================================  ====================
kind          signal                                          threshold                          why (3D equivalent)
============  ==============================================  =================================  ====================
walk / run    mid-hip horizontal image speed (smoothed        >= WALK_SPEED 0.6 TU/s walk, mean  0.3 / 2 m/s; a lunge
              0.1 s); or (walk) alternating ankle swings      >= RUN_SPEED 4 TU/s run, >= 0.5 s, or a jump is no
              while the body size changes (towards / away     net travel >= 1 TU, feet moving;   walk; in depth the
              from the camera)                                near a jump the feet alternate;    size changes
                                                              or >= 3 alternating swings with
                                                              mean |d ln size / dt| >= 0.1 /s
stand_still   mid-hip speed, ankle speeds, hips above the     < 0.3 TU/s, < 0.6 TU/s, upright    0.15 m/s for 1 s
              lower ankle / leg length (see crouch)           (>= 0.85), for >= 1 s
jump          both ankles above their ground (the lowest      > JUMP_CLEARANCE 0.16 TU for       0.08 m of clearance
              point within +-0.5 s) and the hips above their  >= 0.1 s, hips up >= 0.1 TU
              rolling median
crouch        hips above the lower ankle / leg length (the    < CROUCH_RATIO 0.7, >= 0.25 s      pelvis < 0.8 leg
              75th percentile of hip-knee-ankle within
              +-1.5 s in the image)
kneel         a knee above its own ankle, hips low            < KNEE_FLOOR 0.1 TU, hips < 0.7    knee < 0.12 m
                                                              leg, >= 0.25 s
lie           torso (neck-hip) tilt in the image, neck        > 60 deg from vertical, neck       torso horizontal
              height above the lowest seen joint              < 0.9 TU, >= 0.5 s                 and low
raise_arm     wrist above the shoulder (above the nose:       > 0.1 TU for >= 0.3 s (nose:       0.05 m
              detail "above_head")                            0.2 s)
wave          wrist's image x relative to its shoulder        >= 2 reversals of >= 0.2 TU,       0.1 m moves
                                                              <= 1 s apart; wrist > shoulder -
                                                              0.2 TU in >= 40 % of the span
clap          distance between the wrists, above the hips     < 0.25 TU within 1 s after         0.12 / 0.3 m; arms
                                                              > 0.6 TU, wrists >= 0.5 TU above   crossing in a side
                                                              the hips                           view are not claps
kick          an ankle above the other, fast, not while       > 0.25 TU above, >= 2.5 TU/s,      0.2 m up, 1.5 m/s;
              walking                                         rising >= 1.2 TU/s, other ankle    a slowly lifted
                                                              on its ground                      heel is no kick
step          an ankle lifts (moving > 0.8 TU/s or > 0.1 TU   displaced >= 0.2 TU, the other     0.1 m
              up) and lands displaced                         ankle still, outside walk / jump
swing_arms    wrists' image x relative to the mid-hip,        rolling (1 s) correlation <=       opposite phase (a
              detrended (side "both"); or one wrist           -0.5, std >= 0.06 TU each and      side view of
              relative to its shoulder (its side)             above their y std, wrists below    walking); a big
                                                              the shoulders, >= 0.5 s; or out    fast swing of one
                                                              and back >= 0.8 TU, >= 2.4 TU/s    arm (0.4 m)
============  ==============================================  =================================  ====================
"""

from __future__ import annotations

import numpy as np
from scipy.ndimage import maximum_filter1d, median_filter, percentile_filter

from ..core.errors import InputError
from ..core.layouts import OPENPOSE_18
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

# OpenPose-18 joints
NOSE, NECK, R_SHOULDER, R_WRIST, L_SHOULDER, L_WRIST = (OPENPOSE_18.index(name) for name in (
    "nose", "neck", "right_shoulder", "right_wrist", "left_shoulder", "left_wrist"))
R_HIP, R_KNEE, R_ANKLE, L_HIP, L_KNEE, L_ANKLE = (OPENPOSE_18.index(name) for name in (
    "right_hip", "right_knee", "right_ankle", "left_hip", "left_knee", "left_ankle"))
_LEGS = ((L_HIP, L_KNEE, L_ANKLE), (R_HIP, R_KNEE, R_ANKLE))

SMOOTH_SECONDS = 0.1
SEEN_GAP_SECONDS = 0.1      # unseen gaps this short between seen frames are interpolated
WALK_SPEED = 0.6            # TU/s
WALK_DISTANCE = 1.0         # TU of net sideways travel
RUN_SPEED = 4.0             # TU/s
ALTERNATION = 0.5
FOOT_MOVING = 0.8           # TU/s
LOCOMOTION_GAP = 0.25
FEET_MOVING_SHARE = 0.3
FOOT_SWING_SECONDS = 0.1    # a foot moving this long is one swing of a walk towards or away from the camera
FOOT_SWING_SPEED = 0.3      # TU/s: such a swing moves mostly in depth, slowly in the image
FOOT_SWING_GAP = 1.0        # s between the starts of alternating swings
WALK_SWINGS = 3             # alternating swings (left, right, left) that make a walk in depth
DEPTH_RATE = 0.1            # 1/s: the body size grows or shrinks this fast while walking in depth
DEPTH_SMOOTH_SECONDS = 0.25
JUMP_MARGIN = 0.3
STILL_SPEED = 0.3           # TU/s
STILL_FOOT_SPEED = 0.6      # TU/s
STILL_SECONDS = 1.0
UPRIGHT_RATIO = 0.85        # hips above the ankles / leg length of an upright body
GROUND_SECONDS = 1.0        # window of an ankle's ground level and the hips' median height
SIZE_SECONDS = 3.0          # window of the body size and the leg length ...
SIZE_PERCENTILE = 75        # ... their rolling 75th percentile (a glitch of the detector is no maximum)
JUMP_CLEARANCE = 0.16       # TU
JUMP_SECONDS = 0.1
JUMP_HIP_RISE = 0.1         # TU above the hips' median height
CROUCH_RATIO = 0.7          # hips above the ankles / leg length (3D: pelvis < 0.8 leg)
KNEE_FLOOR = 0.1            # TU: a knee at most this far above its own ankle is down
ROOT_EVENT_SECONDS = 0.25
LIE_DEGREES = 60.0
LIE_NECK_HEIGHT = 0.9       # TU above the lowest seen joint
HELD_SECONDS = 0.5
RAISE_MARGIN = 0.1          # TU
RAISE_SECONDS = 0.3
ABOVE_HEAD_SECONDS = 0.2
WAVE_BELOW_SHOULDER = 0.2   # TU, in at least WAVE_NEAR_SHARE of the wave
WAVE_NEAR_SHARE = 0.4
WAVE_AMPLITUDE = 0.2        # TU
WAVE_REVERSALS = 2
WAVE_HALF_PERIOD = 1.0
CLAP_MEET = 0.25            # TU
CLAP_APART = 0.6
CLAP_ABOVE_HIPS = 0.5       # TU
CLAP_WINDOW = 1.0
KICK_HEIGHT = 0.25          # TU above the other ankle (3D: 0.28 leg; a close camera shrinks it), not while walking
KICK_SPEED = 2.5            # TU/s (3D: 1.5 m/s) ...
KICK_RISE_SPEED = 1.2       # TU/s: ... and rising at least this fast on the way up
KICK_OTHER_FOOT = 0.25      # TU above its ground
STEP_LIFT = 0.1             # TU
STEP_DISTANCE = 0.2         # TU
STEP_GROUP = 1.0
STEP_MAX_SECONDS = 1.5
SWING_WINDOW = 1.0
SWING_CORRELATION = -0.5
SWING_STD = 0.06            # TU
ARM_SWING_ARC = 0.8         # TU: one big arm swing, out and back along an image axis ...
ARM_SWING_SPEED = 2.4       # TU/s: ... fast


def _check(xy, visible, fps, aspect) -> tuple[np.ndarray, np.ndarray]:
    try:
        xy = np.asarray(xy, np.float64)
        visible = np.asarray(visible)
    except (TypeError, ValueError) as error:
        raise InputError("motion", f"expected xy [T, 18, 2] and visible [T, 18] arrays ({error})") from None
    if xy.ndim != 3 or xy.shape[1:] != (18, 2):
        raise InputError("motion", f"expected OpenPose-18 points xy [T, 18, 2], got {list(xy.shape)}")
    if visible.shape != xy.shape[:2]:
        raise InputError("motion", f"expected visible [{xy.shape[0]}, 18] beside xy, got {list(visible.shape)}")
    if not isinstance(fps, (int, float, np.number)) or isinstance(fps, bool) or not np.isfinite(fps) or fps <= 0:
        raise InputError("fps", f"must be a positive number, got {fps!r}")
    if not isinstance(aspect, (int, float, np.number)) or not np.isfinite(aspect) or aspect <= 0:
        raise InputError("aspect", f"must be a positive width / height ratio, got {aspect!r}")
    if xy.shape[0] < MIN_SECONDS * fps:
        raise InputError("motion", f"need at least {MIN_SECONDS} s ({int(np.ceil(MIN_SECONDS * fps))} frames at "
                                   f"{fps:g} fps), got {xy.shape[0]} frames")
    visible = visible.astype(bool) if visible.dtype == bool else np.nan_to_num(visible.astype(np.float64)) > 0.5
    if not np.isfinite(xy[visible]).all():
        raise InputError("motion", "visible points contain NaN or infinite values")
    return xy, visible


def _filled(points: np.ndarray, seen: np.ndarray) -> np.ndarray:
    """Points with unseen frames linearly interpolated from seen ones (for smoothing); NaN if never seen."""
    out = np.full_like(points, np.nan)
    frames = np.arange(len(points))
    for joint in range(points.shape[1]):
        known = seen[:, joint]
        if known.any():
            for axis in range(2):
                out[:, joint, axis] = np.interp(frames, frames[known], points[known, joint, axis])
    return out


def _body_size(points: np.ndarray, visible: np.ndarray, fps: float) -> tuple[np.ndarray, np.ndarray]:
    """(measured, size) [T] in image units. Measured: the neck-to-mid-hip length (shoulder width x 1.5 when
    the hips are never seen), interpolated over unseen frames. Size, what the finders scale by: its rolling
    75th percentile over SIZE_SECONDS (a projection only shortens the torso, a bow for instance, while a
    person walking towards the camera grows slowly). NaN everywhere when neither is ever seen."""
    frames = np.arange(len(points))
    torso_seen = visible[:, NECK] & visible[:, R_HIP] & visible[:, L_HIP]
    torso = np.linalg.norm(points[:, NECK] - 0.5 * (points[:, R_HIP] + points[:, L_HIP]), axis=-1)
    shoulders_seen = visible[:, R_SHOULDER] & visible[:, L_SHOULDER]
    shoulders = 1.5 * np.linalg.norm(points[:, R_SHOULDER] - points[:, L_SHOULDER], axis=-1)
    for seen, length in ((torso_seen, torso), (shoulders_seen, shoulders)):
        seen = seen & (length > 1e-6)
        if seen.any():
            size = np.interp(frames, frames[seen], length[seen])
            return size, percentile_filter(size, SIZE_PERCENTILE, max(1, int(round(SIZE_SECONDS * fps))),
                                           mode="reflect")
    return np.full(len(points), np.nan), np.full(len(points), np.nan)


def _bridged(visible: np.ndarray, fps: float) -> np.ndarray:
    """``visible`` with unseen gaps of up to SEEN_GAP_SECONDS between seen frames counted as seen (a detector
    flickers); a joint unseen for longer, or at either end, stays unseen."""
    out = visible.copy()
    longest = SEEN_GAP_SECONDS * fps
    for joint in np.flatnonzero((~visible).any(axis=0) & visible.any(axis=0)):
        for start, end in runs(~visible[:, joint]):
            if start > 0 and end < len(visible) and end - start <= longest:
                out[start:end, joint] = True
    return out


class _Body2D:
    """Signals in torso units (the body size of each frame), y up; NaN where a joint is not seen."""

    def __init__(self, xy: np.ndarray, visible: np.ndarray, fps: float, aspect: float):
        self.fps, self.frames = fps, len(xy)
        points = np.where(visible[..., None], np.stack([xy[..., 0] * aspect, -xy[..., 1]], -1), np.nan)
        measured, self.size = _body_size(points, visible, fps)
        self.valid = bool(np.isfinite(self.size).all())
        if not self.valid:
            return
        q = smooth(np.nan_to_num(_filled(points, visible), nan=0.0), fps, SMOOTH_SECONDS)  # image units
        self.seen = visible = _bridged(visible, fps)
        size = self.size[:, None]
        self.filled = q / size[..., None]                             # within-frame comparisons only
        self.p = np.where(visible[..., None], self.filled, np.nan)   # [T, 18, 2], NaN where unseen
        hips_seen = visible[:, R_HIP] & visible[:, L_HIP]
        self.hip = 0.5 * (self.p[:, R_HIP] + self.p[:, L_HIP])
        hip_q = 0.5 * (q[:, R_HIP] + q[:, L_HIP])
        self.hip_velocity = np.where(hips_seen[:, None], velocity(hip_q, fps) / size, np.nan)
        window = max(1, int(round(GROUND_SECONDS * fps)))
        self.hip_rise = np.where(hips_seen, (hip_q[:, 1] - median_filter(hip_q[:, 1], window, mode="nearest"))
                                 / self.size, np.nan)
        ankles = q[:, [L_ANKLE, R_ANKLE]]
        ankle_seen = visible[:, [L_ANKLE, R_ANKLE]]
        self.ankle_velocity = velocity(ankles, fps) / size[..., None]
        self.foot_speed = np.where(ankle_seen, np.linalg.norm(self.ankle_velocity, axis=-1), np.nan)  # [T, 2]
        ground = -maximum_filter1d(-ankles[..., 1], window, axis=0, mode="nearest")  # lowest point near each frame
        self.foot_height = np.where(ankle_seen, (ankles[..., 1] - ground) / size, np.nan)
        counts = ankle_seen.sum(axis=1)
        lowest_ankle = np.where(ankle_seen, self.filled[:, [L_ANKLE, R_ANKLE], 1], np.inf).min(axis=1)
        self.leg_height = np.where(counts > 0, self.hip[:, 1] - lowest_ankle, np.nan)   # hips above the lower ankle
        self.depth_rate = velocity(np.log(smooth(measured, fps, DEPTH_SMOOTH_SECONDS)), fps)  # growth per second
        legs = np.stack([np.linalg.norm(q[:, hip] - q[:, knee], axis=-1)
                         + np.linalg.norm(q[:, knee] - q[:, ankle], axis=-1)
                         for hip, knee, ankle in _LEGS], -1)
        legs = np.where(visible[:, [L_HIP, R_HIP]] & visible[:, [L_KNEE, R_KNEE]] & visible[:, [L_ANKLE, R_ANKLE]],
                        legs, 0.0).max(axis=1)
        longest = percentile_filter(legs, SIZE_PERCENTILE, max(1, int(round(SIZE_SECONDS * fps))), mode="reflect")
        self.leg_ratio = np.where(longest > 0, self.leg_height * self.size / np.maximum(longest, 1e-12), np.nan)

    def fact(self, kind: str, span: tuple[int, int], **fields) -> Fact:
        return Fact(kind, span[0] / self.fps, span[1] / self.fps, **fields)


def _jumps(body: _Body2D) -> list[tuple[int, int]]:
    airborne = (body.foot_height > JUMP_CLEARANCE).all(axis=1)
    return [span for span in segments(airborne, body.fps, JUMP_SECONDS)
            if (body.hip_rise[span[0]:span[1]] >= JUMP_HIP_RISE).any()]


def _locomotion(body: _Body2D, jump_mask: np.ndarray) -> list[Fact]:
    speed = np.abs(body.hip_velocity[:, 0])
    margin = int(round(JUMP_MARGIN * body.fps))
    facts = []
    for span in segments(speed >= WALK_SPEED, body.fps, MIN_SECONDS, LOCOMOTION_GAP):
        if abs(np.nansum(body.hip_velocity[span[0]:span[1], 0])) / body.fps < WALK_DISTANCE:
            continue  # a lunge or a shift of weight, not a walk
        if not feet_walk(body.foot_speed[span[0]:span[1]], FOOT_MOVING, FEET_MOVING_SHARE,
                         overlap(widen(span, body.frames, margin), jump_mask) > 0, ALTERNATION):
            continue  # the feet do not carry the body: standing up, or jumping along
        kind = "run" if np.nanmean(speed[span[0]:span[1]]) >= RUN_SPEED else "walk"
        facts.append(body.fact(kind, span))
    travelled = span_mask([(round(f.start * body.fps), round(f.end * body.fps)) for f in facts], body.frames)
    for span in _walks_in_depth(body):
        if overlap(span, travelled) < 0.5 and overlap(span, jump_mask) == 0:
            facts.append(body.fact("walk", span))
    return facts


def _walks_in_depth(body: _Body2D) -> list[tuple[int, int]]:
    """Spans of >= WALK_SWINGS alternating foot swings (one foot at a time in >= ALTERNATION of the moving
    frames) while the body grows or shrinks (walking towards or away from the camera: one view sees no
    sideways travel, but the feet alternate and the size changes)."""
    moving = body.foot_speed > FOOT_SWING_SPEED
    swings = sorted((start, end, side) for side in range(2)
                    for start, end in segments(moving[:, side], body.fps, FOOT_SWING_SECONDS))
    spans, chain = [], []
    for swing in swings + [None]:
        alternates = chain and swing is not None and swing[2] != chain[-1][2]
        if alternates and (swing[0] - chain[-1][0]) / body.fps <= FOOT_SWING_GAP:
            chain.append(swing)
            continue
        if len(chain) >= WALK_SWINGS:
            span = (chain[0][0], max(s[1] for s in chain))
            speeds = body.foot_speed[span[0]:span[1]]
            alternate = feet_walk(speeds, FOOT_SWING_SPEED, FEET_MOVING_SHARE, True, ALTERNATION)
            if alternate and np.nanmean(np.abs(body.depth_rate[span[0]:span[1]])) >= DEPTH_RATE:
                spans.append(span)
        chain = [swing] if swing is not None else []
    return spans


def _stand_still(body: _Body2D) -> list[Fact]:
    speed = np.linalg.norm(body.hip_velocity, axis=-1)
    still = (speed < STILL_SPEED) & (body.foot_speed < STILL_FOOT_SPEED).all(axis=1) & (body.leg_ratio >= UPRIGHT_RATIO)
    return [body.fact("stand_still", span) for span in segments(still, body.fps, STILL_SECONDS)]


def _root_events(body: _Body2D, jumps: list[tuple[int, int]]) -> list[Fact]:
    p = body.p
    torso = p[:, NECK] - body.hip
    tilt = np.degrees(np.arctan2(np.abs(torso[:, 0]), torso[:, 1]))      # NaN where unseen
    lowest = np.nanmin(np.where(body.seen, p[..., 1], np.inf), axis=1)
    lie = (tilt > LIE_DEGREES) & (p[:, NECK, 1] - lowest < LIE_NECK_HEIGHT)
    # a knee down has its shin on the floor: level with its ankle in a side view, nearer (so lower in the
    # image) in a front view; a crouching knee is forward and up, above its ankle
    shin_rise = p[:, [L_KNEE, R_KNEE], 1] - p[:, [L_ANKLE, R_ANKLE], 1]
    kneel = (shin_rise < KNEE_FLOOR).any(axis=1) & (body.leg_ratio < CROUCH_RATIO) & ~lie
    crouch = (body.leg_ratio < CROUCH_RATIO) & ~kneel & ~lie
    facts = [body.fact("jump", widen(span, body.frames, 1)) for span in jumps]
    for kind, mask, seconds in (("lie", lie, HELD_SECONDS), ("kneel", kneel, ROOT_EVENT_SECONDS),
                                ("crouch", crouch, ROOT_EVENT_SECONDS)):
        facts += [body.fact(kind, span) for span in segments(mask, body.fps, seconds, 0.1)]
    return facts


def _arm_facts(body: _Body2D) -> list[Fact]:
    p, fps, frames = body.p, body.fps, body.frames
    raised, high, waving = {}, {}, {}
    for side, wrist, shoulder in (("left", L_WRIST, L_SHOULDER), ("right", R_WRIST, R_SHOULDER)):
        raised[side] = p[:, wrist, 1] > p[:, shoulder, 1] + RAISE_MARGIN
        high[side] = p[:, wrist, 1] > p[:, NOSE, 1] + RAISE_MARGIN
        near = p[:, wrist, 1] > p[:, shoulder, 1] - WAVE_BELOW_SHOULDER
        sideways = p[:, wrist, 0] - p[:, shoulder, 0]
        waving[side] = [span for span in oscillation_spans(sideways, np.ones(frames, bool),
                                                           fps, WAVE_AMPLITUDE, WAVE_REVERSALS, WAVE_HALF_PERIOD)
                        if overlap(span, near) >= WAVE_NEAR_SHARE]
    facts = [body.fact(kind, span, side=side, detail=detail) for kind, span, side, detail in
             raises_and_waves(raised, high, waving, fps, RAISE_SECONDS, ABOVE_HEAD_SECONDS)]
    return facts + _claps(body) + _arm_swings(body)


def _claps(body: _Body2D) -> list[Fact]:
    p = body.p
    distance = np.linalg.norm(p[:, L_WRIST] - p[:, R_WRIST], axis=-1)
    chest = np.fmin(p[:, L_WRIST, 1], p[:, R_WRIST, 1]) - body.hip[:, 1] >= CLAP_ABOVE_HIPS
    apart_frames = np.flatnonzero(distance > CLAP_APART)
    window = int(round(CLAP_WINDOW * body.fps))
    grouped: list[tuple[int, int]] = []
    for start, end in runs((distance < CLAP_MEET) & chest):
        before = apart_frames[(apart_frames < start) & (apart_frames >= start - window)]
        if not len(before):
            continue
        if grouped and int(before[-1]) - grouped[-1][1] <= window:
            grouped[-1] = (grouped[-1][0], end)
        else:
            grouped.append((int(before[-1]), end))
    return [body.fact("clap", span) for span in grouped]


def _arm_swings(body: _Body2D) -> list[Fact]:
    f, p = body.filled, body.p
    hip = 0.5 * (f[:, R_HIP] + f[:, L_HIP])
    # forward-back swings show as opposite-phase image x in a side view; a front view sees them in depth.
    # Arms flapped sideways (jumping jacks) are also opposite in x but move more up and down: not this.
    corr, std_l, std_r = rolling_anticorrelation(f[:, L_WRIST, 0] - hip[:, 0], f[:, R_WRIST, 0] - hip[:, 0],
                                                 int(round(SWING_WINDOW * body.fps)))
    _, std_ly, std_ry = rolling_anticorrelation(f[:, L_WRIST, 1], f[:, R_WRIST, 1], int(round(SWING_WINDOW * body.fps)))
    seen = body.seen[:, [L_WRIST, R_WRIST, L_SHOULDER, R_SHOULDER, L_HIP, R_HIP]].all(axis=1)
    low = (p[:, L_WRIST, 1] < p[:, L_SHOULDER, 1]) & (p[:, R_WRIST, 1] < p[:, R_SHOULDER, 1])
    swinging = (seen & low & (corr <= SWING_CORRELATION) & (std_l >= SWING_STD) & (std_r >= SWING_STD)
                & (std_ly < std_l) & (std_ry < std_r))
    walking_swings = segments(swinging, body.fps, MIN_SECONDS, 0.2)
    big = {}
    for side, wrist, shoulder in (("left", L_WRIST, L_SHOULDER), ("right", R_WRIST, R_SHOULDER)):
        offset = np.where(body.seen[:, [wrist, shoulder]].all(axis=1)[:, None], f[:, wrist] - f[:, shoulder], np.nan)
        big[side] = big_swings(offset, body.fps, ARM_SWING_ARC, ARM_SWING_SPEED)
    facts = [body.fact("swing_arms", span, side="both") for span in walking_swings]
    walking = span_mask(walking_swings, body.frames)
    facts += [body.fact("swing_arms", span, side=side) for side, span in sides_from_spans(big["left"], big["right"],
                                                                                          body.frames)
              if overlap(span, walking) < 0.5]
    return facts


def _kicks(body: _Body2D, travel_mask: np.ndarray) -> list[Fact]:
    facts = []
    pad = max(1, int(round(0.1 * body.fps)))
    ankles = body.p[:, [L_ANKLE, R_ANKLE]]
    for index, side in enumerate(("left", "right")):
        rise = ankles[:, index, 1] - ankles[:, 1 - index, 1]
        speed = np.linalg.norm(body.ankle_velocity[:, index], axis=-1)
        kicking = (rise > KICK_HEIGHT) & (body.foot_height[:, 1 - index] < KICK_OTHER_FOOT) & ~travel_mask
        upward = body.ankle_velocity[:, index, 1]
        for span in runs(kicking):
            lo, peak = max(0, span[0] - pad * 3), span[0] + int(np.nanargmax(rise[span[0]:span[1]]))
            # a kick swings the foot up fast; a heel lifted slowly (a lunge's back foot) is no kick
            if speed[lo:span[1]].max() >= KICK_SPEED and upward[lo:peak + 1].max() >= KICK_RISE_SPEED:
                facts.append(body.fact("kick", widen(span, body.frames, pad), side=side))
    return facts


def _steps(body: _Body2D, travel_mask: np.ndarray, jump_mask: np.ndarray) -> list[Fact]:
    fps = body.fps
    seen = body.seen[:, [L_ANKLE, R_ANKLE]]
    lifted = (body.foot_height > STEP_LIFT) | (body.foot_speed > FOOT_MOVING)
    still = seen & ~lifted
    ankles = body.p[:, [L_ANKLE, R_ANKLE]]
    steps = []
    for index, side in enumerate(("left", "right")):
        for start, end in runs(~still[:, index]):
            lift, land = max(start - 1, 0), min(end, body.frames - 1)  # at a clip's edge: its first / last frame
            if land <= lift or (end - start) / fps > STEP_MAX_SECONDS or not seen[lift:land + 1, index].all():
                continue  # an unseen foot makes no step
            if np.linalg.norm(ankles[land, index] - ankles[lift, index]) < STEP_DISTANCE:
                continue
            if still[start:end, 1 - index].mean() < 0.5 or overlap((start, end), travel_mask | jump_mask) > 0.5:
                continue
            steps.append((lift, land + 1, side))
    return [body.fact("step", span, side=side) for span, side in grouped_by_side(steps, fps, STEP_GROUP)]


def find_facts_2d(xy, visible, fps: float, aspect: float = 1.0) -> list[Fact]:
    """Time-stamped facts of an OpenPose-18 2D sequence (module docstring), sorted by start."""
    xy, visible = _check(xy, visible, fps, aspect)
    body = _Body2D(xy, visible, float(fps), float(aspect))
    if not body.valid:
        return []
    with np.errstate(invalid="ignore"):
        jumps = _jumps(body)
        jump_mask = span_mask(jumps, body.frames)
        locomotion = _locomotion(body, jump_mask)
        travel_mask = span_mask([(round(f.start * body.fps), round(f.end * body.fps)) for f in locomotion],
                                body.frames)
        facts = (locomotion + _stand_still(body) + _root_events(body, jumps) + _arm_facts(body)
                 + _kicks(body, travel_mask)
                 + _steps(body, travel_mask, jump_mask))
    return sorted(facts, key=lambda f: (f.start, f.end, f.kind, f.side or "", f.direction or "", f.detail or ""))
