"""Tiny motion LLMs in memory and a tiny HumanML3D-layout folder, for the motion LLM tests (tests/llm,
tests/cli/test_llm_cli.py).

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

import numpy as np
import torch
from posemotion.models.llm.base import tiny_base
from posemotion.models.llm.model import LoraSettings, build_motion_llm
from posemotion.models.motion.dataset_folder import format_text_line, write_item, write_split, write_stats
from posemotion.models.motion.humanml3d import joints_to_features
from posemotion.models.motion.io import read_motion
from posemotion.models.motion.resample import resample
from posemotion.models.tokenizers.training import make_tokenizer

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
