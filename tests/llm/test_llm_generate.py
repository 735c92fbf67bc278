"""The motion LLM's four tasks on a tiny random LM: lengths, seeding, progress, and bad inputs.

The LM is a random 2-layer LLaMA (width 32) on the real SmolLM2 tokenizer with random adapter
weights, extended with an untrained tiny motion tokenizer (16 codes, downsample 4, 20 fps): what it
generates is noise, but the grammar makes every answer a motion of exactly the requested length.
Input motions are windows of the real CMU mocap clip ``data/mocap/test_mocapbank.bvh``.
"""

from __future__ import annotations

import copy
import math

import pytest
import torch
from posemotion.models.core.errors import InputError
from posemotion.models.core.motion import Motion
from posemotion.models.llm.generate import (
    Sampling,
    inbetween_motions,
    motion_to_text,
    predict_motion,
    text_to_motion,
)
from posemotion.models.llm.prompts import MAX_TEXT_TOKENS
from posemotion.models.tokenizers.base import MotionTokens
from posemotion.models.tokenizers.codec import encode_motion
from support.llm_tiny_parts import mocap_joints, tiny_llm

FPS, DOWNSAMPLE = 20.0, 4  # the tiny motion tokenizer's


pytestmark = pytest.mark.usefixtures("one_torch_thread")  # tiny models: per-op overhead, one thread is faster


@pytest.fixture(scope="module")
def llm(_smol_tokenizer_once):
    """One tiny LLM for the module: generation does not change it."""
    return tiny_llm(copy.deepcopy(_smol_tokenizer_once))


@pytest.fixture(scope="module")
def clip() -> Motion:
    """1 s of real mocap (21 frames at 20 fps: 5 token steps, since features are frame differences)."""
    return Motion(mocap_joints()[40:61].contiguous(), FPS, "smpl_22")


@pytest.mark.parametrize("seconds, frames", [(4.0, 80), (1.0, 20), (2.5, 48), (0.2, 4), (10.0, 200)])
def test_text_to_motion_has_the_requested_length(llm, seconds, frames):
    """frames = round(seconds * 20 fps / 4) token steps * 4 (2.5 s: 12.5 steps round to 12)."""
    answer = text_to_motion(llm, "a person walks forward", seconds)
    assert answer.tokens.num_steps * DOWNSAMPLE == frames == answer.motion.num_frames
    assert answer.motion.fps == FPS and answer.motion.layout == "smpl_22"
    assert torch.isfinite(answer.motion.joints).all()
    assert "a person walks forward" in answer.prompt and f"({seconds:.1f} seconds)" in answer.prompt


def test_part_vq_text_to_motion_has_hands_and_the_requested_length(smol_tokenizer):
    answer = text_to_motion(tiny_llm(smol_tokenizer, kind="part_vq"), "a person claps", 2.0)
    assert answer.motion.num_frames == 40 and answer.motion.layout == "smpl_52"
    assert answer.tokens.ids.shape == (10, 2)


def test_same_seed_same_motion_other_seed_other_tokens(llm):
    first = text_to_motion(llm, "a person jumps", 2.0, sampling=Sampling(seed=7))
    again = text_to_motion(llm, "a person jumps", 2.0, sampling=Sampling(seed=7))
    other = text_to_motion(llm, "a person jumps", 2.0, sampling=Sampling(seed=8))
    assert torch.equal(first.tokens.ids, again.tokens.ids) and torch.equal(first.motion.joints, again.motion.joints)
    assert not torch.equal(first.tokens.ids, other.tokens.ids)
    greedy = [text_to_motion(llm, "a person jumps", 2.0, sampling=Sampling(greedy=True, seed=s)).tokens.ids
              for s in (1, 2)]
    assert torch.equal(*greedy)  # greedy ignores the seed


def test_progress_is_called_once_per_generated_token(llm):
    calls = []
    text_to_motion(llm, "a person walks", 1.0, progress=lambda done, total: calls.append((done, total)))
    tokens = 1 + 5 + 1 + 1  # start, 5 codes, end, EOS
    assert calls == [(done, tokens) for done in range(1, tokens + 1)]


def test_pose_conditioned_prompts(llm, clip):
    answer = text_to_motion(llm, "a person waves", 2.0, start_pose=clip, end_pose=clip)
    start = llm.vocabulary.special_id(0, "start")
    assert "Initial pose:" in answer.prompt and "Last pose:" in answer.prompt
    assert answer.prompt.count(llm.text_tokenizer.convert_ids_to_tokens(start)) == 2  # one held pose each
    assert answer.motion.num_frames == 40
    only_end = text_to_motion(llm, "a person waves", 2.0, end_pose=clip)
    assert "Last pose:" in only_end.prompt and "Initial pose:" not in only_end.prompt


def test_predict_returns_given_plus_predicted(llm, clip):
    given = encode_motion(llm.motion_tokenizer, clip)
    answer = predict_motion(llm, clip, seconds=2.0)
    assert given.num_steps == 5
    assert answer.tokens.num_steps == 5 + 10 and answer.motion.num_frames == 60
    assert torch.equal(answer.tokens.ids[:5], given.ids)  # the beginning is kept as given
    from_tokens = predict_motion(llm, given, seconds=1.0)  # MOTION_TOKENS work as well
    assert from_tokens.motion.num_frames == 20 + 20


def test_inbetween_returns_first_middle_last(llm, clip):
    first = encode_motion(llm.motion_tokenizer, clip)
    answer = inbetween_motions(llm, clip, clip, seconds=1.5)
    steps = 8  # round(1.5 s * 20 / 4) = round(7.5) = 8
    assert answer.tokens.num_steps == 5 + steps + 5 and answer.motion.num_frames == (10 + steps) * DOWNSAMPLE
    assert torch.equal(answer.tokens.ids[:5], first.ids) and torch.equal(answer.tokens.ids[-5:], first.ids)
    mask = llm.text_tokenizer.convert_ids_to_tokens(llm.vocabulary.special_id(0, "mask"))
    assert answer.prompt.count(mask) == steps


def test_motion_to_text_is_text_only(llm, clip):
    caption = motion_to_text(llm, clip)
    assert isinstance(caption, str) and caption
    assert "_id_" not in caption  # no motion token strings in a caption


def test_long_text_is_truncated_and_still_generates(llm):
    with pytest.warns(UserWarning, match=f"limit of {MAX_TEXT_TOKENS}"):
        answer = text_to_motion(llm, "a person walks forward and " * 40, 1.0)
    assert answer.motion.num_frames == 20


# bad inputs: each one InputError naming the input -------------------------------------------------

@pytest.mark.parametrize("text", ["", "   ", "\n\t", None])
def test_empty_text(llm, text):
    with pytest.raises(InputError) as error:
        text_to_motion(llm, text, 2.0)
    assert error.value.input_name == "text"


@pytest.mark.parametrize("seconds", [0.0, -1.0, 10.5, math.nan, math.inf, "2"])
def test_bad_seconds(llm, clip, seconds):
    for task in (lambda: text_to_motion(llm, "a person walks", seconds),
                 lambda: predict_motion(llm, clip, seconds),
                 lambda: inbetween_motions(llm, clip, clip, seconds)):
        with pytest.raises(InputError, match=r"\(0, 10\]") as error:
            task()
        assert error.value.input_name == "seconds"


def test_given_plus_predicted_over_the_maximum(llm, clip):
    with pytest.raises(InputError, match="maximum of 10") as error:
        predict_motion(llm, clip, seconds=9.5)
    assert error.value.input_name == "seconds"
    with pytest.raises(InputError, match="maximum of 10") as error:
        inbetween_motions(llm, clip, clip, seconds=8.5)
    assert error.value.input_name == "seconds"


def test_tokens_of_another_tokenizer_kind(llm):
    other = MotionTokens(torch.zeros(5, 2, dtype=torch.int64), (16, 16), "part_vq", 20, FPS)
    vqvae = MotionTokens(torch.zeros(5, 1, dtype=torch.int64), (16,), "vqvae", 20, FPS)
    for task, name in ((lambda: motion_to_text(llm, other), "motion"),
                       (lambda: predict_motion(llm, other, 1.0), "motion"),
                       (lambda: inbetween_motions(llm, other, vqvae, 1.0), "first"),
                       (lambda: inbetween_motions(llm, vqvae, other, 1.0), "last"),
                       (lambda: text_to_motion(llm, "a person walks", 1.0, start_pose=other), "start_pose")):
        with pytest.raises(InputError, match="'part_vq' tokenizer") as error:
            task()
        assert error.value.input_name == name


def test_tokens_of_another_codebook_size(llm):
    bigger = MotionTokens(torch.zeros(5, 1, dtype=torch.int64), (512,), "vqvae", 20, FPS)
    with pytest.raises(InputError, match="512") as error:
        motion_to_text(llm, bigger)
    assert error.value.input_name == "motion"


def test_image_space_motion(llm):
    image = Motion(torch.rand(21, 75, 3), 20.0, "mediapipe_holistic_75_image", canvas_size=(640, 480))
    for task, name in ((lambda: motion_to_text(llm, image), "motion"),
                       (lambda: predict_motion(llm, image, 1.0), "motion"),
                       (lambda: inbetween_motions(llm, image, image, 1.0), "first")):
        with pytest.raises(InputError, match="image space") as error:
            task()
        assert error.value.input_name == name


def test_too_short_or_wrong_type_motion(llm, clip):
    short = Motion(clip.joints[:3].contiguous(), FPS, "smpl_22")
    with pytest.raises(InputError, match="too short") as error:
        motion_to_text(llm, short)
    assert error.value.input_name == "motion"
    with pytest.raises(InputError, match="MOTION or MOTION_TOKENS") as error:
        predict_motion(llm, clip.joints, 1.0)
    assert error.value.input_name == "motion"


def test_bad_sampling(llm):
    for sampling in (Sampling(temperature=0.0), Sampling(top_p=0.0), Sampling(top_p=1.5)):
        with pytest.raises(InputError) as error:
            text_to_motion(llm, "a person walks", 1.0, sampling=sampling)
        assert error.value.input_name == "sampling"


def test_sampling_leaves_the_callers_random_state_alone(llm):
    torch.manual_seed(123)
    expected = torch.rand(3)
    torch.manual_seed(123)
    text_to_motion(llm, "a person walks forward", seconds=1.0, sampling=Sampling(seed=7))
    assert torch.equal(torch.rand(3), expected)
