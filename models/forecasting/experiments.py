"""The paper's comparisons on our data: Table 1 (all metrics), Figure 4 (ADE per timestep) and the
one-pass vs autoregressive latency. The same models, data and training loop back the CLI."""

from __future__ import annotations

import statistics
import time

import torch

from .baselines import (
    CausalTransformerForecaster,
    LSTMForecaster,
    NearestNeighbourConditioning,
    NearestNeighbourPose,
    QuantizedTransformerForecaster,
)
from .metrics import PCK_THRESHOLDS, forecast_metrics, per_timestep_ade
from .model import OneStageForecaster
from .training import forecast_windows, train_model
from .types import PoseWindows

# Transformer width/depth shared by the one-stage model and the transformer baselines, so the
# comparison (and the latency benchmark) is at equal size.
SMALL = dict(d_model=64, num_layers=2, num_heads=4, ffn_dim=128, dropout=0.1)


def make_models(train: PoseWindows, max_horizon: int, size: dict = SMALL) -> dict:

    common = dict(num_joints=train.num_joints, cond_dim=train.conditioning.dim, layout=train.layout,
                  encoder=train.conditioning.encoder)
    models = [  # in the paper's Table 1 order, keyed by each model's own ``name``
        NearestNeighbourPose(),
        NearestNeighbourConditioning(),
        LSTMForecaster(**common, hidden_size=size["d_model"], num_layers=2),
        CausalTransformerForecaster(**common, max_len=max_horizon + 1, **size),
        QuantizedTransformerForecaster(**common, max_len=max_horizon + 1, **size),
        OneStageForecaster(**common, max_horizon=max_horizon, **size),
    ]
    return {model.name: model for model in models}


def evaluate(model, test: PoseWindows) -> tuple[dict, list[float]]:
    """Held-out metrics (in image coordinates, as the paper defines them) and ADE per frame."""
    pred = forecast_windows(model, test)
    target, visible = test.image_poses()[:, 1:], test.visible[:, 1:]
    return (forecast_metrics(pred, target, visible, PCK_THRESHOLDS[test.layout]),
            per_timestep_ade(pred, target, visible).tolist())


def run_comparison(train: PoseWindows, test: PoseWindows, steps: int, lr: float = 1e-3, batch_size: int = 32,
                   seed: int = 0, log=print) -> dict:
    """Train every model on ``train`` with the same loop, evaluate on ``test``: metrics and curves."""
    results = {}
    for key, model in make_models(train, test.horizon).items():
        torch.manual_seed(seed)
        history = train_model(model, train, steps=steps, batch_size=batch_size, lr=lr, seed=seed)
        metrics, ade_per_step = evaluate(model, test)
        results[key] = {"metrics": metrics, "ade_per_step": ade_per_step,
                        "train_seconds": history["seconds"], "model": model}
        log(f"  {model.label:<20} trained in {history['seconds']:.1f} s: "
            + ", ".join(f"{k} {v:.3f}" for k, v in results[key]["metrics"].items()))
    return results


def format_table(results: dict) -> str:
    lines = [f"{'method':<20}{'ADE':>8}{'FDE':>8}{'PCK':>8}{'RMSE':>8}"]
    for result in results.values():
        m = result["metrics"]
        lines.append(f"{result['model'].label:<20}{m['ADE']:>8.3f}{m['FDE']:>8.3f}{m['PCK']:>8.3f}{m['RMSE']:>8.3f}")
    return "\n".join(lines)


def format_curves(results: dict, keys=("lstm", "transformer_ntp", "quant_tf", "one_stage"),
                  every: int = 5) -> str:
    horizon = len(results["one_stage"]["ade_per_step"])
    steps = [t for t in range(1, horizon + 1) if t == 1 or t % every == 0]
    lines = [f"{'frame':<20}" + "".join(f"{t:>7}" for t in steps)]
    for key in keys:
        curve = results[key]["ade_per_step"]
        lines.append(f"{results[key]['model'].label:<20}" + "".join(f"{curve[t - 1]:>7.3f}" for t in steps))
    return "\n".join(lines)


@torch.no_grad()
def latency(one_stage, causal, windows: PoseWindows, horizon: int = 45, repeats: int = 7, batch: int = 1) -> dict:
    """Median seconds to forecast ``horizon`` frames: one pass vs autoregressive, same width/depth."""
    device = next(one_stage.parameters()).device
    sample = windows.select(list(range(batch))).to(device)
    sync = torch.cuda.synchronize if device.type == "cuda" else (lambda: None)
    timings = {"one_stage": [], "transformer_ntp": []}
    for model in (one_stage, causal):
        model.eval()
        model.forecast(sample.poses[:, 0], sample.conditioning, horizon)  # warm-up
    for _ in range(repeats):  # interleaved, so machine noise hits both alike
        for key, model in (("one_stage", one_stage), ("transformer_ntp", causal)):
            sync()
            start = time.perf_counter()
            model.forecast(sample.poses[:, 0], sample.conditioning, horizon)
            sync()
            timings[key].append(time.perf_counter() - start)
    medians = {key: statistics.median(values) for key, values in timings.items()}
    medians["ratio"] = medians["transformer_ntp"] / medians["one_stage"]
    return medians
