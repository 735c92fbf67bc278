"""Training loss of the one-stage forecaster: MSE plus the relative pose representation loss (Sec. 2.3)."""

from __future__ import annotations

import torch


def masked_mse(pred: torch.Tensor, target: torch.Tensor, visible: torch.Tensor,
               per_sample: bool = False) -> torch.Tensor:
    """Mean squared coordinate error over visible keypoints (0, with a graph, when none is).

    pred/target [B, ..., J, 2], visible [B, ..., J]; unseen targets may hold anything, even NaN.
    ``per_sample``: one mean per item of the first axis ([B]) instead of one over everything."""
    keep = visible[..., None]
    target = torch.where(keep, target, torch.zeros((), dtype=target.dtype, device=target.device))
    squared = torch.where(keep, (pred - target).square(), torch.zeros((), dtype=pred.dtype, device=pred.device))
    if per_sample:
        return squared.flatten(1).sum(1) / (2 * visible.flatten(1).sum(1)).clamp_min(1)
    return squared.sum() / (2 * visible.sum()).clamp_min(1)


def relative_pose_loss(pred: torch.Tensor, target: torch.Tensor, visible: torch.Tensor,
                       alpha: float = 1.0, beta: float = 1.0, eps: float = 1e-6,
                       per_sample: bool = False) -> torch.Tensor:
    """alpha * |D_gt - D_pred| + beta * ||Theta_gt - Theta_pred||_2 over joint pairs (Eqs. 3-7).

    The paper writes sums over pairs; we average over the pairs visible in each frame (so the
    weights do not depend on the keypoint count), then over frames and samples (Eqs. 8-9).
    pred/target [B, k, J, 2], visible [B, k, J]. ``per_sample``: [B], each sample's mean over its frames.
    """
    def pairs(points):
        delta = points[..., None, :, :] - points[..., :, None, :]  # [B, k, J, J, 2]: x_j - x_i
        distance = delta.norm(dim=-1).clamp(min=eps)
        return distance, delta / distance[..., None]

    pair_visible = visible[..., :, None] & visible[..., None, :]
    pair_visible &= ~torch.eye(visible.shape[-1], dtype=torch.bool, device=visible.device)
    d_pred, theta_pred = pairs(pred)
    d_true, theta_true = pairs(target)
    weight = pair_visible.to(pred.dtype)
    count = weight.sum((-1, -2))
    per_pair = alpha * (d_true - d_pred).abs() + beta * (theta_true - theta_pred).norm(dim=-1)
    per_frame = (per_pair * weight).sum((-1, -2)) / count.clamp(min=1)
    frames = (count > 0).to(pred.dtype)
    if per_sample:
        return (per_frame * frames).sum(-1) / frames.sum(-1).clamp(min=1)
    return (per_frame * frames).sum() / frames.sum().clamp(min=1)


def forecasting_loss(pred, target, visible, alpha: float = 1.0, beta: float = 1.0, theta: float = 0.1,
                     unit: float = 100.0, per_sample: bool = False):
    """L = L_rel(alpha, beta) + theta * L_mse (Eq. 10), with coordinates in 1/unit of the canvas.

    The paper does not say in which units its terms are measured, and the balance depends on it:
    in normalised coordinates (0..1) the MSE is ~1e-3 against ~1e-1 for the unit-vector direction
    term, so theta = 0.1 silences the MSE and nothing learns global motion (to which the pair
    terms are blind). In percent of the canvas (unit = 100) the MSE and distance terms lead and the
    direction term regularises, with the paper's alpha = beta = 1, theta = 0.1.
    ``per_sample``: [B], one loss per window (the multi-hypothesis head picks its best guess by it).
    """
    pred, target = pred * unit, target * unit
    return (relative_pose_loss(pred, target, visible, alpha, beta, per_sample=per_sample)
            + theta * masked_mse(pred, target, visible, per_sample=per_sample))


def _bone_vectors(pred: torch.Tensor, target: torch.Tensor, visible: torch.Tensor, bones):
    """Predicted and true bone vectors [..., bones, 2] of the (parent, child) ``bones`` and whether each
    bone is seen at both ends in the target ([..., bones]); unseen target keypoints may hold anything."""
    parents = [p for p, _ in bones]
    children = [c for _, c in bones]
    target = torch.where(visible[..., None], target, torch.zeros((), dtype=target.dtype, device=target.device))
    return (pred[..., children, :] - pred[..., parents, :], target[..., children, :] - target[..., parents, :],
            visible[..., parents] & visible[..., children])


def bone_direction_loss(pred: torch.Tensor, target: torch.Tensor, visible: torch.Tensor, bones,
                        eps: float = 1e-6, per_sample: bool = False) -> torch.Tensor:
    """Mean of 1 - cos(angle between predicted and true bone vectors) over the (parent, child) ``bones``
    visible at both ends in the target; pred/target [B, k, J, 2] in units where x and y measure alike.
    ``per_sample``: [B], one mean per window."""
    guess, true, seen = _bone_vectors(pred, target, visible, bones)
    cosine = (true * guess).sum(-1) / (true.norm(dim=-1) * guess.norm(dim=-1)).clamp_min(eps)
    term = torch.where(seen, 1 - cosine, torch.zeros_like(cosine))
    if per_sample:
        return term.flatten(1).sum(1) / seen.flatten(1).sum(1).clamp_min(1)
    return term.sum() / seen.sum().clamp_min(1)


def spectrum_loss(pred: torch.Tensor, target: torch.Tensor, visible: torch.Tensor, bones, max_bin: int,
                  per_sample: bool = False) -> torch.Tensor:
    """Mean |(|F pred| - |F true|)| of the bone vectors' temporal spectra, frequency bins 1..``max_bin``.

    A spectrum's magnitude does not depend on phase: two waves that differ only in when the hand
    turns have the same one, while their mean (a hand that hardly moves) has almost none. So this term
    asks for the oscillation the truth has without asking when it turns, which the position terms
    cannot do. Bins above ``max_bin`` are left out: there the truth is mostly detector jitter.
    Only bones seen at both ends in every frame count. pred/target [B, k, J, 2] in units where x
    and y measure alike; ``per_sample``: [B], one mean per window."""
    guess, true, seen = _bone_vectors(pred, target, visible, bones)  # [B, k, bones, 2] x 2, [B, k, bones]
    seen = seen.all(dim=1)  # [B, bones]

    def spectrum(vectors):
        return torch.fft.rfft(vectors, dim=1, norm="ortho")[:, 1:max_bin + 1].abs()  # [B, bins, bones, 2]

    term = (spectrum(guess) - spectrum(true)).abs().mean(dim=(1, 3))  # [B, bones]
    term = torch.where(seen, term, torch.zeros_like(term))
    if per_sample:
        return term.sum(1) / seen.sum(1).clamp_min(1)
    return term.sum() / seen.sum().clamp_min(1)
