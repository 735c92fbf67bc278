"""Table 1's text-and-body columns (text_metrics.py) on hand-built sequences and a real clip."""

import math

import numpy as np
import pytest
from posemotion.models.captioning.facts import Fact
from posemotion.models.core.errors import InputError
from posemotion.models.core.pose_keypoint import make_frame, make_person
from posemotion.models.forecasting.text_metrics import (
    LONG_RATIO,
    bone_consistency,
    check_forecast_frames,
    mismatched_captions,
    predicate_satisfaction,
    queries_2d,
)

# A standing OpenPose-18 body (x right, y down), every point visible.
STANDING = np.array([[0.50, 0.10], [0.50, 0.20], [0.42, 0.20], [0.40, 0.32], [0.40, 0.44], [0.58, 0.20],
                     [0.60, 0.32], [0.60, 0.44], [0.45, 0.50], [0.45, 0.68], [0.45, 0.86], [0.55, 0.50],
                     [0.55, 0.68], [0.55, 0.86], [0.48, 0.08], [0.52, 0.08], [0.46, 0.09], [0.54, 0.09]],
                    np.float32)


def _still(frames=31):
    return np.repeat(STANDING[None], frames, 0)[None], np.ones((1, frames, 18), bool)


def test_a_still_body_is_consistent_and_a_grown_forearm_is_counted():
    poses, visible = _still()
    assert bone_consistency(poses, visible, 1.0)["bones_above_pct"] == 0.0
    grown = poses.copy()
    grown[0, 1:, 4] = grown[0, 1:, 3] + 2 * (STANDING[4] - STANDING[3])  # right forearm twice as long
    result = bone_consistency(grown, visible, 1.0)
    assert result["bones_above_pct"] == pytest.approx(100.0 / 17)  # 1 of the tree's 17 bones, every frame
    assert result["worst_ratio"] == pytest.approx(2.0, rel=1e-4)
    assert result["bones_below_pct"] == 0.0


def test_aspect_makes_x_and_y_distances_comparable():
    poses, visible = _still(3)
    rotated = poses.copy()  # the right upper arm (2 -> 3) turned horizontal, 0.12 in x
    rotated[0, 1:, 3] = rotated[0, 1:, 2] + np.array([0.12, 0.0])
    rotated[0, 1:, 4] = rotated[0, 1:, 3] + (STANDING[4] - STANDING[3])
    dx, dy = STANDING[3] - STANDING[2]  # P0's upper arm: mostly vertical
    assert bone_consistency(rotated, visible, 1.0)["worst_ratio"] == pytest.approx(1.0)  # shortened: 0.99
    expected = 0.12 * 2.0 / np.hypot(dx * 2.0, dy)  # x counts double on a 2:1 canvas
    assert bone_consistency(rotated, visible, 2.0)["worst_ratio"] == pytest.approx(expected, rel=1e-4)


def test_bad_sequences_are_refused():
    with pytest.raises(InputError, match="poses"):
        bone_consistency(np.zeros((1, 5, 17, 2)), np.ones((1, 5, 17), bool), 1.0)
    with pytest.raises(InputError, match="visible"):
        bone_consistency(np.zeros((1, 5, 18, 2)), np.ones((1, 4, 18), bool), 1.0)


def test_mismatched_caption_shares_no_fact_kind_and_is_deterministic():
    captions = ["a person walks forward", "a person waves the right hand", "a person jumps",
                "a person walks forward", "a person shifts slightly in place"]
    picks = mismatched_captions(captions)
    assert picks == mismatched_captions(captions)
    for caption, pick in zip(captions, picks):
        if not queries_2d(caption):
            assert pick is None
            continue
        kinds = {q.kind for q in queries_2d(caption)}
        assert pick is not None and not kinds & {q.kind for q in queries_2d(pick)}


def test_2d_queries_drop_turns_and_locomotion_direction():
    kinds = {(q.kind, q.direction) for q in queries_2d("a person walks forward, then turns left and jumps")}
    assert ("walk", None) in kinds and ("jump", None) in kinds and not any(k == "turn" for k, _ in kinds)


def test_predicate_satisfaction_by_hand():
    walking = [Fact("walk", 0.0, 1.5, direction=None)]
    result = predicate_satisfaction([walking, walking], ["a person walks", "a person walks"],
                                    ["a person jumps", None])
    assert result == {"true_pct": 100.0, "mismatched_pct": 0.0, "gap": 100.0, "scored": 1}
    empty = predicate_satisfaction([walking], ["a person walks"], [None])
    assert empty["scored"] == 0 and math.isnan(empty["gap"])


def test_check_forecast_frames_reads_pose_keypoint():
    poses, _ = _still(31)
    frames = [make_frame([make_person(body=np.concatenate([p, np.ones((18, 1), np.float32)], 1))], 640, 480)
              for p in poses[0]]
    report = check_forecast_frames(frames, "a person stands still", 30.0)
    assert report["worst_ratio"] == pytest.approx(1.0) and report["worst_ratio"] <= LONG_RATIO
    assert len(report["satisfied"]) == len(report["queries"])
    with pytest.raises(InputError, match="frames"):
        check_forecast_frames([make_frame([], 640, 480)] * 31, "wave arms", 30.0)
