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

from ..core.errors import InputError


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


def checked_stats(mean, std, dim: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Normalisation statistics as float32 [dim] tensors; std must be positive."""
    mean = torch.as_tensor(mean, dtype=torch.float32).reshape(-1)
    std = torch.as_tensor(std, dtype=torch.float32).reshape(-1)
    if mean.shape != (dim,) or std.shape != (dim,):
        raise InputError("stats", f"mean and std must have {dim} values, got {tuple(mean.shape)} and {tuple(std.shape)}")
    if not bool((std > 0).all()) or not bool(torch.isfinite(mean).all()):
        raise InputError("stats", "std must be positive and mean finite")
    return mean, std


class MotionTokenizer(torch.nn.Module):
    """Base of the four tokenizers: normalised features [B, T, D] <-> ids [B, T // downsample, Q].

    Subclasses set ``kind`` and ``config`` (the constructor's keyword arguments, saved beside the
    weights) and implement ``encode``, ``decode`` and ``forward`` (training: returns the
    reconstruction and a dict of named scalar losses whose sum is minimised).

    ``feature_mean`` / ``feature_std`` ([D] float, or None when the features are taken as already
    normalised) travel with the tokenizer; ``normalise`` / ``denormalise`` apply them.
    """

    kind: ClassVar[str] = ""
    downsample: int = 4
    config: dict
    feature_mean: torch.Tensor | None = None
    feature_std: torch.Tensor | None = None

    def set_feature_stats(self, mean, std) -> None:
        self.feature_mean, self.feature_std = checked_stats(mean, std, self.feature_dim)

    def normalise(self, features: torch.Tensor) -> torch.Tensor:
        if self.feature_mean is None:
            return features
        return (features - self.feature_mean.to(features)) / self.feature_std.to(features)

    def denormalise(self, features: torch.Tensor) -> torch.Tensor:
        if self.feature_mean is None:
            return features
        return features * self.feature_std.to(features) + self.feature_mean.to(features)

    @property
    def feature_dim(self) -> int:
        raise NotImplementedError

    @property
    def fps(self) -> float:
        return float(self.config.get("fps", 20.0))

    def check_features(self, features, input_name: str = "features") -> torch.Tensor:
        """Features [B, T, D] with T >= downsample; trailing T % downsample frames are cropped so
        that decode(encode(x)) has exactly as many frames as the tokens stand for."""
        dim = self.feature_dim
        if not isinstance(features, torch.Tensor) or not features.is_floating_point() or features.ndim != 3:
            raise InputError(input_name, f"expected a float tensor [B, T, {dim}]")
        if features.shape[2] != dim:
            raise InputError(input_name, f"expected {dim} features per frame, got {features.shape[2]}")
        frames = features.shape[1]
        if frames < self.downsample:
            raise InputError(input_name, f"the sequence has {frames} frames; this tokenizer needs at least "
                                         f"{self.downsample} (its temporal downsampling factor)")
        return features[:, : frames - frames % self.downsample]

    def check_ids(self, ids, min_streams: int | None = None, input_name: str = "ids") -> torch.Tensor:
        """ids [B, N, q] int; q may be smaller than the number of streams down to ``min_streams``."""
        sizes = self.codebook_sizes()
        min_streams = len(sizes) if min_streams is None else min_streams
        if not isinstance(ids, torch.Tensor) or ids.dtype not in (torch.int64, torch.int32) or ids.ndim != 3:
            raise InputError(input_name, f"expected an integer tensor [B, N, {len(sizes)}]")
        streams = ids.shape[2]
        if not min_streams <= streams <= len(sizes) or ids.shape[1] < 1:
            expected = str(len(sizes)) if min_streams == len(sizes) else f"{min_streams}..{len(sizes)}"
            raise InputError(input_name, f"expected [B, N>=1, {expected}] ids, got {list(ids.shape)}")
        for q in range(streams):
            column = ids[..., q]
            bad = (column < 0) | (column >= sizes[q])
            if bool(bad.any()):
                raise InputError(input_name, f"token id {column[bad][0].item()} in stream {q} is outside "
                                             f"the codebook 0..{sizes[q] - 1}")
        return ids.long()

    def encode(self, features: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    def decode(self, ids: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    def codebook_sizes(self) -> tuple[int, ...]:
        raise NotImplementedError
