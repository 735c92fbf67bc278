"""Saving and loading motion tokenizers: our own format and the official checkpoints.

Our format is the pack's one checkpoint format (``core/checkpoint.py``), family ``"tokenizer"``:
``NAME.safetensors`` (the weights, plus ``feature_stats.mean`` / ``feature_stats.std`` when the
tokenizer carries normalisation statistics; the JSON header is repeated in the file's metadata)
beside ``NAME.json``::

    {"format": "posemotion", "family": "tokenizer", "kind": "vqvae", "config": {...}, "feature_dim": 263,
     "fps": 20.0, "downsample": 4, "has_feature_stats": true, "extra": {...}}

Files written before (header under the metadata key ``"posemotion-tokenizer"``) load unchanged.

Official files (``.pth``, ``.tar``, ``.ckpt``, ``.pt``) are read by ``official.py``.
"""

from __future__ import annotations

import os

from ..core import checkpoint
from ..core.checkpoint import load_weights_strictly
from ..core.errors import InputError, ModelFileError
from .base import MotionTokenizer, checked_stats
from .official import OFFICIAL_EXTENSIONS, find_feature_stats, read_official
from .part_vq import PartAwareVQVAE
from .pgr2m import PGR2MTokenizer
from .rvq import ResidualVQVAE
from .vqvae import VQVAE

FAMILY = "tokenizer"
# kind -> class (the core registry of the "tokenizer" family); a new tokenizer registers here.
for _cls in (VQVAE, ResidualVQVAE, PartAwareVQVAE, PGR2MTokenizer):
    checkpoint.register(FAMILY, _cls.kind, _cls)
TOKENIZER_KINDS: dict[str, type[MotionTokenizer]] = checkpoint.registry(FAMILY)

FORMAT = "posemotion-tokenizer"  # the metadata key of files written before core/checkpoint.py
STATS_KEYS = ("feature_stats.mean", "feature_stats.std")


# ----------------------------------------------------------------------------- our format

def save_tokenizer(model: MotionTokenizer, path: str, stats=None, extra: dict | None = None) -> tuple[str, str]:
    """Write ``path`` (.safetensors) and its .json config; returns both paths.

    ``stats`` = (mean, std) arrays of feature_dim values (default: the model's own, if any)."""
    if not isinstance(model, MotionTokenizer) or model.kind not in TOKENIZER_KINDS:
        raise InputError("model", f"expected a tokenizer of kind {sorted(TOKENIZER_KINDS)}")
    if not str(path).endswith(".safetensors"):
        raise InputError("path", f"tokenizers are saved as .safetensors files, got {path!r}")
    if isinstance(stats, dict):
        stats = (stats.get("mean"), stats.get("std"))
    if stats is None and model.feature_mean is not None:
        stats = (model.feature_mean, model.feature_std)
    tensors = {}
    if stats is not None:
        tensors = dict(zip(STATS_KEYS, checked_stats(*stats, model.feature_dim)))
    header = {"feature_dim": model.feature_dim, "fps": model.fps, "downsample": model.downsample,
              "has_feature_stats": stats is not None}
    return checkpoint.save_checkpoint(model, str(path), FAMILY, header=header, record={"extra": extra or {}},
                                      tensors=tensors)


def load_tokenizer(path: str, kind: str | None = None) -> MotionTokenizer:
    """A tokenizer in eval mode from our .safetensors or an official checkpoint.

    ``kind`` (optional) is the kind the caller needs; another kind in the file is an error."""
    path = str(path)
    if not os.path.isfile(path):
        raise ModelFileError(f"tokenizer: file not found: {path!r}")
    if path.endswith(".safetensors"):
        model = _load_ours(path)
    elif path.lower().endswith(OFFICIAL_EXTENSIONS):
        model = load_official_tokenizer(path)
    else:
        raise ModelFileError(f"{path}: expected a .safetensors tokenizer or an official checkpoint "
                             f"({', '.join(OFFICIAL_EXTENSIONS)})")
    if kind is not None and model.kind != kind:
        raise ModelFileError(f"{path} holds a {model.kind!r} tokenizer, expected {kind!r}")
    return model.eval()


def _load_ours(path: str) -> MotionTokenizer:
    model, _, extras = checkpoint.load_checkpoint(path, FAMILY, extra_keys=STATS_KEYS)
    mean, std = extras.get(STATS_KEYS[0]), extras.get(STATS_KEYS[1])
    model.notes = []
    if mean is not None and std is not None:
        _set_stats(model, mean, std, path)
    else:
        model.notes.append("no feature statistics saved: features are taken as already normalised")
    return model


def _set_stats(model: MotionTokenizer, mean, std, source: str) -> None:
    try:
        model.set_feature_stats(mean, std)
    except InputError as error:
        raise ModelFileError(f"{source}: feature statistics do not fit the tokenizer: {error}") from error


# ----------------------------------------------------------------------------- official files

def load_official_tokenizer(path: str) -> MotionTokenizer:
    kind, config, state, source = read_official(path)
    model = TOKENIZER_KINDS[kind](**config)
    load_weights_strictly(model, state, path)
    model.notes = [f"{source} checkpoint"]
    attach_official_stats(model, path)
    return model


def attach_official_stats(model: MotionTokenizer, path: str) -> None:
    """Give an official checkpoint's tokenizer the Mean.npy/Std.npy found beside ``path`` (noted in
    ``model.notes``); without them its features are taken as already normalised."""
    stats = find_feature_stats(path)
    if stats is None:
        model.notes.append(f"no Mean.npy/Std.npy beside {os.path.basename(path)}: features are taken as "
                           "already normalised")
    else:
        mean, std, where = stats
        _set_stats(model, mean, std, where)
        model.notes.append(f"feature statistics from {where}")
