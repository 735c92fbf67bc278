"""Windowing and the train/test split of the forecasting dataset, on synthetic tracks."""

import numpy as np
from posemotion.models.forecasting.dataset import CLIP_FRAMES, Track, cut_windows, split_by_clip


def _track(frames, recording, start=0, text="move"):
    xy = np.tile(np.linspace(0, 1, frames, dtype=np.float32)[:, None, None], (1, 18, 2))
    return Track(xy, np.ones((frames, 18), bool), text, recording, start)


def test_windows_stay_inside_one_clip():
    data = cut_windows([_track(2 * CLIP_FRAMES + 10, "rec")], horizon=20, stride=5)
    firsts = data["poses"][:, 0, 0, 0] * (2 * CLIP_FRAMES + 9)  # frame index of each window's P0
    for first, clip in zip(np.rint(firsts).astype(int), data["clips"]):
        assert first // CLIP_FRAMES == (first + 20) // CLIP_FRAMES == int(clip.split("#")[1])


def test_views_share_clips_and_test_clips_come_from_multi_clip_recordings():
    views = [_track(3 * CLIP_FRAMES, "mocap:a")] * 4 + [_track(CLIP_FRAMES, "single")]
    data = cut_windows(views, horizon=20, stride=10)
    assert {c for c in data["clips"] if c.startswith("mocap:a")} == {"mocap:a#0", "mocap:a#1", "mocap:a#2"}
    test = split_by_clip(data["clips"], test_fraction=0.25)
    test_clips = {c for c, t in zip(data["clips"], test) if t}
    train_clips = {c for c, t in zip(data["clips"], test) if not t}
    assert test_clips and not test_clips & train_clips  # whole clips, every view with its clip
    assert all(c.startswith("mocap:a") for c in test_clips)  # never the single-clip recording
    assert (split_by_clip(list(reversed(data["clips"])), 0.25) == test[::-1]).all()  # order-independent
