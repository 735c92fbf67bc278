"""The motion LLM's one adapter file: everything a base needs to become the trained motion LLM.

``NAME.safetensors`` holds peft's adapter state (``get_peft_model_state_dict``: the LoRA A/B matrices
and the trained rows of the added tokens) with a JSON header in its metadata under ``"posemotion"``
(the pack's checkpoint convention, :mod:`..core.checkpoint`), repeated in ``NAME.json`` beside it
with the training record:

    {"format": "posemotion", "family": "llm_adapter", "kind": "lora",
     "config": {"lora": {rank, alpha, dropout, targets}, "max_seconds": ...},
     "base": {"name": ..., "identity_hash": ...},              # models/llm/base.py
     "motion_tokenizer": {"kind": ..., "hash": ..., "file": ...},  # vocabulary.motion_tokenizer_hash; file: a hint
     "vocabulary": MotionVocabulary.to_dict(), "added_tokens": [...],
     "templates_version": N}

Loading checks the base's identity hash and the motion tokenizer's kind and hash before touching a
weight, and refuses a mismatch naming both sides; the tensors then load strictly (every key, every
shape). Merging the loaded adapter (:func:`.model.merge_lora`) gives the unmerged logits to within
float32 rounding (the tests hold it to 1e-4 absolute on a random tiny LM).
"""

from __future__ import annotations

import json
import os
import warnings

import torch
from peft import get_peft_model_state_dict, set_peft_model_state_dict
from safetensors.torch import load_file, save_file

from ..core.checkpoint import FORMAT, METADATA_KEY, check_state_dict, config_path_of, read_header
from ..core.errors import InputError, ModelFileError
from ..tokenizers import BUNDLED_DIR as TOKENIZERS_DIR
from ..tokenizers.base import MotionTokenizer
from ..tokenizers.checkpoints import load_tokenizer
from .base import BaseLM, load_base
from .model import LoraSettings, MotionLLM, build_motion_llm, merge_lora
from .prompts import load_templates
from .vocabulary import MotionVocabulary, motion_tokenizer_hash

FAMILY = "llm_adapter"


def adapter_header(llm: MotionLLM, tokenizer_file: str | None = None) -> dict:
    return {"format": FORMAT, "family": FAMILY, "kind": "lora",
            "config": {"lora": llm.lora.to_dict(), "max_seconds": llm.max_seconds},
            "base": {"name": llm.base.name, "identity_hash": llm.base.identity_hash},
            "motion_tokenizer": {"kind": llm.vocabulary.tokenizer_kind, "hash": llm.vocabulary.tokenizer_hash,
                                 "file": os.path.basename(tokenizer_file) if tokenizer_file else None},
            "vocabulary": llm.vocabulary.to_dict(), "added_tokens": llm.vocabulary.token_strings(),
            "templates_version": llm.templates.version}


def save_adapter(llm: MotionLLM, path: str, record: dict | None = None,
                 tokenizer_file: str | None = None) -> tuple[str, str]:
    """Write the adapter of ``llm`` (not merged) to ``path`` (.safetensors) and its .json; returns both paths.

    ``tokenizer_file``: the motion tokenizer's file, recorded by name so that loaders can find a bundled one."""
    path = str(path)
    if not path.endswith(".safetensors"):
        raise InputError("path", f"adapters are .safetensors files, got {path!r}")
    if llm.merged:
        raise InputError("llm", "a merged motion LLM has no separate adapter to save; save before merging")
    with warnings.catch_warnings():  # peft looks for a config.json to see if the vocabulary grew: it did, we know
        warnings.filterwarnings("ignore", message="Could not find a config file")
        # save_embedding_layers=False: peft's "auto" stores the whole resized embedding when the base is a
        # local folder; only the added rows (trainable_token_indices) belong in the adapter
        trained = get_peft_model_state_dict(llm.lm, save_embedding_layers=False)
        state = {k: v.detach().cpu().contiguous() for k, v in trained.items()}
    head = adapter_header(llm, tokenizer_file)
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    save_file(state, path, metadata={METADATA_KEY: json.dumps(head)})
    with open(config_path_of(path), "w") as handle:
        json.dump({**head, **(record or {})}, handle, indent=1)
    return path, config_path_of(path)


def read_adapter_header(path: str) -> dict:
    path = str(path)
    if not os.path.isfile(path):
        raise ModelFileError(f"adapter: file not found: {path!r}")
    header = read_header(path, FAMILY)
    if not isinstance(header, dict) or header.get("family") != FAMILY:
        raise ModelFileError(f"{path} is not a PoseMotion motion LLM adapter (no {FAMILY!r} header)")
    return header


def check_compatible(header: dict, base: BaseLM, motion_tokenizer: MotionTokenizer, path: str) -> None:
    """Refuse an adapter made for another base or motion tokenizer, naming both."""
    made_for = header["base"]
    if made_for["identity_hash"] != base.identity_hash:
        raise ModelFileError(f"{path}: this adapter was trained on base {made_for['name']!r} "
                             f"(identity {made_for['identity_hash'][:12]}), not on {base.name!r} "
                             f"(identity {base.identity_hash[:12]})")
    check_motion_tokenizer(header, motion_tokenizer, path)


def check_motion_tokenizer(header: dict, motion_tokenizer: MotionTokenizer, path: str) -> None:
    """Refuse a motion tokenizer other than the adapter's, naming both (cheap: run it before loading a base)."""
    wanted = header["motion_tokenizer"]
    kind, digest = motion_tokenizer.kind, motion_tokenizer_hash(motion_tokenizer)
    if wanted["kind"] != kind or wanted["hash"] != digest:
        raise ModelFileError(f"{path}: this adapter was trained with a {wanted['kind']} motion tokenizer "
                             f"(hash {wanted['hash'][:12]}), not with the given {kind} tokenizer (hash {digest[:12]})")


def load_motion_llm(base: BaseLM, motion_tokenizer: MotionTokenizer, path: str) -> MotionLLM:
    """The motion LLM of adapter ``path`` on ``base`` (extended in place: load a fresh base for each adapter)."""
    path = str(path)
    header = read_adapter_header(path)
    check_compatible(header, base, motion_tokenizer, path)
    templates = load_templates()
    if header.get("templates_version") != templates.version:
        raise ModelFileError(f"{path}: made with prompt templates version {header.get('templates_version')}, "
                             f"the pack has version {templates.version}")
    config = header["config"]
    llm = build_motion_llm(base, motion_tokenizer, LoraSettings.from_dict(config["lora"]),
                           float(config["max_seconds"]), templates)
    stored = MotionVocabulary.from_dict(header["vocabulary"])
    if stored != llm.vocabulary or header["added_tokens"] != llm.vocabulary.token_strings():
        raise ModelFileError(f"{path}: its motion tokens ({stored.num_added} from id {stored.first_id}) differ from "
                             f"the ones this base and tokenizer give ({llm.vocabulary.num_added} from id "
                             f"{llm.vocabulary.first_id})")
    try:
        state = load_file(path)
    except Exception as error:  # noqa: BLE001 - every unreadable file gets the same message
        raise ModelFileError(f"{path}: unreadable adapter: {error}") from error
    expected = get_peft_model_state_dict(llm.lm, save_embedding_layers=False)
    check_state_dict(expected, state, path, f"a LoRA adapter (rank {llm.lora.rank}) on {base.name}")
    with torch.no_grad():
        result = set_peft_model_state_dict(llm.lm, state)
    if result.unexpected_keys:
        raise ModelFileError(f"{path}: peft did not place keys {result.unexpected_keys[:3]}")
    llm.lm.eval()
    return llm


def adapter_tokenizer_path(path: str) -> str:
    """The bundled motion tokenizer an adapter was trained with (ModelFileError when it is not bundled)."""
    header = read_adapter_header(path)
    name = header["motion_tokenizer"].get("file")
    candidate = os.path.join(TOKENIZERS_DIR, name) if name else ""
    if not name or not os.path.isfile(candidate):
        raise ModelFileError(f"{path}: trained with motion tokenizer {name or 'of unrecorded file'} "
                             f"({header['motion_tokenizer']['kind']}), which is not bundled: give its file")
    return candidate


def open_motion_llm(adapter: str, base: str | None = None, motion_tokenizer: str | None = None,
                    dtype: torch.dtype = torch.float32, merge: bool = False) -> MotionLLM:
    """Base (a folder, a GGUF file, None: the embedded SmolLM2) + motion tokenizer (None: the bundled one
    the adapter names) + adapter, checked against each other before the base is loaded.

    ``merge``: fold the adapter into the base (inference about twice as fast on CPU: peft's unmerged
    wrappers cost as much as the base's matmuls at this size, benchmarks/bench_llm.py)."""
    header = read_adapter_header(adapter)
    tokenizer = load_tokenizer(motion_tokenizer or adapter_tokenizer_path(adapter))
    check_motion_tokenizer(header, tokenizer, adapter)
    llm = load_motion_llm(load_base(base, dtype=dtype), tokenizer, adapter)
    return merge_lora(llm) if merge else llm
