"""Loading PoseGen/Wan2.1 weights from the formats users download, strictly and offline.

Transformer (:func:`load_transformer`, always a :class:`PoseGenTransformer`; without reference/hand
weights it is built with ``use_reference=False, use_hand=False`` and behaves as stock Wan):

* a diffusers folder (``config.json`` + ``diffusion_pytorch_model*.safetensors``), or a diffusers
  pipeline folder with a ``transformer/`` subfolder;
* a single file in Wan's original names, as ComfyUI's ``diffusion_models/`` holds them (optionally
  prefixed ``model.diffusion_model.`` / ``diffusion_model.``), or in diffusers names;
* PoseGen's published folder (``720p-81f-base/``, ``720p-81f-cond/``): ``model_config.json``
  (DiffSynth ``WanModel`` arguments) + ``*.bin`` shards whose keys are ``pipe.dit.`` + original names.
  Layers that were LoRA-finetuned appear peft-wrapped (``<module>.base_layer.weight`` with
  ``<module>.lora_A.default.weight`` / ``lora_B``): they are merged here as W + scale * B @ A with
  scale 1, as the reference inference merges them.

Nothing is downloaded: the model config comes from the weights' shapes (heads from
``model_config.json``/``config.json``, or Wan's 128-dim heads for single files), and the load is
strict: a missing, unexpected or mis-shaped tensor raises one :class:`ModelFileError` naming the file
and the first offending keys. (diffusers' ``from_single_file`` is not used for the transformer: it
needs a hub config and silently drops unexpected keys.) Parameters are built on the meta device and
the file's tensors assigned, so a 14B model is never held twice.

VAE (:func:`load_vae`), CLIP vision (:func:`load_clip_vision`) and UMT5 text encoder
(:func:`load_text_encoder`) accept the diffusers/transformers folders and the ComfyUI single files of
``vae/``, ``clip_vision/`` (transformers names) and ``text_encoders/`` (transformers names; a single
T5 file carries no tokenizer, so a tokenizer folder must be given).
"""

from __future__ import annotations

import inspect
import json
import math
import os
import re
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Iterator

import torch
import torch.nn as nn
from diffusers import AutoencoderKLWan
from diffusers.loaders.single_file_utils import convert_wan_vae_to_diffusers
from safetensors.torch import load_file
from transformers import (
    AutoTokenizer,
    CLIPVisionConfig,
    CLIPVisionModel,
    CLIPVisionModelWithProjection,
    UMT5Config,
    UMT5EncoderModel,
)

from ..core.checkpoint import check_state_dict
from ..core.errors import ModelFileError
from .key_names import BLOCK_KEY, convert_original_transformer_keys, strip_prefixes, uses_original_names
from .transformer import PoseGenTransformer

WEIGHT_SUFFIXES = (".safetensors", ".bin", ".pt", ".pth", ".ckpt")
WAN_HEAD_DIM = 128  # every released Wan2.1 DiT (1.3B: 12 x 128, 14B: 40 x 128)
# ----------------------------------------------------------------------------- reading files

def read_state_dict(path: str) -> dict[str, torch.Tensor]:
    """All tensors of one weight file (.safetensors, or a torch pickle read with weights_only)."""
    if not os.path.isfile(path):
        raise ModelFileError(f"{path}: no such weight file")
    try:
        if path.endswith(".safetensors"):
            loaded: Any = load_file(path, device="cpu")
        else:
            try:
                loaded = torch.load(path, map_location="cpu", weights_only=True, mmap=True)
            except RuntimeError:  # legacy (non-zip) pickles cannot be memory-mapped
                loaded = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as error:  # noqa: BLE001 - any reader failure is a bad file for the user
        raise ModelFileError(f"{path}: cannot read weights ({type(error).__name__}: {error})") from error
    for wrapper in ("state_dict", "module", "model"):
        if isinstance(loaded, dict) and isinstance(loaded.get(wrapper), dict) and len(loaded) <= 3:
            loaded = loaded[wrapper]
    if not isinstance(loaded, dict) or not all(isinstance(v, torch.Tensor) for v in loaded.values()):
        raise ModelFileError(f"{path}: expected a flat dict of named tensors")
    return loaded


def _weight_files(folder: str, preferred_stem: str | None = None) -> list[str]:
    names = sorted(n for n in os.listdir(folder) if n.endswith(WEIGHT_SUFFIXES))
    if preferred_stem and any(n.startswith(preferred_stem) for n in names):
        names = [n for n in names if n.startswith(preferred_stem)]
    safetensors = [n for n in names if n.endswith(".safetensors")]
    names = safetensors or names  # diffusers folders may hold both formats of the same weights
    if not names:
        raise ModelFileError(f"{folder}: no weight files ({', '.join(WEIGHT_SUFFIXES)})")
    return [os.path.join(folder, n) for n in names]


def _read_json(path: str) -> dict[str, Any]:
    try:
        with open(path, encoding="utf-8") as handle:
            data = json.load(handle)
    except (OSError, ValueError) as error:
        raise ModelFileError(f"{path}: cannot read JSON ({error})") from error
    if not isinstance(data, dict):
        raise ModelFileError(f"{path}: expected a JSON object")
    return data


def _component_folder(path: str, component: str) -> str:
    """``path`` itself, or its ``component`` subfolder when ``path`` is a diffusers pipeline folder."""
    sub = os.path.join(path, component)
    if os.path.isdir(path) and not os.path.isfile(os.path.join(path, "config.json")) and os.path.isdir(sub):
        return sub
    return path


# ----------------------------------------------------------------------------- LoRA-wrapped shards

def merge_wrapped_lora(state_dict: dict[str, torch.Tensor], scale: float = 1.0,
                       source: str = "checkpoint") -> dict[str, torch.Tensor]:
    """Fold peft-wrapped LoRA pairs into their base weights: ``m.base_layer.weight`` +
    ``m.lora_A[.adapter].weight`` / ``m.lora_B[.adapter].weight`` -> ``m.weight`` = W + scale * B @ A."""
    plain: dict[str, torch.Tensor] = {}
    down: dict[str, torch.Tensor] = {}
    up: dict[str, torch.Tensor] = {}
    for key, value in state_dict.items():
        lora = re.match(r"^(.+)\.lora_([AB])(?:\.[^.]+)?\.weight$", key)
        if lora:
            (down if lora[2] == "A" else up)[lora[1]] = value
        else:
            plain[key.replace(".base_layer.", ".")] = value
    for module in sorted(set(down) | set(up)):
        if module not in down or module not in up or f"{module}.weight" not in plain:
            raise ModelFileError(f"{source}: LoRA of {module} is incomplete (needs lora_A, lora_B and the base weight)")
        base = plain[f"{module}.weight"]
        delta = up[module].flatten(1).float() @ down[module].flatten(1).float()
        if delta.numel() != base.numel():
            raise ModelFileError(f"{source}: LoRA of {module} gives {tuple(delta.shape)}, base weight is {tuple(base.shape)}")
        plain[f"{module}.weight"] = (base.float() + scale * delta.view(base.shape)).to(base.dtype)
    return plain


# ----------------------------------------------------------------------------- transformer

@dataclass
class TransformerCheckpoint:
    """A transformer's weights in diffusers names and the PoseGenTransformer config they need."""

    config: dict[str, Any]
    state_dict: dict[str, torch.Tensor]
    source: str  # the file or folder, for messages


def infer_transformer_config(state_dict: dict[str, torch.Tensor], source: str,
                             num_heads: int | None = None) -> dict[str, Any]:
    """PoseGenTransformer config from diffusers-named weights (head count: given, or Wan's 128-dim heads)."""
    for needed in ("patch_embedding.weight", "proj_out.weight", "condition_embedder.text_embedder.linear_1.weight",
                   "condition_embedder.time_embedder.linear_1.weight", "blocks.0.ffn.net.0.proj.weight"):
        if needed not in state_dict:
            raise ModelFileError(f"{source}: not a Wan transformer checkpoint (no {needed})")
    patch = state_dict["patch_embedding.weight"]
    inner_dim, in_channels, *patch_size = patch.shape
    if num_heads is None:
        if inner_dim % WAN_HEAD_DIM:
            raise ModelFileError(f"{source}: width {inner_dim} is not a multiple of Wan's {WAN_HEAD_DIM}-dim heads; "
                                 "give the head count")
        num_heads = inner_dim // WAN_HEAD_DIM
    if inner_dim % num_heads:
        raise ModelFileError(f"{source}: width {inner_dim} does not split into {num_heads} heads")
    blocks = {int(m[1]) for k in state_dict if (m := BLOCK_KEY.match(k))}

    def dim(key: str, axis: int) -> int | None:
        return int(state_dict[key].shape[axis]) if key in state_dict else None

    return {
        "patch_size": tuple(int(p) for p in patch_size),
        "num_attention_heads": num_heads,
        "attention_head_dim": inner_dim // num_heads,
        "in_channels": int(in_channels),
        "out_channels": int(state_dict["proj_out.weight"].shape[0]) // math.prod(patch_size),
        "text_dim": dim("condition_embedder.text_embedder.linear_1.weight", 1),
        "freq_dim": dim("condition_embedder.time_embedder.linear_1.weight", 1),
        "ffn_dim": dim("blocks.0.ffn.net.0.proj.weight", 0),
        "num_layers": max(blocks) + 1,
        "cross_attn_norm": "blocks.0.norm2.weight" in state_dict,
        "qk_norm": "rms_norm_across_heads" if "blocks.0.attn1.norm_q.weight" in state_dict else None,
        "image_dim": dim("condition_embedder.image_embedder.norm1.weight", 0),
        "added_kv_proj_dim": dim("blocks.0.attn2.add_k_proj.weight", 1),
        "pos_embed_seq_len": dim("condition_embedder.image_embedder.pos_embed", 1),
        "use_reference": "ref_patch_embedding.weight" in state_dict,
        "use_hand": any(k.startswith("hand_patch_embedding.") for k in state_dict),
        "use_hand_projection": "hand_patch_embedding.1.weight" in state_dict,
    }


def _check_posegen_config(model_config: dict[str, Any], inferred: dict[str, Any], source: str) -> None:
    """DiffSynth's ``model_config.json`` must describe the weights beside it."""
    expected = {"dim": inferred["num_attention_heads"] * inferred["attention_head_dim"],
                "in_dim": inferred["in_channels"], "out_dim": inferred["out_channels"],
                "ffn_dim": inferred["ffn_dim"], "text_dim": inferred["text_dim"], "freq_dim": inferred["freq_dim"],
                "num_layers": inferred["num_layers"], "patch_size": list(inferred["patch_size"]),
                "has_image_input": inferred["image_dim"] is not None, "use_hand": inferred["use_hand"],
                "use_hand_proj": inferred["use_hand_projection"]}
    for name, value in expected.items():
        stated = model_config.get(name)
        if stated is not None and stated != value:
            raise ModelFileError(f"{source}: model_config.json says {name}={stated!r} but the weights have {value!r}")


def read_transformer_checkpoint(path: str, *, num_heads: int | None = None, lora_scale: float = 1.0,
                                dtype: torch.dtype | None = None) -> TransformerCheckpoint:
    """Read and convert any supported transformer checkpoint (see the module docstring)."""
    path = _component_folder(path, "transformer")
    file_config: dict[str, Any] = {}
    posegen_config: dict[str, Any] | None = None
    if os.path.isdir(path):
        if os.path.isfile(os.path.join(path, "model_config.json")):
            posegen_config = _read_json(os.path.join(path, "model_config.json"))
            files = _weight_files(path)
        elif os.path.isfile(os.path.join(path, "config.json")):
            file_config = _read_json(os.path.join(path, "config.json"))
            files = _weight_files(path, "diffusion_pytorch_model")
        else:
            raise ModelFileError(f"{path}: expected a diffusers folder (config.json) or PoseGen's published folder "
                                 "(model_config.json + *.bin)")
    elif os.path.isfile(path):
        files = [path]
    else:
        raise ModelFileError(f"PoseGen weights: file or folder not found: {path!r}")

    state_dict: dict[str, torch.Tensor] = {}
    for file in files:
        for key, value in strip_prefixes(read_state_dict(file)).items():
            state_dict[key] = value if dtype is None or not value.is_floating_point() else value.to(dtype)
    if any(".lora_A." in k or ".base_layer." in k for k in state_dict):
        state_dict = merge_wrapped_lora(state_dict, lora_scale, path)
    if uses_original_names(list(state_dict)):
        state_dict = convert_original_transformer_keys(state_dict)

    if posegen_config is not None:
        if not num_heads and not isinstance(posegen_config.get("num_heads"), int):
            raise ModelFileError(f"{path}: model_config.json has no num_heads")
        config = infer_transformer_config(state_dict, path, num_heads or posegen_config["num_heads"])
        _check_posegen_config(posegen_config, config, path)
        config["eps"] = float(posegen_config.get("eps", 1e-6))
    else:
        config = infer_transformer_config(state_dict, path, num_heads or file_config.get("num_attention_heads"))
    accepted = _init_parameters(_posegen_transformer_class())
    for key, value in file_config.items():  # a diffusers config.json; the strict load checks it against the weights
        if key in accepted and not (num_heads and key in ("num_attention_heads", "attention_head_dim")):
            config[key] = tuple(value) if key == "patch_size" else value
    return TransformerCheckpoint(config=config, state_dict=state_dict, source=path)


def load_transformer(path: str, dtype: torch.dtype = torch.bfloat16, device: str | torch.device = "cpu", *,
                     num_heads: int | None = None, lora_scale: float = 1.0) -> nn.Module:
    """A :class:`PoseGenTransformer` strictly loaded from ``path`` (see the module docstring).

    ``num_heads`` overrides the head count for single files whose heads are not 128 wide;
    ``lora_scale`` scales PoseGen's wrapped LoRA pairs (1 reproduces the published model)."""
    checkpoint = read_transformer_checkpoint(path, num_heads=num_heads, lora_scale=lora_scale, dtype=dtype)
    return build_strict(_posegen_transformer_class(), checkpoint.config, checkpoint.state_dict,
                        checkpoint.source, dtype, device)


def _posegen_transformer_class() -> type:

    return PoseGenTransformer


# ----------------------------------------------------------------------------- strict construction

@contextmanager
def _parameters_on_meta() -> Iterator[None]:
    """Build modules with meta-device parameters (no memory) but real buffers (RoPE tables)."""
    register = nn.Module.register_parameter

    def register_on_meta(module: nn.Module, name: str, param: nn.Parameter | None) -> None:
        if param is not None and param.device.type != "meta":
            param = nn.Parameter(param.detach().to("meta"), requires_grad=param.requires_grad)
        register(module, name, param)

    nn.Module.register_parameter = register_on_meta  # type: ignore[method-assign]
    try:
        yield
    finally:
        nn.Module.register_parameter = register  # type: ignore[method-assign]


def _init_parameters(model_class: type) -> set[str]:
    return set(inspect.signature(model_class.__init__).parameters) - {"self"}


def build_strict(model_class: type, config: dict[str, Any], state_dict: dict[str, torch.Tensor], source: str,
                 dtype: torch.dtype | None, device: str | torch.device = "cpu") -> nn.Module:
    """``model_class`` built from ``config`` with exactly ``state_dict`` assigned (cast to ``dtype``)."""
    accepted = _init_parameters(model_class)
    kwargs = {k: v for k, v in config.items() if k in accepted}
    with _parameters_on_meta():
        model = model_class.from_config(kwargs) if hasattr(model_class, "from_config") else model_class(**kwargs)
    expected = model.state_dict()
    check_state_dict(expected, state_dict, source, model_class.__name__)
    cast = {k: (v.to(dtype) if dtype is not None and v.is_floating_point() else v) for k, v in state_dict.items()}
    model.load_state_dict(cast, strict=True, assign=True)
    return model.to(device).eval().requires_grad_(False)


# ----------------------------------------------------------------------------- VAE

def load_vae(path: str, dtype: torch.dtype = torch.float32, device: str | torch.device = "cpu") -> nn.Module:
    """diffusers ``AutoencoderKLWan`` from a diffusers folder (``config.json``; or a pipeline folder's
    ``vae/``) or a single file in Wan's original (``Wan2.1_VAE.pth``, ComfyUI ``vae/``) or diffusers
    names. The model does not normalise latents: callers apply (z - latents_mean) / latents_std."""

    path = _component_folder(path, "vae")
    config: dict[str, Any] = {}
    if os.path.isdir(path):
        config_path = os.path.join(path, "config.json")
        if not os.path.isfile(config_path):
            raise ModelFileError(f"{path}: expected a diffusers VAE folder with config.json")
        config = _read_json(config_path)
        files = _weight_files(path, "diffusion_pytorch_model")
    else:
        files = [path]
    state_dict: dict[str, torch.Tensor] = {}
    for file in files:
        state_dict.update(read_state_dict(file))
    if "decoder.middle.0.residual.0.gamma" in state_dict or "encoder.conv1.weight" in state_dict:
        state_dict = convert_wan_vae_to_diffusers(state_dict)
    if not config:
        if "encoder.conv_in.weight" not in state_dict or "post_quant_conv.weight" not in state_dict:
            raise ModelFileError(f"{path}: not a Wan VAE checkpoint (no encoder.conv1 / conv2 weights)")
        z_dim = int(state_dict["post_quant_conv.weight"].shape[0])
        config = {"base_dim": int(state_dict["encoder.conv_in.weight"].shape[0]), "z_dim": z_dim}
        if z_dim != 16:  # the default latent statistics are Wan2.1's 16 channels
            config.update(latents_mean=[0.0] * z_dim, latents_std=[1.0] * z_dim)
    return build_strict(AutoencoderKLWan, config, state_dict, path, dtype, device)


# ----------------------------------------------------------------------------- CLIP vision

_CLIP_HEADS_BY_WIDTH = {768: 12, 1024: 16, 1280: 16, 1664: 16}  # ViT-B, ViT-L, ViT-H (Wan), ViT-bigG


def _transformers_weights(path: str, config_class) -> tuple[dict[str, torch.Tensor], object | None]:
    """(state dict, config) of a transformers folder, or (state dict, None) of a single file whose
    config the caller infers from shapes."""
    if not os.path.isdir(path):
        return read_state_dict(path), None
    state_dict: dict[str, torch.Tensor] = {}
    for file in _weight_files(path, "model"):
        state_dict.update(read_state_dict(file))
    try:
        config = config_class.from_pretrained(path, local_files_only=True)
    except (OSError, ValueError) as error:
        raise ModelFileError(f"{path}: no readable config.json for {config_class.__name__} ({error})") from error
    return state_dict, config


def load_clip_vision(path: str, dtype: torch.dtype = torch.float32, device: str | torch.device = "cpu", *,
                     num_heads: int | None = None) -> nn.Module:
    """transformers ``CLIPVisionModelWithProjection`` (``CLIPVisionModel`` when the weights have no
    projection) from a transformers folder (or a pipeline's ``image_encoder/``) or a ComfyUI
    ``clip_vision/`` single file in transformers names (``vision_model.*``, or unprefixed as
    transformers 5 saves a model without projection). Wan conditions on
    ``hidden_states[-2]``. Open-CLIP-named files (``visual.transformer.*``) are not supported."""

    path = _component_folder(path, "image_encoder")
    state_dict, config = _transformers_weights(path, CLIPVisionConfig)
    state_dict = {key: v for k, v in state_dict.items()
                  if (key := _canonical_clip_key(k)).startswith(("vision_model.", "visual_projection."))
                  and not key.endswith("position_ids")}
    if "vision_model.embeddings.patch_embedding.weight" not in state_dict:
        raise ModelFileError(f"{path}: not a CLIP vision checkpoint in transformers names "
                             "(no vision_model.embeddings.patch_embedding.weight)")
    if config is None:
        patch = state_dict["vision_model.embeddings.patch_embedding.weight"]
        width, patch_size = int(patch.shape[0]), int(patch.shape[-1])
        positions = int(state_dict["vision_model.embeddings.position_embedding.weight"].shape[0])
        layers = {int(m[1]) for k in state_dict if (m := re.match(r"vision_model\.encoder\.layers\.(\d+)\.", k))}
        heads = num_heads or _CLIP_HEADS_BY_WIDTH.get(width, max(1, width // 64))
        projection = state_dict.get("visual_projection.weight")
        config = CLIPVisionConfig(
            hidden_size=width, num_hidden_layers=max(layers) + 1, num_attention_heads=heads,
            intermediate_size=int(state_dict["vision_model.encoder.layers.0.mlp.fc1.weight"].shape[0]),
            patch_size=patch_size, image_size=patch_size * math.isqrt(positions - 1),
            projection_dim=int(projection.shape[0]) if projection is not None else width,
            hidden_act="gelu", layer_norm_eps=1e-5)
    model_class = CLIPVisionModelWithProjection if "visual_projection.weight" in state_dict else CLIPVisionModel
    with _parameters_on_meta():
        model = model_class(config)
    # Checked in canonical names, loaded in the model's own (transformers 5 drops the prefix from
    # CLIPVisionModel's state dict, CLIPVisionModelWithProjection keeps it).
    own = {k: v for k, v in model.state_dict().items() if not k.endswith("position_ids")}
    model_keys = {_canonical_clip_key(k): k for k in own}
    expected = {canonical: own[k] for canonical, k in model_keys.items()}
    check_state_dict(expected, state_dict, path, model_class.__name__)
    cast = {model_keys[k]: v.to(dtype) if v.is_floating_point() else v for k, v in state_dict.items()}
    model.load_state_dict(cast, strict=False, assign=True)
    return model.to(device).eval().requires_grad_(False)


_CLIP_TOWER_PARTS = ("embeddings.", "pre_layrnorm.", "encoder.", "post_layernorm.")


def _canonical_clip_key(key: str) -> str:
    """``vision_model.``-prefixed name of a CLIP vision tensor, as ComfyUI's files and transformers 4
    name them; transformers 5 saves a CLIPVisionModel without the prefix."""
    return f"vision_model.{key}" if key.startswith(_CLIP_TOWER_PARTS) else key


# ----------------------------------------------------------------------------- UMT5 text encoder

TOKENIZER_HINT = ("a folder with the umt5-xxl tokenizer (tokenizer.json / spiece.model), e.g. the tokenizer/ "
                  "folder of a Wan2.1 *-Diffusers download")


def load_text_encoder(path: str, dtype: torch.dtype = torch.bfloat16, device: str | torch.device = "cpu", *,
                      tokenizer_path: str | None = None) -> tuple[nn.Module, Any]:
    """transformers ``UMT5EncoderModel`` and its tokenizer.

    ``path`` is a transformers folder (tokenizer files inside, or a diffusers pipeline folder with
    ``text_encoder/`` and ``tokenizer/``) or a ComfyUI ``text_encoders/`` single file in transformers
    names (``encoder.block.*``, ``shared.weight``); a single file has no tokenizer, so
    ``tokenizer_path`` must name one. fp8-scaled files and Wan's original ``.pth`` names are not
    supported."""

    root = path
    path = _component_folder(path, "text_encoder")
    if tokenizer_path is None:
        if os.path.isdir(os.path.join(root, "tokenizer")):
            tokenizer_path = os.path.join(root, "tokenizer")
        elif os.path.isdir(path):
            tokenizer_path = path
        else:
            raise ModelFileError(f"{path}: a single-file text encoder carries no tokenizer; give tokenizer_path, "
                                 f"{TOKENIZER_HINT}")
    state_dict, config = _transformers_weights(path, UMT5Config)
    if any("scale_weight" in k or k == "scaled_fp8" for k in state_dict):
        raise ModelFileError(f"{path}: fp8-scaled text encoders are not supported; use the fp16/bf16 file")
    state_dict = {k: v for k, v in state_dict.items() if k == "shared.weight" or k.startswith("encoder.")}
    if "shared.weight" not in state_dict and "encoder.embed_tokens.weight" in state_dict:
        state_dict["shared.weight"] = state_dict["encoder.embed_tokens.weight"]
    state_dict.pop("encoder.embed_tokens.weight", None)  # tied to shared.weight
    if "shared.weight" not in state_dict or "encoder.block.0.layer.0.SelfAttention.q.weight" not in state_dict:
        raise ModelFileError(f"{path}: not a T5 encoder checkpoint in transformers names "
                             "(no shared.weight / encoder.block.0.layer.0.SelfAttention.q.weight)")
    if config is None:
        bias = state_dict["encoder.block.0.layer.0.SelfAttention.relative_attention_bias.weight"]
        buckets, heads = (int(s) for s in bias.shape)
        vocab, width = (int(s) for s in state_dict["shared.weight"].shape)
        gated = "encoder.block.0.layer.1.DenseReluDense.wi_0.weight" in state_dict
        ff = state_dict["encoder.block.0.layer.1.DenseReluDense." + ("wi_0" if gated else "wi") + ".weight"]
        layers = {int(m[1]) for k in state_dict if (m := re.match(r"encoder\.block\.(\d+)\.", k))}
        config = UMT5Config(vocab_size=vocab, d_model=width, num_heads=heads, relative_attention_num_buckets=buckets,
                            d_kv=int(state_dict["encoder.block.0.layer.0.SelfAttention.q.weight"].shape[0]) // heads,
                            d_ff=int(ff.shape[0]), num_layers=max(layers) + 1,
                            feed_forward_proj="gated-gelu" if gated else "relu", is_encoder_decoder=False)
    with _parameters_on_meta():
        model = UMT5EncoderModel(config)
    expected = {k: v for k, v in model.state_dict().items() if k != "encoder.embed_tokens.weight"}
    check_state_dict(expected, state_dict, path, "UMT5EncoderModel")
    cast = {k: v.to(dtype) if v.is_floating_point() else v for k, v in state_dict.items()}
    model.load_state_dict(cast, strict=False, assign=True)
    model.encoder.embed_tokens = model.shared  # re-tie after assignment replaced the shared parameter
    try:
        tokenizer = AutoTokenizer.from_pretrained(tokenizer_path, local_files_only=True)
    except (OSError, ValueError) as error:
        raise ModelFileError(f"{tokenizer_path}: cannot load a tokenizer ({error}); expected {TOKENIZER_HINT}") from error
    return model.to(device).eval().requires_grad_(False), tokenizer
