"""Text-to-motion metrics in a text-motion co-embedding space, as Guo et al. (CVPR 2022) define them and
the papers that use their evaluator report them.

Inputs are embeddings ``[N, D]`` (numpy or torch, any float dtype): row ``i`` of ``text_emb`` describes
row ``i`` of ``motion_emb``. Distances are Euclidean in the embedding space.

- :func:`r_precision`: the items are shuffled (seeded) and cut into pools of ``pool`` (32 in the
  papers; a remainder smaller than a pool is left out of that shuffle); each text ranks the pool's
  motions by distance and scores a hit at ``k`` when its own motion is among the ``k`` nearest.
  The result is the hit rate at k = 1..top_k averaged over ``shuffles`` shuffles. Chance is k / pool.
- :func:`mm_dist`: mean distance of matched text/motion pairs ("multimodal distance").
- :func:`fid`: the Frechet distance between Gaussians fitted to two sets of motion embeddings.
- :func:`diversity`: mean distance between ``pairs`` random pairs of motions from one set (300 in
  the papers; a set with fewer than 300 distinct pairs uses all of them).
"""

from __future__ import annotations

import numpy as np

from ..core.errors import InputError

R_PRECISION_POOL = 32  # Guo et al.'s batch of 32: each text against its own motion and 31 others
R_PRECISION_TOP_K = 3
R_PRECISION_SHUFFLES = 10  # shuffles averaged over (papers average 20 runs of the whole evaluation)
DIVERSITY_PAIRS = 300  # Guo et al.'s diversity_times


def as_embeddings(values, name: str) -> np.ndarray:
    """``[N, D]`` float64 numpy array from numpy or torch; InputError(name) on another shape or NaN."""
    if hasattr(values, "detach"):
        values = values.detach().cpu().numpy()
    array = np.asarray(values, dtype=np.float64)
    if array.ndim != 2 or array.shape[0] == 0 or array.shape[1] == 0:
        raise InputError(name, f"expected embeddings [N, D] with N, D >= 1, got shape {list(array.shape)}")
    if not np.isfinite(array).all():
        raise InputError(name, "embeddings contain NaN or infinite values")
    return array


def _paired(text_emb, motion_emb) -> tuple[np.ndarray, np.ndarray]:
    text, motion = as_embeddings(text_emb, "text_emb"), as_embeddings(motion_emb, "motion_emb")
    if text.shape != motion.shape:
        raise InputError("motion_emb", f"{list(motion.shape)} does not pair with text_emb {list(text.shape)} "
                                       f"(row i of each must describe the same item)")
    return text, motion


def distance_matrix(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Euclidean distances ``[len(a), len(b)]``."""
    squared = (a * a).sum(1)[:, None] - 2.0 * a @ b.T + (b * b).sum(1)[None, :]
    return np.sqrt(np.maximum(squared, 0.0))


def r_precision(text_emb, motion_emb, pool: int = R_PRECISION_POOL, top_k: int = R_PRECISION_TOP_K,
                shuffles: int = R_PRECISION_SHUFFLES, seed: int = 0) -> np.ndarray:
    """Hit rates ``[top_k]`` at k = 1..top_k (module doc); ties count against the text (a motion at the
    same distance as its own is ranked ahead of it), so a constant embedding scores 0, not 1."""
    text, motion = _paired(text_emb, motion_emb)
    if pool < 2 or top_k < 1 or top_k > pool or shuffles < 1:
        raise InputError("pool", f"need 2 <= pool, 1 <= top_k <= pool and shuffles >= 1; got pool {pool}, "
                                 f"top_k {top_k}, shuffles {shuffles}")
    if len(text) < pool:
        raise InputError("text_emb", f"{len(text)} pairs cannot fill one pool of {pool}")
    rng = np.random.default_rng(seed)
    hits, texts = np.zeros(top_k), 0
    usable = len(text) - len(text) % pool
    for _ in range(shuffles):
        order = rng.permutation(len(text))[:usable].reshape(-1, pool)
        for members in order:
            distances = distance_matrix(text[members], motion[members])
            own = np.diag(distances)
            # rank of the own motion = how many others are at most as far (ties count against it)
            rank = (distances <= own[:, None]).sum(1) - 1
            hits += (rank[:, None] < np.arange(1, top_k + 1)[None, :]).sum(0)
            texts += pool
    return hits / texts


def r_precision_chance(pool: int = R_PRECISION_POOL, top_k: int = R_PRECISION_TOP_K) -> np.ndarray:
    """k / pool for k = 1..top_k: the hit rate of an embedding that knows nothing."""
    return np.arange(1, top_k + 1) / pool


def mm_dist(text_emb, motion_emb) -> float:
    """Mean Euclidean distance between each text and its own motion."""
    text, motion = _paired(text_emb, motion_emb)
    return float(np.linalg.norm(text - motion, axis=1).mean())


def _psd_sqrt(matrix: np.ndarray) -> np.ndarray:
    values, vectors = np.linalg.eigh((matrix + matrix.T) / 2)
    return (vectors * np.sqrt(np.clip(values, 0.0, None))) @ vectors.T


def fid(first, second) -> float:
    """Frechet distance ``|mu1 - mu2|^2 + tr(S1 + S2 - 2 (S1 S2)^(1/2))`` between two sets of embeddings.

    tr((S1 S2)^(1/2)) is computed as the sum of square roots of the eigenvalues of the symmetric
    ``S1^(1/2) S2 S1^(1/2)`` (same value as scipy.linalg.sqrtm's, without its complex round-off on
    singular covariances). Covariances are unbiased (ddof 1, numpy's ``np.cov``), so each set needs
    at least 2 embeddings. With fewer embeddings than dimensions the covariances are rank-deficient:
    the value is still defined but noisy and biased upwards; compare FIDs only at equal set sizes."""
    a, b = as_embeddings(first, "first"), as_embeddings(second, "second")
    if a.shape[1] != b.shape[1]:
        raise InputError("second", f"embedding size {b.shape[1]} differs from the first set's {a.shape[1]}")
    for name, values in (("first", a), ("second", b)):
        if len(values) < 2:
            raise InputError(name, f"FID needs at least 2 embeddings per set (a covariance), got {len(values)}")
    mean_a, mean_b = a.mean(0), b.mean(0)
    cov_a, cov_b = np.cov(a, rowvar=False, ddof=1), np.cov(b, rowvar=False, ddof=1)
    cov_a, cov_b = np.atleast_2d(cov_a), np.atleast_2d(cov_b)
    root_a = _psd_sqrt(cov_a)
    cross = np.sqrt(np.clip(np.linalg.eigvalsh(root_a @ cov_b @ root_a), 0.0, None)).sum()
    value = float(((mean_a - mean_b) ** 2).sum() + np.trace(cov_a) + np.trace(cov_b) - 2.0 * cross)
    return max(value, 0.0)  # round-off can leave -1e-12 for identical sets


def diversity_pairs(count: int, pairs: int = DIVERSITY_PAIRS) -> int:
    """How many pairs :func:`diversity` draws from ``count`` embeddings."""
    return min(pairs, count * (count - 1) // 2)


def diversity(motion_emb, pairs: int = DIVERSITY_PAIRS, seed: int = 0) -> float:
    """Mean distance between ``diversity_pairs(N, pairs)`` distinct random pairs (i != j, seeded)."""
    motion = as_embeddings(motion_emb, "motion_emb")
    count = diversity_pairs(len(motion), pairs)
    if count < 1:
        raise InputError("motion_emb", f"diversity needs at least 2 embeddings, got {len(motion)}")
    rng = np.random.default_rng(seed)
    first, second = np.triu_indices(len(motion), k=1)
    chosen = rng.choice(len(first), size=count, replace=False)
    return float(np.linalg.norm(motion[first[chosen]] - motion[second[chosen]], axis=1).mean())


def text_motion_metrics(text_emb, motion_emb, reference_motion_emb=None, pool: int = R_PRECISION_POOL,
                        shuffles: int = R_PRECISION_SHUFFLES, seed: int = 0) -> dict:
    """All metrics of one evaluation: R-precision top-1/2/3 with chance beside it, MM-Dist, Diversity,
    and FID against ``reference_motion_emb`` when given. A set smaller than ``pool`` is measured with
    one pool of all its items (``pool`` in the result says which; chance follows it)."""
    text, motion = _paired(text_emb, motion_emb)
    used_pool = min(pool, len(text))
    if used_pool < R_PRECISION_TOP_K:
        raise InputError("text_emb", f"{len(text)} pairs: R-precision top-{R_PRECISION_TOP_K} needs at least "
                                     f"{R_PRECISION_TOP_K}")
    hits = r_precision(text, motion, pool=used_pool, shuffles=shuffles, seed=seed)
    chance = r_precision_chance(used_pool)
    result = {"items": len(text), "pool": used_pool, "shuffles": shuffles}
    for k in range(R_PRECISION_TOP_K):
        result[f"r_precision_top{k + 1}"] = float(hits[k])
        result[f"chance_top{k + 1}"] = float(chance[k])
    result["mm_dist"] = mm_dist(text, motion)
    result["diversity"] = diversity(motion, seed=seed)
    result["diversity_pairs"] = diversity_pairs(len(motion))
    if reference_motion_emb is not None:
        reference = as_embeddings(reference_motion_emb, "reference_motion_emb")
        result["fid"] = fid(motion, reference)
        result["fid_reference_items"] = len(reference)
    return result
