"""How the corpus cuts recordings: segments (the split unit), windows (the items) and names.

All times are frames at ``FPS`` (20, HumanML3D's rate). A window of ``n`` feature rows spans
``n + 1`` joint frames (features describe frame-to-frame motion).

- Segment: ``SEGMENT_SECONDS`` of one recording (the last one takes a remainder shorter than
  ``MIN_WINDOW`` frames, so nothing is too short to hold a window). Every window and mirror of a
  segment goes to that segment's split, so no test window shares a frame with a training window.
  Segment ids ``SOURCE/sNN`` number the segments of one source from 0 across all its runs (the
  detected runs of one video), so two runs never share an id.
- Windows: for every length in ``WINDOW_ROWS`` (2, 4, 6, 8 s and HumanML3D's maximum of 196 rows,
  9.8 s) that fits, windows start every ``STRIDE`` frames from the segment's first frame.
- Split: only recordings cut into two segments or more give segments to the test side (a
  recording that is a single segment would test actions never trained on). Each of them gives its
  smallest segment (fewest windows; ties by a stable hash, sha256 of the segment id), so the
  held-out windows cover every recording that can be held out while most of each stays for
  training; then the remaining eligible segments, smallest first, follow until the test side holds
  at least ``TEST_FRACTION`` of all windows. Never all segments; independent of order.
- Mirror (HumanML3D's augmentation, ``motion.mirror``): x negated (3D) or ``1 - x`` (2D, normalised
  image coordinates), each left joint swapped with its right joint. Mirrored items carry HumanML3D's
  ``M`` name prefix.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from ..core.errors import InputError

FPS = 20.0
SEGMENT_SECONDS = 10.0
SEGMENT_FRAMES = int(SEGMENT_SECONDS * FPS)
WINDOW_ROWS = (40, 80, 120, 160, 196)  # feature rows: 2, 4, 6, 8 s, and HumanML3D's maximum (196)
MIN_WINDOW = WINDOW_ROWS[0]
STRIDE = 10  # frames between window starts (0.5 s)
TEST_FRACTION = 0.2
MIRROR_PREFIX = "M"  # HumanML3D names the mirror of item NAME "M" + NAME


@dataclass(frozen=True)
class Window:
    segment: str  # segment id, e.g. "cmu_test/s01"
    start: int  # first joint frame in the recording
    rows: int  # feature rows; the window spans rows + 1 joint frames

    @property
    def stop(self) -> int:
        return self.start + self.rows + 1

    @property
    def seconds(self) -> float:
        return self.rows / FPS

    def name(self, kind: str = "") -> str:
        """Item name: ``SOURCE_sNN_START_ROWS`` (frames at 20 fps), ``kind`` appended (``_2d``)."""
        source, segment = self.segment.split("/")
        return f"{source}_{segment}_{self.start:05d}_{self.rows:03d}{kind}"


def segments(source: str, num_frames: int, first: int = 0, number: int = 0) -> list[tuple[str, int, int]]:
    """``(segment id, start, stop)`` joint-frame ranges of one recording (or of one detected run
    starting at ``first``), numbered from ``number`` (the segments earlier runs of the same source
    took). Empty when the recording is shorter than one window."""
    if num_frames < MIN_WINDOW + 1:
        return []
    bounds = list(range(0, num_frames, SEGMENT_FRAMES)) + [num_frames]
    if len(bounds) > 2 and bounds[-1] - bounds[-2] < MIN_WINDOW + 1:
        del bounds[-2]  # a short remainder joins the segment before it
    return [(f"{source}/s{number + k:02d}", first + a, first + b) for k, (a, b) in enumerate(zip(bounds, bounds[1:]))]


def windows(segment: str, start: int, stop: int) -> list[Window]:
    """All windows of one segment, by length then start."""
    out = []
    for rows in WINDOW_ROWS:
        for begin in range(start, stop - rows, STRIDE):
            out.append(Window(segment, begin, rows))
    return out


def _stable_rank(segment: str) -> str:
    return hashlib.sha256(segment.encode("utf-8")).hexdigest()


def held_out_segments(window_counts: dict[str, int], fraction: float = TEST_FRACTION) -> set[str]:
    """Segments of the test split, given the number of windows of every segment (module docstring)."""
    if not 0.0 < fraction < 1.0:
        raise InputError("test_fraction", f"expected 0 < fraction < 1, got {fraction}")
    total = sum(window_counts.values())
    ranked = sorted(window_counts, key=lambda segment: (window_counts[segment], _stable_rank(segment)))
    per_recording: dict[str, list[str]] = {}
    for segment in ranked:
        per_recording.setdefault(segment.split("/")[0], []).append(segment)
    eligible = [segment for segments in per_recording.values() if len(segments) >= 2 for segment in segments]
    smallest_of_each = [segments[0] for segments in per_recording.values() if len(segments) >= 2]
    chosen: set[str] = set()
    held = 0
    for segment in smallest_of_each + [s for s in ranked if s in eligible and s not in smallest_of_each]:
        if len(chosen) == len(window_counts) - 1 or (held >= fraction * total and segment not in smallest_of_each):
            break
        chosen.add(segment)
        held += window_counts[segment]
    return chosen
