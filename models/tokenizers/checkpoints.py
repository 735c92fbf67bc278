"""Saving and loading motion tokenizers: our own format and the official checkpoints.

Our format: ``NAME.safetensors`` (the weights, plus ``feature_stats.mean`` / ``feature_stats.std``
when the tokenizer carries normalisation statistics; the JSON header is repeated in the file's
metadata) beside ``NAME.json``::

    {"format": "posemotion-tokenizer", "kind": "vqvae", "config": {...}, "feature_dim": 263,
     "fps": 20.0, "downsample": 4, "has_feature_stats": true, "extra": {...}}

Official files (``.pth``, ``.tar``, ``.ckpt``, ``.pt``) are read by ``official.py``.
"""

from __future__ import annotations

import json
import os

import torch
from safetensors import safe_open
from safetensors.torch import load_file, save_file

from ..core.errors import InputError, ModelFileError
from .base import MotionTokenizer, checked_stats
from .official import OFFICIAL_EXTENSIONS, find_feature_stats, read_official
from .part_vq import PartAwareVQVAE
from .pgr2m import PGR2MTokenizer
from .rvq import ResidualVQVAE
from .vqvae import VQVAE

# kind -> class; a new tokenizer registers with one line here.
TOKENIZER_KINDS: dict[str, type[MotionTokenizer]] = {
    cls.kind: cls for cls in (VQVAE, ResidualVQVAE, PartAwareVQVAE, PGR2MTokenizer)}

FORMAT = "posemotion-tokenizer"
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
    path = str(path)
    tensors = {name: t.detach().cpu().contiguous() for name, t in model.state_dict().items()}
    if stats is not None:
        mean, std = checked_stats(*stats, model.feature_dim)
        tensors[STATS_KEYS[0]], tensors[STATS_KEYS[1]] = mean.contiguous(), std.contiguous()
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    header = {"format": FORMAT, "kind": model.kind, "config": model.config, "feature_dim": model.feature_dim,
              "fps": model.fps, "downsample": model.downsample, "has_feature_stats": stats is not None}
    save_file(tensors, path, metadata={FORMAT: json.dumps(header)})
    config_path = path[: -len(".safetensors")] + ".json"
    with open(config_path, "w") as handle:
        json.dump({**header, "extra": extra or {}}, handle, indent=1)
    return path, config_path


def load_tokenizer(path: str, kind: str | None = None) -> MotionTokenizer:
    """A tokenizer in eval mode from our .safetensors or an official checkpoint.

    ``kind`` (optional) is the kind the caller needs; another kind in the file is an error."""
    path = str(path)
    if not os.path.isfile(path):
        raise ModelFileError(f"tokenizer file not found: {path}")
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
    config_path = path[: -len(".safetensors")] + ".json"
    try:
        with safe_open(path, "pt") as handle:
            header = json.loads((handle.metadata() or {}).get(FORMAT, "null"))
        if header is None and os.path.isfile(config_path):
            with open(config_path) as handle:
                header = json.load(handle)
        tensors = load_file(path)
    except Exception as error:  # noqa: BLE001 - every unreadable file gets the same message
        raise ModelFileError(f"{path} is not a readable PoseMotion tokenizer file: {error}") from error
    if not isinstance(header, dict) or header.get("kind") not in TOKENIZER_KINDS:
        found = header.get("kind") if isinstance(header, dict) else None
        raise ModelFileError(f"{path} is not a PoseMotion tokenizer (kind {found!r}; expected one of "
                             f"{sorted(TOKENIZER_KINDS)} in its metadata or {os.path.basename(config_path)})")
    try:
        model = TOKENIZER_KINDS[header["kind"]](**header["config"])
    except (TypeError, ValueError) as error:
        raise ModelFileError(f"{path}: its {header['kind']} config cannot be built: {error}") from error
    mean, std = tensors.pop(STATS_KEYS[0], None), tensors.pop(STATS_KEYS[1], None)
    load_weights_strictly(model, tensors, path)
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


# ----------------------------------------------------------------------------- strict loading

def load_weights_strictly(model: torch.nn.Module, state: dict, path: str) -> None:
    """load_state_dict(strict=True) with one ModelFileError naming the file and the first offending keys."""
    expected = model.state_dict()
    missing = [k for k in expected if k not in state]
    unexpected = [k for k in state if k not in expected]
    wrong = [f"{k} {list(state[k].shape)} (expected {list(expected[k].shape)})"
             for k in expected if k in state and tuple(state[k].shape) != tuple(expected[k].shape)]
    problems = []
    for label, keys in (("missing keys", missing), ("unexpected keys", unexpected), ("wrong shapes", wrong)):
        if keys:
            more = f" (+{len(keys) - 3} more)" if len(keys) > 3 else ""
            problems.append(f"{label}: {', '.join(keys[:3])}{more}")
    if problems:
        raise ModelFileError(f"{path} does not match a {getattr(model, 'kind', type(model).__name__)} tokenizer "
                             f"with config {getattr(model, 'config', {})}: " + "; ".join(problems))
    model.load_state_dict(state, strict=True)


def load_official_tokenizer(path: str) -> MotionTokenizer:
    kind, config, state, source = read_official(path)
    model = TOKENIZER_KINDS[kind](**config)
    load_weights_strictly(model, state, path)
    model.notes = [f"{source} checkpoint"]
    stats = find_feature_stats(path)
    if stats is None:
        model.notes.append(f"no Mean.npy/Std.npy beside {os.path.basename(path)}: features are taken as "
                           "already normalised")
    else:
        mean, std, where = stats
        _set_stats(model, mean, std, where)
        model.notes.append(f"feature statistics from {where}")
    return model
