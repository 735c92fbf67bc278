"""Rotary position embedding and sliding-window self-attention whose cost grows linearly with length.

Data contract: ``q``, ``k``, ``v`` are [B, H, L, Dh] (batch, heads, frames, head width); ``key_mask``
is [B, L] bool, True for a real frame (False keys are padding and never attended to); the output
is [B, H, L, Dh]. A query that sees no real key gets zeros (not NaN).

Window rule (GEM's ``NetworkEncoderRoPE`` for sequences longer than its ``max_len`` = 120, which
we call ``window``): with ``W = min(window, L)`` and ``h = window // 2``, query ``i`` sees keys
``[s, e)`` with ``s = min(L - W, max(0, i - h))`` and ``e = max(W, min(L, i + h))``. Inside the
sequence that is ``i - h .. i + h - 1`` (exactly ``window`` keys for an even window, one fewer for
an odd one); near either end the range is clamped to a full window (frame 0 sees ``0 .. W - 1``).
``window`` None or >= L means full attention, as GEM uses for sequences up to 120 frames.

The windowed computation never builds an L x L tensor: queries are taken ``window`` frames at a
time; each such block attends to the one contiguous span of at most ``2 * window`` keys that holds
all its queries' ranges (a view, not a copy), with a [window, span] mask. Time is O(L * window);
memory is the output plus O(window^2) temporaries. ``window_mask`` + ``dense_attention`` are the
O(L^2) reference.

RoPE follows GEM's ``ROPE``: channel pairs (0, 1), (2, 3), ... rotate by ``pos * 10000^(-2j/Dh)``.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from ..core.errors import InputError

ROPE_BASE = 10000.0

_rope_cache: dict[tuple, tuple[torch.Tensor, torch.Tensor]] = {}


def _rope_tables(dim: int, length: int, device, dtype) -> tuple[torch.Tensor, torch.Tensor]:
    """cos and sin tables [length, dim] (each frequency repeated for its channel pair), cached and grown."""
    key = (dim, str(device), dtype)
    cached = _rope_cache.get(key)
    if cached is None or cached[0].shape[0] < length:
        rows = max(length, 2 * cached[0].shape[0] if cached else 256)
        freqs = ROPE_BASE ** (-torch.arange(0, dim, 2, dtype=torch.float64) / dim)
        angles = torch.arange(rows, dtype=torch.float64)[:, None] * freqs[None, :]
        angles = angles.repeat_interleave(2, dim=1)
        cached = (angles.cos().to(device=device, dtype=dtype), angles.sin().to(device=device, dtype=dtype))
        _rope_cache[key] = cached
    return cached


def apply_rope(x: torch.Tensor, positions: torch.Tensor | None = None) -> torch.Tensor:
    """Rotate ``x`` [..., L, Dh] by its time positions (``positions`` [L] long; None -> 0..L-1)."""
    length, dim = x.shape[-2], x.shape[-1]
    if dim % 2:
        raise InputError("x", f"RoPE needs an even head width, got {dim}")
    needed = length if positions is None else int(positions.max()) + 1 if positions.numel() else 0
    cos, sin = _rope_tables(dim, needed, x.device, x.dtype)
    if positions is None:
        cos, sin = cos[:length], sin[:length]
    else:
        cos, sin = cos[positions], sin[positions]
    pairs = x.unflatten(-1, (dim // 2, 2))
    rotated_half = torch.stack((-pairs[..., 1], pairs[..., 0]), dim=-1).flatten(-2)
    return x * cos + rotated_half * sin


def key_range(query: torch.Tensor, length: int, window: int) -> tuple[torch.Tensor, torch.Tensor]:
    """GEM's clamped key range [start, end) for each query index (see the module docstring)."""
    full = min(window, length)
    half = window // 2
    start = torch.clamp(query - half, min=0).clamp(max=length - full)
    end = torch.clamp(query + half, max=length).clamp(min=full)
    return start, end


def window_mask(length: int, window: int | None) -> torch.Tensor:
    """Dense [L, L] bool reference mask, True where query i may attend key j (tests and benchmarks)."""
    if window is None or window >= length:
        return torch.ones(length, length, dtype=torch.bool)
    start, end = key_range(torch.arange(length), length, window)
    keys = torch.arange(length)[None, :]
    return (keys >= start[:, None]) & (keys < end[:, None])


def _zero_rows_without_keys(out: torch.Tensor, has_key: torch.Tensor) -> torch.Tensor:
    return torch.where(has_key[..., None], out, torch.zeros((), dtype=out.dtype, device=out.device))


def dense_attention(q, k, v, mask: torch.Tensor | None = None, dropout_p: float = 0.0) -> torch.Tensor:
    """Reference attention through SDPA; ``mask`` [L, L] or [B, 1, L, L] bool, True = may attend."""
    if mask is None:
        return F.scaled_dot_product_attention(q, k, v, dropout_p=dropout_p)
    has_key = mask.any(-1)
    safe = mask | ~has_key[..., None]  # a query with no key would give NaN: attend anywhere, then zero it
    out = F.scaled_dot_product_attention(q, k, v, attn_mask=safe, dropout_p=dropout_p)
    return _zero_rows_without_keys(out, has_key.expand(out.shape[:-1]) if has_key.ndim == 2 else has_key)


def sliding_window_attention(q, k, v, window: int | None, key_mask: torch.Tensor | None = None,
                             dropout_p: float = 0.0) -> torch.Tensor:
    """Windowed self-attention [B, H, L, Dh] in O(L * window) time and memory (module docstring)."""
    if q.ndim != 4 or k.shape != q.shape or v.shape[:3] != q.shape[:3]:
        raise InputError("q", f"expected q, k, v [B, H, L, Dh] of one shape, got {list(q.shape)}, "
                              f"{list(k.shape)}, {list(v.shape)}")
    if window is not None and window < 1:
        raise InputError("window", f"must be a positive number of frames or None, got {window}")
    batch, _, length, _ = q.shape
    if key_mask is not None and (key_mask.shape != (batch, length) or key_mask.dtype != torch.bool):
        raise InputError("key_mask", f"expected a bool [{batch}, {length}] mask, got {list(key_mask.shape)} "
                                     f"{key_mask.dtype}")
    if window is None or window >= length:
        if key_mask is None:
            return F.scaled_dot_product_attention(q, k, v, dropout_p=dropout_p)
        return dense_attention(q, k, v, key_mask[:, None, None, :], dropout_p)

    out = torch.empty(q.shape[:-1] + v.shape[-1:], dtype=q.dtype, device=q.device)
    for first in range(0, length, window):  # one window of queries at a time: O(window^2) temporaries
        queries = torch.arange(first, min(length, first + window), device=q.device)
        start, end = key_range(queries, length, window)
        span_start, span_end = int(start[0]), int(end[-1])  # both rules are non-decreasing in i
        keys = torch.arange(span_start, span_end, device=q.device)
        allowed = ((keys >= start[:, None]) & (keys < end[:, None]))[None, None]  # [1, 1, Q, span]
        if key_mask is not None:
            allowed = allowed & key_mask[:, None, None, span_start:span_end]
        has_key = allowed.any(-1)
        rows = slice(first, first + len(queries))
        chunk = F.scaled_dot_product_attention(q[:, :, rows], k[:, :, span_start:span_end],
                                               v[:, :, span_start:span_end],
                                               attn_mask=allowed | ~has_key[..., None], dropout_p=dropout_p)
        out[:, :, rows] = _zero_rows_without_keys(chunk, has_key)
    return out
