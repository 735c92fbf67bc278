"""The one-stage forecaster with several guesses (config ``hypotheses``): shapes, the best-scored guess,
bones kept whole in every guess, the checkpoint round trip, and why it exists: on two futures that
share P0 and text, one guess learns their mean while two guesses learn both."""

import pytest
import torch
from posemotion.models.core.errors import InputError
from posemotion.models.forecasting.bones import F_MAX
from posemotion.models.forecasting.metrics import bone_length_ratios, bone_length_summary
from posemotion.models.forecasting.model import OneStageForecaster
from posemotion.models.forecasting.training import load_forecaster, save_forecaster, train_model
from posemotion.models.forecasting.types import Conditioning, PoseWindows


def _model(hypotheses, **overrides):
    config = dict(num_joints=18, cond_dim=8, layout="openpose_18", encoder="test-encoder", max_horizon=10,
                  d_model=32, num_layers=2, num_heads=2, ffn_dim=64, dropout=0.0, hypotheses=hypotheses)
    return OneStageForecaster(**{**config, **overrides})


def _standing(batch):
    """A standing OpenPose-18 figure in image coordinates, repeated."""
    xy = torch.tensor([[.5, .2], [.5, .3], [.42, .3], [.38, .42], [.36, .54], [.58, .3], [.62, .42], [.64, .54],
                       [.45, .55], [.45, .7], [.45, .85], [.55, .55], [.55, .7], [.55, .85], [.48, .18],
                       [.52, .18], [.46, .19], [.54, .19]])
    return xy.expand(batch, -1, -1).clone()


def _cond(batch, seed=0):
    gen = torch.Generator().manual_seed(seed)
    return Conditioning(torch.randn(1, 3, 8, generator=gen).expand(batch, -1, -1).clone(),
                        torch.ones(batch, 3, dtype=torch.bool), "test-encoder")


def _two_futures(count=16, frames=6):
    """Windows with one P0 and one text; half move the whole figure left, half right."""
    p0 = _standing(count)
    side = torch.tensor([-1.0, 1.0]).repeat(count // 2)
    steps = torch.arange(1, frames + 1) / frames
    future = p0[:, None] + (0.15 * side[:, None, None, None] * steps[None, :, None, None]) * torch.tensor([1.0, 0.0])
    poses = torch.cat([p0[:, None], future], 1)
    return PoseWindows(poses, torch.ones(count, frames + 1, 18, dtype=torch.bool), _cond(count), ["x"] * count,
                       [str(i) for i in range(count)], "openpose_18", 30.0)


def test_every_guess_has_a_score_and_forecast_returns_the_best_scored_one():
    model = _model(3).eval()
    torch.nn.init.normal_(model.head.weight, std=0.5)
    torch.nn.init.normal_(model.choose.weight, std=1.0)
    p0, cond = _standing(5), _cond(5)
    guesses, scores = model.hypotheses_of(p0, cond, 8)
    assert guesses.shape == (5, 3, 8, 18, 2) and scores.shape == (5, 3)
    best = guesses[torch.arange(5), scores.argmax(1)]
    torch.testing.assert_close(model.forecast(p0, cond, 8), best)
    assert len(set(scores.argmax(1).tolist())) >= 1 and not torch.allclose(guesses[:, 0], guesses[:, 1])
    ratios = bone_length_ratios(guesses.flatten(0, 1), p0.repeat_interleave(3, 0), torch.ones(15, 18, dtype=torch.bool),
                                "openpose_18", torch.ones(15))
    assert bone_length_summary(ratios)["max_ratio"] <= F_MAX + 1e-5  # every guess keeps the body whole


def test_one_guess_is_the_papers_head_unchanged():
    one = _model(1)
    assert one.config["hypotheses"] == 1 and not hasattr(one, "choose") and one.head.out_features == 2 + 2 * 17
    assert _model(4).head.out_features == 4 * one.head.out_features
    with pytest.raises(InputError, match="hypotheses"):
        _model(0)


def test_one_guess_learns_the_mean_of_two_futures_and_two_guesses_learn_both():
    windows = _two_futures()
    target = windows.poses[:, 1:]
    errors = {}
    for count in (1, 2):
        model = _model(count, d_model=16, ffn_dim=32)
        train_model(model, windows, steps=100, batch_size=16, lr=3e-3, seed=0, device="cpu")
        model.eval()
        with torch.no_grad():
            guesses, _ = model.hypotheses_of(windows.poses[:, 0], windows.conditioning, windows.horizon)
        error = (guesses - target[:, None]).norm(dim=-1).mean((2, 3))  # [S, K] mean joint error per guess
        errors[count] = error.min(1).values.mean().item()
    assert errors[1] > 0.05  # the mean of left and right: measured 0.088
    assert errors[2] < 0.3 * errors[1]  # measured 0.014


def test_checkpoints_with_several_guesses_round_trip(tmp_path):
    model = _model(3).eval()
    torch.nn.init.normal_(model.head.weight, std=0.3)
    weights, _ = save_forecaster(model, str(tmp_path / "k3.safetensors"), {"steps": 1})
    loaded = load_forecaster(weights)
    assert loaded.config["hypotheses"] == 3
    p0, cond = _standing(2), _cond(2)
    torch.testing.assert_close(loaded.forecast(p0, cond, 6), model.forecast(p0, cond, 6))
