"""Wan2.1 transformer tensor names: the original (Wan / DiffSynth / ComfyUI) names <-> diffusers names,
as an explicit key map, and the wrapper prefixes files put in front of them."""

from __future__ import annotations

import re

import torch

KEY_PREFIXES = ("pipe.dit.", "model.diffusion_model.", "diffusion_model.")

# Original (Wan / DiffSynth) module paths -> diffusers module paths. Inside each block:
_BLOCK_MODULES = {
    "self_attn.q": "attn1.to_q", "self_attn.k": "attn1.to_k", "self_attn.v": "attn1.to_v",
    "self_attn.o": "attn1.to_out.0", "self_attn.norm_q": "attn1.norm_q", "self_attn.norm_k": "attn1.norm_k",
    "cross_attn.q": "attn2.to_q", "cross_attn.k": "attn2.to_k", "cross_attn.v": "attn2.to_v",
    "cross_attn.o": "attn2.to_out.0", "cross_attn.norm_q": "attn2.norm_q", "cross_attn.norm_k": "attn2.norm_k",
    "cross_attn.k_img": "attn2.add_k_proj", "cross_attn.v_img": "attn2.add_v_proj",
    "cross_attn.norm_k_img": "attn2.norm_added_k",
    # Wan's affine norm before cross-attention is norm3 (norm2 is parameter-free, before the FFN);
    # diffusers calls them the other way round.
    "norm3": "norm2",
    "ffn.0": "ffn.net.0.proj", "ffn.2": "ffn.net.2",
}
_TOP_MODULES = {
    "text_embedding.0": "condition_embedder.text_embedder.linear_1",
    "text_embedding.2": "condition_embedder.text_embedder.linear_2",
    "time_embedding.0": "condition_embedder.time_embedder.linear_1",
    "time_embedding.2": "condition_embedder.time_embedder.linear_2",
    "time_projection.1": "condition_embedder.time_proj",
    "head.head": "proj_out",
    "img_emb.proj.0": "condition_embedder.image_embedder.norm1",
    "img_emb.proj.1": "condition_embedder.image_embedder.ff.net.0.proj",
    "img_emb.proj.3": "condition_embedder.image_embedder.ff.net.2",
    "img_emb.proj.4": "condition_embedder.image_embedder.norm2",
}
# Bare parameters (not module.weight/bias).
_BLOCK_PARAMETERS = {"modulation": "scale_shift_table"}
_TOP_PARAMETERS = {"head.modulation": "scale_shift_table",
                   "img_emb.emb_pos": "condition_embedder.image_embedder.pos_embed"}
BLOCK_KEY = re.compile(r"^blocks\.(\d+)\.(.+)$")


def original_module_to_diffusers(path: str) -> str:
    """Diffusers path of an original Wan module path (unknown paths are returned unchanged)."""
    match = BLOCK_KEY.match(path)
    if match:
        return f"blocks.{match[1]}.{_BLOCK_MODULES.get(match[2], match[2])}"
    return _TOP_MODULES.get(path, path)


def diffusers_module_to_original(path: str) -> str:
    """Inverse of :func:`original_module_to_diffusers`."""
    match = BLOCK_KEY.match(path)
    if match:
        return f"blocks.{match[1]}.{_INVERSE_BLOCK_MODULES.get(match[2], match[2])}"
    return _INVERSE_TOP_MODULES.get(path, path)


_INVERSE_BLOCK_MODULES = {v: k for k, v in _BLOCK_MODULES.items()}
_INVERSE_TOP_MODULES = {v: k for k, v in _TOP_MODULES.items()}


def original_key_to_diffusers(key: str) -> str:
    """Diffusers name of one tensor of an original Wan state dict."""
    if key in _TOP_PARAMETERS:
        return _TOP_PARAMETERS[key]
    match = BLOCK_KEY.match(key)
    if match and match[2] in _BLOCK_PARAMETERS:
        return f"blocks.{match[1]}.{_BLOCK_PARAMETERS[match[2]]}"
    module, _, leaf = key.rpartition(".")
    return f"{original_module_to_diffusers(module)}.{leaf}" if module else key


def convert_original_transformer_keys(state_dict: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Original Wan names -> diffusers names (PoseGen's ref/hand patchifiers keep their names)."""
    return {original_key_to_diffusers(key): value for key, value in state_dict.items()}


def uses_original_names(keys: list[str]) -> bool:
    return any(".self_attn." in k or k.startswith("head.") or k.startswith("text_embedding.") for k in keys)


def strip_prefixes(state_dict: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    for prefix in KEY_PREFIXES:
        if any(k.startswith(prefix) for k in state_dict):
            return {(k[len(prefix):] if k.startswith(prefix) else k): v for k, v in state_dict.items()}
    return state_dict
