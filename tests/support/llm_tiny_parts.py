"""Tiny motion LLMs in memory and on disk, and a tiny HumanML3D-layout folder, for the motion LLM tests
(tests/llm, tests/cli/test_llm_cli.py) and the workflow tests (:func:`save_tiny_motion_llm`).

A tiny motion LLM is ``tiny_base`` (a random 2-layer LLaMA of width 32 on the real SmolLM2 tokenizer)
extended with an untrained tiny motion tokenizer (16 codes). Its LoRA B matrices start at zero (peft),
so :func:`randomise_adapter` gives every trainable tensor random values: otherwise saving, loading
and merging would compare a model with itself.

The tiny folder holds 3 s windows of the real CMU mocap clip ``data/mocap/test_mocapbank.bvh`` (read
as ``smpl_22``, resampled to the layout's 20 fps) with hand-written captions, written through
``models/motion/dataset_folder``.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import torch
from posemotion.models.llm.adapter import save_adapter
from posemotion.models.llm.base import embedded_base_path, tiny_base
from posemotion.models.llm.model import LoraSettings, build_motion_llm
from posemotion.models.motion.dataset_folder import format_text_line, write_item, write_split, write_stats
from posemotion.models.motion.humanml3d import joints_to_features
from posemotion.models.motion.io import read_motion
from posemotion.models.motion.resample import resample
from posemotion.models.tokenizers import BUNDLED_DIR as TOKENIZERS_DIR
from posemotion.models.tokenizers.checkpoints import load_tokenizer
from posemotion.models.tokenizers.training import make_tokenizer
from transformers import AutoTokenizer

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
MOCAP_CLIP = os.path.join(REPO, "data", "mocap", "test_mocapbank.bvh")
TINY_MOTION_TOKENIZER = dict(num_codes=16, code_dim=8, width=8, depth=1)
CORPUS_FPS = 20.0
ITEM_FRAMES = 61  # 3 s at 20 fps (+1: features are frame differences): 15 token steps
CAPTIONS = ("a person walks forward", "someone moves across the room", "a person steps ahead slowly")
WINDOW_CAPTION = ("a person takes one step", 0.5, 1.5)  # a caption of seconds 0.5..1.5 of the first item


def tiny_motion_tokenizer(kind: str = "vqvae", seed: int = 0):
    torch.manual_seed(seed)
    return make_tokenizer(kind, small=True, **TINY_MOTION_TOKENIZER).eval()


def tiny_llm(text_tokenizer, kind: str = "vqvae", seed: int = 0, motion_tokenizer=None, randomise: bool = True,
             lora: LoraSettings = LoraSettings(dropout=0.0)):
    """A tiny motion LLM on ``text_tokenizer`` (extended in place); ``randomise``: random adapter weights."""
    motion_tokenizer = motion_tokenizer if motion_tokenizer is not None else tiny_motion_tokenizer(kind)
    llm = build_motion_llm(tiny_base(text_tokenizer, seed=seed), motion_tokenizer, lora)
    if randomise:
        randomise_adapter(llm, seed)
    return llm


def randomise_adapter(llm, seed: int = 0, scale: float = 0.5) -> None:
    """Every trainable tensor (LoRA A/B, added token rows) set to N(0, scale^2), seeded."""
    generator = torch.Generator().manual_seed(seed + 1)
    with torch.no_grad():
        for parameter in llm.lm.parameters():
            if parameter.requires_grad:
                parameter.copy_(scale * torch.randn(parameter.shape, generator=generator))


def mocap_joints() -> torch.Tensor:
    """The real mocap clip's joints [T, 22, 3] at 20 fps."""
    return resample(read_motion(MOCAP_CLIP), CORPUS_FPS).joints


def write_tiny_corpus(folder: str, items: int = 4) -> list[str]:
    """``items`` 3 s windows of the mocap clip as the train split (and the test split), three whole-motion
    captions each; the first item also has :data:`WINDOW_CAPTION` (a time-window line)."""
    joints = mocap_joints().numpy()
    names, features_all = [], []
    step = (joints.shape[0] - ITEM_FRAMES) // max(1, items - 1)
    for index in range(items):
        window = joints[index * step: index * step + ITEM_FRAMES]
        features = joints_to_features(window)
        lines = [format_text_line(caption, [f"{word}/X" for word in caption.split()]) for caption in CAPTIONS]
        if index == 0:
            caption, start, end = WINDOW_CAPTION
            lines.append(format_text_line(caption, [f"{word}/X" for word in caption.split()], start, end))
        name = f"clip{index:02d}"
        write_item(folder, name, features, window, lines)
        names.append(name)
        features_all.append(features)
    stacked = np.concatenate(features_all)
    write_stats(folder, stacked.mean(0), stacked.std(0) + 1e-2)
    write_split(folder, "train", names)
    write_split(folder, "test", names)
    return names


TINY_BASE = "tiny-smollm2"  # folder name in models/llm (workflows/source/llm.py's TINY_LLM)
TINY_ADAPTER = "tiny_motion_llm.safetensors"
TINY_ADAPTER_TOKENIZER = "vqvae_small.safetensors"  # bundled


def save_tiny_motion_llm(folder) -> tuple[Path, Path]:
    """A tiny motion LLM as a user would install one in models/llm: ``folder/TINY_BASE/`` (the random
    tiny LLaMA saved with the SmolLM2 tokenizer) and ``folder/TINY_ADAPTER`` (+ .json), an untrained
    adapter with the bundled vqvae_small tokenizer (named in it, so loading finds it); returns both
    paths (~6 s: the tokenizer is read from the embedded GGUF)."""
    folder = Path(folder)
    gguf_folder, gguf_name = os.path.split(embedded_base_path())
    tokenizer = AutoTokenizer.from_pretrained(gguf_folder, gguf_file=gguf_name, local_files_only=True)
    base = tiny_base(tokenizer)
    base.model.save_pretrained(folder / TINY_BASE)  # before the motion tokens extend it in place
    tokenizer.save_pretrained(folder / TINY_BASE)
    llm = build_motion_llm(base, load_tokenizer(os.path.join(TOKENIZERS_DIR, TINY_ADAPTER_TOKENIZER)))
    save_adapter(llm, str(folder / TINY_ADAPTER), tokenizer_file=TINY_ADAPTER_TOKENIZER)
    return folder / TINY_BASE, folder / TINY_ADAPTER
