"""A tiny random GENMO model on disk (width 32, one layer, window 16) for the node and workflow tests:
fast, deterministic for a seed, and meaningless. Its feature statistics are the bundled VQ-VAE's
corpus statistics when available, else identity, so decoded motions keep human proportions."""

from __future__ import annotations

import os
from pathlib import Path

import torch
from posemotion.models.genmo.denoiser import GenmoConfig
from posemotion.models.genmo.model import GenmoModel, save_genmo

TINY_NAME = "tiny_genmo.safetensors"
TINY_CONFIG = GenmoConfig(width=32, layers=1, heads=2, mlp_ratio=2.0, dropout=0.0, window=16)


def tiny_genmo(seed: int = 0) -> GenmoModel:
    torch.manual_seed(seed)
    model = GenmoModel(TINY_CONFIG)
    with torch.no_grad():  # zero-initialised output and gates would make every sample the noise-free mean
        for name, parameter in model.denoiser.named_parameters():
            if parameter.abs().sum() == 0:
                parameter.normal_(0.0, 0.02)
    return model.eval()


def save_tiny_genmo(folder: str | os.PathLike) -> Path:
    """``folder``/tiny_genmo.safetensors (+ .json); returns its path."""
    path = Path(folder) / TINY_NAME
    path.parent.mkdir(parents=True, exist_ok=True)
    save_genmo(tiny_genmo(), str(path), record={"what": "tiny random model for tests"})
    return path
