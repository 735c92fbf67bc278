"""Tokenizer metrics against independent constructions (known transforms, hand-computed values)."""

import math

import numpy as np
import pytest
import torch
from posemotion.models.core.errors import InputError
from posemotion.models.tokenizers.metrics import (
    acceleration_error,
    codebook_perplexity,
    codebook_summary,
    codebook_usage,
    mpjpe,
    pa_mpjpe,
    procrustes_align,
    reconstruction_metrics_mm,
    token_agreement,
)
from scipy.optimize import minimize
from scipy.spatial.transform import Rotation


def _motion(frames=6, joints=22, seed=0) -> torch.Tensor:
    return torch.from_numpy(np.random.default_rng(seed).normal(size=(frames, joints, 3)) * 0.3)


def test_uniform_offset_gives_its_length_and_no_aligned_or_acceleration_error():
    target = _motion()
    pred = target + torch.tensor([0.03, 0.04, 0.0], dtype=target.dtype)  # |offset| = 0.05
    assert mpjpe(pred, target) == pytest.approx(0.05, abs=1e-12)
    assert pa_mpjpe(pred, target) == pytest.approx(0.0, abs=1e-9)
    assert acceleration_error(pred, target) == pytest.approx(0.0, abs=1e-12)


def test_similarity_transformed_copy_is_aligned_exactly_per_frame():
    target = _motion(frames=5)
    rotations = Rotation.random(5, random_state=1).as_matrix()  # a different rotation every frame
    scales = np.array([0.5, 0.8, 1.0, 1.3, 2.0])
    shifts = np.random.default_rng(2).normal(size=(5, 1, 3))
    pred = torch.from_numpy(scales[:, None, None] * np.einsum("tjc,tdc->tjd", target.numpy(), rotations) + shifts)
    assert mpjpe(pred, target) > 0.1
    assert pa_mpjpe(pred, target) == pytest.approx(0.0, abs=1e-9)
    assert torch.allclose(procrustes_align(pred, target), target.double(), atol=1e-9)


def test_mirror_image_is_not_aligned_away():
    target = _motion(frames=1, joints=8)
    mirrored = target * torch.tensor([-1.0, 1.0, 1.0], dtype=target.dtype)
    assert pa_mpjpe(mirrored, target) > 0.05  # rotations only: a reflection stays an error


def test_pa_mpjpe_matches_a_numerical_optimum():
    """Minimise the squared error over scale, rotation vector and translation with scipy."""
    target, pred = _motion(frames=1, joints=10, seed=3), _motion(frames=1, joints=10, seed=4)
    y, x = target[0].numpy(), pred[0].numpy()

    def apply(params):  # log-scale keeps the scale positive (a negative one would mirror)
        return math.exp(params[0]) * x @ Rotation.from_rotvec(params[1:4]).as_matrix().T + params[4:]

    best = min((minimize(lambda p: np.square(apply(p) - y).sum(), np.r_[0.0, start, 0, 0, 0], method="BFGS")
                for start in np.random.default_rng(5).normal(size=(8, 3))), key=lambda r: r.fun)
    expected = np.linalg.norm(apply(best.x) - y, axis=-1).mean()
    # Procrustes minimises the squared error, so the mean error at that optimum is what it reports
    assert pa_mpjpe(pred, target) == pytest.approx(expected, rel=1e-4)
    assert pa_mpjpe(pred, target) < mpjpe(pred, target)


def test_acceleration_error_of_one_displaced_frame():
    target = _motion(frames=7, joints=4)
    pred = target.clone()
    pred[3, 2, 0] += 0.1  # accelerations at frames 2, 3, 4 change by 0.1, -0.2, 0.1 on one joint
    expected = (0.1 + 0.2 + 0.1) / (5 * 4)  # mean over frames 1..5 (5 of them) and 4 joints
    assert acceleration_error(pred, target) == pytest.approx(expected, abs=1e-12)
    assert reconstruction_metrics_mm(pred, target)["accel_mm"] == pytest.approx(1000 * expected, abs=1e-9)


def test_batched_joints_and_bad_inputs():
    target = _motion().reshape(2, 3, 22, 3)
    assert mpjpe(target + 0.01, target) == pytest.approx(0.01 * math.sqrt(3), abs=1e-12)
    with pytest.raises(InputError, match="pred"):
        mpjpe(target[:, :2], target)
    with pytest.raises(InputError, match="pred"):
        acceleration_error(target[:, :2], target[:, :2])


def test_usage_and_perplexity_of_known_frequencies():
    uniform = torch.arange(8).repeat(5)[:, None]  # codes 0..7 equally often, codebook of 32
    assert codebook_usage(uniform, 32) == [pytest.approx(8 / 32)]
    assert codebook_perplexity(uniform, 32) == [pytest.approx(8.0)]
    skewed = torch.tensor([0, 0, 0, 1])  # frequencies 3/4, 1/4
    two = torch.stack([skewed, torch.zeros(4, dtype=torch.long)], dim=1)
    entropy = -(0.75 * math.log(0.75) + 0.25 * math.log(0.25))
    assert codebook_perplexity(two, (4, 2)) == [pytest.approx(math.exp(entropy)), pytest.approx(1.0)]
    summary = codebook_summary(two, (4, 2))
    assert summary["usage"] == pytest.approx((2 / 4 + 1 / 2) / 2)
    assert summary["perplexity_first"] == pytest.approx(math.exp(entropy))
    with pytest.raises(InputError, match="ids"):
        codebook_usage(torch.tensor([[4]]), 4)


def test_token_agreement_counts_identical_positions():
    a = torch.tensor([[1, 2], [3, 4], [5, 6]])
    b = torch.tensor([[1, 0], [3, 4], [0, 0]])
    assert token_agreement(a, b) == pytest.approx(3 / 6)
    assert token_agreement(a, a) == 1.0
    with pytest.raises(InputError, match="ids"):
        token_agreement(a, b[:2])
