"""The checker: pure satisfaction rules on hand-built facts, then real clips scored against texts."""

import pytest
import torch
from posemotion.models.captioning.check import check_motion_against_text, satisfied
from posemotion.models.captioning.facts import Fact, FactQuery
from posemotion.models.core.errors import InputError
from posemotion.models.core.layouts import layout_names
from posemotion.models.core.motion import Motion
from posemotion.models.motion.io import read_motion
from posemotion.models.tokenizers.dataset import mirror_joints

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
    names = layout_names(mixamo.layout)
    flipped = Motion(mirror_joints(mixamo.joints, names), mixamo.fps, mixamo.layout)
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
