"""Official motion-tokenizer checkpoints, read as published: the weights, the kind and the config.

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

Files are read with ``torch.load(weights_only=True)``: nothing in a file is ever run. Lightning
checkpoints (MotionGPT) also pickle their hyper-parameters as OmegaConf objects; those classes (and the
few builtins and ``typing.Any`` they reference) are allowed through torch's public ``safe_globals``
as inert stand-ins that keep their pickled state as data (omegaconf is no dependency and the settings
are never used), on torch 2.6 or later. A file that pickles anything else is refused with a
``ModelFileError`` that says how to keep only its weights, once, where the code that wrote it is
installed.
"""

from __future__ import annotations

import collections
import contextlib
import os
import pickle
import re
import typing

import numpy as np
import torch

from ..core.errors import ModelFileError
from .pgr2m import read_official_checkpoint as read_official_pgr2m
from .rvq import ResidualVQVAE
from .vqvae import VQVAE

OFFICIAL_EXTENSIONS = (".pth", ".tar", ".ckpt", ".pt")
OFFICIAL_CONTAINERS = (("vq_model", "MoMask"), ("net", "T2M-GPT"), ("state_dict", "MotionGPT"))
STATS_NAMES = (("Mean.npy", "Std.npy"), ("mean.npy", "std.npy"))
# Official formats with their own reader, tried first: (checkpoint, path) -> (kind, config, state, source) or None.
OFFICIAL_READERS = (read_official_pgr2m,)  # PGR2M: {"net": {...}} with pc_encoder.* and rvq.* keys


# Globals of a Lightning checkpoint's OmegaConf hyper-parameters, resolved to the stand-ins below.
OMEGACONF_GLOBALS = (
    "omegaconf.dictconfig.DictConfig", "omegaconf.listconfig.ListConfig", "omegaconf.base.ContainerMetadata",
    "omegaconf.base.Metadata", "omegaconf.nodes.AnyNode", "omegaconf.nodes.StringNode",
    "omegaconf.nodes.IntegerNode", "omegaconf.nodes.FloatNode", "omegaconf.nodes.BooleanNode",
    "omegaconf.nodes.BytesNode", "omegaconf.nodes.PathNode",
)
# The plain types those settings reference (key/element types, the resolver cache): calling them builds data.
SETTINGS_TYPES = (dict, list, tuple, set, int, float, str, bool, bytes, collections.defaultdict, typing.Any)
CONVERT_HINT = """keep only its weights, once, where the code that wrote it is installed (for a file you trust):
    import torch
    ckpt = torch.load({path!r}, map_location="cpu", weights_only=False)
    torch.save({{k: ckpt[k] for k in ("state_dict", "net", "vq_model") if k in ckpt}}, {converted!r})"""


class _StoredSettings:
    """Stands in for an OmegaConf class: takes any arguments, keeps the pickled state as data, runs nothing."""

    def __new__(cls, *args, **kwargs):
        return super().__new__(cls)

    def __init__(self, *args, **kwargs):
        pass

    def __setstate__(self, state):
        self.__dict__["state"] = state


def _stand_ins() -> list:
    """[(stand-in, "module.Name")] for torch.serialization.safe_globals; none before torch 2.6, whose
    allowlist takes no names (Lightning files are then refused with the conversion hint)."""
    if not hasattr(torch.serialization, "safe_globals") or torch.__version__ < "2.6":
        return []
    stand_ins = [(type(name.rsplit(".", 1)[1], (_StoredSettings,), {}), name) for name in OMEGACONF_GLOBALS]
    return stand_ins + list(SETTINGS_TYPES)


LIGHTNING_SAFE_GLOBALS = _stand_ins()


def _allowed_globals():
    if not LIGHTNING_SAFE_GLOBALS:
        return contextlib.nullcontext()
    return torch.serialization.safe_globals(LIGHTNING_SAFE_GLOBALS)


def _unpickler_reason(error: Exception) -> str:
    """The weights-only unpickler's own line (torch wraps it in a long explanation)."""
    text = str(error)
    text = text.split("WeightsUnpickler error:", 1)[-1]
    return next((line.strip() for line in text.splitlines() if line.strip()), type(error).__name__)


def _unsafe_globals(path: str) -> list[str]:
    """The globals a (zip) checkpoint pickles that the weights-only load does not allow; [] when unknown."""
    lister = getattr(torch.serialization, "get_unsafe_globals_in_checkpoint", None)
    if lister is None:
        return []
    try:
        with _allowed_globals():
            return list(lister(path))
    except Exception:  # noqa: BLE001 - not a zip checkpoint: nothing to list
        return []


def read_checkpoint(path: str):
    """torch.load(weights_only=True), letting Lightning's OmegaConf settings through as data (module doc)."""
    try:
        with _allowed_globals():
            return torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as error:
        unsafe = _unsafe_globals(path)
        if not unsafe:
            raise ModelFileError(f"{path} is not a readable torch checkpoint: {_unpickler_reason(error)}") from error
        stem, ext = os.path.splitext(path)
        hint = CONVERT_HINT.format(path=path, converted=f"{stem}_weights{ext}")
        raise ModelFileError(f"{path} pickles Python objects besides tensors ({', '.join(sorted(unsafe))}), which "
                             f"are not loaded: nothing from the file was run. To use it, {hint}") from error
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


def read_official(path: str) -> tuple[str, dict, dict[str, torch.Tensor], str]:
    """(kind, config, weights without their wrapper prefix, source format name) of an official file."""
    checkpoint = read_checkpoint(path)
    found = next((f for f in (reader(checkpoint, path) for reader in OFFICIAL_READERS) if f is not None), None)
    if found is not None:
        return found
    state, source = official_state_dict(checkpoint, path)
    kind, config = infer_official_config(state, path)
    return kind, config, state, source
