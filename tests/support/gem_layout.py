"""Writes a GenmoDenoiser's weights in the key layout of NVIDIA's gem_smpl.ckpt (a Lightning checkpoint).

The layout is spelled out here name by name from GEM's modules (gem/gem.py, gem/network/
gem_denoiser.py, base_arch/transformer/encoder_rope.py, timm's Mlp), independently of
``official.py``'s prefix rules, so that a test loading the file checks those rules against it.
Besides the weights we have, the file carries what GEM stores that we ignore: the sinusoid tables
(frozen parameters), and the embedders of modalities we lack (image features, camera angular
velocity, audio), with their exists embedders.
"""

from __future__ import annotations

import math

import torch

DENOISER = "pipeline.denoiser3d.denoiser."
PE_ROWS = 5000  # GEM's PositionalEncoding max_len
IMAGE_FEATURE_DIM = 1024  # f_imgseq
CAM_ANGVEL_DIM = 6

LINEAR = ("weight", "bias")
TIMM_MLP = tuple(f"{layer}.{p}" for layer in ("fc1", "fc2") for p in LINEAR)
ENCODER_BLOCK = (*(f"norm1.{p}" for p in LINEAR),
                 *(f"attn.{name}.{p}" for name in ("query", "key", "value", "proj") for p in LINEAR),
                 *(f"norm2.{p}" for p in LINEAR), *(f"mlp.{p}" for p in TIMM_MLP), "gate_msa", "gate_mlp")
TEXT_BLOCK = (*(f"norm2.{p}" for p in LINEAR), "cross_attn.in_proj_weight", "cross_attn.in_proj_bias",
              *(f"cross_attn.out_proj.{p}" for p in LINEAR), *(f"norm3.{p}" for p in LINEAR),
              *(f"mlp.{p}" for p in TIMM_MLP), "gate_cross_attn", "gate_mlp")
DENOISER_TOP = ("embed_text.weight", "embed_text.bias", *(f"embed_timestep.time_embed.{i}.{p}" for i in (0, 2)
                                                          for p in LINEAR),
                *(f"final_layer.{p}" for p in TIMM_MLP), "add_cond_linear.weight", "add_cond_linear.bias")
EXISTS = tuple(f"{i}.{p}" for i in (0, 2) for p in LINEAR)  # Linear(C+1, C), SiLU, zero Linear(C, C)
CONDITION_EMBEDDERS = ("learned_pos_params", *(f"learned_pos_linear.{p}" for p in LINEAR),
                       *(f"embed_noisyobs.{p}" for p in TIMM_MLP),
                       *(f"cliffcam_embedder.{i}.{p}" for i in (0, 3) for p in LINEAR),
                       *(f"cond_exists_embedder.f_cliffcam.{p}" for p in EXISTS))
MUSIC_EMBEDDERS = (*(f"music_embedder.{p}" for p in TIMM_MLP), *(f"cond_exists_embedder.encoded_music.{p}"
                                                                 for p in EXISTS))


def sinusoid_table(width: int) -> torch.Tensor:
    position = torch.arange(PE_ROWS, dtype=torch.float32)[:, None]
    div = torch.exp(torch.arange(0, width, 2, dtype=torch.float32) * (-math.log(10000.0) / width))
    table = torch.zeros(PE_ROWS, width)
    table[:, 0::2], table[:, 1::2] = torch.sin(position * div), torch.cos(position * div)
    return table[:, None, :]  # GEM's [max_len, 1, d]


def absent_modality_weights(width: int, generator: torch.Generator, zero_last: bool = True) -> dict:
    """GEM's embedders for image features, camera angular velocity and audio (which we do not load)."""
    def linear(name, n_in, n_out, zero=False):
        weight = torch.zeros(n_out, n_in) if zero else torch.randn(n_out, n_in, generator=generator) * 0.1
        bias = torch.zeros(n_out) if zero else torch.randn(n_out, generator=generator) * 0.1
        return {f"{name}.weight": weight, f"{name}.bias": bias}
    state = {"imgseq_embedder.0.weight": torch.ones(IMAGE_FEATURE_DIM), "imgseq_embedder.0.bias": torch.zeros(
        IMAGE_FEATURE_DIM), **linear("imgseq_embedder.1", IMAGE_FEATURE_DIM, width, zero_last),
        **linear("cam_angvel_embedder.0", CAM_ANGVEL_DIM, width), **linear("cam_angvel_embedder.3", width, width,
                                                                          zero_last),
        "audio_encoder.0.conv1.weight": torch.randn(32, 1, 15, generator=generator),
        **linear("audio_embedder.1", 128, width, zero_last)}
    for modality in ("f_imgseq", "f_cam_angvel", "encoded_audio"):
        state.update(linear(f"cond_exists_embedder.{modality}.0", width + 1, width))
        state.update(linear(f"cond_exists_embedder.{modality}.2", width, width, zero_last))
    return state


def gem_state_dict(model, absent_modalities: dict | None = None, dual_write: bool = False) -> dict:
    """GEM's Lightning state dict for ``model`` (a GenmoDenoiser with keypoints and music).

    ``dual_write``: also copy the condition embedders under the denoiser prefix, as GEM's
    ckpt_compat does for legacy files."""
    ours = model.state_dict()
    width = model.config.width
    state = {}
    for i in range(model.config.layers):
        state.update({f"{DENOISER}blocks.{i}.{p}": ours[f"blocks.{i}.{p}"] for p in ENCODER_BLOCK})
        state.update({f"{DENOISER}text_encoder_layers.{i}.{p}": ours[f"text_encoder_layers.{i}.{p}"]
                      for p in TEXT_BLOCK})
        state[f"{DENOISER}text_encoder_layers.{i}.motion_pos_encoder.pe"] = sinusoid_table(width)
    state.update({DENOISER + p: ours[p] for p in DENOISER_TOP})
    for head in ("pred_cam_head", "static_conf_head"):
        state.update({f"{DENOISER}{head}.{p}": ours[f"{head}.{p}"] for p in TIMM_MLP if f"{head}.{p}" in ours})
    state[DENOISER + "sequence_pos_encoder.pe"] = sinusoid_table(width)
    state[DENOISER + "embed_timestep.sequence_pos_encoder.pe"] = state[DENOISER + "sequence_pos_encoder.pe"]
    embedders = {p: ours[p] for p in CONDITION_EMBEDDERS + MUSIC_EMBEDDERS}
    state.update(embedders)
    if dual_write:
        state.update({DENOISER + p: value for p, value in embedders.items()})
    state.update(absent_modalities or {})
    covered = {k for k in ours if k != "absent_condition_bias"}
    written = {k.removeprefix(DENOISER) for k in state}
    assert covered <= written, f"the GEM layout misses {sorted(covered - written)[:3]}"
    return state


def save_gem_checkpoint(model, path: str, absent_modalities: dict | None = None, dual_write: bool = False,
                        model_prefix: bool = False) -> dict:
    """Write ``{"state_dict": ..., "epoch", "global_step", "pytorch-lightning_version"}``; returns the state."""
    state = gem_state_dict(model, absent_modalities, dual_write)
    if model_prefix:
        state = {f"model.{k}": v for k, v in state.items()}
    torch.save({"state_dict": {k: v.clone() for k, v in state.items()}, "epoch": 3, "global_step": 30000,
                "pytorch-lightning_version": "2.2.0"}, path)
    return state
