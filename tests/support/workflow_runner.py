"""The tests' view of the in-process workflow runner (workflows/source/runner.py): run_prompt, and an
API workflow shrunk by its TEST_SETTINGS for tiny models."""

from __future__ import annotations

import json
from pathlib import Path

from posemotion.workflows.source.graphs import TEST_SETTINGS
from posemotion.workflows.source.runner import run_prompt

__all__ = ["prompt_for_tests", "run_prompt"]


def prompt_for_tests(path: Path) -> dict:
    """The API workflow at ``path`` with its TEST_SETTINGS applied."""
    prompt = json.loads(path.read_text())
    for node_id, inputs in TEST_SETTINGS.get(path.stem, {}).items():
        prompt[str(node_id)]["inputs"].update(inputs)
    return prompt
