"""A tiny GEM-layout checkpoint, a synthetic SMPL file and a tiny text encoder: NVIDIA's gem_smpl.ckpt
path (load -> sample -> decode through SMPL) without its 300M weights, T5-3B or the licensed SMPL file.

The checkpoint is written in gem_smpl.ckpt's key layout (``gem_layout``) from a small denoiser with GEM's
representation; its motions are meaningless. ``zero_output`` zeroes the last layer, so the denoiser
predicts x0 = 0 (normalised), i.e. GEM's mean features once de-normalised.
"""

from __future__ import annotations

import zlib
from pathlib import Path

import numpy as np
import torch
from posemotion.models.forecasting.types import Conditioning
from posemotion.models.genmo.denoiser import GenmoConfig, GenmoDenoiser

from support.gem_layout import save_gem_checkpoint
from support.synthetic_smpl import synthetic_smpl_arrays

TEXT_DIM = 24
TINY_GEM = GenmoConfig(motion_dim=151, width=32, layers=2, heads=2, text_dim=TEXT_DIM, window=8, pred_cam_dim=3,
                       static_conf_dim=6, representation="gem_smpl_151", text_encoder="t5-3b")


def tiny_gem_denoiser(config: GenmoConfig = TINY_GEM, seed: int = 0, zero_output: bool = False) -> GenmoDenoiser:
    torch.manual_seed(seed)
    model = GenmoDenoiser(config)
    with torch.no_grad():
        for parameter in model.parameters():
            parameter.add_(torch.randn_like(parameter) * 0.05)  # non-zero gates: every weight matters
        if zero_output:
            for parameter in model.final_layer.fc2.parameters():
                parameter.zero_()
    return model.eval()


def save_tiny_gem(path: str | Path, config: GenmoConfig = TINY_GEM, seed: int = 0, zero_output: bool = False) -> Path:
    """``path`` (a .ckpt in gem_smpl.ckpt's layout); returns it."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    save_gem_checkpoint(tiny_gem_denoiser(config, seed, zero_output), str(path))
    return path


def save_synthetic_smpl(folder: str | Path, name: str = "SMPL_NEUTRAL.npz") -> Path:
    """``folder``/``name``: the synthetic SMPL model (``synthetic_smpl``); returns its path."""
    path = Path(folder) / name
    path.parent.mkdir(parents=True, exist_ok=True)
    np.savez(path, **synthetic_smpl_arrays())
    return path


class TinyTextEncoder:
    """Random tokens [K, 5, TEXT_DIM], the same for the same text (seeded by its CRC32)."""

    def encode(self, texts) -> Conditioning:
        tokens = torch.stack([torch.randn(5, TEXT_DIM, generator=torch.Generator().manual_seed(zlib.crc32(t.encode())))
                              for t in texts])
        return Conditioning(tokens=tokens, mask=torch.ones(len(texts), 5, dtype=torch.bool), encoder="t5:tiny")
