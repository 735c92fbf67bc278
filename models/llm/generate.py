"""The motion LLM's tasks at inference: text -> motion, motion -> text, prediction, in-betweening.

Every motion answer is decoded under :class:`~.grammar.MotionGrammar`, so it is a well-formed motion
of exactly the requested number of token steps (``seconds * fps / downsample``, rounded); the motion
tokenizer then decodes it to a MOTION (``smpl_22`` joints, canonical frame, the tokenizer's fps),
with every bone held at its median length over the motion (``motion/humanml3d.steady_bones``: the
tokenizers' decoders predict joint positions, and the worst bone of a decoded corpus window varies by a
median factor of 2.4 between its shortest and longest frame).
Sampling takes ``temperature``, ``top_p`` and ``seed`` (the same seed gives the same motion);
``greedy=True`` takes the most likely token each step. ``progress(done, total)`` is called once per
generated token (a ComfyUI progress callback raises there when the user interrupts).

Motions given as input (start/end poses, the beginning to continue, the two ends to join) are MOTION
(encoded with the LLM's own motion tokenizer) or MOTION_TOKENS of that tokenizer.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from transformers import LogitsProcessorList, StoppingCriteria, StoppingCriteriaList

from ..core.errors import InputError
from ..core.motion import Motion
from ..core.resources import ProgressCallback
from ..motion.humanml3d import steady_bones
from ..tokenizers.base import MotionTokens
from ..tokenizers.codec import decode_motion, encode_motion
from .grammar import MotionGrammar, check_answer
from .model import MotionLLM
from .prompts import clean_text, seconds_text

CAPTION_MAX_TOKENS = 40  # MotionGPT's caption length limit


@dataclass(frozen=True)
class Sampling:
    greedy: bool = False
    temperature: float = 1.0
    top_p: float = 0.95
    seed: int = 0

    def check(self) -> "Sampling":
        if not self.greedy and not (self.temperature > 0 and 0 < self.top_p <= 1):
            raise InputError("sampling", f"expected temperature > 0 and 0 < top_p <= 1, got {self}")
        return self


@dataclass(frozen=True)
class MotionAnswer:
    motion: Motion
    tokens: MotionTokens
    prompt: str


class _ReportTokens(StoppingCriteria):
    """Calls ``progress`` once per generated token; never stops generation itself."""

    def __init__(self, progress: ProgressCallback, prompt_length: int, total: int):
        self.progress, self.prompt_length, self.total = progress, prompt_length, total
        self.done = 0

    def __call__(self, input_ids, scores, **kwargs):
        self.done = min(input_ids.shape[1] - self.prompt_length, self.total)
        self.progress(self.done, self.total)
        return torch.zeros(input_ids.shape[0], dtype=torch.bool, device=input_ids.device)


def check_seconds(llm: MotionLLM, seconds, input_name: str = "seconds") -> float:
    if not isinstance(seconds, (int, float)) or not math.isfinite(seconds) or not 0 < seconds <= llm.max_seconds:
        raise InputError(input_name, f"expected a duration in (0, {llm.max_seconds:g}] seconds (this model's "
                                     f"maximum), got {seconds!r}")
    return float(seconds)


@torch.no_grad()
def generate_ids(llm: MotionLLM, prompt: str, answer: str, steps: int | None = None,
                 sampling: Sampling = Sampling(), progress: ProgressCallback | None = None,
                 max_new_tokens: int | None = None) -> list[int]:
    """The generated ids (prompt excluded, EOS excluded) for one prompt, under the motion grammar."""
    sampling = sampling.check()
    tokenizer = llm.text_tokenizer
    encoded = tokenizer(prompt, return_tensors="pt", add_special_tokens=False)
    input_ids = encoded["input_ids"].to(llm.device)
    prompt_length = input_ids.shape[1]
    blocks = len(llm.vocabulary.blocks)
    if max_new_tokens is None:
        max_new_tokens = blocks * (steps + 2) + 1 if steps is not None else CAPTION_MAX_TOKENS
    grammar = MotionGrammar(llm.vocabulary, prompt_length, answer=answer, steps=steps,
                            max_steps=max(steps or 1, llm.vocabulary.steps_for_seconds(llm.max_seconds)),
                            eos_token_id=llm.eos_token_id)
    reporter = _ReportTokens(progress, prompt_length, max_new_tokens) if progress else None
    stopping = StoppingCriteriaList([reporter] if reporter else [])
    kwargs = {"do_sample": False} if sampling.greedy else {
        "do_sample": True, "temperature": sampling.temperature, "top_p": sampling.top_p, "top_k": 0}
    cuda = [llm.device] if llm.device.type == "cuda" else []
    with torch.random.fork_rng(devices=cuda):  # the seed governs this answer only, not the caller's RNG
        torch.manual_seed(sampling.seed)
        output = llm.lm.generate(input_ids=input_ids, attention_mask=encoded["attention_mask"].to(llm.device),
                                 logits_processor=LogitsProcessorList([grammar]), stopping_criteria=stopping,
                                 max_new_tokens=max_new_tokens, eos_token_id=llm.eos_token_id,
                                 pad_token_id=tokenizer.pad_token_id or llm.eos_token_id, **kwargs)
    generated = output[0, prompt_length:].tolist()
    if llm.eos_token_id in generated:
        generated = generated[: generated.index(llm.eos_token_id)]
    if reporter and reporter.done < max_new_tokens:  # an answer that ended early: the bar still completes
        progress(max_new_tokens, max_new_tokens)
    return generated


def _motion_tokens(llm: MotionLLM, motion, input_name: str) -> MotionTokens:
    if isinstance(motion, MotionTokens):
        return llm.vocabulary.check_tokens(motion, input_name)
    if not isinstance(motion, Motion):
        raise InputError(input_name, f"expected a MOTION or MOTION_TOKENS, got {type(motion).__name__}")
    if motion.is_image_space:
        raise InputError(input_name, "expected a 3D motion; this one is in image space (2D keypoints)")
    if motion.num_frames * llm.motion_tokenizer.fps / motion.fps < llm.motion_tokenizer.downsample + 1:
        raise InputError(input_name, f"the motion is too short to tokenise ({motion.num_frames} frames at "
                                     f"{motion.fps:g} fps)")
    return encode_motion(llm.motion_tokenizer, motion)


def held_pose(llm: MotionLLM, motion, which: str, input_name: str) -> MotionTokens:
    """One token step of ``motion``'s first or last pose held still (MOTION_TOKENS pass through)."""
    if isinstance(motion, MotionTokens):
        tokens = _motion_tokens(llm, motion, input_name)
        step = 0 if which == "first" else tokens.num_steps - 1
        return MotionTokens(tokens.ids[step: step + 1], tokens.codebook_sizes, tokens.tokenizer,
                            llm.vocabulary.downsample, tokens.fps)
    if not isinstance(motion, Motion):
        raise InputError(input_name, f"expected a MOTION or MOTION_TOKENS, got {type(motion).__name__}")
    frame = motion.joints[0 if which == "first" else -1]
    frames = llm.vocabulary.downsample + 1  # features need one frame more than the tokens stand for
    held = Motion(frame[None].repeat(frames, 1, 1), llm.motion_tokenizer.fps, motion.layout)
    tokens = _motion_tokens(llm, held, input_name)
    return MotionTokens(tokens.ids[:1], tokens.codebook_sizes, tokens.tokenizer, llm.vocabulary.downsample,
                        tokens.fps)


def motion_text(llm: MotionLLM, tokens: MotionTokens, masked_steps: range | None = None) -> str:
    """The token strings of ``tokens`` as they appear in a prompt."""
    ids = llm.vocabulary.encode(tokens, masked_steps)
    return "".join(llm.text_tokenizer.convert_ids_to_tokens(ids))


def _answer_motion(llm: MotionLLM, prompt: str, steps: int, sampling: Sampling,
                   progress: ProgressCallback | None) -> MotionTokens:
    generated = generate_ids(llm, prompt, "motion", steps, sampling, progress)
    problem = check_answer(llm.vocabulary, generated, steps=steps, answer="motion")
    if problem is not None:  # the grammar makes this unreachable; kept as the contract's guard
        raise RuntimeError(f"the motion LLM produced an invalid motion answer: {problem}")
    return llm.vocabulary.decode(generated, tuple(llm.motion_tokenizer.codebook_sizes()))


def _join(parts: list[MotionTokens]) -> MotionTokens:
    ids = torch.cat([p.ids for p in parts])
    first = parts[0]
    return MotionTokens(ids, first.codebook_sizes, first.tokenizer, sum(p.num_frames for p in parts), first.fps)


def tokens_to_motion(llm: MotionLLM, tokens: MotionTokens) -> Motion:
    """The MOTION of motion tokens: the tokenizer's decoding with every bone held steady (module docstring)."""
    motion = decode_motion(llm.motion_tokenizer, tokens)
    steady = torch.from_numpy(steady_bones(motion.joints))  # the decoder lets bone lengths drift
    return Motion(steady, motion.fps, motion.layout)


def _decoded(llm: MotionLLM, tokens: MotionTokens, prompt: str) -> MotionAnswer:
    return MotionAnswer(tokens_to_motion(llm, tokens), tokens, prompt)


def text_to_motion(llm: MotionLLM, text: str, seconds: float = 4.0, start_pose=None, end_pose=None,
                   sampling: Sampling = Sampling(), phrasing: int = 0,
                   progress: ProgressCallback | None = None) -> MotionAnswer:
    """A motion of ``seconds`` that follows ``text``; optional start / end poses (MOTION: first / last frame)."""
    text = clean_text(text, llm.text_tokenizer)
    seconds = check_seconds(llm, seconds)
    fields = {"text": text, "seconds": seconds_text(seconds)}
    task = "t2m"
    if start_pose is not None:
        fields["start_pose"] = motion_text(llm, held_pose(llm, start_pose, "first", "start_pose"))
        task = "t2m_start_pose"
    if end_pose is not None:
        fields["end_pose"] = motion_text(llm, held_pose(llm, end_pose, "last", "end_pose"))
        task = "t2m_key_poses" if start_pose is not None else "t2m_end_pose"
    prompt = llm.templates.prompt(task, phrasing, **fields)
    tokens = _answer_motion(llm, prompt, llm.vocabulary.steps_for_seconds(seconds), sampling, progress)
    return _decoded(llm, tokens, prompt)


def motion_to_text(llm: MotionLLM, motion, sampling: Sampling = Sampling(greedy=True), phrasing: int = 0,
                   progress: ProgressCallback | None = None) -> str:
    """A caption of ``motion`` (greedy by default, at most CAPTION_MAX_TOKENS tokens)."""
    tokens = _motion_tokens(llm, motion, "motion")
    prompt = llm.templates.prompt("m2t", phrasing, motion=motion_text(llm, tokens))
    generated = generate_ids(llm, prompt, "text", None, sampling, progress)
    return llm.text_tokenizer.decode(generated, skip_special_tokens=True).strip()


def predict_motion(llm: MotionLLM, motion, seconds: float = 2.0, sampling: Sampling = Sampling(),
                   phrasing: int = 0, progress: ProgressCallback | None = None) -> MotionAnswer:
    """``motion`` continued by ``seconds``; the answer holds the given beginning and the prediction."""
    given = _motion_tokens(llm, motion, "motion")
    seconds = check_seconds(llm, seconds)
    if (given.num_frames / given.fps) + seconds > llm.max_seconds + 1e-6:
        raise InputError("seconds", f"the given {given.num_frames / given.fps:.1f} s plus {seconds:g} s exceed "
                                    f"this model's maximum of {llm.max_seconds:g} s")
    prompt = llm.templates.prompt("predict", phrasing, motion=motion_text(llm, given), seconds=seconds_text(seconds))
    future = _answer_motion(llm, prompt, llm.vocabulary.steps_for_seconds(seconds), sampling, progress)
    return _decoded(llm, _join([given, future]), prompt)


def inbetween_motions(llm: MotionLLM, first, last, seconds: float = 2.0, sampling: Sampling = Sampling(),
                      phrasing: int = 0, progress: ProgressCallback | None = None) -> MotionAnswer:
    """``first``, then ``seconds`` of generated motion, then ``last``: the masked middle filled in."""
    head, tail = _motion_tokens(llm, first, "first"), _motion_tokens(llm, last, "last")
    seconds = check_seconds(llm, seconds)
    steps = llm.vocabulary.steps_for_seconds(seconds)
    total = head.num_frames / head.fps + seconds + tail.num_frames / tail.fps
    if total > llm.max_seconds + 1e-6:
        raise InputError("seconds", f"the two motions and the {seconds:g} s between them last {total:.1f} s, over "
                                    f"this model's maximum of {llm.max_seconds:g} s")
    placeholder = MotionTokens(torch.zeros(steps, head.ids.shape[1], dtype=torch.int64), head.codebook_sizes,
                               head.tokenizer, steps * llm.vocabulary.downsample, head.fps)
    masked = _join([head, placeholder, tail])
    hidden = range(head.num_steps, head.num_steps + steps)
    prompt = llm.templates.prompt("inbetween", phrasing, motion=motion_text(llm, masked, hidden))
    middle = _answer_motion(llm, prompt, steps, sampling, progress)
    return _decoded(llm, _join([head, middle, tail]), prompt)

