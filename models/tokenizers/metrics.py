"""Motion-tokenizer metrics that need no external checkpoint.

Joint inputs are ``pred`` and ``target`` torch tensors [..., T, J, 3] (any leading batch dims) in
metres; results are Python floats, computed in float64, in the unit of the input unless a name
says ``_mm``. With ``e[t, j] = ||pred - target||_2``:

- **MPJPE** = mean over every frame and joint of e (global positions, no alignment);
- **PA-MPJPE** = MPJPE after aligning each predicted frame to its target frame by the similarity
  transform (scale, rotation, translation) that minimises the squared error (Procrustes/Umeyama;
  reflections are excluded);
- **acceleration error** = mean over frames 1..T-2 and joints of
  ||a_pred - a_target||, a[t] = x[t+1] - 2 x[t] + x[t-1] (per frame squared, e.g. mm/frame^2 at the
  motion's fps; needs T >= 3).

Token inputs are int64 id tensors [..., Q] (Q streams, as in ``MotionTokens.ids``) with one
codebook size per stream:

- **codebook usage** = fraction of a stream's codes that occur at least once;
- **perplexity** = exp(entropy of the code frequencies), natural log; k codes used equally often
  give k, one code gives 1;
- **token agreement** = fraction of ids identical between two id tensors of one shape (used for
  the decode -> encode round trip).

Stream-level results are averaged over streams by the ``*_mean`` helpers.
"""

from __future__ import annotations

import math

import torch

from ..core.errors import InputError


def _joints(value, name: str) -> torch.Tensor:
    if not isinstance(value, torch.Tensor) or not value.is_floating_point():
        raise InputError(name, f"expected a floating-point torch tensor [..., T, J, 3], got {type(value).__name__}")
    if value.ndim < 3 or value.shape[-1] != 3 or 0 in value.shape:
        raise InputError(name, f"expected a non-empty [..., T, J, 3] tensor, got {list(value.shape)}")
    if not torch.isfinite(value).all():
        raise InputError(name, "contains NaN or infinite values")
    return value.detach().cpu().double()


def _pair(pred, target) -> tuple[torch.Tensor, torch.Tensor]:
    pred, target = _joints(pred, "pred"), _joints(target, "target")
    if pred.shape != target.shape:
        raise InputError("pred", f"shape {list(pred.shape)} does not match target {list(target.shape)}")
    return pred, target


def mpjpe(pred: torch.Tensor, target: torch.Tensor) -> float:
    """Mean per-joint position error, no alignment."""
    pred, target = _pair(pred, target)
    return (pred - target).norm(dim=-1).mean().item()


def procrustes_align(pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """``pred`` [..., J, 3] moved onto ``target`` per frame by the best scale, rotation and translation.

    Row-vector convention: aligned = s * (X - mean X) @ R + mean Y with R = U diag(1, 1, d) V^T from
    the SVD U S V^T of (X - mean X)^T (Y - mean Y), d = sign(det(U V^T)) (a rotation, never a
    reflection) and s = trace(S diag(1, 1, d)) / ||X - mean X||^2. Returns float64.
    """
    x, y = pred.double(), target.double()
    mean_x, mean_y = x.mean(dim=-2, keepdim=True), y.mean(dim=-2, keepdim=True)
    x0, y0 = x - mean_x, y - mean_y
    u, s, vt = torch.linalg.svd(x0.transpose(-1, -2) @ y0)
    d = torch.sign(torch.linalg.det(u @ vt))
    d = torch.where(d == 0, torch.ones_like(d), d)
    flip = torch.ones_like(s)
    flip[..., -1] = d
    rotation = u @ torch.diag_embed(flip) @ vt
    spread = x0.square().sum(dim=(-2, -1))
    scale = (s * flip).sum(-1) / spread.clamp_min(1e-12)
    return scale[..., None, None] * (x0 @ rotation) + mean_y


def pa_mpjpe(pred: torch.Tensor, target: torch.Tensor) -> float:
    """MPJPE after per-frame Procrustes alignment (scale, rotation, translation)."""
    pred, target = _pair(pred, target)
    return (procrustes_align(pred, target) - target).norm(dim=-1).mean().item()


def acceleration_error(pred: torch.Tensor, target: torch.Tensor) -> float:
    """Mean norm of the difference of second finite differences over time (axis -3)."""
    pred, target = _pair(pred, target)
    if pred.shape[-3] < 3:
        raise InputError("pred", f"acceleration needs at least 3 frames, got {pred.shape[-3]}")

    def accel(x):
        return x[..., 2:, :, :] - 2 * x[..., 1:-1, :, :] + x[..., :-2, :, :]

    return (accel(pred) - accel(target)).norm(dim=-1).mean().item()


def reconstruction_metrics_mm(pred: torch.Tensor, target: torch.Tensor) -> dict[str, float]:
    """MPJPE, PA-MPJPE and acceleration error of joints in metres, reported in millimetres."""
    return {"mpjpe_mm": 1000 * mpjpe(pred, target), "pa_mpjpe_mm": 1000 * pa_mpjpe(pred, target),
            "accel_mm": 1000 * acceleration_error(pred, target)}


def _stream_ids(ids, codebook_sizes) -> tuple[torch.Tensor, tuple[int, ...]]:
    if not isinstance(ids, torch.Tensor) or ids.dtype != torch.int64 or ids.ndim < 1 or ids.numel() == 0:
        raise InputError("ids", "expected a non-empty int64 tensor [..., Q]")
    sizes = (codebook_sizes,) if isinstance(codebook_sizes, int) else tuple(int(k) for k in codebook_sizes)
    if ids.shape[-1] != len(sizes):
        raise InputError("codebook_sizes", f"{len(sizes)} sizes for {ids.shape[-1]} id streams")
    flat = ids.detach().cpu().reshape(-1, len(sizes))
    for q, size in enumerate(sizes):
        if size < 1 or (flat[:, q] < 0).any() or (flat[:, q] >= size).any():
            raise InputError("ids", f"stream {q} has ids outside its codebook 0..{size - 1}")
    return flat, sizes


def code_counts(ids: torch.Tensor, codebook_sizes: int | tuple[int, ...]) -> list[torch.Tensor]:
    """Per stream, how often each code occurs (int64 [size])."""
    flat, sizes = _stream_ids(ids, codebook_sizes)
    return [torch.bincount(flat[:, q], minlength=size) for q, size in enumerate(sizes)]


def codebook_usage(ids: torch.Tensor, codebook_sizes: int | tuple[int, ...]) -> list[float]:
    """Per stream, the fraction of its codebook that occurs in ``ids``."""
    return [(counts > 0).double().mean().item() for counts in code_counts(ids, codebook_sizes)]


def codebook_perplexity(ids: torch.Tensor, codebook_sizes: int | tuple[int, ...]) -> list[float]:
    """Per stream, exp of the entropy (nats) of its code frequencies."""
    result = []
    for counts in code_counts(ids, codebook_sizes):
        p = counts.double() / counts.sum()
        p = p[p > 0]
        result.append(math.exp(-(p * p.log()).sum().item()))
    return result


def token_agreement(ids: torch.Tensor, other: torch.Tensor) -> float:
    """Fraction of positions where two id tensors of the same shape hold the same id."""
    if not isinstance(ids, torch.Tensor) or not isinstance(other, torch.Tensor) or ids.numel() == 0:
        raise InputError("ids", "expected two non-empty id tensors")
    if ids.shape != other.shape:
        raise InputError("ids", f"shapes differ: {list(ids.shape)} vs {list(other.shape)}")
    return (ids.cpu() == other.cpu()).double().mean().item()


def codebook_summary(ids: torch.Tensor, codebook_sizes: int | tuple[int, ...]) -> dict[str, float]:
    """Usage and perplexity averaged over streams (plus the first stream's perplexity)."""
    usage, perplexity = codebook_usage(ids, codebook_sizes), codebook_perplexity(ids, codebook_sizes)
    return {"usage": sum(usage) / len(usage), "perplexity": sum(perplexity) / len(perplexity),
            "perplexity_first": perplexity[0]}
