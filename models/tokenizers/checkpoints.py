"""Saving and loading motion tokenizers: our own format and the official checkpoints.

Our format: ``NAME.safetensors`` (the weights, plus ``feature_stats.mean`` / ``feature_stats.std``
when the tokenizer carries normalisation statistics; the JSON header is repeated in the file's
metadata) beside ``NAME.json``::

    {"format": "posemotion-tokenizer", "kind": "vqvae", "config": {...}, "feature_dim": 263,
     "fps": 20.0, "downsample": 4, "has_feature_stats": true, "extra": {...}}

Official files (``.pth``, ``.tar``, ``.ckpt``, ``.pt``) are recognised by their top-level keys:
T2M-GPT ``{"net": {"vqvae.<key>": ...}}``, MotionGPT (Lightning) ``{"state_dict": {"vae.<key>" or
"motion_vae.<key>": ..., "lm.*": ...}}``, MoMask ``{"vq_model": {"<key>": ...}}``, PGR2M
``{"net": {"pc_encoder.*", "rvq.layers.*", ...}}`` (read by ``pgr2m.read_official_checkpoint``). The kind
(``quantizer.codebook`` -> vqvae, ``quantizer.layers.{q}.codebook`` -> rvq) and the configuration
come from the tensor shapes; the weights then load strictly. The dilation growth (3) and the
activation (ReLU) leave no trace in shapes and take the official values. Normalisation statistics
are read from ``Mean.npy``/``Std.npy`` (or ``mean.npy``/``std.npy``) beside the file or in a
``meta`` folder next to it or one level up (MoMask's and T2M-GPT's layout); without them the
features are taken as already normalised, and ``tokenizer.notes`` says so.

Files are read with ``torch.load(weights_only=True)``. Lightning checkpoints also pickle their
hyper-parameters (OmegaConf objects); for those a restricted unpickler takes over that resolves only
the globals torch's weights-only loader allows and turns every other class into an inert
placeholder, so no code from the file ever runs.
"""

from __future__ import annotations

import json
import os
import pickle
import re
import types

import numpy as np
import torch
from safetensors import safe_open
from safetensors.torch import load_file, save_file

from ..core.errors import InputError, ModelFileError
from .base import MotionTokenizer, checked_stats
from .part_vq import PartAwareVQVAE
from .pgr2m import PGR2MTokenizer
from .pgr2m import read_official_checkpoint as read_official_pgr2m
from .rvq import ResidualVQVAE
from .vqvae import VQVAE

# kind -> class; a new tokenizer registers with one line here.
TOKENIZER_KINDS: dict[str, type[MotionTokenizer]] = {
    cls.kind: cls for cls in (VQVAE, ResidualVQVAE, PartAwareVQVAE, PGR2MTokenizer)}
# Official formats with their own reader, tried first: (checkpoint, path) -> (kind, config, state, source) or None.
OFFICIAL_READERS = (read_official_pgr2m,)  # PGR2M: {"net": {...}} with pc_encoder.* and rvq.* keys

FORMAT = "posemotion-tokenizer"
STATS_KEYS = ("feature_stats.mean", "feature_stats.std")
OFFICIAL_EXTENSIONS = (".pth", ".tar", ".ckpt", ".pt")
OFFICIAL_CONTAINERS = (("vq_model", "MoMask"), ("net", "T2M-GPT"), ("state_dict", "MotionGPT"))
STATS_NAMES = (("Mean.npy", "Std.npy"), ("mean.npy", "std.npy"))


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


# ----------------------------------------------------------------------------- official files

class _InertObject:
    """Stands in for any class a checkpoint pickles besides tensors: accepts everything, runs nothing."""

    def __new__(cls, *args, **kwargs):
        return object.__new__(cls)

    def __init__(self, *args, **kwargs):
        pass

    def __call__(self, *args, **kwargs):
        return _InertObject()

    def __setstate__(self, state):
        pass

    def __setitem__(self, key, value):
        pass

    def append(self, value):
        pass

    def extend(self, values):
        pass


def _inert_global(module: str, name: str):
    return type(name, (_InertObject,), {"__module__": f"inert.{module}"})


def _restricted_pickle_module():
    """A pickle module whose Unpickler resolves only torch's weights-only allowlist."""
    try:
        from torch._weights_only_unpickler import _get_allowed_globals
        allowed = dict(_get_allowed_globals())
    except (ImportError, AttributeError):  # private API; without it the file stays unreadable
        return None

    class RestrictedUnpickler(pickle.Unpickler):
        def find_class(self, module, name):
            return allowed.get(f"{module}.{name}") or _inert_global(module, name)

    return types.SimpleNamespace(Unpickler=RestrictedUnpickler, load=pickle.load, __name__="restricted_pickle")


def read_checkpoint(path: str):
    """torch.load with weights_only=True, falling back to the restricted unpickler (see module doc)."""
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as first_error:
        restricted = _restricted_pickle_module()
        if restricted is None:
            raise ModelFileError(f"{path} pickles Python objects besides tensors, which this torch cannot read "
                                 f"safely ({str(first_error).splitlines()[0]})") from first_error
        try:
            return torch.load(path, map_location="cpu", weights_only=False, pickle_module=restricted)
        except Exception as error:  # noqa: BLE001
            raise ModelFileError(f"{path} is not a readable torch checkpoint: {error}") from error
    except Exception as error:  # noqa: BLE001 - truncated, not a torch file, ...
        raise ModelFileError(f"{path} is not a readable torch checkpoint: {error}") from error


CODEBOOK_SUFFIXES = ("quantizer.codebook", "quantizer.layers.0.codebook")


def official_state_dict(checkpoint, path: str) -> tuple[dict[str, torch.Tensor], str]:
    """The tokenizer's weights without their wrapper prefix, and the name of the source format."""
    if not isinstance(checkpoint, dict):
        raise ModelFileError(f"{path}: expected a dict checkpoint, got {type(checkpoint).__name__}")
    candidates = [(checkpoint[key], source) for key, source in OFFICIAL_CONTAINERS
                  if isinstance(checkpoint.get(key), dict)]
    candidates.append((checkpoint, "state dict"))
    for state, source in candidates:
        for key in state:
            if not isinstance(key, str):
                continue
            suffix = next((s for s in CODEBOOK_SUFFIXES if key == s or key.endswith("." + s)), None)
            if suffix is None:
                continue
            prefix = key[: len(key) - len(suffix)]
            weights = {k[len(prefix):]: v for k, v in state.items()
                       if isinstance(k, str) and k.startswith(prefix) and isinstance(v, torch.Tensor)}
            return weights, source
    keys = ", ".join(map(str, list(checkpoint)[:6]))
    raise ModelFileError(f"{path}: no motion tokenizer weights found (expected a quantizer codebook under "
                         f"'net', 'state_dict' or 'vq_model'; top-level keys: {keys})")


def _shape(state: dict, key: str, path: str) -> tuple[int, ...]:
    if key not in state:
        raise ModelFileError(f"{path}: missing key {key} needed to read the tokenizer's configuration")
    return tuple(state[key].shape)


def infer_official_config(state: dict[str, torch.Tensor], path: str) -> tuple[str, dict]:
    """Kind and configuration from the shapes of an official VQ-VAE or residual VQ-VAE."""
    width, input_dim, _ = _shape(state, "encoder.model.0.weight", path)
    stages = sorted({int(m.group(1)) for k in state if (m := re.fullmatch(r"encoder\.model\.(\d+)\.0\.weight", k))})
    if not stages:
        raise ModelFileError(f"{path}: no downsampling stages (encoder.model.<i>.0.weight) found")
    depth = len({m.group(1) for k in state
                 if (m := re.fullmatch(rf"encoder\.model\.{stages[0]}\.1\.model\.(\d+)\.conv1\.weight", k))})
    stride_t = _shape(state, f"encoder.model.{stages[0]}.0.weight", path)[2] // 2
    layers = sorted(int(m.group(1)) for k in state if (m := re.fullmatch(r"quantizer\.layers\.(\d+)\.codebook", k)))
    codebook_key = "quantizer.layers.0.codebook" if layers else "quantizer.codebook"
    num_codes, code_dim = _shape(state, codebook_key, path)
    config = dict(input_dim=input_dim, num_codes=num_codes, code_dim=code_dim, width=width, down_t=len(stages),
                  stride_t=stride_t, depth=depth, dilation_growth=3, activation="relu",
                  fps=12.5 if input_dim == 251 else 20.0)  # 251 features = KIT-ML at 12.5 fps
    if layers:
        return ResidualVQVAE.kind, {**config, "num_quantizers": len(layers)}
    return VQVAE.kind, config


def find_feature_stats(path: str) -> tuple[np.ndarray, np.ndarray, str] | None:
    """Mean/Std .npy files beside the checkpoint, in a meta/ folder beside it or one level up."""
    folder = os.path.dirname(os.path.abspath(path))
    for where in (folder, os.path.join(folder, "meta"), os.path.join(os.path.dirname(folder), "meta")):
        for mean_name, std_name in STATS_NAMES:
            mean_path, std_path = os.path.join(where, mean_name), os.path.join(where, std_name)
            if os.path.isfile(mean_path) and os.path.isfile(std_path):
                return np.load(mean_path), np.load(std_path), mean_path
    return None


def load_official_tokenizer(path: str) -> MotionTokenizer:
    checkpoint = read_checkpoint(path)
    found = next((f for f in (reader(checkpoint, path) for reader in OFFICIAL_READERS) if f is not None), None)
    if found is not None:
        kind, config, state, source = found
    else:
        state, source = official_state_dict(checkpoint, path)
        kind, config = infer_official_config(state, path)
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
