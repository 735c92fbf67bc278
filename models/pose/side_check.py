"""Left and right kept the same person's over a video.

MediaPipe sometimes labels a person's left side as their right (a back view, limbs crossing) and,
tracking from frame to frame, keeps the swap for many frames: on pose2sim's calibrated demo one camera
does so in 27 of 100 frames (benchmarks/bench_detect_multiview.py). A real body moves a little between
frames, so a sudden swap shows: the frame's points lie much closer to the previous frame's with their
sides exchanged. ``keep_sides`` walks a track's frames in order and exchanges a frame's sides (body
points and the two hands, ``core.layouts.left_right_swap`` of the holistic layout) where that brings
its limb points at least ``SWAP_GAIN`` closer to the previous (already corrected) frame. A swap that
is present from the first frame stays: nothing says which labelling is right there.

Works on one track's ``[T, 75, 4]`` holistic landmarks (x, y normalised by the frame's width and
height, visibility in column 3; frames without the person are all zero).
"""

from __future__ import annotations

import numpy as np

from ..core.layouts import MEDIAPIPE_33, layout_names, left_right_swap

SWAP_GAIN = 0.5  # swapped distance / kept distance at or below which a frame's sides are exchanged
SIDE_SWAP = np.array(left_right_swap(layout_names("mediapipe_holistic_75_image")))
LIMBS = [MEDIAPIPE_33.index(f"{side}_{part}") for part in ("shoulder", "elbow", "wrist", "hip", "knee", "ankle")
         for side in ("left", "right")]


def keep_sides(track: np.ndarray, width: int, height: int) -> tuple[np.ndarray, list[int]]:
    """-> (the track with swapped frames exchanged back, the frames that were exchanged)."""
    out = track.copy()
    scale = np.array([width, height], np.float32)
    exchanged = []
    for t in range(1, len(out)):
        previous, current = out[t - 1], out[t]
        if not (previous[:33, 3].any() and current[:33, 3].any()):
            continue
        before = previous[LIMBS, :2] * scale
        kept = np.linalg.norm(current[LIMBS, :2] * scale - before, axis=1).mean()
        swapped = np.linalg.norm(current[SIDE_SWAP][LIMBS, :2] * scale - before, axis=1).mean()
        if swapped <= SWAP_GAIN * kept:
            out[t] = current[SIDE_SWAP]
            exchanged.append(t)
    return out, exchanged
