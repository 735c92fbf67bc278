"""Rotary position embeddings for PoseGen's reference tokens.

Video tokens use diffusers' `WanRotaryPosEmbed` unchanged. Reference-image tokens get the same 3-D
RoPE with their width indices shifted to the left of the video (-ref_w..-1), so the reference, which is
not pixel-aligned with the frames, never shares a position with a video token. Frame indices start at 0
and height indices at 0, as for the video.

Tables follow diffusers' layout: cos and sin, each float32 [1, S, 1, head_dim], angles computed in
float64, every frequency repeated twice (interleaved pairs), the head dimension split t/h/w as
`WanRotaryPosEmbed` splits it (44/42/42 for 128).
"""

import torch
from diffusers.models.embeddings import get_1d_rotary_pos_embed
from diffusers.models.transformers.transformer_wan import WanRotaryPosEmbed

ROPE_THETA = 10000.0  # WanRotaryPosEmbed's default, which every Wan2.1 checkpoint uses


def _axis_table(dim: int, positions: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    cos, sin = get_1d_rotary_pos_embed(
        dim, positions.to(torch.float64), ROPE_THETA, use_real=True, repeat_interleave_real=True,
        freqs_dtype=torch.float64,
    )
    return cos, sin


def reference_rotary_embedding(
    rope: WanRotaryPosEmbed, grid: tuple[int, int, int], device: torch.device | None = None
) -> tuple[torch.Tensor, torch.Tensor]:
    """cos, sin [1, f*h*w, 1, head_dim] for a reference token grid (f, h, w) in patch units."""
    frames, height, width = grid
    axes = (
        (rope.t_dim, torch.arange(frames)),
        (rope.h_dim, torch.arange(height)),
        (rope.w_dim, torch.arange(-width, 0)),
    )
    cos_parts, sin_parts = [], []
    for axis, (dim, positions) in enumerate(axes):
        cos, sin = _axis_table(dim, positions)
        shape = [1, 1, 1, dim]
        shape[axis] = len(positions)
        cos_parts.append(cos.view(shape).expand(frames, height, width, dim))
        sin_parts.append(sin.view(shape).expand(frames, height, width, dim))
    cos = torch.cat(cos_parts, dim=-1).reshape(1, frames * height * width, 1, -1)
    sin = torch.cat(sin_parts, dim=-1).reshape(1, frames * height * width, 1, -1)
    return cos.to(device), sin.to(device)
