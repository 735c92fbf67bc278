"""Key/value-cached incremental decoding with the weights of an ``nn.TransformerDecoder``.

``nn.TransformerDecoder`` has no cache: decoding T tokens autoregressively through it runs the
whole prefix at every step. ``DecoderCache`` runs the same layers (same weights, batch_first,
pre- or post-norm, any activation) one new position at a time: each step projects only the new
token, appends its self-attention keys/values to per-layer buffers and attends to them; the
cross-attention keys/values of the memory are projected once. Eval-mode semantics (no dropout).

Shapes: memory [B, N, d], memory_pad [B, N] bool (True = padding, as ``memory_key_padding_mask``),
each step's token [B, 1, d] -> hidden [B, 1, d] (after the decoder's final norm, if any).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


def _heads(x: torch.Tensor, num_heads: int) -> torch.Tensor:
    """[B, T, d] -> [B, H, T, d / H]."""
    b, t, d = x.shape
    return x.view(b, t, num_heads, d // num_heads).transpose(1, 2)


def _merge(x: torch.Tensor) -> torch.Tensor:
    b, h, t, e = x.shape
    return x.transpose(1, 2).reshape(b, t, h * e)


def _split_proj(attn: nn.MultiheadAttention):
    """(W_q, W_k, W_v) and (b_q, b_k, b_v) of a packed-projection MultiheadAttention."""
    weights = attn.in_proj_weight.chunk(3)
    biases = attn.in_proj_bias.chunk(3) if attn.in_proj_bias is not None else (None, None, None)
    return weights, biases


class DecoderCache:
    """Incremental decoding state for ``decoder`` over at most ``max_steps`` new positions."""

    def __init__(self, decoder: nn.TransformerDecoder, memory: torch.Tensor, memory_pad: torch.Tensor | None,
                 max_steps: int):
        self.decoder = decoder
        self.length = 0
        batch = memory.shape[0]
        self.cross, self.keys, self.values = [], [], []
        for layer in decoder.layers:
            attn = layer.multihead_attn
            if not attn._qkv_same_embed_dim or not attn.batch_first:
                raise ValueError("DecoderCache needs batch_first layers with packed attention projections")
            (_, w_k, w_v), (_, b_k, b_v) = _split_proj(attn)
            heads = attn.num_heads
            self.cross.append((_heads(F.linear(memory, w_k, b_k), heads), _heads(F.linear(memory, w_v, b_v), heads)))
            d = layer.self_attn.embed_dim
            shape = (batch, layer.self_attn.num_heads, max_steps, d // layer.self_attn.num_heads)
            self.keys.append(memory.new_empty(shape))
            self.values.append(memory.new_empty(shape))
        # True where a memory token takes part (scaled_dot_product_attention's boolean mask)
        self.cross_mask = None if memory_pad is None else ~memory_pad[:, None, None, :]

    def _self_attention(self, index: int, layer, x: torch.Tensor) -> torch.Tensor:
        attn = layer.self_attn
        t = self.length
        q, k, v = F.linear(x, attn.in_proj_weight, attn.in_proj_bias).chunk(3, dim=-1)  # one packed projection
        self.keys[index][:, :, t:t + 1] = _heads(k, attn.num_heads)
        self.values[index][:, :, t:t + 1] = _heads(v, attn.num_heads)
        out = F.scaled_dot_product_attention(_heads(q, attn.num_heads), self.keys[index][:, :, :t + 1],
                                             self.values[index][:, :, :t + 1])
        return attn.out_proj(_merge(out))

    def _cross_attention(self, index: int, layer, x: torch.Tensor) -> torch.Tensor:
        attn = layer.multihead_attn
        (w_q, _, _), (b_q, _, _) = _split_proj(attn)
        keys, values = self.cross[index]
        out = F.scaled_dot_product_attention(_heads(F.linear(x, w_q, b_q), attn.num_heads), keys, values,
                                             attn_mask=self.cross_mask)
        return attn.out_proj(_merge(out))

    @staticmethod
    def _feed_forward(layer, x: torch.Tensor) -> torch.Tensor:
        return layer.linear2(layer.activation(layer.linear1(x)))

    def step(self, token: torch.Tensor) -> torch.Tensor:
        """The next position's input [B, 1, d] -> its hidden state [B, 1, d]."""
        if self.length >= self.keys[0].shape[2]:
            raise RuntimeError(f"DecoderCache holds at most {self.keys[0].shape[2]} positions")
        x = token
        for index, layer in enumerate(self.decoder.layers):
            if layer.norm_first:
                x = x + self._self_attention(index, layer, layer.norm1(x))
                x = x + self._cross_attention(index, layer, layer.norm2(x))
                x = x + self._feed_forward(layer, layer.norm3(x))
            else:
                x = layer.norm1(x + self._self_attention(index, layer, x))
                x = layer.norm2(x + self._cross_attention(index, layer, x))
                x = layer.norm3(x + self._feed_forward(layer, x))
        self.length += 1
        return x if self.decoder.norm is None else self.decoder.norm(x)
