"""Keep a detected hand only where it is really that hand.

MediaPipe Holistic places each hand from the body's wrist, so when the body model puts both wrists on
one spot (small people, crossed arms) both hands land there too: two copies of one hand. A hand is kept
only if its wrist point sits at its own body wrist (within ``AT_WRIST`` x the body's size) and it does not
duplicate the other hand (corresponding points closer, on average, than ``DUPLICATE`` x the hand's size);
duplicates are both dropped, since nothing tells which side is right.

Works on one frame's 75 holistic landmarks (``mediapipe_holistic_75_image``: body 0-32, left hand 33-53,
right hand 54-74; x, y normalised by the frame's width and height, visibility in column 3; a hand that
was not found has visibility 0). Distances are measured in pixels, so the frame size is needed.
"""

from __future__ import annotations

import numpy as np

AT_WRIST = 0.2  # the hand's wrist may be this far from the body's wrist, as a fraction of the body's size
DUPLICATE = 0.3  # mean distance between the two hands' points, as a fraction of the hand's size
HANDS = ((33, 15), (54, 16))  # (first landmark of the hand, the body's wrist) for left and right
_SHOULDERS, _HIPS = (11, 12), (23, 24)


def check_hands(points: np.ndarray, width: int, height: int) -> tuple[np.ndarray, int]:
    """-> (the landmarks with dropped hands zeroed, how many hands were dropped)."""
    pixels = points[:, :2] * np.array([width, height], np.float32)
    present = [points[start:start + 21, 3].any() for start, _ in HANDS]
    if not any(present):
        return points, 0
    shoulders, hips = pixels[list(_SHOULDERS)], pixels[list(_HIPS)]
    body_size = max(np.linalg.norm(shoulders[0] - shoulders[1]), np.linalg.norm(shoulders.mean(0) - hips.mean(0)))
    keep = [
        found and np.linalg.norm(pixels[start] - pixels[wrist]) <= AT_WRIST * body_size
        for found, (start, wrist) in zip(present, HANDS)
    ]
    if all(keep):
        left, right = (pixels[start:start + 21] for start, _ in HANDS)
        hand_size = max(np.ptp(left, axis=0).max(), np.ptp(right, axis=0).max(), 1.0)
        if np.linalg.norm(left - right, axis=1).mean() < DUPLICATE * hand_size:
            keep = [False, False]
    out = points.copy()
    for kept, (start, _) in zip(keep, HANDS):
        if not kept:
            out[start:start + 21] = 0.0
    return out, sum(found and not kept for found, kept in zip(present, keep))
