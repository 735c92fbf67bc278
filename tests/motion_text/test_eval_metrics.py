"""Text-motion metrics against hand-computed values."""

import numpy as np
import pytest
import scipy.linalg
import torch
from posemotion.models.core.errors import InputError
from posemotion.models.motion_text.eval_metrics import (
    diversity,
    diversity_pairs,
    fid,
    mm_dist,
    r_precision,
    r_precision_chance,
    text_motion_metrics,
)


def test_perfect_embedding_has_r_precision_one():
    motion = np.random.default_rng(0).normal(size=(64, 8))
    assert np.allclose(r_precision(motion, motion), [1.0, 1.0, 1.0])


def test_random_embedding_is_near_chance():
    rng = np.random.default_rng(1)
    hits = r_precision(rng.normal(size=(3200, 16)), rng.normal(size=(3200, 16)), shuffles=5)
    # 16000 texts per k: the binomial standard error at p = 3/32 is 0.0023; 0.012 is five of them
    assert np.abs(hits - r_precision_chance()).max() < 0.012


def test_hand_built_pool_ranks():
    # pool of 3, 1-d embeddings: text 0 at 0 has motions at 0 (own), 1, 5; text 1 at 0.9 has its own
    # motion at 1 (distance 0.1) but motion 0 at 0 is 0.9 away: own is nearest; text 2 at 0.2:
    # own motion at 5 (4.8) is last.
    text = np.array([[0.0], [0.9], [0.2]])
    motion = np.array([[0.0], [1.0], [5.0]])
    assert np.allclose(r_precision(text, motion, pool=3, top_k=3, shuffles=1), [2 / 3, 2 / 3, 1.0])


def test_constant_embedding_scores_zero_not_one():
    ones = np.ones((32, 4))
    assert np.allclose(r_precision(ones, ones, shuffles=2), [0.0, 0.0, 0.0])


def test_mm_dist_hand_value():
    assert mm_dist([[0, 0], [1, 1]], [[3, 4], [1, 2]]) == pytest.approx((5 + 1) / 2)


def test_fid_identical_sets_is_zero_and_shift_adds_squared_distance():
    a = np.random.default_rng(2).normal(size=(200, 6))
    assert fid(a, a) == pytest.approx(0.0, abs=1e-8)
    shift = np.array([3.0, 0, 0, 4.0, 0, 0])  # same covariance, means 5 apart
    assert fid(a, a + shift) == pytest.approx(25.0, abs=1e-6)


def test_fid_matches_scipy_sqrtm_and_handles_rank_deficient_sets():
    rng = np.random.default_rng(3)
    a, b = rng.normal(size=(100, 5)), rng.normal(size=(80, 5)) * 2 + 1
    ca, cb = np.cov(a, rowvar=False), np.cov(b, rowvar=False)
    expected = ((a.mean(0) - b.mean(0)) ** 2).sum() + np.trace(ca + cb - 2 * scipy.linalg.sqrtm(ca @ cb).real)
    assert fid(a, b) == pytest.approx(expected, rel=1e-8)
    # 3 embeddings in 5 dimensions: singular covariances, still a finite non-negative number
    assert np.isfinite(fid(a[:3], b[:3])) and fid(a[:3], b[:3]) >= 0
    with pytest.raises(InputError, match="at least 2"):
        fid(a[:1], b)


def test_diversity_hand_value_and_pair_count():
    # two points 5 apart: the only pair
    assert diversity(np.array([[0.0, 0.0], [3.0, 4.0]])) == pytest.approx(5.0)
    assert diversity_pairs(2) == 1 and diversity_pairs(10) == 45 and diversity_pairs(1000) == 300
    # three collinear points 0, 1, 3: all 3 pairs, mean (1 + 3 + 2) / 3
    assert diversity(torch.tensor([[0.0], [1.0], [3.0]])) == pytest.approx(2.0)
    with pytest.raises(InputError):
        diversity(np.zeros((1, 3)))


def test_bad_inputs_name_the_input():
    with pytest.raises(InputError, match="motion_emb"):
        mm_dist(np.zeros((4, 3)), np.zeros((5, 3)))
    with pytest.raises(InputError, match="text_emb"):
        r_precision(np.zeros((4, 3)), np.zeros((4, 3)))  # fewer than one pool of 32
    with pytest.raises(InputError, match="NaN"):
        mm_dist(np.full((2, 2), np.nan), np.zeros((2, 2)))


def test_all_metrics_small_set_uses_one_pool_and_reports_chance():
    motion = np.random.default_rng(4).normal(size=(10, 4))
    result = text_motion_metrics(motion, motion, reference_motion_emb=motion)
    assert result["pool"] == 10 and result["chance_top3"] == pytest.approx(0.3)
    assert result["r_precision_top1"] == 1.0 and result["mm_dist"] == 0.0
    assert result["fid"] == pytest.approx(0.0, abs=1e-8) and result["diversity_pairs"] == 45
