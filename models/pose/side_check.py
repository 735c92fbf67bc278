"""Left and right kept the same person's over a video.

MediaPipe sometimes labels a person's left side as their right (a back view, limbs crossing) and,
tracking from frame to frame, keeps the swap for many frames: on pose2sim's calibrated demo one camera
does so in 27 of 100 frames (benchmarks/bench_detect_multiview.py). A real body moves a little between
frames, so the labelling to trust is the one under which the body moves least. ``keep_sides`` chooses,
for every frame of a stretch with the person, whether to exchange its sides (body points and the two
hands, ``core.layouts.left_right_swap`` of the holistic layout): the choice over the whole stretch
that makes the limb points move least from frame to frame (a shortest path over the two labellings,
Viterbi-style), where each exchanged frame also costs ``SWAP_COST`` x the body's size, so that
MediaPipe's labelling is kept where motion cannot tell (a stretch swapped from its first frame stays
as it is). Deciding frame by frame instead lets one wrong decision during a flicker carry on to the
end of the clip.

Works on one track's ``[T, 75, 4]`` holistic landmarks (x, y normalised by the frame's width and
height, visibility in column 3; frames without the person are all zero).
"""

from __future__ import annotations

import numpy as np

from ..core.layouts import MEDIAPIPE_33, layout_names, left_right_swap

SWAP_COST = 0.02  # per exchanged frame, as a fraction of the torso length (a tie-breaker towards MediaPipe)
SIDE_SWAP = np.array(left_right_swap(layout_names("mediapipe_holistic_75_image")))
LIMBS = [MEDIAPIPE_33.index(f"{side}_{part}") for part in ("shoulder", "elbow", "wrist", "hip", "knee", "ankle")
         for side in ("left", "right")]
_SHOULDERS, _HIPS = (11, 12), (23, 24)


def keep_sides(track: np.ndarray, width: int, height: int) -> tuple[np.ndarray, list[int]]:
    """-> (the track with swapped frames exchanged back, the frames that were exchanged)."""
    out = track.copy()
    present = track[:, :33, 3].any(1)
    exchanged: list[int] = []
    start = 0
    while start < len(track):  # each stretch of consecutive frames with the person on its own
        if not present[start]:
            start += 1
            continue
        stop = start
        while stop < len(track) and present[stop]:
            stop += 1
        flips = _least_motion(track[start:stop], width, height)
        exchanged += [start + int(t) for t in np.flatnonzero(flips)]
        start = stop
    out[exchanged] = track[exchanged][:, SIDE_SWAP]
    return out, exchanged


def _least_motion(stretch: np.ndarray, width: int, height: int) -> np.ndarray:
    """[T] bool: which frames of a stretch to exchange (see the module docstring)."""
    scale = np.array([width, height], np.float32)
    labelled = np.stack([stretch[:, LIMBS, :2], stretch[:, SIDE_SWAP][:, LIMBS, :2]], 1) * scale  # [T, 2, L, 2]
    torso = np.linalg.norm((stretch[:, _SHOULDERS, :2].mean(1) - stretch[:, _HIPS, :2].mean(1)) * scale, axis=1)
    penalty = SWAP_COST * np.median(torso)
    cost = np.array([0.0, penalty])
    came_from = np.zeros((len(stretch), 2), int)
    for t in range(1, len(stretch)):
        # step[a, b]: mean limb motion from frame t-1 labelled a to frame t labelled b
        step = np.linalg.norm(labelled[t - 1][:, None] - labelled[t][None], axis=-1).mean(-1)
        total = cost[:, None] + step
        came_from[t] = total.argmin(0)
        cost = total.min(0) + np.array([0.0, penalty])
    flips = np.zeros(len(stretch), bool)
    state = int(cost.argmin())
    for t in range(len(stretch) - 1, -1, -1):
        flips[t] = bool(state)
        state = came_from[t, state]
    return flips
