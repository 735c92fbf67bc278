"""The one checkpoint format of the pack, and the registry of model classes that it rebuilds.

A checkpoint is ``NAME.safetensors`` (the weights, plus any extra tensors a family keeps beside them,
e.g. a tokenizer's feature statistics) and ``NAME.json`` beside it. The JSON header

    {"format": "posemotion", "family": "tokenizer", "kind": "vqvae", "config": {...}, ...header extras}

is repeated in the safetensors metadata under the key ``"posemotion"``; the JSON file adds the
family's record (``{"training": ...}`` for forecasters, ``{"extra": ...}`` for tokenizers).

Every model class is registered under its family and ``kind`` (:func:`register`); loading rebuilds
``registry[kind](**config)`` and loads the weights strictly: a file that does not fit gives one
:class:`ModelFileError` naming the file and the first missing, unexpected or mis-shaped keys.

Files written before this module existed still load: forecasters wrote the same header without
"format"/"family" under ``"posemotion"``; tokenizers wrote it under ``"posemotion-tokenizer"``
(:data:`LEGACY_KEYS`). When a file has no header in its metadata the JSON beside it is read. A class
with a ``legacy_config(config) -> config`` static method fills in options that older files predate.
"""

from __future__ import annotations

import json
import os
from typing import NamedTuple

import torch
from safetensors import safe_open
from safetensors.torch import load_file, save_file

from .errors import InputError, ModelFileError

FORMAT = "posemotion"
METADATA_KEY = "posemotion"
# family -> metadata keys older files used, in the order they are tried after METADATA_KEY
LEGACY_KEYS: dict[str, tuple[str, ...]] = {"tokenizer": ("posemotion-tokenizer",)}

_REGISTRIES: dict[str, dict[str, type]] = {}


def register(family: str, kind: str, cls: type) -> type:
    """Record ``cls`` as the class of ``kind`` in ``family``; returns ``cls`` (usable as a decorator helper)."""
    registry = _REGISTRIES.setdefault(family, {})
    if registry.get(kind, cls) is not cls:
        raise ValueError(f"{family} kind {kind!r} is already registered to {registry[kind].__name__}")
    registry[kind] = cls
    return cls


def registry(family: str) -> dict[str, type]:
    """The live ``kind -> class`` mapping of ``family`` (empty until its package registers)."""
    return _REGISTRIES.setdefault(family, {})


def kind_of(model: torch.nn.Module, family: str) -> str | None:
    """The kind ``model``'s class is registered under in ``family`` (None when it is not)."""
    for kind, cls in registry(family).items():
        if type(model) is cls:
            return kind
    return None


def config_path_of(path: str) -> str:
    return path[: -len(".safetensors")] + ".json"


# ----------------------------------------------------------------------------- saving

def save_checkpoint(model: torch.nn.Module, path: str, family: str, header: dict | None = None,
                    record: dict | None = None, tensors: dict[str, torch.Tensor] | None = None) -> tuple[str, str]:
    """Write ``path`` (.safetensors) and its .json; returns both paths.

    ``header``: extra JSON fields stored in both files (after format, family, kind and config);
    ``record``: fields of the JSON file only (training records); ``tensors``: extra tensors saved
    beside the state dict (their names must not clash with it)."""
    path = str(path)
    kind = kind_of(model, family)
    if kind is None:
        raise InputError("model", f"{type(model).__name__} is not a registered {family} "
                         f"(kinds: {sorted(registry(family))})")
    if not path.endswith(".safetensors"):
        raise InputError("path", f"checkpoints are .safetensors files, got {path!r}")
    weights = {name: t.detach().cpu().contiguous() for name, t in model.state_dict().items()}
    for name, tensor in (tensors or {}).items():
        if name in weights:
            raise InputError("tensors", f"{name!r} clashes with a weight of the {kind} {family}")
        weights[name] = tensor.detach().cpu().contiguous()
    head = {"format": FORMAT, "family": family, "kind": kind, "config": model.config, **(header or {})}
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    save_file(weights, path, metadata={METADATA_KEY: json.dumps(head)})
    config_path = config_path_of(path)
    with open(config_path, "w") as handle:
        json.dump({**head, **(record or {})}, handle, indent=1)
    return path, config_path


# ----------------------------------------------------------------------------- loading

class Loaded(NamedTuple):
    model: torch.nn.Module  # in eval mode, on the CPU
    header: dict  # the file's JSON header (metadata, or the .json beside an old file without one)
    extras: dict[str, torch.Tensor]  # the extra tensors that were asked for and present


def read_header(path: str, family: str) -> dict | None:
    """The JSON header of a checkpoint (None when neither its metadata nor a .json beside it has one).

    Raises ModelFileError when the file cannot be read as safetensors."""
    try:
        with safe_open(path, "pt") as handle:
            metadata = handle.metadata() or {}
    except Exception as error:  # noqa: BLE001 - every unreadable file gets the same message
        raise ModelFileError(f"{path} is not a PoseMotion {family} checkpoint (unreadable: {error})") from error
    for key in (METADATA_KEY, *LEGACY_KEYS.get(family, ())):
        if key in metadata:
            try:
                return json.loads(metadata[key])
            except ValueError as error:
                raise ModelFileError(f"{path}: its {key!r} metadata is not JSON: {error}") from error
    config_path = config_path_of(path)
    if os.path.isfile(config_path):
        try:
            with open(config_path) as handle:
                return json.load(handle)
        except ValueError as error:
            raise ModelFileError(f"{config_path} is not JSON: {error}") from error
    return None


def load_checkpoint(path: str, family: str, kind: str | None = None, extra_keys: tuple[str, ...] = ()) -> Loaded:
    """Rebuild a ``family`` model from its checkpoint; one ModelFileError when the files do not fit.

    ``kind``: the kind the caller needs (another kind in the file is an error); ``extra_keys``:
    tensors stored beside the weights, returned in ``Loaded.extras`` instead of being loaded."""
    path = str(path)
    if not os.path.isfile(path):
        raise ModelFileError(f"{family} checkpoint: file not found: {path!r}")
    kinds = registry(family)
    header = read_header(path, family)
    found = header.get("kind") if isinstance(header, dict) else None
    recorded = header.get("family", family) if isinstance(header, dict) else family
    if found not in kinds or recorded != family or not isinstance(header.get("config"), dict):
        raise ModelFileError(f"{path} is not a PoseMotion {family} checkpoint (kind {found!r} of family {recorded!r};"
                             f" expected a kind in {sorted(kinds)} in its metadata or "
                             f"{os.path.basename(config_path_of(path))})")
    if kind is not None and found != kind:
        raise ModelFileError(f"{path} holds a {found!r} {family}, expected {kind!r}")
    config = header["config"]
    if hasattr(kinds[found], "legacy_config"):  # a class may fill in options older files predate
        config = kinds[found].legacy_config(config)
    try:
        model = kinds[found](**config)
    except (TypeError, ValueError) as error:
        raise ModelFileError(f"{path}: its {found} config cannot be built: {error}") from error
    try:
        state = load_file(path)
    except Exception as error:  # noqa: BLE001
        raise ModelFileError(f"{path} is not a PoseMotion {family} checkpoint (unreadable: {error})") from error
    extras = {key: state.pop(key) for key in extra_keys if key in state}
    load_weights_strictly(model, state, path)
    return Loaded(model.eval(), header, extras)


def check_state_dict(expected: dict, given: dict, source: str, what: str) -> None:
    """One ModelFileError naming ``source`` and the first missing, unexpected and mis-shaped keys of
    ``given`` against ``expected`` (name -> tensor); nothing when they match."""
    missing = [k for k in expected if k not in given]
    unexpected = [k for k in given if k not in expected]
    wrong = [f"{k} {list(given[k].shape)} (expected {list(expected[k].shape)})"
             for k in expected if k in given and tuple(given[k].shape) != tuple(expected[k].shape)]
    problems = []
    for label, keys in (("missing keys", missing), ("unexpected keys", unexpected), ("wrong shapes", wrong)):
        if keys:
            more = f" (+{len(keys) - 3} more)" if len(keys) > 3 else ""
            problems.append(f"{label}: {', '.join(keys[:3])}{more}")
    if problems:
        raise ModelFileError(f"{source}: weights do not match {what}: " + "; ".join(problems))


def load_weights_strictly(model: torch.nn.Module, state: dict, path: str) -> None:
    """load_state_dict(strict=True) with one ModelFileError naming the file and the first offending keys."""
    kind = getattr(model, "kind", None) or getattr(model, "name", None) or type(model).__name__
    check_state_dict(model.state_dict(), state, path, f"its config ({kind}, {getattr(model, 'config', {})})")
    try:
        model.load_state_dict(state, strict=True)
    except RuntimeError as error:  # e.g. a dtype torch cannot copy
        raise ModelFileError(f"{path}: weights do not match its config: {str(error)[:300]}") from error
