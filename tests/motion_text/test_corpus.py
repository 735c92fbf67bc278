"""The motion-text corpus: windows, segments and split, mirrors, MediaPipe -> smpl_22, and a small real
build (mocap stretches) that a HumanML3D reader reads and that is byte-identical when built twice."""

import dataclasses
import json
import os
import subprocess
import sys

import numpy as np
import pytest
from posemotion.cli.main import main
from posemotion.models.captioning.facts import mirrored
from posemotion.models.captioning.facts3d import find_facts_3d
from posemotion.models.core.errors import InputError
from posemotion.models.core.layouts import MEDIAPIPE_33, SMPL_22
from posemotion.models.motion import dataset_folder as df
from posemotion.models.motion.humanml3d import joints_to_features
from posemotion.models.motion.mirror import mirror_joints
from posemotion.models.motion_text import windows as w
from posemotion.models.motion_text.corpus import UNTRUSTED_ESTIMATED_KINDS, read_poses_2d, write_corpus
from posemotion.models.motion_text.sources import Recording, _runs, mediapipe_world_to_smpl_22, mocap_recordings


@pytest.fixture(scope="module")
def mocap(mocap_dir):
    return {r.source: r for r in mocap_recordings(mocap_dir)}


# --------------------------------------------------------------------------------------------
# windows, segments, split, mirrors

def test_segments_take_a_short_remainder_into_the_segment_before():
    assert w.segments("cmu", 459) == [("cmu/s00", 0, 200), ("cmu/s01", 200, 400), ("cmu/s02", 400, 459)]
    assert w.segments("x", 430) == [("x/s00", 0, 200), ("x/s01", 200, 430)]
    assert w.segments("x", 41) == [("x/s00", 0, 41)]
    assert w.segments("x", 40) == []  # shorter than one 2 s window (40 rows need 41 frames)
    assert w.segments("v", 104, first=2) == [("v/s00", 2, 106)]
    # a later run of the same video continues its numbering
    assert w.segments("v", 250, first=170, number=1) == [("v/s01", 170, 370), ("v/s02", 370, 420)]


def test_two_runs_of_one_video_get_their_own_segments(mocap, tmp_path):
    """Runs at frames 0..150 and 170..320 both start in the recording's first 10 s: distinct ids
    (one id would put both runs' windows under one segment and mix their counts in the split)."""
    joints = mocap["mocapbank"].joints
    runs = [Recording("video", "Test/video.mp4", first, joints[first: first + 150], None, 16 / 9, True)
            for first in (0, 170)]
    write_corpus(str(tmp_path), runs)
    items = json.load(open(tmp_path / "sources.json", encoding="utf-8"))["items"]
    segments = {(item["segment"], item["start_frame"] >= 170) for item in items.values() if item["source"] == "video"}
    assert segments == {("video/s00", False), ("video/s01", True)}


def test_windows_lie_inside_their_segment_at_every_length():
    found = w.windows("x/s01", 200, 400)
    assert {win.rows for win in found} == set(w.WINDOW_ROWS)
    assert all(200 <= win.start and win.stop <= 400 and 2.0 <= win.seconds <= 9.8 for win in found)
    assert max(win.rows for win in found) == 196  # HumanML3D's longest motion
    forty = [win.start for win in found if win.rows == 40]
    assert forty == list(range(200, 360, w.STRIDE))
    assert found[0].name() == "x_s01_00200_040" and found[0].name("_2d") == "x_s01_00200_040_2d"


def test_held_out_segments_are_stable_nonempty_and_never_everything():
    counts = {f"clip/s{k:02d}": 10 for k in range(10)}
    test = w.held_out_segments(counts)
    assert len(test) == 2 and test == w.held_out_segments(dict(reversed(list(counts.items()))))
    assert w.held_out_segments({"a/s00": 5, "b/s00": 50}) == set()  # single-segment recordings are never held out
    assert w.held_out_segments({"only/s00": 7}) == set()
    # every recording with two segments or more gives its smallest segment, then the smallest others follow
    spread = {"a/s00": 100, "a/s01": 100, "a/s02": 10, "b/s00": 40, "b/s01": 20, "c/s00": 5}
    assert w.held_out_segments(spread) == {"a/s02", "b/s01", "b/s00"}  # 70 of 275 windows: at least 20 %
    with pytest.raises(InputError, match="test_fraction"):
        w.held_out_segments(counts, fraction=1.0)


def test_finder_on_mirrored_real_clip_gives_the_mirrored_facts(mocap):
    joints = mocap["cmu"].joints[:161]
    facts = find_facts_3d(joints, w.FPS)
    assert facts
    assert find_facts_3d(mirror_joints(joints, "smpl_22"), w.FPS) == [mirrored(f) for f in facts]


# --------------------------------------------------------------------------------------------
# MediaPipe world landmarks -> smpl_22, video runs

def _standing_mediapipe_pose() -> np.ndarray:
    """A hand-built MediaPipe world pose (metres, y up, facing +z, hips at the origin)."""
    places = {"nose": (0, 0.62, 0.08), "left_ear": (0.07, 0.6, 0), "right_ear": (-0.07, 0.6, 0),
              "left_shoulder": (0.18, 0.48, 0), "right_shoulder": (-0.18, 0.48, 0), "left_elbow": (0.2, 0.2, 0),
              "right_elbow": (-0.2, 0.2, 0), "left_wrist": (0.21, -0.05, 0), "right_wrist": (-0.21, -0.05, 0),
              "left_hip": (0.1, 0, 0), "right_hip": (-0.1, 0, 0), "left_knee": (0.1, -0.42, 0),
              "right_knee": (-0.1, -0.42, 0), "left_ankle": (0.1, -0.82, 0), "right_ankle": (-0.1, -0.82, 0),
              "left_heel": (0.1, -0.87, -0.05), "right_heel": (-0.1, -0.87, -0.05),
              "left_foot_index": (0.1, -0.88, 0.15), "right_foot_index": (-0.1, -0.88, 0.15)}
    pose = np.zeros((33, 3), np.float32)
    for name, place in places.items():
        pose[MEDIAPIPE_33.index(name)] = place
    return pose


def test_mediapipe_world_to_smpl_22_places_every_joint():
    world = np.repeat(_standing_mediapipe_pose()[None], 45, axis=0)
    world[:, :, 0] += np.linspace(0, 0.1, 45)[:, None]  # a little sway so the clip is not frozen
    joints = mediapipe_world_to_smpl_22(world)
    assert joints.shape == (45, 22, 3) and joints.dtype == np.float32
    index = SMPL_22.index
    np.testing.assert_allclose(joints[0, index("left_wrist")], world[0, MEDIAPIPE_33.index("left_wrist")])
    heights = [joints[0, index(n), 1] for n in ("pelvis", "spine1", "spine2", "spine3", "neck", "head")]
    assert heights == sorted(heights)  # the spine rises from the pelvis to the head
    assert joints[0, index("left_foot"), 2] > joints[0, index("left_ankle"), 2]  # the foot points forward (+z)
    features = joints_to_features(joints, uniform_skeleton=True)  # no zero-length bone
    assert features.shape == (44, 263) and np.isfinite(features).all()


def test_video_runs_end_at_lost_frames_and_identity_jumps():
    found = np.array([0, 1, 1, 1, 0, 1, 1, 1, 1, 1], bool)
    hips = np.zeros((10, 2))
    hips[8:] = 0.5  # another person picked up at frame 8
    assert _runs(found, hips) == [(1, 4), (5, 8), (8, 10)]


# --------------------------------------------------------------------------------------------
# a small real build

def _small_recordings(mocap) -> list[Recording]:
    """Real stretches, kept short so the build takes a few seconds: the Mixamo clip and 12.5 s of
    MocapBank (two segments, so one can be held out), plus 2.5 s of the CMU clip dressed as an
    estimated video (3D and 2D)."""
    cmu = mocap["cmu"].joints[:51]
    xy = cmu[:, [SMPL_22.index(n) for n in ("head", "neck")] * 9, :2] * np.array([0.2, -0.2]) + 0.5
    points = np.concatenate([xy, np.ones_like(xy[..., :1])], axis=-1).astype(np.float32)
    video = Recording("video", "Test/video.mp4", 0, cmu, points, 16 / 9, True)
    return [mocap["mixamo"], dataclasses.replace(mocap["mocapbank"], joints=mocap["mocapbank"].joints[:250]), video]


def test_small_build_reads_as_humanml3d_and_is_byte_identical(mocap, tmp_path):
    recordings = _small_recordings(mocap)
    stats = write_corpus(str(tmp_path / "a"), recordings)
    write_corpus(str(tmp_path / "b"), recordings)
    folder = str(tmp_path / "a")
    files = sorted(os.path.relpath(os.path.join(root, f), folder) for root, _, names in os.walk(folder) for f in names)
    for relative in files:
        assert (tmp_path / "a" / relative).read_bytes() == (tmp_path / "b" / relative).read_bytes(), relative
    train, test = df.read_split(folder, "train"), df.read_split(folder, "test")
    assert train and test and not set(train) & set(test)
    sources = json.load(open(os.path.join(folder, "sources.json")))
    items = sources["items"]
    for split, names in (("train", train), ("test", test)):
        for name in names:
            features, joints = df.read_item(folder, name), df.read_joints(folder, name)
            assert features.shape[1] == 263 and joints.shape == (features.shape[0] + 1, 22, 3)
            assert 40 <= features.shape[0] <= 196
            lines = df.read_texts(folder, name)
            assert len(lines) == 3 and all(line.whole_motion and line.tokens for line in lines)
            assert items[name]["split"] == split and items[name]["kind"] == "3d"
            partner = name[1:] if name.startswith("M") else "M" + name
            assert items[name]["mirrored"] == name.startswith("M") and partner in names
    # all windows of a segment are on one side
    segments = {items[n]["segment"] for n in train + test}
    assert len({(items[n]["segment"], items[n]["split"]) for n in train + test}) == len(segments)
    estimated = [n for n in train + test if items[n]["estimated"]]
    assert estimated and all(f["kind"] not in UNTRUSTED_ESTIMATED_KINDS for n in estimated for f in items[n]["facts"])
    names_2d = df.read_split(folder, "train_2d") + df.read_split(folder, "test_2d")
    assert names_2d and not df.has_features(folder, names_2d[0])
    assert read_poses_2d(folder, names_2d[0]).shape[1:] == (18, 3) and df.read_texts(folder, names_2d[0])
    mean, std = df.read_stats(folder)
    train_rows = np.concatenate([df.read_item(folder, n) for n in train])
    np.testing.assert_allclose(mean, train_rows.mean(0), atol=1e-5)  # statistics over the training split only
    assert (std > 0).all()
    assert stats.windows["3d", "train"] + stats.windows["3d", "test"] == len(train + test) // 2
    assert stats.mirror_agreement("3d") is not None and stats.vocabulary > 3
    assert any("facts per item" in line for line in stats.lines())


def test_a_rebuild_removes_stale_items(mocap, tmp_path):
    recordings = _small_recordings(mocap)
    write_corpus(str(tmp_path), recordings)
    stale = tmp_path / "texts" / "stale.txt"
    stale.write_text("old#old/ADJ#0.0#0.0\n")
    (tmp_path / "keep.md").write_text("not ours")
    write_corpus(str(tmp_path), recordings[:2])
    assert not stale.exists() and (tmp_path / "keep.md").exists()
    assert not (tmp_path / "poses_2d").exists()  # the second build has no 2D item


def test_too_short_recordings_are_refused(mocap, tmp_path):
    short = dataclasses.replace(mocap["mixamo"], joints=mocap["mixamo"].joints[:30])
    with pytest.raises(InputError, match="long enough"):
        write_corpus(str(tmp_path), [short])


# --------------------------------------------------------------------------------------------
# command line

def test_corpus_help_imports_no_heavy_library():
    code = ("import sys\nfrom posemotion.cli.main import main\ntry:\n    main(['motion-corpus', '--help'])\n"
            "except SystemExit:\n    pass\n"
            "print(sorted(m for m in ('torch', 'mediapipe', 'numpy', 'cv2') if m in sys.modules))")
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stderr[-2000:]
    assert "--no-video" in run.stdout and run.stdout.strip().splitlines()[-1] == "[]"


def test_corpus_command_names_the_missing_mocap_folder(tmp_path, capsys):
    assert main(["motion-corpus", "--out", str(tmp_path / "out"), "--mocap", str(tmp_path / "nowhere"),
                 "--no-video"]) == 2
    error = capsys.readouterr().err
    assert "nowhere" in error and "fetch_mocap.sh" in error
