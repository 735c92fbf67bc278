"""Time-series helpers shared by the 3D and 2D fact finders (``facts3d.py``, ``facts2d.py``).

Signals are numpy arrays over frames ``[T, ...]``; masks are bool ``[T]``; a segment is a half-open
frame range ``(start, end)`` and becomes a Fact spanning ``start / fps .. end / fps`` seconds. NaN
marks a value that could not be measured (a joint not seen in 2D): every comparison with NaN is
False, so an unseen joint never makes a mask true.
"""

from __future__ import annotations

import numpy as np
from scipy.ndimage import gaussian_filter1d, uniform_filter1d


def runs(mask: np.ndarray) -> list[tuple[int, int]]:
    """Half-open ``(start, end)`` frame ranges where ``mask`` is true."""
    mask = np.asarray(mask, bool)
    if not mask.any():
        return []
    padded = np.zeros(len(mask) + 2, np.int8)
    padded[1:-1] = mask
    edges = np.flatnonzero(padded[1:] != padded[:-1]).tolist()
    return list(zip(edges[::2], edges[1::2]))


def segments(mask: np.ndarray, fps: float, min_seconds: float, gap_seconds: float = 0.0) -> list[tuple[int, int]]:
    """Runs of ``mask`` after filling false gaps up to ``gap_seconds``, kept when >= ``min_seconds``."""
    found = runs(mask)
    if gap_seconds > 0 and len(found) > 1:
        merged = [found[0]]
        for start, end in found[1:]:
            if (start - merged[-1][1]) / fps <= gap_seconds:
                merged[-1] = (merged[-1][0], end)
            else:
                merged.append((start, end))
        found = merged
    return [(s, e) for s, e in found if (e - s) / fps >= min_seconds - 1e-9]


def span_mask(spans: list[tuple[int, int]], frames: int) -> np.ndarray:
    mask = np.zeros(frames, bool)
    for start, end in spans:
        mask[start:end] = True
    return mask


def overlap(span: tuple[int, int], mask: np.ndarray) -> float:
    """Fraction of the frames of ``span`` where ``mask`` is true."""
    start, end = span
    return float(mask[start:end].mean()) if end > start else 0.0


def widen(span: tuple[int, int], frames: int, pad: int) -> tuple[int, int]:
    return max(0, span[0] - pad), min(frames, span[1] + pad)


def smooth(x: np.ndarray, fps: float, sigma_seconds: float) -> np.ndarray:
    """Gaussian smoothing over frames (axis 0), ends clamped."""
    sigma = sigma_seconds * fps
    return gaussian_filter1d(x, sigma, axis=0, mode="nearest") if sigma >= 0.3 else x


def velocity(x: np.ndarray, fps: float) -> np.ndarray:
    """Per-second rate of change over frames (axis 0): central differences, one-sided at the ends."""
    rate = np.zeros_like(x, dtype=np.float64)
    if len(x) > 1:
        rate[1:-1] = (x[2:] - x[:-2]) * (0.5 * fps)
        rate[0] = (x[1] - x[0]) * fps
        rate[-1] = (x[-1] - x[-2]) * fps
    return rate


def rolling_mean(x: np.ndarray, frames: int) -> np.ndarray:
    return uniform_filter1d(x, max(1, frames), axis=0, mode="nearest")


def rolling_anticorrelation(a: np.ndarray, b: np.ndarray, frames: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Centred rolling (correlation of a and b, std of a, std of b) over ``frames`` frames."""
    a = a - rolling_mean(a, frames)
    b = b - rolling_mean(b, frames)
    var_a = np.maximum(rolling_mean(a * a, frames) - rolling_mean(a, frames) ** 2, 0.0)
    var_b = np.maximum(rolling_mean(b * b, frames) - rolling_mean(b, frames) ** 2, 0.0)
    cov = rolling_mean(a * b, frames) - rolling_mean(a, frames) * rolling_mean(b, frames)
    corr = cov / np.maximum(np.sqrt(var_a * var_b), 1e-12)
    return corr, np.sqrt(var_a), np.sqrt(var_b)


def turning_points(x: np.ndarray, amplitude: float) -> list[int]:
    """Frames where ``x`` reverses direction, each after a move of >= ``amplitude`` and followed by
    a move back of >= ``amplitude`` (a hysteresis zigzag: jitter smaller than it never counts)."""
    turns: list[int] = []
    values = x.tolist()
    if not values:
        return turns
    trend, low, high, extreme = 0, 0, 0, 0
    for i in range(1, len(values)):
        v = values[i]
        if trend == 0:
            if v > values[high]:
                high = i
            if v < values[low]:
                low = i
            if values[high] - values[low] >= amplitude:
                trend = 1 if high > low else -1
                extreme = high if trend == 1 else low
        elif trend == 1:
            if v > values[extreme]:
                extreme = i
            elif values[extreme] - v >= amplitude:
                turns.append(extreme)
                trend, extreme = -1, i
        else:
            if v < values[extreme]:
                extreme = i
            elif v - values[extreme] >= amplitude:
                turns.append(extreme)
                trend, extreme = 1, i
    return turns


def oscillation_spans(x: np.ndarray, allowed: np.ndarray, fps: float, amplitude: float, min_reversals: int,
                      max_half_period: float) -> list[tuple[int, int]]:
    """Spans where ``x`` reverses direction >= ``min_reversals`` times (moves >= ``amplitude`` each
    way, reversals at most ``max_half_period`` seconds apart), inside runs of ``allowed`` frames."""
    found = []
    for start, end in runs(allowed & np.isfinite(x)):
        turns = [start + t for t in turning_points(x[start:end], amplitude)]
        group: list[int] = []
        for turn in turns + [None]:
            if turn is not None and (not group or (turn - group[-1]) / fps <= max_half_period):
                group.append(turn)
                continue
            if len(group) >= min_reversals:
                half = int(round(np.mean(np.diff(group)))) if len(group) > 1 else 1
                found.append((max(start, group[0] - half), min(end, group[-1] + half + 1)))
            group = [turn] if turn is not None else []
    return found


def big_swings(offset: np.ndarray, fps: float, arc: float, speed: float) -> list[tuple[int, int]]:
    """Spans where a limb point (``offset [T, D]`` from its joint) sweeps out by >= ``arc`` along one axis and
    back by >= ``arc``, reaching >= ``speed`` (units per second) on the way: one swing each."""
    rate = np.linalg.norm(velocity(offset, fps), axis=-1)
    found = []
    for axis in range(offset.shape[1]):
        x = offset[:, axis]
        for start, end in runs(np.isfinite(x)):
            for turn in turning_points(x[start:end], arc):
                turn += start
                far = np.abs(x[start:end] - x[turn]) >= arc
                before = np.flatnonzero(far[: turn - start])
                after = np.flatnonzero(far[turn - start:])
                span = (start + int(before[-1]), turn + int(after[0]) + 1)
                if np.nanmax(rate[span[0]:span[1]]) >= speed:
                    found.append(span)
    found.sort()
    merged: list[tuple[int, int]] = []
    for span in found:
        if merged and span[0] <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], span[1]))
        else:
            merged.append(span)
    return merged


def feet_walk(foot_speed: np.ndarray, moving_speed: float, moving_share: float, near_jump: bool,
              alternation: float) -> bool:
    """Whether the feet of a travelling span ``[n, 2]`` (speeds) walk: some foot moves in >= ``moving_share``
    of the frames, and near a jump one foot at a time in >= ``alternation`` of the moving frames (a
    two-footed jump moves both at once). NaN speeds count as not moving."""
    moving = foot_speed > moving_speed
    any_moving = moving.any(axis=1)
    if any_moving.mean() < moving_share:
        return False
    return not near_jump or (moving.sum(axis=1) == 1).sum() / max(any_moving.sum(), 1) >= alternation


def grouped_by_side(events: list[tuple[int, int, str]], fps: float, gap_seconds: float
                    ) -> list[tuple[tuple[int, int], str]]:
    """(span, side) groups of ``(start, end, side)`` events less than ``gap_seconds`` apart; the side of a
    group is its events' side, "both" when they differ."""
    out: list[tuple[tuple[int, int], str]] = []
    for start, end, side in sorted(events):
        if out and (start - out[-1][0][1]) / fps <= gap_seconds:
            (first, last), sides = out[-1]
            out[-1] = ((first, max(last, end)), sides if sides == side else "both")
        else:
            out.append(((start, end), side))
    return out


def sides_from_spans(left: list[tuple[int, int]], right: list[tuple[int, int]], frames: int,
                     both_share: float = 0.5) -> list[tuple[str, tuple[int, int]]]:
    """(side, span) from per-side spans: where both sides overlap the span is "both"; a one-side span
    mostly (> ``both_share``) inside a "both" span is dropped, the rest keep their side."""
    left_mask, right_mask = span_mask(left, frames), span_mask(right, frames)
    both = runs(left_mask & right_mask)
    both_mask = span_mask(both, frames)
    out = [("both", span) for span in both]
    for side, spans in (("left", left), ("right", right)):
        out += [(side, span) for span in spans if overlap(span, both_mask) <= both_share]
    return out


def raises_and_waves(raised: dict[str, np.ndarray], high: dict[str, np.ndarray],
                     waving: dict[str, list[tuple[int, int]]], fps: float, raise_seconds: float,
                     above_seconds: float) -> list[tuple[str, tuple[int, int], str, str | None]]:
    """(kind, span, side, detail) of raise_arm and wave facts from per-side masks (``raised``: wrist above
    the shoulder, ``high``: above the head) and wave spans; sides merge to "both" where they overlap."""
    out = []
    spans = {side: segments(raised[side], fps, raise_seconds, 0.1) for side in ("left", "right")}
    frames = len(raised["left"])
    for side, span in sides_from_spans(spans["left"], spans["right"], frames):
        if (span[1] - span[0]) / fps < raise_seconds:
            continue
        above = high["left"] & high["right"] if side == "both" else high[side]
        out.append(("raise_arm", span, side, "above_head" if above[span[0]:span[1]].sum() / fps >= above_seconds
                    else None))
    for side, span in sides_from_spans(waving["left"], waving["right"], frames):
        if side != "both" or (span[1] - span[0]) / fps >= 0.25:  # both hands wave together for a while
            out.append(("wave", span, side, None))
    return out
