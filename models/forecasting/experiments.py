"""The paper's comparisons on our data: Table 1 (all metrics), Figure 4 (ADE per timestep) and the
one-pass vs autoregressive latency. The same models, data and training loop back the CLI."""

from __future__ import annotations

import statistics
import time

import torch

from . import HYPOTHESES
from .baselines import (
    CausalTransformerForecaster,
    LSTMForecaster,
    NearestNeighbourConditioning,
    NearestNeighbourPose,
    QuantizedTransformerForecaster,
)
from .metrics import PCK_THRESHOLDS, forecast_metrics, per_timestep_ade
from .model import OneStageForecaster
from .text_metrics import mismatched_captions, text_metrics
from .training import forecast_windows, train_model
from .types import PoseWindows

# Transformer width/depth shared by the one-stage model and the transformer baselines, so the
# comparison (and the latency benchmark) is at equal size.
SMALL = dict(d_model=64, num_layers=2, num_heads=4, ffn_dim=128, dropout=0.1)
TEXT_ENCODER_NAMES = {"minilm-l6": "MiniLM-L6 (all-MiniLM-L6-v2, text only)"}  # encoder id -> Table 1 title


def make_models(train: PoseWindows, max_horizon: int, size: dict = SMALL, hypotheses: int = HYPOTHESES,
                direction_weight: float = 0.0, spectrum_weight: float = 0.0) -> dict:
    """Every model of Table 1, untrained, keyed by its ``name``; ours guesses ``hypotheses`` futures.
    With more than one, the paper's single guess is there too (key ``"one_stage_single"``), trained the
    same way, so that the table shows what the guesses change."""
    common = dict(num_joints=train.num_joints, cond_dim=train.conditioning.dim, layout=train.layout,
                  encoder=train.conditioning.encoder)
    ours = dict(common, max_horizon=max_horizon, direction_weight=direction_weight, spectrum_weight=spectrum_weight,
                **size)
    models = [  # in the paper's Table 1 order, keyed by each model's own ``name``
        NearestNeighbourPose(),
        NearestNeighbourConditioning(),
        LSTMForecaster(**common, hidden_size=size["d_model"], num_layers=2),
        CausalTransformerForecaster(**common, max_len=max_horizon + 1, **size),
        QuantizedTransformerForecaster(**common, max_len=max_horizon + 1, **size),
        OneStageForecaster(**ours, hypotheses=hypotheses),
    ]
    models = {model.name: model for model in models}
    if hypotheses > 1:
        models["one_stage_single"] = OneStageForecaster(**ours, hypotheses=1)
    return models


def evaluate(model, test: PoseWindows, mismatched: list | None = None) -> tuple[dict, list[float]]:
    """Held-out metrics (in image coordinates, as the paper defines them) and ADE per frame, plus
    bone-length consistency and predicate satisfaction (``text_metrics.py``) on P0 + the forecast."""
    pred = forecast_windows(model, test)
    images = test.image_poses()
    target, visible = images[:, 1:], test.visible[:, 1:]
    metrics = forecast_metrics(pred, target, visible, PCK_THRESHOLDS[test.layout])
    if test.layout == "openpose_18":
        sequences = torch.cat([images[:, :1], pred], dim=1)
        seen = test.visible[:, :1].expand(-1, sequences.shape[1], -1)  # a forecast keeps P0's keypoints
        metrics.update(text_metrics(sequences, seen, _aspect(test), test.fps, test.texts, mismatched))
    return metrics, per_timestep_ade(pred, target, visible).tolist()


def _aspect(windows: PoseWindows) -> torch.Tensor:
    return windows.aspect if windows.aspect is not None else torch.ones(len(windows))


def ground_truth_metrics(test: PoseWindows, mismatched: list | None = None) -> dict:
    """The text-and-body columns on the real future frames: the ceiling every model is read against."""
    return text_metrics(test.image_poses(), test.visible, _aspect(test), test.fps, test.texts, mismatched)


def run_comparison(train: PoseWindows, test: PoseWindows, steps: int, lr: float = 1e-3, batch_size: int = 32,
                   seed: int = 0, hypotheses: int = HYPOTHESES, log=print) -> dict:
    """Train every model on ``train`` with the same loop, evaluate on ``test``: metrics and curves.
    Every model and the ground truth (key ``"ground_truth"``, no model) use the same mismatched captions."""
    mismatched = mismatched_captions(test.texts)
    results = {"ground_truth": {"metrics": ground_truth_metrics(test, mismatched), "label": "Ground truth"}}
    torch.manual_seed(seed)  # the initial weights too: a rerun with the same seed gives the same table
    for key, model in make_models(train, test.horizon, hypotheses=hypotheses).items():
        torch.manual_seed(seed)
        history = train_model(model, train, steps=steps, batch_size=batch_size, lr=lr, seed=seed)
        metrics, ade_per_step = evaluate(model, test, mismatched)
        results[key] = {"metrics": metrics, "ade_per_step": ade_per_step,
                        "train_seconds": history["seconds"], "model": model, "label": model.label}
        log(f"  {model.label:<20} trained in {history['seconds']:.1f} s: "
            + ", ".join(f"{k} {v:.3f}" for k, v in results[key]["metrics"].items()))
    return results


def table_title(test: PoseWindows) -> str:
    encoder = TEXT_ENCODER_NAMES.get(test.conditioning.encoder, test.conditioning.encoder)
    return (f"Table 1 on our held-out split, conditioned on {encoder} (normalised coordinates; PCK at "
            f"{PCK_THRESHOLDS[test.layout]}; bones: % of bone-frames vs P0; predicates: % of the caption's "
            "facts found in P0 + forecast, captions derived from the motion)")


def format_table(results: dict) -> str:
    lines = [f"{'method':<20}{'ADE':>8}{'FDE':>8}{'PCK':>8}{'RMSE':>8}{'>1.1x':>8}{'<0.3x':>8}"
             f"{'true':>8}{'mism.':>8}{'gap':>8}"]
    for result in results.values():
        m = result["metrics"]
        motion = "".join(f"{m[k]:>8.3f}" if k in m else f"{'-':>8}" for k in ("ADE", "FDE", "PCK", "RMSE"))
        text = "".join(f"{m[k]:>8.1f}" if k in m else f"{'-':>8}" for k in
                       ("bones_above_pct", "bones_below_pct", "true_pct", "mismatched_pct", "gap"))
        lines.append(f"{result['label']:<20}{motion}{text}")
    return "\n".join(lines)


def format_curves(results: dict, keys=("lstm", "transformer_ntp", "quant_tf", "one_stage", "one_stage_single"),
                  every: int = 5) -> str:
    horizon = len(results["one_stage"]["ade_per_step"])
    keys = [key for key in keys if key in results]
    steps = [t for t in range(1, horizon + 1) if t == 1 or t % every == 0]
    lines = [f"{'frame':<20}" + "".join(f"{t:>7}" for t in steps)]
    for key in keys:
        curve = results[key]["ade_per_step"]
        lines.append(f"{results[key]['model'].label:<20}" + "".join(f"{curve[t - 1]:>7.3f}" for t in steps))
    return "\n".join(lines)


@torch.no_grad()
def latency(one_stage, causal, windows: PoseWindows, horizon: int = 45, repeats: int = 7, batch: int = 1) -> dict:
    """Median seconds to forecast ``horizon`` frames, same width/depth: one pass (``one_stage``) vs the
    autoregressive transformer with its key/value cache (``transformer_ntp``, as one would ship it)
    and without (``transformer_ntp_no_cache``, the whole prefix rerun at every step); ``ratio`` and
    ``ratio_no_cache`` divide each autoregressive time by the one-pass time."""
    device = next(one_stage.parameters()).device
    sample = windows.select(list(range(batch))).to(device)
    sync = torch.cuda.synchronize if device.type == "cuda" else (lambda: None)
    runs = {"one_stage": lambda p0, cond: one_stage.forecast(p0, cond, horizon),
            "transformer_ntp": lambda p0, cond: causal.forecast(p0, cond, horizon, use_cache=True),
            "transformer_ntp_no_cache": lambda p0, cond: causal.forecast(p0, cond, horizon, use_cache=False)}
    timings = {key: [] for key in runs}
    for model in (one_stage, causal):
        model.eval()
    for run in runs.values():
        run(sample.poses[:, 0], sample.conditioning)  # warm-up
    for _ in range(repeats):  # interleaved, so machine noise hits all alike
        for key, run in runs.items():
            sync()
            start = time.perf_counter()
            run(sample.poses[:, 0], sample.conditioning)
            sync()
            timings[key].append(time.perf_counter() - start)
    medians = {key: statistics.median(values) for key, values in timings.items()}
    medians["ratio"] = medians["transformer_ntp"] / medians["one_stage"]
    medians["ratio_no_cache"] = medians["transformer_ntp_no_cache"] / medians["one_stage"]
    return medians


def format_latency(timing: dict, horizon: int, batch: int = 1) -> str:
    """One line for README Table (c): both autoregressive variants beside the one-pass time."""
    ms = {key: 1000 * value for key, value in timing.items() if not key.startswith("ratio")}
    return (f"latency at horizon {horizon}, batch {batch}, equal width and depth: one-stage {ms['one_stage']:.1f} ms; "
            f"autoregressive transformer with KV cache {ms['transformer_ntp']:.1f} ms (ratio {timing['ratio']:.1f}x), "
            f"without cache {ms['transformer_ntp_no_cache']:.1f} ms (ratio {timing['ratio_no_cache']:.1f}x)")
