"""Training examples of the motion LLM, from a HumanML3D-layout folder (``motion/dataset_folder.py``).

Every item of a split is read as joints (``new_joints/NAME.npy``, 20 fps), tokenised with the LLM's
motion tokenizer, and paired with its text lines (a line with a time window covers only those token
steps). Its first and last poses are tokenised held still (one token step each) for the
pose-conditioned tasks. Our own corpus's captions are derived from the motion by the captioner
(``models/captioning``), so anything learned from them is learned from derived captions.

:func:`make_examples` turns items into (prompt ids, answer ids) pairs, drawn deterministically from
``seed``: a caption, an instruction phrasing, and for ``predict`` / ``inbetween`` the cut points.
Stage ``align`` (motion-language alignment) uses t2m and m2t with the first phrasing only; stage
``instruct`` uses every task and phrasing (the paper's Sec. IV-D).
"""

from __future__ import annotations

import random
from dataclasses import dataclass

import torch

from ..core.errors import InputError
from ..core.motion import Motion
from ..core.resources import ProgressCallback
from ..motion.dataset_folder import read_joints, read_split, read_texts
from ..tokenizers.base import MotionTokens
from ..tokenizers.codec import encode_motion
from .generate import held_pose, motion_text
from .model import MotionLLM
from .prompts import TASKS, seconds_text

CORPUS_FPS = 20.0  # the HumanML3D layout's frame rate
STAGE_TASKS = {"align": ("t2m", "m2t"), "instruct": TASKS}
MIN_STEPS = 2  # items shorter than this many token steps are skipped (nothing to predict or in-between)
IGNORE = -100  # label of prompt and padding positions (transformers' cross-entropy ignore index)


@dataclass(frozen=True)
class MotionTextItem:
    name: str
    tokens: MotionTokens
    captions: tuple[str, ...]
    first_pose: MotionTokens
    last_pose: MotionTokens


@dataclass(frozen=True)
class Example:
    task: str
    input_ids: tuple[int, ...]
    answer_start: int  # input_ids[answer_start:] is the answer (ending with EOS)


def load_items(llm: MotionLLM, folder: str, split: str, progress: ProgressCallback | None = None,
               limit: int | None = None) -> list[MotionTextItem]:
    """The tokenised items of ``split`` (``train`` / ``test``) with their captions."""
    names = read_split(folder, split)[:limit]
    items = []
    for index, name in enumerate(names):
        joints = torch.from_numpy(read_joints(folder, name).copy())
        motion = Motion(joints, CORPUS_FPS, "smpl_22" if joints.shape[1] == 22 else "smpl_52")
        if motion.layout == "smpl_52" and llm.vocabulary.tokenizer_kind != "part_vq":
            motion = Motion(joints[:, :22].contiguous(), CORPUS_FPS, "smpl_22")
        tokens = encode_motion(llm.motion_tokenizer, motion)
        first_pose, last_pose = held_pose(llm, motion, "first", name), held_pose(llm, motion, "last", name)
        for line in read_texts(folder, name):
            if not line.caption.strip():
                continue
            if line.whole_motion:
                window = tokens
            else:  # a caption of a time window: the token steps inside it
                first = int(line.start * tokens.fps / llm.vocabulary.downsample)
                last = max(first + 1, int(line.end * tokens.fps / llm.vocabulary.downsample))
                window = _steps(tokens, first, last)
            if window.num_steps >= MIN_STEPS:
                items.append(MotionTextItem(name, window, (line.caption.strip(),), first_pose, last_pose))
        if progress:
            progress(index + 1, len(names))
    return _merge_captions(items)


def _merge_captions(items: list[MotionTextItem]) -> list[MotionTextItem]:
    """One item per (name, token window) with all its captions."""
    merged: dict[tuple, MotionTextItem] = {}
    for item in items:
        key = (item.name, tuple(item.tokens.ids.flatten().tolist()))
        if key in merged:
            old = merged[key]
            merged[key] = MotionTextItem(old.name, old.tokens, old.captions + item.captions, old.first_pose,
                                         old.last_pose)
        else:
            merged[key] = item
    return list(merged.values())


def _steps(tokens: MotionTokens, first: int, last: int) -> MotionTokens:
    ids = tokens.ids[first:last]
    steps = ids.shape[0]
    return MotionTokens(ids, tokens.codebook_sizes, tokens.tokenizer, steps * (tokens.num_frames // tokens.num_steps),
                        tokens.fps)


def _seconds(llm: MotionLLM, steps: int) -> str:
    return seconds_text(steps * llm.vocabulary.downsample / llm.vocabulary.fps)


def build_example(llm: MotionLLM, item: MotionTextItem, task: str, rng: random.Random, phrasing: int | None) -> Example:
    """One (prompt, answer) example of ``task`` from ``item``; choices drawn from ``rng``."""
    caption = rng.choice(item.captions)
    tokens = item.tokens
    steps = tokens.num_steps
    templates = llm.templates
    if task == "m2t":
        prompt = templates.prompt("m2t", phrasing, rng, motion=motion_text(llm, tokens))
        answer = llm.text_tokenizer(caption, add_special_tokens=False)["input_ids"]
    elif task == "predict":
        cut = rng.randrange(1, steps)
        head, rest = _steps(tokens, 0, cut), _steps(tokens, cut, steps)
        prompt = templates.prompt("predict", phrasing, rng, motion=motion_text(llm, head),
                                  seconds=_seconds(llm, rest.num_steps))
        answer = llm.vocabulary.encode(rest)
    elif task == "inbetween":
        first = rng.randrange(0, steps - 1)
        last = rng.randrange(first + 1, steps + 1)
        prompt = templates.prompt("inbetween", phrasing, rng, motion=motion_text(llm, tokens, range(first, last)))
        answer = llm.vocabulary.encode(_steps(tokens, first, last))
    elif task in TASKS:  # t2m and its pose-conditioned variants
        fields = {"text": caption, "seconds": _seconds(llm, steps),
                  "start_pose": motion_text(llm, item.first_pose), "end_pose": motion_text(llm, item.last_pose)}
        prompt = templates.prompt(task, phrasing, rng, **fields)
        answer = llm.vocabulary.encode(tokens)
    else:
        raise InputError("task", f"expected one of {TASKS}, got {task!r}")
    prompt_ids = llm.text_tokenizer(prompt, add_special_tokens=False)["input_ids"]
    return Example(task, tuple(prompt_ids + answer + [llm.eos_token_id]), len(prompt_ids))


def make_examples(llm: MotionLLM, items: list[MotionTextItem], stage: str, per_item: int = 4,
                  seed: int = 0) -> list[Example]:
    """``per_item`` examples of every task of ``stage`` for every item, deterministic in ``seed``."""
    if stage not in STAGE_TASKS:
        raise InputError("stage", f"expected one of {sorted(STAGE_TASKS)}, got {stage!r}")
    if not items:
        raise InputError("items", "no training items (is the split empty?)")
    rng = random.Random(seed)
    phrasing = 0 if stage == "align" else None
    return [build_example(llm, item, task, rng, phrasing)
            for item in items for task in STAGE_TASKS[stage] for _ in range(per_item)]


def collate(examples: list[Example], pad_id: int) -> dict[str, torch.Tensor]:
    """Right-padded ``input_ids``, ``attention_mask`` and ``labels`` (IGNORE outside the answers)."""
    length = max(len(e.input_ids) for e in examples)
    input_ids = torch.full((len(examples), length), pad_id, dtype=torch.long)
    labels = torch.full((len(examples), length), IGNORE, dtype=torch.long)
    mask = torch.zeros((len(examples), length), dtype=torch.long)
    for row, example in enumerate(examples):
        ids = torch.tensor(example.input_ids)
        input_ids[row, : len(ids)] = ids
        mask[row, : len(ids)] = 1
        labels[row, example.answer_start: len(ids)] = ids[example.answer_start:]
    return {"input_ids": input_ids, "attention_mask": mask, "labels": labels}
