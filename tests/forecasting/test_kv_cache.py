"""The key/value-cached autoregressive baseline and the latency comparison that uses it."""

import pytest
import torch
from posemotion.models.forecasting.experiments import format_latency, latency
from posemotion.models.forecasting.model import OneStageForecaster
from posemotion.models.forecasting.sequence_baselines import CausalTransformerForecaster
from posemotion.models.forecasting.types import Conditioning, PoseWindows


def _causal(norm_first=True, activation="gelu", seed=0):
    torch.manual_seed(seed)
    model = CausalTransformerForecaster("openpose_18", 18, 8, "test-encoder", d_model=32, num_layers=2, num_heads=4,
                                        ffn_dim=64, dropout=0.1, max_len=31, norm_first=norm_first,
                                        activation=activation)
    torch.nn.init.normal_(model.head.weight, std=0.01)  # a random model that moves (its head starts at zero)
    return model


def _query(batch=3, seed=0):
    gen = torch.Generator().manual_seed(seed)
    mask = torch.ones(batch, 5, dtype=torch.bool)
    mask[1, 2:] = False  # padded conditioning: the cross-attention mask must be honoured
    return (torch.rand(batch, 18, 2, generator=gen),
            Conditioning(torch.randn(batch, 5, 8, generator=gen), mask, "test-encoder"))


@pytest.mark.parametrize("norm_first,activation", [(True, "gelu"), (False, "relu")])
def test_cached_and_uncached_forecasts_agree(norm_first, activation):
    model = _causal(norm_first, activation)
    p0, cond = _query()
    calls = []
    model.decoder.register_forward_hook(lambda *args: calls.append(1))
    cached = model.forecast(p0, cond, 20)
    assert not calls  # the cached path never reruns the whole decoder
    uncached = model.forecast(p0, cond, 20, use_cache=False)
    assert len(calls) == 20
    assert (uncached - p0[:, None]).abs().max() > 0.05  # the forecast really moves
    torch.testing.assert_close(cached, uncached, atol=1e-5, rtol=1e-5)
    assert model.training  # forecasting leaves the module's mode as it was


def test_cached_forecast_matches_teacher_forcing_on_its_own_rollout():
    """Feeding the cached rollout back teacher-forced reproduces every step (positions line up)."""
    model = _causal(seed=1).eval()
    p0, cond = _query(seed=1)
    rollout = model.forecast(p0, cond, 12)
    with torch.no_grad():
        again = model.teacher_forced(torch.cat([p0[:, None], rollout[:, :-1]], 1), cond)
    torch.testing.assert_close(again, rollout, atol=1e-5, rtol=1e-5)


def test_latency_reports_both_autoregressive_variants():
    one_stage = OneStageForecaster(num_joints=18, cond_dim=8, layout="openpose_18", encoder="test-encoder",
                                   max_horizon=30, d_model=32, num_layers=2, num_heads=4, ffn_dim=64)
    p0, cond = _query(batch=2)
    windows = PoseWindows(p0[:, None].expand(-1, 11, -1, -1).clone(), torch.ones(2, 11, 18, dtype=torch.bool), cond,
                          ["x", "y"], ["a", "b"], "openpose_18", 30.0)
    timing = latency(one_stage, _causal(), windows, horizon=10, repeats=1)
    assert set(timing) == {"one_stage", "transformer_ntp", "transformer_ntp_no_cache", "ratio", "ratio_no_cache"}
    assert all(value > 0 for value in timing.values())
    assert timing["ratio"] == pytest.approx(timing["transformer_ntp"] / timing["one_stage"])
    line = format_latency(timing, 10)
    assert "with KV cache" in line and "without cache" in line
