"""The motion LLM's tasks and their prompts, from the template file ``assets/llm/templates.json``.

A training or inference example is ``prompt`` (the layout filled with one instruction phrasing and the
task's input) followed by the ``answer``: motion tokens for the generating tasks, a caption for
``m2t``; the answer ends with the LM's EOS token. Motion tokens appear in prompts as their token
strings (:class:`~.vocabulary.MotionVocabulary`), so the text tokenizer maps them to the added ids.

Tasks (the paper's Sec. IV-C):
- ``t2m``: text (+ duration) -> motion; ``m2t``: motion -> caption;
- ``predict``: the first part of a motion (+ how many seconds more) -> the rest;
- ``inbetween``: a motion whose middle steps are mask tokens -> the masked steps;
- ``t2m_start_pose`` / ``t2m_end_pose`` / ``t2m_key_poses``: text + a pose (one token step of a held
  pose) at the start, the end or both -> the motion.

Durations are written with one decimal; a requested length becomes a token count through
:meth:`~.vocabulary.MotionVocabulary.steps_for_seconds` and the decoding grammar enforces it.
Texts longer than :data:`MAX_TEXT_TOKENS` text tokens are truncated with a warning naming the limit.
"""

from __future__ import annotations

import json
import os
import random
import warnings
from dataclasses import dataclass

from ..core.errors import InputError, ModelFileError
from . import BUNDLED_DIR

TEMPLATES_PATH = os.path.join(BUNDLED_DIR, "templates.json")
MAX_TEXT_TOKENS = 64
TASKS = ("t2m", "m2t", "predict", "inbetween", "t2m_start_pose", "t2m_end_pose", "t2m_key_poses")
MOTION_TASKS = tuple(t for t in TASKS if t != "m2t")  # tasks whose answer is a motion


@dataclass(frozen=True)
class Templates:
    version: int
    layout: str
    tasks: dict  # task -> {"input": str, "instructions": [str, ...]}

    def prompt(self, task: str, phrasing: int | None = None, rng: random.Random | None = None, **fields) -> str:
        """The prompt of ``task`` with instruction ``phrasing`` (index), or one drawn with ``rng``, or the first."""
        if task not in self.tasks:
            raise InputError("task", f"expected one of {sorted(self.tasks)}, got {task!r}")
        instructions = self.tasks[task]["instructions"]
        if phrasing is None:
            phrasing = rng.randrange(len(instructions)) if rng is not None else 0
        if not 0 <= phrasing < len(instructions):
            raise InputError("phrasing", f"task {task} has {len(instructions)} phrasings, got index {phrasing}")
        try:
            task_input = self.tasks[task]["input"].format(**fields)
        except KeyError as missing:
            raise InputError(task, f"the prompt needs {missing}") from None
        return self.layout.format(instruction=instructions[phrasing], input=task_input)


def load_templates(path: str | None = None) -> Templates:
    """The template file (the bundled one by default), checked for every task and placeholder."""
    path = path or TEMPLATES_PATH
    try:
        with open(path) as handle:
            data = json.load(handle)
    except (OSError, ValueError) as error:
        raise ModelFileError(f"templates: cannot read {path}: {error}") from error
    missing = [t for t in TASKS if t not in data.get("tasks", {})]
    if missing or "{instruction}" not in data.get("layout", "") or "{input}" not in data.get("layout", ""):
        raise ModelFileError(f"templates: {path} lacks tasks {missing} or the layout's {{instruction}}/{{input}}")
    return Templates(int(data["version"]), data["layout"], data["tasks"])


def seconds_text(seconds: float) -> str:
    return f"{seconds:.1f}"


def clean_text(text, text_tokenizer, input_name: str = "text") -> str:
    """``text`` stripped, refused when empty, truncated to MAX_TEXT_TOKENS tokens with a warning."""
    if not isinstance(text, str) or not text.strip():
        raise InputError(input_name, "expected a non-empty motion description")
    text = " ".join(text.split())
    ids = text_tokenizer(text, add_special_tokens=False)["input_ids"]
    if len(ids) > MAX_TEXT_TOKENS:
        text = text_tokenizer.decode(ids[:MAX_TEXT_TOKENS]).strip()
        warnings.warn(f"{input_name}: {len(ids)} tokens is over the limit of {MAX_TEXT_TOKENS}; "
                      f"truncated to {text!r}", stacklevel=2)
    return text
