"""PoseGen segment interleaving: the paper's start formula, coverage, reflection padding, the
conditioned frames of interpolation segments and the cross-fade merge, over many video lengths."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from posemotion.models.core.errors import InputError
from posemotion.models.posegen.segments import (
    describe,
    merge_segments,
    pad_poses,
    plan_segments,
    segment_inputs,
    segment_weights,
)

LENGTHS = list(range(1, 401)) + [523, 1000, 4321]


def test_paper_plan_for_300_frames():
    plan = plan_segments(300)
    # 81*i - ceil(i/2)*21 - floor(i/2)*20, written out by hand
    assert [s.start for s in plan.segments] == [0, 60, 121, 181, 242]
    assert [s.kind for s in plan.segments] == ["base", "interpolation"] * 2 + ["base"]
    assert plan.padded_length == 323 and (plan.head, plan.tail) == (21, 20)
    interpolation = plan.segments[1]
    assert interpolation.conditioned_mask().tolist() == [1.0] * 21 + [0.0] * 40 + [1.0] * 20


@pytest.mark.parametrize("segment_length", [81, 49, 17])
def test_every_length_is_covered_once_by_an_odd_alternating_plan(segment_length):
    for num_frames in LENGTHS:
        plan = plan_segments(num_frames, segment_length)
        head, tail, count = plan.head, plan.tail, len(plan.segments)
        assert count % 2 == 1
        for i, segment in enumerate(plan.segments):
            assert segment.start == segment_length * i - math.ceil(i / 2) * head - (i // 2) * tail
            assert segment.length == segment_length
            assert segment.kind == ("base" if i % 2 == 0 else "interpolation")
        for before, after in zip(plan.segments, plan.segments[1:]):
            assert after.start < before.end  # consecutive segments overlap: no uncovered frame
            assert before.end - after.start == (head if after.kind == "interpolation" else tail)
        for base, next_base in zip(plan.base_segments, plan.base_segments[1:]):
            assert next_base.start - base.end == segment_length - head - tail
        assert plan.padded_length >= num_frames
        if count > 1:  # the smallest odd count: two segments fewer would not reach the end
            assert plan.segments[-3].end < num_frames


@pytest.mark.parametrize("segment_length", [81, 33])
def test_merge_puts_each_frame_back_once_with_weights_summing_to_one(segment_length):
    for num_frames in LENGTHS:
        plan = plan_segments(num_frames, segment_length)
        coverage = torch.zeros(plan.padded_length, dtype=torch.float64)
        for segment, weight in zip(plan.segments, segment_weights(plan)):
            assert weight.min() >= 0
            coverage[segment.start:segment.end] += weight
        assert torch.allclose(coverage, torch.ones_like(coverage), rtol=0, atol=1e-12)
        # every segment shows the global frame number: the merge must return 0..n-1 in order
        numbered = [torch.arange(s.start, s.end, dtype=torch.float64) for s in plan.segments]
        merged = merge_segments(plan, numbered)
        torch.testing.assert_close(merged, torch.arange(num_frames, dtype=torch.float64), rtol=0, atol=1e-9)


def test_merging_constant_segments_gives_the_constant():
    plan = plan_segments(777)
    frames = [torch.full((81, 3, 4, 3), 0.37) for _ in plan.segments]
    merged = merge_segments(plan, frames)
    assert merged.shape == (777, 3, 4, 3) and merged.dtype == torch.float32
    torch.testing.assert_close(merged, torch.full_like(merged, 0.37))


def test_cross_fade_is_linear_over_each_overlap():
    plan = plan_segments(202)  # base 0..80, interpolation 60..140, base 121..201
    zeros, ones = torch.zeros(81), torch.ones(81)
    merged = merge_segments(plan, [zeros, ones, zeros])
    torch.testing.assert_close(merged[60:81], torch.tensor([k / 20 for k in range(21)]))
    torch.testing.assert_close(merged[121:141], torch.tensor([1 - k / 19 for k in range(20)]))
    assert torch.all(merged[:60] == 0) and torch.all(merged[81:121] == 1) and torch.all(merged[141:] == 0)


def test_reflection_padding_matches_numpy_symmetric_padding():
    for num_frames in (1, 2, 3, 10, 80, 82, 300):
        plan = plan_segments(num_frames)
        padded = pad_poses(torch.arange(num_frames), plan)
        expected = np.pad(np.arange(num_frames), (0, plan.padded_length - num_frames), mode="symmetric")
        assert padded.tolist() == expected.tolist()
        keypoint_frames = [{"frame": i} for i in range(num_frames)]  # POSE_KEYPOINT-like list
        assert [f["frame"] for f in pad_poses(keypoint_frames, plan)] == expected.tolist()


def test_interpolation_segments_take_their_neighbours_generated_frames():
    plan = plan_segments(523, 33)
    poses = pad_poses(torch.full((523, 2, 2, 3), -1.0), plan)
    # base segments "generate" their global frame numbers, so sources are traceable
    generated = {s.index: torch.arange(s.start, s.end, dtype=torch.float32).view(-1, 1, 1, 1).expand(-1, 2, 2, 3)
                 for s in plan.base_segments}
    for segment in plan.interpolation_segments:
        frames, mask = segment_inputs(plan, segment.index, poses, generated)
        head, tail = segment.conditioned_head, segment.conditioned_tail
        before, after = generated[segment.index - 1], generated[segment.index + 1]
        assert torch.equal(frames[:head], before[-head:])
        assert torch.equal(frames[-tail:], after[:tail])
        assert torch.all(frames[head:-tail] == -1.0)  # the pose frames stay in between
        conditioned = mask.bool()
        expected_numbers = torch.arange(segment.start, segment.end, dtype=torch.float32)[conditioned]
        assert torch.equal(frames[conditioned][:, 0, 0, 0], expected_numbers)
    for segment in plan.base_segments:
        frames, mask = segment_inputs(plan, segment.index, poses)
        assert torch.equal(frames, poses[segment.start:segment.end]) and mask.sum() == 0


def test_short_video_is_one_padded_segment_and_comes_back_at_its_length():
    plan = plan_segments(10)
    assert len(plan.segments) == 1 and plan.padded_length == 81
    assert "reflection padding" in describe(plan)
    assert merge_segments(plan, [torch.rand(81, 2)]).shape == (10, 2)


def test_describe_lists_every_segment():
    text = describe(plan_segments(300))
    assert "5 segments of 81 frames (head 21, tail 20)" in text
    assert "60-80 from #0, 121-140 from #2" in text
    assert len(text.splitlines()) == 2 + 5


@pytest.mark.parametrize("kwargs, name", [
    ({"num_frames": 0}, "num_frames"), ({"num_frames": -5}, "num_frames"), ({"num_frames": 2.5}, "num_frames"),
    ({"num_frames": 100, "segment_length": 80}, "segment_length"),
    ({"num_frames": 100, "segment_length": 13}, "segment_length"),
    ({"num_frames": 100, "segment_length": 81, "head": 41, "tail": 40}, "head"),
    ({"num_frames": 100, "segment_length": 81, "head": 0, "tail": 20}, "head"),
])
def test_bad_plan_arguments_name_the_input(kwargs, name):
    with pytest.raises(InputError, match=f"^{name}: "):
        plan_segments(**kwargs)


def test_bad_frames_name_the_input():
    plan = plan_segments(202)
    with pytest.raises(InputError, match="^poses: .*202 frames"):
        pad_poses(torch.zeros(200, 3), plan)
    with pytest.raises(InputError, match="^segment_frames: expected 3 segments"):
        merge_segments(plan, [torch.zeros(81)] * 2)
    with pytest.raises(InputError, match="^segment_frames: segment 1 must have shape"):
        merge_segments(plan, [torch.zeros(81), torch.zeros(80), torch.zeros(81)])
    poses = pad_poses(torch.zeros(202, 3), plan)
    with pytest.raises(InputError, match="^generated: .*base segment 2"):
        segment_inputs(plan, 1, poses, {0: torch.zeros(81, 3)})
    with pytest.raises(InputError, match="^index: "):
        segment_inputs(plan, 3, poses)
