"""Forecasting commands of ``python -m posemotion``: dataset, training, the paper's tables, inference."""

from __future__ import annotations

import json
import os
import sys

from ..models.core.resources import DEFAULT_MOCAP, console_progress
from ..models.core.training import is_main_process
from ..models.forecasting.dataset import build_dataset, load_dataset
from ..models.forecasting.encoders import encode_texts
from ..models.forecasting.experiments import evaluate, format_curves, format_table, latency, make_models, run_comparison
from ..models.forecasting.inference import BUNDLED_FORECASTER, forecast_image
from ..models.forecasting.pose_frame import POSE_FRAME
from ..models.forecasting.training import save_forecaster, train_model

DEFAULT_DATA = os.path.join("data", "forecast", "windows.npz")


def add_commands(commands) -> None:
    data = commands.add_parser("forecast-data", help="build the forecasting dataset from shipped videos and mocap")
    data.add_argument("--out", default=DEFAULT_DATA)
    data.add_argument("--mocap", default=DEFAULT_MOCAP, help="folder written by scripts/fetch_mocap.sh")

    train = commands.add_parser("forecast-train", help="train one forecaster and save a checkpoint")
    train.add_argument("--data", default=DEFAULT_DATA)
    train.add_argument("--model", default="one_stage",
                       choices=["one_stage", "lstm", "transformer_ntp", "quant_tf"])
    train.add_argument("--steps", type=int, default=1500)
    train.add_argument("--batch-size", type=int, default=32)
    train.add_argument("--lr", type=float, default=1e-3)
    train.add_argument("--seed", type=int, default=0)
    train.add_argument("--out", required=True, help="checkpoint path (.safetensors); a .json config is written beside")

    bench = commands.add_parser("forecast-bench", help="the paper's Table 1, Figure 4 and the latency comparison")
    bench.add_argument("--data", default=DEFAULT_DATA)
    bench.add_argument("--steps", type=int, default=1500)
    bench.add_argument("--seed", type=int, default=0)
    bench.add_argument("--json", default=None, help="also write all figures to this file")

    run = commands.add_parser("forecast", help="forecast poses from an image and a short text")
    run.add_argument("--image", required=True)
    run.add_argument("--text", required=True)
    run.add_argument("--checkpoint", default=BUNDLED_FORECASTER)
    run.add_argument("--horizon", type=int, default=45)
    run.add_argument("--fps", type=float, default=30.0)
    run.add_argument("--out", default="forecast_output")


def run_command(args) -> int:
    if args.command == "forecast-data":

        summary = build_dataset(args.out, args.mocap)
        print(json.dumps(summary, indent=1))
        return 0
    if args.command == "forecast-train":
        return _train(args)
    if args.command == "forecast-bench":
        return _bench(args)
    if args.command == "forecast":
        result = forecast_image(args.image, args.text, args.checkpoint, args.horizon, args.fps, args.out)
        print(f"forecast {args.horizon} frames for {args.text!r} with {os.path.basename(args.checkpoint)}; "
              f"wrote {result['video']} and {result['poses']}")
        return 0
    raise ValueError(args.command)


def _train(args) -> int:

    train, test = load_dataset(args.data, encode_texts)
    model = make_models(train, train.horizon)[args.model]
    history = train_model(model, train, steps=args.steps, batch_size=args.batch_size, lr=args.lr, seed=args.seed,
                          progress=console_progress(f"train {args.model}"))
    if not is_main_process():  # under `accelerate launch`, only the main process evaluates, prints and writes
        return 0
    metrics, _ = evaluate(model, test)
    command = "python -m posemotion " + " ".join(sys.argv[1:]) if sys.argv[1:2] == ["forecast-train"] else ""
    record = {"steps": args.steps, "batch_size": args.batch_size, "lr": args.lr, "seed": args.seed,
              "train_windows": len(train), "test_windows": len(test), "seconds": round(history["seconds"], 1),
              "test_metrics": metrics, "command": command}
    paths = save_forecaster(model, args.out, record, pose_frame=POSE_FRAME if train.box is not None else None)
    print(f"trained {args.model} in {history['seconds']:.1f} s; held-out "
          + ", ".join(f"{k} {v:.3f}" for k, v in metrics.items()))
    print("wrote " + " and ".join(paths))
    return 0


def _bench(args) -> int:

    train, test = load_dataset(args.data, encode_texts)
    print(f"data: {len(train)} train / {len(test)} test windows (test clips: {sorted(set(test.clips))}), "
          f"horizon {test.horizon}, layout {test.layout}, encoder {test.conditioning.encoder}")
    results = run_comparison(train, test, steps=args.steps, seed=args.seed, log=lambda m: print(m, file=sys.stderr))
    print("\n(a) Table 1 on our held-out split (normalised coordinates; PCK at 0.05)")
    print(format_table(results))
    print("\n(b) ADE per forecast frame (Figure 4)")
    print(format_curves(results))
    timing = latency(results["one_stage"]["model"], results["transformer_ntp"]["model"], test, test.horizon)
    print(f"\n(c) latency at horizon {test.horizon}, batch 1, equal width and depth: one-stage "
          f"{1000 * timing['one_stage']:.1f} ms, autoregressive transformer {1000 * timing['transformer_ntp']:.1f} ms, "
          f"ratio {timing['ratio']:.1f}x")
    if args.json:
        figures = {key: {k: v for k, v in value.items() if k != "model"} for key, value in results.items()}
        with open(args.json, "w") as handle:
            json.dump({"table": figures, "latency": timing}, handle, indent=1)
    return 0
