"""k-means pose codes for the quantised baseline (``sequence_baselines.QuantizedTransformerForecaster``):
points [M, J, 2] with per-joint validity [M, J]; distances count only each point's valid joints."""

from __future__ import annotations

import torch
import torch.nn.functional as F

from ..core.errors import InputError


def masked_sq_dist(points: torch.Tensor, weights: torch.Tensor, codes: torch.Tensor,
                    points_sq: torch.Tensor | None = None) -> torch.Tensor:
    """[M, K]: sum over the weighted joints of the squared distance between points [M, J, 2]
    (which must be zero where the weight is 0) and codes [K, J, 2]; weights [M, J] in {0, 1};
    ``points_sq`` [M], the points' squared norms, when already known."""
    if points_sq is None:
        points_sq = points.flatten(1).square().sum(1)
    return (points_sq[:, None] + _code_terms(points, weights, codes)).clamp_min(0)


def _code_terms(points: torch.Tensor, weights: torch.Tensor, codes: torch.Tensor) -> torch.Tensor:
    """[M, K]: the part of ``masked_sq_dist`` that depends on the code (enough for an argmin)."""
    return torch.addmm(weights @ codes.square().sum(-1).T, points.flatten(1), codes.flatten(1).T, alpha=-2)


def kmeans_codebook(points: torch.Tensor, valid: torch.Tensor, num_codes: int, iters: int = 50,
                    seed: int = 0, max_points: int = 200_000, device=None) -> torch.Tensor:
    """[num_codes, J, 2] k-means (k-means++ seeding, Lloyd iterations) of ``points`` [M, J, 2]
    under the squared distance over each point's ``valid`` [M, J] keypoints; centroids are per-joint
    means of the valid members; empty clusters are re-seeded with the worst-fitted points.

    Runs in float64 on ``device`` (default: the points'), a GPU making it fast; random draws come
    from a CPU generator seeded with ``seed`` and cluster sums avoid atomics on a GPU (one-hot
    matrix products), so a seed gives the same codebook on the same machine. ``max_points`` caps a
    random subsample."""
    device = torch.device(device) if device is not None else points.device
    keep = valid.any(dim=1)
    points, weights = points[keep].double(), valid[keep].double()
    if points.shape[0] == 0:
        raise InputError("train", "no frame has a keypoint visible both in it and in its P0")
    gen = torch.Generator().manual_seed(seed)
    if points.shape[0] > max_points:
        pick = torch.randperm(points.shape[0], generator=gen)[:max_points]
        points, weights = points[pick], weights[pick]
    points, weights = (points * weights[..., None]).to(device), weights.to(device)
    points_sq = points.flatten(1).square().sum(1)
    m, block = points.shape[0], 32768

    def assign_and_sum(codes):
        """Nearest code and its distance per point, and per code the sums of its members' points
        and of their weights (one-hot matrix products, block by block)."""
        index = torch.empty(m, dtype=torch.long, device=device)
        dist = torch.empty(m, dtype=torch.float64, device=device)
        sums = torch.zeros_like(codes)
        counts = torch.zeros(num_codes, points.shape[1], dtype=torch.float64, device=device)
        for i in range(0, m, block):
            rows = slice(i, i + block)
            best = _code_terms(points[rows], weights[rows], codes).min(dim=1)
            index[rows], dist[rows] = best.indices, (best.values + points_sq[rows]).clamp_min(0)
            if device.type == "cpu":  # deterministic (and cheaper) on the CPU
                sums.index_add_(0, best.indices, points[rows])
                counts.index_add_(0, best.indices, weights[rows])
            else:
                onehot = F.one_hot(best.indices, num_codes).double().T
                sums += (onehot @ points[rows].flatten(1)).view_as(codes)
                counts += onehot @ weights[rows]
        return index, dist, sums, counts

    # k-means++ seeding: draw each next seed with probability proportional to its squared distance
    # to the nearest seed so far (inverse CDF; uniform once every point coincides with a seed)
    chosen = [int(torch.randint(m, (1,), generator=gen))]
    closest = masked_sq_dist(points, weights, points[chosen[0]][None], points_sq)[:, 0]
    for _ in range(1, num_codes):
        cdf = closest.cumsum(0)
        if cdf[-1] > 0:
            u = torch.rand(1, generator=gen, dtype=torch.float64).to(device) * cdf[-1]
            chosen.append(min(int(torch.searchsorted(cdf, u, right=True)), m - 1))
        else:
            chosen.append(int(torch.randint(m, (1,), generator=gen)))
        fresh = masked_sq_dist(points, weights, points[chosen[-1]][None], points_sq)[:, 0]
        closest = torch.minimum(closest, fresh)
    codes = points[chosen].clone()

    assign = None
    for _ in range(iters):
        new_assign, dist, sums, counts = assign_and_sum(codes)
        if assign is not None and torch.equal(new_assign, assign):
            break
        assign = new_assign
        codes = torch.where(counts[..., None] > 0, sums / counts.clamp_min(1)[..., None], codes)
        empty = (counts.sum(1) == 0).nonzero().flatten()
        if len(empty):
            worst = dist.argsort(descending=True, stable=True)[:len(empty)]
            codes[empty[:len(worst)]] = points[worst]
            assign = None  # force another assignment pass
    return codes.float().cpu()
