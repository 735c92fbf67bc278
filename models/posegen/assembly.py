"""A whole PoseGen setup loaded from its files: the base transformer (and optionally the separate
interpolation transformer), the Wan VAE, CLIP vision, the UMT5 text encoder with its tokenizer, and
the LoRAs switched per segment kind (:class:`.lora.PhaseLoras`), as the sampler's :class:`PoseGenModels`."""

from __future__ import annotations

import torch

from .loading import load_clip_vision, load_text_encoder, load_transformer, load_vae
from .lora import PhaseLoras
from .pipeline import PoseGenModels


def load_models(transformer: str, vae: str, clip_vision: str, text_encoder: str, *, tokenizer: str | None = None,
                interpolation_model: str | None = None, base_lora: str | None = None,
                interpolation_lora: str | None = None, lora_mode: str = "merge", lora_strength: float = 1.0,
                dtype: torch.dtype = torch.bfloat16) -> PoseGenModels:
    """Every part on the CPU (the VAE in float32, the rest in ``dtype``), the base segments' LoRA
    active; ``select_phase`` switches the backbone's LoRA per segment kind. ``tokenizer`` is a
    tokenizer folder, needed with a single-file text encoder."""
    base = load_transformer(transformer, dtype=dtype)
    interp = None if interpolation_model is None else load_transformer(interpolation_model, dtype=dtype)
    loras = PhaseLoras.for_models(base, interp, base_lora, interpolation_lora, lora_mode, lora_strength)
    encoder, text_tokenizer = load_text_encoder(text_encoder, dtype=dtype, tokenizer_path=tokenizer)
    models = PoseGenModels(transformer=base, vae=load_vae(vae), clip_vision=load_clip_vision(clip_vision, dtype=dtype),
                           text_encoder=encoder, tokenizer=text_tokenizer, interp_transformer=interp,
                           select_phase=loras.select)
    loras.select("base")
    return models
