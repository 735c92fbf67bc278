"""A text timeline: prompts with start/end times -> the denoiser's ``TextCondition``.

Entries (one per prompt; a multi-line string is split on newlines, blank lines skipped):

- ``"START-END:TEXT"`` in seconds, e.g. ``"0-3:walks forward"``, ``"2.5-6 s: turns left"``
  (each number may carry an ``s``);
- ``"START%-END%:TEXT"``: percentages of the motion's length, e.g. ``"0%-50%:walks"``
  (each number carries its own unit, so ``"0-50%"`` is 0 s to half the length);
- ``"TEXT"``: the whole length.

Prompts may overlap: frames inside several windows attend to all of those prompts (the multi-text
injection block sums their outputs), which is how GENMO blends actions. A prompt must lie inside the
motion: an end up to half a frame (at ``fps``) past the length is clamped to it, anything further is
an error naming the prompt. An empty timeline gives no prompts (generation without text).

``encode_timeline`` gives prompt k the frames i with ``start * fps <= i < end * fps`` (at least one
frame: the one at its start) and its text encoder tokens.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

import torch

from ..core.errors import InputError, positive_number
from .conditions import TextCondition

# A number with an optional unit: "3", "2.5", ".5", "-1" (caught as negative), "3s", "50%".
_NUMBER = r"\s*(-?(?:\d+(?:\.\d*)?|\.\d+))\s*(%|s)?\s*"
_RANGE = re.compile(rf"^{_NUMBER}-{_NUMBER}:(.*)$", re.DOTALL)
# Something that looks like a time prefix (only digits, signs, dots, units before the first colon)
# but is not a valid range: refused rather than read as text ("3:walks", "1-2-3:x").
_TIME_LIKE = re.compile(r"^(?=[^:]*\d)[\d\s.%s-]+:")
_FRAME_EPSILON = 1e-6  # frames; absorbs float error in start * fps at exact frame boundaries


@dataclass(frozen=True)
class Prompt:
    """One prompt of the timeline: ``text`` over ``start`` <= t < ``end`` seconds."""

    text: str
    start: float
    end: float


def _entries(entries: str | list[str]) -> list[str]:
    if isinstance(entries, str):
        entries = [entries]
    if not isinstance(entries, (list, tuple)) or not all(isinstance(e, str) for e in entries):
        raise InputError("text", f"expected a string or a list of strings, got {type(entries).__name__}")
    return [line.strip() for entry in entries for line in entry.splitlines() if line.strip()]


def _seconds(value: str, unit: str | None, seconds: float) -> float:
    return float(value) / 100.0 * seconds if unit == "%" else float(value)


def parse_timeline(entries: str | list[str], seconds: float, fps: float = 20.0) -> list[Prompt]:
    """Prompts of a timeline over a motion of ``seconds`` (see the module docstring for the syntax)."""
    positive_number(seconds, "seconds", "a positive length in seconds")
    fps = positive_number(fps, "fps", "a positive frame rate")
    tolerance = 0.5 / fps
    prompts = []
    for number, entry in enumerate(_entries(entries), start=1):
        where = f"prompt {number} ({entry!r})"
        match = _RANGE.match(entry)
        if match is None:
            if _TIME_LIKE.match(entry):
                raise InputError("text", f"{where}: could not read its time range; write \"START-END:TEXT\" in "
                                         f"seconds (e.g. \"0-3:walks\") or percent (\"0%-50%:walks\")")
            start, end, text = 0.0, float(seconds), entry
        else:
            start = _seconds(match[1], match[2], seconds)
            end = _seconds(match[3], match[4], seconds)
            text = match[5].strip()
        if not text:
            raise InputError("text", f"{where}: the prompt text is empty")
        if start < 0 or end < 0:
            raise InputError("text", f"{where}: times must not be negative (got {start:g} to {end:g} s)")
        if start >= end:
            raise InputError("text", f"{where}: starts at {start:g} s, not before its end at {end:g} s")
        if end > seconds + tolerance:
            raise InputError("text", f"{where}: ends at {end:g} s, after the motion's {seconds:g} s")
        if start >= seconds:
            raise InputError("text", f"{where}: starts at {start:g} s, at or after the motion's end ({seconds:g} s)")
        prompts.append(Prompt(text=text, start=start, end=min(end, float(seconds))))
    return prompts


def prompt_windows(prompts: list[Prompt], num_frames: int, fps: float) -> torch.Tensor:
    """[K, num_frames] bool: frame i lies in prompt k's window (at least its first frame)."""
    frames = torch.arange(num_frames, dtype=torch.float64)
    windows = torch.zeros(len(prompts), num_frames, dtype=torch.bool)
    for k, prompt in enumerate(prompts):
        first, stop = prompt.start * fps - _FRAME_EPSILON, prompt.end * fps - _FRAME_EPSILON
        windows[k] = (frames >= first) & (frames < stop)
        if not windows[k].any():  # a window shorter than a frame still conditions its frame
            windows[k, min(max(int(math.floor(prompt.start * fps + _FRAME_EPSILON)), 0), num_frames - 1)] = True
    return windows


def encode_timeline(prompts: list[Prompt], num_frames: int, fps: float, text_encoder) -> TextCondition:
    """One sequence's TextCondition: tokens [1, K, M, D], token_mask [1, K, M], windows [1, K, num_frames].

    ``text_encoder.encode(texts)`` must return a Conditioning-like object (``tokens`` [K, M, D],
    ``mask`` [K, M]); the embedded MiniLM encoder does.
    """
    if not prompts:
        raise InputError("text", "the timeline has no prompt")
    if isinstance(num_frames, bool) or not isinstance(num_frames, int) or num_frames < 1:
        raise InputError("num_frames", f"expected a positive frame count, got {num_frames!r}")
    positive_number(fps, "fps", "a positive frame rate")
    encoded = text_encoder.encode([p.text for p in prompts])
    tokens, mask = encoded.tokens.float(), encoded.mask.bool()
    return TextCondition(tokens=tokens[None], token_mask=mask[None],
                         windows=prompt_windows(prompts, num_frames, fps)[None])
