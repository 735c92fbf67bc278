"""The checker: pure satisfaction rules on hand-built facts, then real clips scored against texts."""

import numpy as np
import pytest
import torch
from posemotion.models.captioning.check import check_motion_against_text, satisfied
from posemotion.models.captioning.facts import Fact, FactQuery
from posemotion.models.core.errors import InputError
from posemotion.models.core.motion import Motion
from posemotion.models.core.pose_keypoint import make_frame, make_person
from posemotion.models.motion.io import read_motion
from posemotion.models.motion.mirror import mirror_joints
from support import stick_figures

Q = FactQuery


def test_both_sides_need_a_left_and_a_right_fact_at_the_same_time():
    left, right = Fact("raise_arm", 0, 2, side="left"), Fact("raise_arm", 1, 3, side="right")
    later_right = Fact("raise_arm", 2.5, 3, side="right")
    both = Q("raise_arm", side="both")
    assert satisfied([left, right], [both]) == [True]
    assert satisfied([left, later_right], [both]) == [False]  # one arm after the other is not both
    assert satisfied([Fact("raise_arm", 0, 1, side="both")], [Q("raise_arm", side="left"), both]) == [True, True]
    assert satisfied([left], [Q("raise_arm", side="right"), Q("raise_arm"), Q("wave")]) == [False, True, False]


def test_turn_angles_and_directions():
    turn = Fact("turn", 0, 1, direction="left", amount=170.0)
    assert satisfied([turn], [Q("turn", amount=180.0), Q("turn", direction="left"), Q("turn", amount=90.0),
                              Q("turn", direction="right")]) == [True, True, False, False]
    assert satisfied([], [Q("jump")]) == [False] and satisfied([turn], []) == []


@pytest.fixture(scope="module")
def mixamo(mocap_dir) -> Motion:
    """The Mixamo clip: walks forward and turns around to the left (2.3 s)."""
    return read_motion(mocap_dir / "test_freebvh.bvh")


def test_a_real_clip_against_texts(mixamo):
    right = check_motion_against_text(mixamo, "a person walks forward and turns around to the left.")
    assert right.score == 1.0 and right.satisfied == [True, True] and right.found
    assert right.message.startswith("2 of 2 facts of the text found in the motion (score 1.00)")
    wrong = check_motion_against_text(mixamo, "a person sits down, then claps and turns around.")
    assert wrong.score == pytest.approx(1 / 3) and wrong.satisfied == [False, False, True]
    assert "missing: sit, clap" in wrong.message


def test_a_mirrored_clip_turns_the_other_way(mixamo):
    flipped = Motion(mirror_joints(mixamo.joints, mixamo.layout), mixamo.fps, mixamo.layout)
    text = "turns around to the left"
    assert check_motion_against_text(mixamo, text).score == 1.0
    assert check_motion_against_text(flipped, text).score == 0.0
    assert check_motion_against_text(flipped, "turns around to the right").score == 1.0


def test_text_without_a_checkable_fact_is_not_scored(mixamo):
    result = check_motion_against_text(mixamo, "what a lovely day")
    assert result.score is None and result.queries == [] and result.satisfied == []
    assert result.message.startswith("no checkable fact in the text: 'what a lovely day'")
    assert result.found  # the motion's facts are still reported
    assert check_motion_against_text(mixamo, "the person does not jump").score is None


@pytest.mark.parametrize("text", ["", "  \n", None])
def test_empty_text_is_refused(mixamo, text):
    with pytest.raises(InputError, match="^text: "):
        check_motion_against_text(mixamo, text)


def test_bad_motion_is_named(mixamo):
    nan = Motion(mixamo.joints.clone(), mixamo.fps, mixamo.layout)
    nan.joints[3, 0, 1] = float("nan")  # past Motion's own check, as a buggy node could hand it on
    with pytest.raises(InputError, match="^motion: joints contain NaN"):
        check_motion_against_text(nan, "walk")
    short = Motion(mixamo.joints[:5].clone(), mixamo.fps, mixamo.layout)
    with pytest.raises(InputError, match="^motion: "):
        check_motion_against_text(short, "walk")
    assert torch.isfinite(mixamo.joints).all()


def _pose_keypoint(joints, view_degrees):
    xy, visible, _ = stick_figures.projected(joints, view_degrees)
    body = np.concatenate([xy, visible[..., None].astype(np.float32)], axis=-1)
    return [make_frame([make_person(body=frame)], 640, 480) for frame in body]


def test_2d_sources_leave_out_what_one_view_cannot_judge():
    frames = _pose_keypoint(stick_figures.walking(seconds=3.0, speed=1.2), view_degrees=90)
    result = check_motion_against_text(frames, "a person walks forward, then turns left", fps=stick_figures.FPS)
    assert [q.kind for q in result.queries] == ["walk"] and result.queries[0].direction is None
    assert [q.kind for q in result.not_judged] == ["turn"] and result.score == 1.0
    assert "not judged in one 2D view: turn left" in result.message
    only_turn = check_motion_against_text(frames, "turns around", fps=stick_figures.FPS)
    assert only_turn.score is None and "can be judged in one 2D view" in only_turn.message
    # the same text on the 3D motion judges the turn (and finds none)
    walking = torch.from_numpy(stick_figures.walking(seconds=3.0, speed=1.2)).float()
    motion = Motion(walking, stick_figures.FPS, "smpl_22")
    in_3d = check_motion_against_text(motion, "a person walks forward, then turns left")
    assert in_3d.not_judged == () and in_3d.satisfied == [True, False]
