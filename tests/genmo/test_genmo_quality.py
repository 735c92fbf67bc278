"""The GENMO quality benchmark sections (benchmarks/genmo_quality.py) run end to end on a tiny random
model and a tiny HumanML3D-layout folder cut from the real mocap clips (data/mocap); the captions are
fixed labels per clip (not derived from the motion). The figures are meaningless; the tables' rows and
the parts whose answer is known (ground truth, the nearest-neighbour lift) are checked."""

import math
import os
import sys

import numpy as np
import pytest
import torch
from posemotion.models.motion.dataset_folder import format_text_line, write_item, write_split, write_stats
from posemotion.models.motion.humanml3d import FeatureStats, features_to_joints, joints_to_features
from posemotion.models.motion.io import read_motion
from posemotion.models.motion.resample import resample
from posemotion.models.motion_text.evaluator import TextMotionEvaluator, save_evaluator
from support.genmo_tiny import tiny_genmo

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "benchmarks"))
import genmo_quality  # noqa: E402

pytestmark = pytest.mark.usefixtures("one_torch_thread")
ITEM_FRAMES = 81  # -> 80 feature rows: 4 s, the shortest held-out clip the sections take
CLIPS = {"cmu": ("test.asf", "test.amc", "a person walks forward"),
         "mocapbank": ("test_mocapbank.bvh", None, "a person raises both arms")}
SPLITS = {"cmu": ("test", "test", "test", "train", "train"), "mocapbank": ("test", "train", "train")}


@pytest.fixture(scope="module")
def corpus(mocap_dir, tmp_path_factory):
    folder = tmp_path_factory.mktemp("quality_corpus")
    names, features = {"train": [], "test": []}, []
    for clip, (path, amc, caption) in CLIPS.items():
        joints = resample(read_motion(str(mocap_dir / path), str(mocap_dir / amc) if amc else None), 20.0)
        joints = joints.joints.numpy()
        for index, split in enumerate(SPLITS[clip]):
            part = joints[index * ITEM_FRAMES:(index + 1) * ITEM_FRAMES]
            rows = joints_to_features(part)
            name = f"{clip}_{index}"
            write_item(str(folder), name, rows, part, [format_text_line(caption, [])])
            names[split].append(name)
            features.append(rows)
    for split, listed in names.items():
        write_split(str(folder), split, listed)
    stats = FeatureStats.compute(features)
    write_stats(str(folder), stats.mean, stats.std)
    return str(folder)


@pytest.fixture(scope="module")
def model(corpus):
    tiny = tiny_genmo()
    stats = np.load(os.path.join(corpus, "Mean.npy")), np.load(os.path.join(corpus, "Std.npy"))
    tiny.set_stats(FeatureStats(*stats))
    return tiny


def test_keyframes_table_has_both_variants_and_more_keyframes_interpolate_closer(model, corpus, capsys):
    results = genmo_quality.keyframes(model, corpus, limit=2, steps=2)
    assert list(results) == ["first+last", "first+middle+last"]
    assert all(math.isfinite(v) and v >= 0 for row in results.values() for v in row.values())
    # a walk drifts away from the straight line between its ends: a middle keyframe brings it closer
    assert results["first+middle+last"]["lerp_world"] < results["first+last"]["lerp_world"]
    assert "2 held-out test clips of 4-6 s from 2 segments" in capsys.readouterr().out


def test_nearest_neighbour_lift_turns_the_found_pose_into_the_query_camera(corpus):
    truth = features_to_joints(torch.from_numpy(np.load(os.path.join(corpus, "new_joint_vecs", "cmu_0.npy"))))
    database = {"points": None, "poses": None, "yaws": None}
    keypoints, _, present = genmo_quality._project(truth, 90.0)
    database["points"] = genmo_quality._pose_vectors(keypoints)[0][present]
    database["poses"] = (truth - truth[:, :1])[present]
    database["yaws"] = torch.full((int(present.sum()),), 90.0)
    # the same body turned 90 degrees about +y, seen by a camera turned as far, looks the same
    angle = math.radians(90.0)
    turn = torch.tensor([[math.cos(angle), 0, -math.sin(angle)], [0, 1, 0], [math.sin(angle), 0, math.cos(angle)]])
    turned = truth @ turn
    lifted = genmo_quality.nearest_neighbour_lift(database, genmo_quality._project(turned, 180.0)[0], 180.0)
    assert float((lifted - (turned - turned[:, :1])).norm(dim=-1).max()) < 1e-3


def test_estimation_table_rows_and_ground_truth_row(model, corpus):
    results = genmo_quality.estimation(model, corpus, limit=2, yaws=(0.0, 90.0), generation_steps=2)
    assert list(results) == ["truth", "estimation (1 pass)", "generation (DDIM 2)", "nearest neighbour"]
    assert results["truth"]["mpjpe"] == 0.0 and results["truth"]["pose"] == 0.0
    assert 0 < results["truth"]["2d"] < results["estimation (1 pass)"]["2d"]
    assert results["nearest neighbour"]["mpjpe"] < results["estimation (1 pass)"]["mpjpe"]  # a random model


def test_timeline_table_scores_every_set(model, corpus, tmp_path):
    path = str(tmp_path / "evaluator.safetensors")
    torch.manual_seed(0)
    save_evaluator(TextMotionEvaluator().eval(), path)
    results = genmo_quality.timeline(model, corpus, count=2, steps=2, evaluator_path=path)
    assert list(results) == ["generated windows", "random train crops", "captioned test clips"]
    for row in results.values():
        assert row["checkable"] == 4 and 0.0 <= row["checker"] <= 1.0 and 0.0 <= row["top1"] <= row["top3"] <= 1.0
