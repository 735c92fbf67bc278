"""Windowing and the train/test split of the forecasting dataset, on synthetic tracks; the made-up
(composed) motions on the real clips."""

import numpy as np
from posemotion.models.forecasting.dataset import (
    ARM_DONORS,
    CLIP_FRAMES,
    Track,
    composed_tracks,
    cut_windows,
    split_by_clip,
)
from posemotion.models.motion.arm_transplant import COMPOSED_PREFIX


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


def test_made_up_motions_stay_on_the_training_side_and_leave_the_split_as_it_was():
    recorded = [_track(3 * CLIP_FRAMES, "mocap:a"), _track(3 * CLIP_FRAMES, "mocap:b")]
    composed = [_track(CLIP_FRAMES, f"{COMPOSED_PREFIX}dance>a{i}", start=i * CLIP_FRAMES) for i in range(6)]
    before = split_by_clip(cut_windows(recorded, horizon=20, stride=10)["clips"], test_fraction=0.25)
    data = cut_windows(recorded + composed, horizon=20, stride=10)
    test = split_by_clip(data["clips"], test_fraction=0.25)
    made_up = np.array([c.startswith(COMPOSED_PREFIX) for c in data["clips"]])
    assert made_up.any() and not test[made_up].any()
    assert (test[~made_up] == before).all()


def test_composed_tracks_take_no_frame_of_a_held_out_clip(mocap_dir):
    held_out = {"mocap:test.amc#2", "mocap:test_mocapbank.bvh#1"}
    tracks = composed_tracks(str(mocap_dir), held_out)
    recipients = {(t.recording.split(">")[1], t.start) for t in tracks}
    assert ("test.amc", 2 * CLIP_FRAMES) not in recipients and ("test_mocapbank.bvh", CLIP_FRAMES) not in recipients
    assert ("test.amc", CLIP_FRAMES) in recipients and ("test_mocapbank.bvh", 0) in recipients
    assert all(t.recording.startswith(COMPOSED_PREFIX) and len(t.xy) <= CLIP_FRAMES for t in tracks)
    assert {t.recording.split(">")[0] for t in tracks} == {f"{COMPOSED_PREFIX}{a.split('/')[-1]}" for a in ARM_DONORS}
