"""MOTION_TOKENS and the interface every motion tokenizer implements.

Tokenizers work on HumanML3D-style feature sequences (``models/humanml3d.py``), normalised with
the tokenizer's own mean/std, at 20 fps unless the tokenizer's config says otherwise.

``MotionTokens`` holds
- ``ids``: torch int64 CPU tensor [N, Q]: N token steps (source frames // ``downsample``), Q streams:
  1 for a VQ-VAE, one per residual quantiser for residual VQ, (body, hand) for the part-aware VQ,
  one per residual stage for PGR2M;
- ``codebook_sizes``: Q ints; every id lies in 0..size-1 of its stream;
- ``tokenizer``: the tokenizer kind that made them (``vqvae``, ``rvq``, ``part_vq``, ``pgr2m``);
- ``num_frames`` and ``fps``: the motion the tokens stand for (decoding gives N * downsample frames);
- ``pose_codes``: PGR2M only, bool [N, C] multi-hot pose-code categories per token step.

A MotionTokens is immutable: edits return new instances.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import torch

from ..errors import InputError


@dataclass(frozen=True)
class MotionTokens:
    ids: torch.Tensor
    codebook_sizes: tuple[int, ...]
    tokenizer: str
    num_frames: int
    fps: float
    pose_codes: torch.Tensor | None = None

    def __post_init__(self):
        validate_tokens(self)

    @property
    def num_steps(self) -> int:
        return int(self.ids.shape[0])


def validate_tokens(tokens, input_name: str = "motion_tokens") -> MotionTokens:
    if not isinstance(tokens, MotionTokens):
        raise InputError(input_name, f"expected MOTION_TOKENS, got {type(tokens).__name__}")
    ids = tokens.ids
    if not isinstance(ids, torch.Tensor) or ids.dtype != torch.int64 or ids.ndim != 2 or ids.shape[0] < 1:
        raise InputError(input_name, "ids must be an int64 tensor [N>=1, Q]")
    if ids.shape[1] != len(tokens.codebook_sizes):
        raise InputError(input_name, f"ids have {ids.shape[1]} streams but {len(tokens.codebook_sizes)} codebook sizes")
    for q, size in enumerate(tokens.codebook_sizes):
        column = ids[:, q]
        if (column < 0).any() or (column >= size).any():
            bad = column[(column < 0) | (column >= size)][0].item()
            raise InputError(input_name, f"token id {bad} in stream {q} is outside the codebook 0..{size - 1}")
    if tokens.pose_codes is not None:
        codes = tokens.pose_codes
        if codes.dtype != torch.bool or codes.ndim != 2 or codes.shape[0] != ids.shape[0]:
            raise InputError(input_name, f"pose_codes must be bool [{ids.shape[0]}, C]")
    return tokens


class MotionTokenizer(torch.nn.Module):
    """Base of the four tokenizers: normalised features [B, T, D] <-> ids [B, T // downsample, Q].

    Subclasses set ``kind`` and implement ``encode``, ``decode`` and ``forward`` (training: returns
    the reconstruction and a dict of named scalar losses whose sum is minimised).
    """

    kind: ClassVar[str] = ""
    downsample: int = 4

    def encode(self, features: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    def decode(self, ids: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    def codebook_sizes(self) -> tuple[int, ...]:
        raise NotImplementedError
