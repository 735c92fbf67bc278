"""Training the motion LLM: the paper's two LLM stages on the one training loop (``core/training.fit``).

Stage ``align`` (motion-language alignment: text -> motion and motion -> text, one phrasing), then
stage ``instruct`` (instruction tuning: every task and phrasing). Both train the LoRA matrices and the
added token rows only; the loss is the LM's cross-entropy on the answer tokens (prompts are not
predicted). ``bf16=True`` runs forward and backward under bfloat16 autocast (on CPUs with
AVX512-BF16 and on GPUs) while the trained weights stay float32. Mixing text-only data (the paper's
optional part of stage 2) is not done here.

The same call runs on one CPU, one GPU, or several processes under ``accelerate launch``.
"""

from __future__ import annotations

import contextlib
import time
from typing import Callable

import torch

from ..core.errors import InputError
from ..core.resources import ProgressCallback
from ..core.training import fit
from .data import Example, MotionTextItem, collate, make_examples
from .model import MotionLLM

STAGE_LR = {"align": 2e-4, "instruct": 1e-4}  # the paper's rates (Sec. V-A)
WEIGHT_DECAY = 1e-5


def answer_loss(llm: MotionLLM, examples: list[Example], indices: torch.Tensor, bf16: bool = False) -> torch.Tensor:
    """Mean cross-entropy over the answer tokens of ``examples[indices]``."""
    batch = collate([examples[int(i)] for i in indices], llm.text_tokenizer.pad_token_id or llm.eos_token_id)
    device = llm.device
    autocast = torch.autocast(device.type, dtype=torch.bfloat16) if bf16 else contextlib.nullcontext()
    with autocast:
        out = llm.lm(**{k: v.to(device) for k, v in batch.items()})
    return out.loss.float()


def train_stage(llm: MotionLLM, items: list[MotionTextItem], stage: str, steps: int, batch_size: int = 8,
                lr: float | None = None, seed: int = 0, bf16: bool = False, per_item: int = 4,
                progress: ProgressCallback | None = None, log: Callable[[str], None] | None = None) -> dict:
    """Train one stage in place; returns fit's record plus the stage's example count."""
    if steps < 0:
        raise InputError("steps", f"expected >= 0 steps, got {steps}")
    if steps == 0:
        return {"stage": stage, "steps": 0}
    examples = make_examples(llm, items, stage, per_item=per_item, seed=seed)
    lr = STAGE_LR[stage] if lr is None else lr
    record = fit(llm.lm, lambda model, indices: answer_loss(llm, examples, indices, bf16), steps, len(examples),
                 batch_size, lr, weight_decay=WEIGHT_DECAY, warmup=min(20, steps // 10), seed=seed,
                 record_first=True, progress=progress, log=log, name=f"motion LLM ({stage})")
    llm.lm.eval()
    return {"stage": stage, "steps": steps, "examples": len(examples), "lr": lr, "batch_size": batch_size, **record}


def train_motion_llm(llm: MotionLLM, items: list[MotionTextItem], align_steps: int, instruct_steps: int,
                     batch_size: int = 8, seed: int = 0, bf16: bool = False, lr: float | None = None,
                     progress: Callable[[str], ProgressCallback] | None = None,
                     log: Callable[[str], None] | None = None) -> dict:
    """Both stages in order; ``progress(stage)`` gives each stage's progress callback; ``lr`` None: STAGE_LR."""
    start = time.perf_counter()
    stages = []
    for stage, steps in (("align", align_steps), ("instruct", instruct_steps)):
        stages.append(train_stage(llm, items, stage, steps, batch_size, lr=lr, seed=seed, bf16=bf16,
                                  progress=progress(stage) if progress else None, log=log))
    return {"stages": stages, "seconds": time.perf_counter() - start, "items": len(items), "bf16": bf16}
