"""Fixtures of the motion LLM tests: the real SmolLM2 tokenizer, read from the embedded GGUF once."""

from __future__ import annotations

import copy
import os

import pytest
from posemotion.models.llm.base import embedded_base_path


@pytest.fixture(scope="session")
def _smol_tokenizer_once():
    from transformers import AutoTokenizer

    folder, name = os.path.split(embedded_base_path())
    return AutoTokenizer.from_pretrained(folder, gguf_file=name, local_files_only=True)


@pytest.fixture()
def smol_tokenizer(_smol_tokenizer_once):
    """A fresh copy of SmolLM2's tokenizer (49,152 tokens): extending a vocabulary mutates it."""
    return copy.deepcopy(_smol_tokenizer_once)
