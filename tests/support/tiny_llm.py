"""A tiny motion LLM on disk, as a user would install one in models/llm: a random 2-layer LLaMA on the
real SmolLM2 vocabulary (``tiny_base``) saved as a model folder with its tokenizer, and an untrained
LoRA adapter for it with the bundled vqvae_small motion tokenizer (named in the adapter, so loading
finds it). Random weights: generation follows the motion grammar but means nothing."""

from __future__ import annotations

import os
from pathlib import Path

from posemotion.models.llm.adapter import save_adapter
from posemotion.models.llm.base import embedded_base_path, tiny_base
from posemotion.models.llm.model import build_motion_llm
from posemotion.models.tokenizers import BUNDLED_DIR as TOKENIZERS_DIR
from posemotion.models.tokenizers.checkpoints import load_tokenizer
from transformers import AutoTokenizer

TINY_BASE = "tiny-smollm2"  # folder name in models/llm
TINY_ADAPTER = "tiny_motion_llm.safetensors"
TOKENIZER_FILE = "vqvae_small.safetensors"  # bundled


def save_tiny_motion_llm(folder) -> tuple[Path, Path]:
    """Write ``folder/TINY_BASE/`` and ``folder/TINY_ADAPTER`` (+ .json); returns both paths (~6 s, the
    SmolLM2 tokenizer read from the embedded GGUF)."""
    folder = Path(folder)
    gguf_folder, gguf_name = os.path.split(embedded_base_path())
    tokenizer = AutoTokenizer.from_pretrained(gguf_folder, gguf_file=gguf_name, local_files_only=True)
    base = tiny_base(tokenizer)
    base.model.save_pretrained(folder / TINY_BASE)  # before the motion tokens extend it in place
    tokenizer.save_pretrained(folder / TINY_BASE)
    llm = build_motion_llm(base, load_tokenizer(os.path.join(TOKENIZERS_DIR, TOKENIZER_FILE)))
    save_adapter(llm, str(folder / TINY_ADAPTER), tokenizer_file=TOKENIZER_FILE)
    return folder / TINY_BASE, folder / TINY_ADAPTER
