"""GENMO's denoiser (GEM's ``NetworkEncoderRoPE`` plus its condition embedders), built from a ``GenmoConfig``.

Data contract: ``forward(x_t [B, L, D], timesteps [B] long, conditions: GenmoConditions, window)``
returns the clean-motion prediction x0 [B, L, D] (D = ``config.motion_dim``: 263 HumanML3D
features for the demo model, 151 for GEM's SMPL layout). ``forward_all`` also returns the last
hidden states and, where the config has them, GEM's camera and static-confidence heads.

Design (GEM's, names mirror its modules so ``official.py``'s key map stays small):
- conditions -> one [B, L, C] feature, SUMMED over modalities (GEM's additive fusion):
  keypoints: per joint ``learned_pos_linear`` (2 -> 32) or the learned ``learned_pos_params`` row
  when the joint is below ``KEYPOINT_MIN_CONFIDENCE`` or its frame is masked, the 17 x 32 concat
  through ``embed_noisyobs`` (an MLP); bbox (GEM's ``f_cliffcam`` slot) through ``cliffcam_embedder``
  (Linear-SiLU-Dropout-zero Linear); music through ``music_embedder`` (an MLP). Bbox and music are
  multiplied by their per-frame mask, concatenated with that mask as an exists flag and passed
  through ``cond_exists_embedder.<GEM key>`` (Linear-SiLU-zero Linear). An absent modality
  contributes what GEM's "empty" condition does: the placeholder embedding for keypoints, the
  exists embedder of zeros for the others. ``absent_condition_bias`` (a buffer, zero for our
  models) holds the same constant for GEM modalities we do not have (image features, camera
  angular velocity, audio), filled by ``official.py``.
- ``x = add_cond_linear([cond + embed_timestep(t), x_t])``;
- before every block ``text_encoder_layers.N`` (multi-text injection): cross-attention from each
  frame to prompt k's tokens (``embed_text`` + sinusoidal token positions), zeroed outside prompt
  k's window, summed over prompts (out_proj's bias counted once per covering prompt, as GEM's
  per-prompt attention calls do), zero-gated, then a zero-gated MLP. Without text the
  cross-attention adds nothing and only the MLP runs.
- ``blocks.N``: pre-LN RoPE self-attention over a sliding window (``attention.py``) + MLP, both
  behind zero-initialised per-channel gates; padding frames (``frame_mask`` False) are never keys.
- ``final_layer`` MLP -> D. For GEM's 151-d layout the betas are averaged over real frames.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, fields

import torch
import torch.nn.functional as F
from torch import nn

from ..core.errors import InputError
from .attention import apply_rope, dense_attention, sliding_window_attention, window_mask
from .conditions import BBOX_DIM, COCO_JOINTS, KEYPOINT_MIN_CONFIDENCE, GenmoConditions, TextCondition

KEYPOINT_FEATURE = 32  # GEM's per-joint width (learned_pos_linear 2 -> 32)
TIMESTEP_PERIOD = 10000.0  # sinusoid base of GEM's PositionalEncoding (timesteps and text tokens)
LAYER_NORM_EPS = 1e-6
GEM_BETAS = slice(126, 136)  # the 151-d layout's shape coefficients, one value per sequence
# GEM's pred_cam head output is de-normalised with these constants (gem_denoiser.py).
GEM_PRED_CAM_MEAN = (1.0606, -0.0027, 0.2702)
GEM_PRED_CAM_STD = (0.1784, 0.0956, 0.0764)
ATTENTION_IMPLS = ("blocked", "dense")
REPRESENTATIONS = ("humanml3d_263", "gem_smpl_151")


@dataclass
class GenmoConfig:
    motion_dim: int = 263
    width: int = 256
    layers: int = 4
    heads: int = 4
    mlp_ratio: float = 4.0
    dropout: float = 0.1
    text_dim: int = 384
    window: int = 120
    music_dim: int = 35
    use_keypoints: bool = True
    use_music: bool = True
    pred_cam_dim: int = 0
    static_conf_dim: int = 0
    text_encoder: str = "minilm-l6"
    representation: str = "humanml3d_263"
    attention_impl: str = "blocked"  # "dense": the O(L^2) masked reference (benchmarks only)

    @classmethod
    def small(cls) -> "GenmoConfig":
        """The demo model: trainable on a CPU."""
        return cls()

    @classmethod
    def gem(cls) -> "GenmoConfig":
        """NVIDIA's gem_smpl.ckpt (configs/network/diffusion_lg.yaml + exp/gem_smpl.yaml)."""
        return cls(motion_dim=151, width=1024, layers=16, heads=8, mlp_ratio=4.0, dropout=0.1, text_dim=1024,
                   window=120, music_dim=35, use_keypoints=True, use_music=True, pred_cam_dim=3,
                   static_conf_dim=6, text_encoder="t5-3b", representation="gem_smpl_151")

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> "GenmoConfig":
        known = {f.name for f in fields(cls)}
        unknown = set(d) - known
        if unknown:
            raise InputError("config", f"unknown GenmoConfig fields {sorted(unknown)}")
        return cls(**d)


def sinusoidal(positions: torch.Tensor, dim: int) -> torch.Tensor:
    """GEM's PositionalEncoding rows [N, dim]: sin on even channels, cos on odd ones."""
    div = torch.exp(torch.arange(0, dim, 2, device=positions.device, dtype=torch.float32)
                    * (-math.log(TIMESTEP_PERIOD) / dim))
    angles = positions.float()[:, None] * div[None, :]
    return torch.stack((angles.sin(), angles.cos()), dim=-1).flatten(-2)[:, :dim]


class Mlp(nn.Module):
    """timm's Mlp layout (fc1, act, dropout, fc2, dropout): the key names GEM's checkpoint uses."""

    def __init__(self, in_features: int, hidden: int, out_features: int, dropout: float = 0.0,
                 tanh_gelu: bool = False):
        super().__init__()
        self.fc1 = nn.Linear(in_features, hidden)
        self.act = nn.GELU(approximate="tanh" if tanh_gelu else "none")
        self.fc2 = nn.Linear(hidden, out_features)
        self.drop = nn.Dropout(dropout)

    def forward(self, x):
        return self.drop(self.fc2(self.drop(self.act(self.fc1(x)))))


def _zero(module: nn.Linear) -> nn.Linear:
    nn.init.zeros_(module.weight)
    nn.init.zeros_(module.bias)
    return module


def _gate(width: int) -> nn.Parameter:
    return nn.Parameter(torch.zeros(1, 1, width))


class RoPEAttention(nn.Module):
    """Self-attention with RoPE on queries and keys (GEM: query/key/value/proj linears)."""

    def __init__(self, width: int, heads: int, dropout: float):
        super().__init__()
        self.heads = heads
        self.query, self.key, self.value = nn.Linear(width, width), nn.Linear(width, width), nn.Linear(width, width)
        self.proj = nn.Linear(width, width)
        self.dropout = dropout

    def forward(self, x, window: int | None, key_mask, impl: str):
        split = lambda t: t.unflatten(-1, (self.heads, -1)).transpose(1, 2)  # noqa: E731
        q, k, v = apply_rope(split(self.query(x))), apply_rope(split(self.key(x))), split(self.value(x))
        p = self.dropout if self.training else 0.0
        if impl == "dense":
            mask = window_mask(x.shape[1], window).to(x.device)[None, None]
            if key_mask is not None:
                mask = mask & key_mask[:, None, None, :]
            out = dense_attention(q, k, v, mask, p)
        else:
            out = sliding_window_attention(q, k, v, window, key_mask, p)
        return self.proj(out.transpose(1, 2).flatten(2))


class EncoderRoPEBlock(nn.Module):
    def __init__(self, width: int, heads: int, mlp_ratio: float, dropout: float):
        super().__init__()
        self.norm1 = nn.LayerNorm(width, eps=LAYER_NORM_EPS)
        self.attn = RoPEAttention(width, heads, dropout)
        self.norm2 = nn.LayerNorm(width, eps=LAYER_NORM_EPS)
        self.mlp = Mlp(width, int(width * mlp_ratio), width, dropout, tanh_gelu=True)
        self.gate_msa, self.gate_mlp = _gate(width), _gate(width)

    def forward(self, x, window, key_mask, impl):
        x = x + self.gate_msa * self.attn(self.norm1(x), window, key_mask, impl)
        return x + self.gate_mlp * self.mlp(self.norm2(x))


class WindowedTextAttention(nn.Module):
    """Frames -> each prompt's tokens, zero outside the prompt's window, summed over prompts.

    Parameters named like ``nn.MultiheadAttention`` (in_proj_weight/bias, out_proj), as GEM's
    checkpoint stores them."""

    def __init__(self, width: int, heads: int, dropout: float):
        super().__init__()
        self.heads = heads
        self.in_proj_weight = nn.Parameter(torch.empty(3 * width, width))
        self.in_proj_bias = nn.Parameter(torch.zeros(3 * width))
        nn.init.xavier_uniform_(self.in_proj_weight)
        self.out_proj = nn.Linear(width, width)
        self.dropout = nn.Dropout(dropout)

    def forward(self, x, tokens, token_mask, windows):
        """x [B, L, C]; tokens [B, K, M, C]; token_mask [B, K, M]; windows [B, K, L] (float 0/1)."""
        w_q, w_k, w_v = self.in_proj_weight.chunk(3)
        b_q, b_k, b_v = self.in_proj_bias.chunk(3)
        q = F.linear(x, w_q, b_q).unflatten(-1, (self.heads, -1)).transpose(1, 2)  # [B, H, L, Dh]
        k = F.linear(tokens, w_k, b_k).unflatten(-1, (self.heads, -1)).transpose(2, 3)  # [B, K, H, M, Dh]
        v = F.linear(tokens, w_v, b_v).unflatten(-1, (self.heads, -1)).transpose(2, 3)
        scores = torch.einsum("bhld,bkhmd->bkhlm", q, k) / math.sqrt(q.shape[-1])
        # a slot with no real token is weighted by a zero window anyway; keep its softmax finite
        keys = token_mask | ~token_mask.any(-1, keepdim=True)
        scores = scores.masked_fill(~keys[:, :, None, None, :], float("-inf"))
        weights = self.dropout(scores.softmax(-1))
        out = torch.einsum("bkhlm,bkhmd->bkhld", weights, v)
        out = torch.einsum("bkhld,bkl->bhld", out, windows)  # only frames inside each prompt's window
        out = out.transpose(1, 2).flatten(2)
        covering = windows.sum(1)[..., None]  # [B, L, 1]: prompts whose window holds the frame
        return F.linear(out, self.out_proj.weight) + covering * self.out_proj.bias


class TextInjectionBlock(nn.Module):
    """GEM's DecoderRoPEBlock in its "mha" multi-text mode, without self-attention."""

    def __init__(self, width: int, heads: int, mlp_ratio: float, dropout: float):
        super().__init__()
        self.norm2 = nn.LayerNorm(width, eps=LAYER_NORM_EPS)
        self.cross_attn = WindowedTextAttention(width, heads, dropout)
        self.norm3 = nn.LayerNorm(width, eps=LAYER_NORM_EPS)
        self.mlp = Mlp(width, int(width * mlp_ratio), width, dropout, tanh_gelu=True)
        self.gate_cross_attn, self.gate_mlp = _gate(width), _gate(width)

    def forward(self, x, text):
        if text is not None:
            x = x + self.gate_cross_attn * self.cross_attn(self.norm2(x), *text)
        return x + self.gate_mlp * self.mlp(self.norm3(x))


class TimestepEmbedder(nn.Module):
    def __init__(self, width: int):
        super().__init__()
        self.width = width
        self.time_embed = nn.Sequential(nn.Linear(width, width), nn.SiLU(), nn.Linear(width, width))

    def forward(self, timesteps):
        return self.time_embed(sinusoidal(timesteps, self.width))


def _condition_embedder(in_dim: int, width: int, dropout: float) -> nn.Sequential:
    return nn.Sequential(nn.Linear(in_dim, width), nn.SiLU(), nn.Dropout(dropout), _zero(nn.Linear(width, width)))


def _exists_embedder(width: int) -> nn.Sequential:
    return nn.Sequential(nn.Linear(width + 1, width), nn.SiLU(), _zero(nn.Linear(width, width)))


class GenmoDenoiser(nn.Module):
    def __init__(self, config: GenmoConfig):
        super().__init__()
        if config.width % config.heads or (config.width // config.heads) % 2:
            raise InputError("config", f"width {config.width} must split into {config.heads} heads of even width")
        if config.attention_impl not in ATTENTION_IMPLS:
            raise InputError("config", f"attention_impl must be one of {ATTENTION_IMPLS}, "
                                       f"got {config.attention_impl!r}")
        if config.representation not in REPRESENTATIONS:
            raise InputError("config", f"representation must be one of {REPRESENTATIONS}, "
                                       f"got {config.representation!r}")
        self.config = c = config
        w = c.width
        self.embed_timestep = TimestepEmbedder(w)
        self.embed_text = nn.Linear(c.text_dim, w)
        self.add_cond_linear = nn.Linear(c.motion_dim + w, w)
        self.text_encoder_layers = nn.ModuleDict({str(i): TextInjectionBlock(w, c.heads, c.mlp_ratio, c.dropout)
                                                  for i in range(c.layers)})
        self.blocks = nn.ModuleList([EncoderRoPEBlock(w, c.heads, c.mlp_ratio, c.dropout) for _ in range(c.layers)])
        self.final_layer = Mlp(w, w, c.motion_dim)
        if c.pred_cam_dim:
            self.pred_cam_head = Mlp(w, w, c.pred_cam_dim)
        if c.static_conf_dim:
            self.static_conf_head = Mlp(w, w, c.static_conf_dim)
        self.cond_exists_embedder = nn.ModuleDict()
        if c.use_keypoints:
            self.learned_pos_linear = nn.Linear(2, KEYPOINT_FEATURE)
            self.learned_pos_params = nn.Parameter(torch.randn(COCO_JOINTS, KEYPOINT_FEATURE))
            self.embed_noisyobs = Mlp(COCO_JOINTS * KEYPOINT_FEATURE, 2 * w, w, c.dropout)
            self.cliffcam_embedder = _condition_embedder(BBOX_DIM, w, c.dropout)
            self.cond_exists_embedder["f_cliffcam"] = _exists_embedder(w)
        if c.use_music:
            self.music_embedder = Mlp(c.music_dim, 2 * w, w, c.dropout)
            self.cond_exists_embedder["encoded_music"] = _exists_embedder(w)
        self.register_buffer("absent_condition_bias", torch.zeros(w))

    def forward(self, x_t: torch.Tensor, timesteps: torch.Tensor, conditions: GenmoConditions,
                window: int | None = None) -> torch.Tensor:
        return self.forward_all(x_t, timesteps, conditions, window)["x0"]

    def forward_all(self, x_t, timesteps, conditions: GenmoConditions, window: int | None = None) -> dict:
        """x0 [B, L, D], hidden [B, L, C], and pred_cam [B, L, 3] / static_conf_logits [B, L, 6] or None."""
        c = self.config
        batch, length = conditions.batch, conditions.length
        if tuple(x_t.shape) != (batch, length, c.motion_dim):
            raise InputError("x_t", f"expected [{batch}, {length}, {c.motion_dim}], got {list(x_t.shape)}")
        if timesteps.shape != (batch,):
            raise InputError("timesteps", f"expected [{batch}], got {list(timesteps.shape)}")
        window = c.window if window is None else window
        if window is not None and window < 0:
            raise InputError("window", f"must be 0 (full attention) or a positive number of frames, got {window}")
        window = window or None  # 0 -> full attention
        frame_mask = conditions.frame_mask

        cond = self.embed_conditions(conditions) + self.embed_timestep(timesteps)[:, None, :]
        x = self.add_cond_linear(torch.cat([cond.expand(batch, length, -1), x_t], dim=-1))
        text = self.embed_prompts(conditions.text, x.dtype)
        for i, block in enumerate(self.blocks):
            x = self.text_encoder_layers[str(i)](x, text)
            x = block(x, window, frame_mask, c.attention_impl)

        sample = self.final_layer(x)
        if c.representation == "gem_smpl_151":
            sample = self._average_betas(sample, frame_mask)
        out = {"x0": sample, "hidden": x, "pred_cam": None, "static_conf_logits": None}
        if c.pred_cam_dim:
            mean, std = (x.new_tensor(v) for v in (GEM_PRED_CAM_MEAN, GEM_PRED_CAM_STD))
            cam = self.pred_cam_head(x) * std + mean
            out["pred_cam"] = torch.cat([cam[..., :1].clamp_min(0.25), cam[..., 1:]], dim=-1)
        if c.static_conf_dim:
            out["static_conf_logits"] = self.static_conf_head(x)
        return out

    def embed_conditions(self, conditions: GenmoConditions) -> torch.Tensor:
        """Summed condition features [B, L, C] (or [1, 1, C] when every condition is absent)."""
        c = self.config
        total = self.absent_condition_bias[None, None, :]
        if conditions.keypoints is not None and not c.use_keypoints:
            raise InputError("keypoints", "this GENMO model was built without 2D keypoint conditioning")
        if conditions.music is not None and not c.use_music:
            raise InputError("music", "this GENMO model was built without music conditioning")
        if c.use_keypoints:
            total = total + self._embed_keypoints(conditions)
            total = total + self._embed_masked("f_cliffcam", self.cliffcam_embedder, conditions.bbox,
                                               conditions.keypoints_mask)
        if c.use_music:
            total = total + self._embed_masked("encoded_music", self.music_embedder, conditions.music,
                                               conditions.music_mask)
        return total

    def _embed_keypoints(self, conditions: GenmoConditions) -> torch.Tensor:
        placeholder = self.learned_pos_params
        if conditions.keypoints is None:
            return self.embed_noisyobs(placeholder.flatten())[None, None, :]
        keypoints = conditions.keypoints
        visible = (keypoints[..., 2] >= KEYPOINT_MIN_CONFIDENCE) & conditions.keypoints_mask[..., None]
        per_joint = torch.where(visible[..., None], self.learned_pos_linear(keypoints[..., :2]), placeholder)
        return self.embed_noisyobs(per_joint.flatten(-2))

    def _embed_masked(self, key: str, embedder: nn.Module, feature, mask) -> torch.Tensor:
        exists = self.cond_exists_embedder[key]
        if feature is None:
            return exists(self.absent_condition_bias.new_zeros(self.config.width + 1))[None, None, :]
        flag = mask[..., None].to(feature.dtype)
        return exists(torch.cat([embedder(feature) * flag, flag], dim=-1))

    def embed_prompts(self, text: TextCondition | None, dtype) -> tuple | None:
        """(tokens [B, K, M, C] with sinusoidal token positions, token_mask, windows float) or None."""
        if text is None:
            return None
        if text.tokens.shape[-1] != self.config.text_dim:
            raise InputError("text", f"token width {text.tokens.shape[-1]} != the model's text_dim "
                                     f"{self.config.text_dim} ({self.config.text_encoder})")
        positions = sinusoidal(torch.arange(text.tokens.shape[2], device=text.tokens.device), self.config.width)
        tokens = self.embed_text(text.tokens.to(dtype)) + positions.to(dtype)
        windows = (text.windows & text.present[..., None]).to(dtype)
        return tokens, text.token_mask, windows

    @staticmethod
    def _average_betas(sample, frame_mask):
        betas = sample[..., GEM_BETAS]
        if frame_mask is None:
            mean = betas.mean(1, keepdim=True)
        else:
            weight = frame_mask[..., None].to(sample.dtype)
            mean = (betas * weight).sum(1, keepdim=True) / weight.sum(1, keepdim=True).clamp_min(1)
        return torch.cat([sample[..., :GEM_BETAS.start], mean.expand_as(betas), sample[..., GEM_BETAS.stop:]], -1)
