"""Constrained decoding: a transformers ``LogitsProcessor`` that only lets an LM write valid answers.

Data contract. :class:`MotionGrammar` reads ``input_ids`` [B, prompt_length + t] (the left-padded
prompt, then the t tokens generated so far; every row shares ``prompt_length``) and the next-token
``scores`` [B, V] (V >= the last motion token id + 1), and returns the scores with every token the
grammar forbids for that row set to -inf. The grammar of the answer (``vocabulary``'s blocks
B_0 .. B_{n-1}, each with K code tokens and start/end/mask tokens):

- ``"motion"``: exactly one motion, then EOS: ``<B_0 start> c_1 .. c_N <B_0 end> <B_1 start> ..
  <B_{n-1} end> EOS``. Inside block i only block i's codes (never its mask token). N = ``steps``
  when given; else block 0 takes 1 .. ``max_steps`` codes (its end token becomes allowed after the
  first code) and every later block exactly as many as block 0 (part_vq: hand then body).
- ``"text"``: no motion token at all (every id >= ``vocabulary.first_id`` is forbidden).
- ``"mixed"``: text tokens (ids < ``first_id``, EOS included) outside a motion; ``<B_0 start>``
  opens a motion anywhere outside one, which then follows the motion rules above.

A row whose generated tokens hold EOS has finished (transformers pads it from then on), so it is
left unconstrained. The state of each row is read from its generated tokens at every call (no
hidden state), so one processor serves greedy, sampling, beam search and ``use_cache`` True or False
alike, and can be reused. The grammar takes precedence over processors that ran before it: when
another processor already set every token the grammar allows to -inf (e.g. ``min_new_tokens``
banning the EOS that must follow a motion), those tokens get score 0 so the answer stays valid.
Transformers applies the sampling warpers (temperature, top-k, top-p) after custom processors,
so they only ever choose among allowed tokens.

:func:`check_answer` is an independent, sequential checker of the same grammar for one row of
generated ids: None when valid, else the reason.
"""

from __future__ import annotations

import torch
from transformers import LogitsProcessor

from ..core.errors import InputError
from .vocabulary import SPECIALS, MotionVocabulary

ANSWERS = ("motion", "text", "mixed")
DEFAULT_MAX_STEPS = 100  # codes per block when no length is requested: 20 s at 20 fps with downsample 4

# role of an id in the lookup tables
_NOT_MOTION, _CODE, _START, _END, _MASK = -1, 0, 1, 2, 3
_ROLE_OF_SPECIAL = {"start": _START, "end": _END, "mask": _MASK}


def _check_settings(vocabulary, answer, steps, max_steps) -> None:
    if not isinstance(vocabulary, MotionVocabulary):
        raise InputError("vocabulary", f"expected a MotionVocabulary, got {type(vocabulary).__name__}")
    if answer not in ANSWERS:
        raise InputError("answer", f"expected one of {', '.join(ANSWERS)}, got {answer!r}")
    if max_steps is not None and (isinstance(max_steps, bool) or not isinstance(max_steps, int) or max_steps < 1):
        raise InputError("max_steps", f"expected a whole number >= 1, got {max_steps!r}")
    if steps is not None:
        if isinstance(steps, bool) or not isinstance(steps, int) or steps < 1:
            raise InputError("steps", f"expected a whole number of token steps >= 1, got {steps!r}")
        if max_steps is not None and steps > max_steps:
            raise InputError("steps", f"{steps} token steps exceed the maximum of {max_steps} (max_steps)")


def _id_tables(vocabulary: MotionVocabulary) -> tuple[torch.Tensor, torch.Tensor]:
    """(role, block) of every id below ``added_ids.stop`` plus one catch-all slot for larger ids."""
    size = vocabulary.added_ids.stop + 1
    role = torch.full((size,), _NOT_MOTION, dtype=torch.int64)
    block = torch.full((size,), -1, dtype=torch.int64)
    for index in range(len(vocabulary.blocks)):
        codes = vocabulary.code_range(index)
        role[codes.start:codes.stop] = _CODE
        block[codes.start:codes.stop] = index
        for which in SPECIALS:
            role[vocabulary.special_id(index, which)] = _ROLE_OF_SPECIAL[which]
            block[vocabulary.special_id(index, which)] = index
    return role, block


class MotionGrammar(LogitsProcessor):
    """Masks the scores of every token the answer grammar forbids (see the module docstring)."""

    def __init__(self, vocabulary: MotionVocabulary, prompt_length: int, answer: str = "motion",
                 steps: int | None = None, max_steps: int = DEFAULT_MAX_STEPS, eos_token_id: int | None = None):
        _check_settings(vocabulary, answer, steps, max_steps)
        if max_steps is None:
            raise InputError("max_steps", "expected a whole number >= 1, got None")
        if isinstance(prompt_length, bool) or not isinstance(prompt_length, int) or prompt_length < 0:
            raise InputError("prompt_length", f"expected a whole number >= 0, got {prompt_length!r}")
        if eos_token_id is not None and not 0 <= int(eos_token_id) < vocabulary.first_id:
            raise InputError("eos_token_id", f"expected a text token id below {vocabulary.first_id}, "
                                             f"got {eos_token_id!r}")
        self.vocabulary = vocabulary
        self.prompt_length = prompt_length
        self.answer = answer
        self.steps = steps
        self.max_steps = max_steps
        self.eos_token_id = None if eos_token_id is None else int(eos_token_id)
        self._role, self._block = _id_tables(vocabulary)

    def __call__(self, input_ids: torch.LongTensor, scores: torch.FloatTensor) -> torch.FloatTensor:
        if input_ids.shape[1] < self.prompt_length:
            raise InputError("prompt_length", f"{self.prompt_length} exceeds the {input_ids.shape[1]} tokens "
                                              f"of input_ids")
        if scores.shape[1] < self.vocabulary.added_ids.stop:
            raise InputError("vocabulary", f"the LM scores {scores.shape[1]} tokens; the motion vocabulary needs "
                                           f"ids up to {self.vocabulary.added_ids.stop - 1}: extend the LM first")
        allowed = self.allowed_tokens(input_ids[:, self.prompt_length:], scores.shape[1])
        allowed = allowed.to(scores.device)
        masked = torch.where(allowed, scores, float("-inf"))
        # the grammar wins over earlier processors: never leave a row without a finite score
        dead = masked.amax(dim=1) == float("-inf")
        if dead.any():
            masked[dead] = torch.where(allowed[dead], 0.0, float("-inf")).to(masked.dtype)
        return masked

    # the grammar ---------------------------------------------------------------------------------
    def allowed_tokens(self, generated: torch.Tensor, vocab_size: int) -> torch.Tensor:
        """Bool [B, vocab_size]: the tokens each row may write next, given its ``generated`` ids [B, t]."""
        generated = generated.detach().to("cpu", torch.int64)
        rows = generated.shape[0]
        allowed = torch.zeros(rows, vocab_size, dtype=torch.bool)
        first_id = self.vocabulary.first_id
        if self.answer == "text":
            allowed[:, :first_id] = True
        else:
            self._motion_rules(generated, allowed)
        if self.eos_token_id is not None:
            allowed[(generated == self.eos_token_id).any(dim=1)] = True  # finished rows: transformers pads them
        return allowed

    def _motion_rules(self, generated: torch.Tensor, allowed: torch.Tensor) -> None:
        vocabulary, rows = self.vocabulary, generated.shape[0]
        last_block = len(vocabulary.blocks) - 1
        # a leading text token (id 0) gives every row a first column, also before the first step
        generated = torch.cat([torch.zeros(rows, 1, dtype=torch.int64), generated], dim=1)
        length = generated.shape[1]
        table_index = generated.clamp(min=0, max=vocabulary.added_ids.stop)  # larger ids share the last slot
        role, block = self._role[table_index], self._block[table_index]
        positions = torch.arange(length).expand(rows, length)

        # the last start or end token decides where a row stands; everything after a start is codes
        structural = (role == _START) | (role == _END)
        last = torch.where(structural, positions, 0).max(dim=1).values  # 0: the leading text column
        last_role = role.gather(1, last[:, None])[:, 0]
        last_block_index = block.gather(1, last[:, None])[:, 0]
        inside = last_role == _START
        count = length - 1 - last  # codes written since the block's start
        forced = torch.full((rows,), -1, dtype=torch.int64)

        # between blocks: the next block's start
        between = (last_role == _END) & (last_block_index < last_block)
        for index in range(last_block):
            forced[between & (last_block_index == index)] = vocabulary.special_id(index + 1, "start")

        # outside a motion (none yet, or after a complete one)
        outside = ~inside & ~between
        complete = (last_role == _END) & (last_block_index == last_block)
        if self.answer == "motion":
            forced[outside & ~complete] = vocabulary.special_id(0, "start")
            if self.eos_token_id is not None:
                forced[complete] = self.eos_token_id
            else:
                allowed[complete, :vocabulary.first_id] = True
        else:  # mixed
            allowed[outside, :vocabulary.first_id] = True
            forced[outside] = vocabulary.special_id(0, "start")

        # inside block i: codes until the length is reached, the end token once it may close
        if self.steps is not None:
            low = high = torch.full((rows,), self.steps)
        else:
            # block 0 sets the length of the later blocks of the same motion
            start0 = role.eq(_START) & block.eq(0)
            end0 = role.eq(_END) & block.eq(0)
            first_length = (torch.where(end0, positions, 0).max(dim=1).values
                            - torch.where(start0, positions, 0).max(dim=1).values - 1)
            in_first = last_block_index == 0
            low = torch.where(in_first, 1, first_length)
            high = torch.where(in_first, self.max_steps, first_length)
        for index in range(len(vocabulary.blocks)):
            here = inside & (last_block_index == index)
            codes = vocabulary.code_range(index)
            allowed[here & (count < high), codes.start:codes.stop] = True
            allowed[here & (count >= low), vocabulary.special_id(index, "end")] = True

        has_forced = forced >= 0
        allowed[has_forced.nonzero()[:, 0], forced[has_forced]] = True


def check_answer(vocabulary: MotionVocabulary, generated_ids, steps: int | None = None, answer: str = "motion",
                 eos_token_id: int | None = None, max_steps: int | None = None) -> str | None:
    """None when one row of generated ids (the answer only, without the prompt) follows the grammar of
    ``answer``, else the first reason it does not. With ``eos_token_id`` the answer ends at its first
    EOS (what follows is padding) and a motion answer must be followed by EOS (or end there); without
    it, a motion answer may be followed by text but no motion token. ``max_steps`` bounds free lengths."""
    _check_settings(vocabulary, answer, steps, max_steps)
    ids = [int(i) for i in (generated_ids.tolist() if isinstance(generated_ids, torch.Tensor) else generated_ids)]
    if eos_token_id is not None and eos_token_id in ids:
        ids = ids[:ids.index(eos_token_id) + 1]
    added = vocabulary.added_ids
    if answer == "text":
        for position, token in enumerate(ids):
            if token >= vocabulary.first_id:
                return f"token {token} at position {position} is not a text token"
        return None

    position, motions = 0, 0
    while position < len(ids):
        token = ids[position]
        if token == vocabulary.special_id(0, "start") and (answer == "mixed" or motions == 0):
            position, problem = _read_motion(vocabulary, ids, position, steps, max_steps)
            if problem:
                return problem
            motions += 1
            continue
        if answer == "motion" and motions == 0:
            return f"the answer must open with the motion start token {vocabulary.special_id(0, 'start')}, " \
                   f"got {token} at position {position}"
        if token >= vocabulary.first_id:
            where = "after the motion" if answer == "motion" else "outside a motion"
            return f"{'motion' if token in added else 'unknown'} token {token} at position {position} {where}"
        if answer == "motion" and eos_token_id is not None and token != eos_token_id:
            return f"the motion must be followed by EOS {eos_token_id}, got {token} at position {position}"
        position += 1
    if answer == "motion" and motions == 0:
        return "the answer holds no motion"
    return None


def _read_motion(vocabulary: MotionVocabulary, ids: list[int], position: int, steps: int | None,
                 max_steps: int | None) -> tuple[int, str | None]:
    """(position after the motion starting at ``position``, the problem or None)."""
    length = steps
    for index, block in enumerate(vocabulary.blocks):
        start, end = vocabulary.special_id(index, "start"), vocabulary.special_id(index, "end")
        if position >= len(ids) or ids[position] != start:
            got = ids[position] if position < len(ids) else "the end of the answer"
            return position, f"expected the <{block.name}> start token {start} at position {position}, got {got}"
        position += 1
        codes, count = vocabulary.code_range(index), 0
        while position < len(ids) and ids[position] in codes:
            count, position = count + 1, position + 1
        if position >= len(ids):
            return position, f"the <{block.name}> block is not closed by its end token {end}"
        if ids[position] != end:
            return position, (f"token {ids[position]} at position {position} inside the <{block.name}> block "
                              f"is neither one of its codes nor its end token {end}")
        if count == 0:
            return position, f"the <{block.name}> block holds no code"
        if length is not None and count != length:
            what = "requested" if steps is not None else f"the <{vocabulary.blocks[0].name}> block's"
            return position, f"the <{block.name}> block holds {count} steps, not the {length} {what}"
        if max_steps is not None and count > max_steps:
            return position, f"the <{block.name}> block holds {count} steps, more than max_steps {max_steps}"
        length, position = count, position + 1
    return position, None
