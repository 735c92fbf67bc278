"""The forecasting commands of ``python -m posemotion`` (options in forecast.py)."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import torch

from ..models.core.errors import InputError
from ..models.core.pose_keypoint import validate_pose_keypoint
from ..models.core.resources import console_progress
from ..models.core.training import is_main_process
from ..models.forecasting.dataset import build_dataset, load_dataset
from ..models.forecasting.encoders import encode_texts
from ..models.forecasting.experiments import (
    evaluate,
    format_curves,
    format_latency,
    format_table,
    latency,
    make_models,
    run_comparison,
    table_title,
)
from ..models.forecasting.inference import BUNDLED_FORECASTER, NoPersonError, forecast_image
from ..models.forecasting.pose_frame import POSE_FRAME
from ..models.forecasting.training import save_forecaster, train_model
from .forecast import FORECAST_OUT_SUFFIX


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
        return _forecast(args)
    raise ValueError(args.command)


def _forecast(args) -> int:
    checkpoint = args.checkpoint or BUNDLED_FORECASTER
    out = args.out or Path(args.image).stem + FORECAST_OUT_SUFFIX
    pose = read_pose_keypoint(args.pose) if args.pose else None
    try:
        result = forecast_image(args.image, args.text, checkpoint, args.horizon, args.fps, out, initial_pose=pose)
    except NoPersonError:
        if args.pose:
            raise InputError("--pose", f"no person in the first frame of {args.pose!r}") from None
        raise InputError("image", f"no person found in {args.image!r}: give the initial pose with --pose FILE "
                         "(POSE_KEYPOINT JSON, e.g. poses.json from detect or a pose editor's export)") from None
    print(f"forecast {args.horizon} frames for {args.text!r} with {os.path.basename(checkpoint)}; "
          f"wrote {result['video']} and {result['poses']}")
    return 0


def read_pose_keypoint(path: str) -> list[dict]:
    """A POSE_KEYPOINT JSON file (one frame or a list of frames), checked."""
    if not os.path.isfile(path):
        raise InputError("--pose", f"file not found: {path!r}")
    with open(path) as handle:
        try:
            value = json.load(handle)
        except json.JSONDecodeError as error:
            raise InputError("--pose", f"{path!r} is not JSON ({error})") from None
    return validate_pose_keypoint(value, "--pose")


def _train(args) -> int:
    train, test = load_dataset(args.data, encode_texts, balance=args.balance)
    torch.manual_seed(args.seed)  # --seed fixes the initial weights as well as the batches
    model = make_models(train, train.horizon, hypotheses=args.hypotheses,
                        direction_weight=args.direction_weight, spectrum_weight=args.spectrum_weight)[args.model]
    history = train_model(model, train, steps=args.steps, batch_size=args.batch_size, lr=args.lr, seed=args.seed,
                          progress=console_progress(f"train {args.model}"))
    if not is_main_process():  # under `accelerate launch`, only the main process evaluates, prints and writes
        return 0
    metrics, _ = evaluate(model, test)
    command = "python -m posemotion " + " ".join(sys.argv[1:]) if sys.argv[1:2] == ["forecast-train"] else ""
    record = {"steps": args.steps, "batch_size": args.batch_size, "lr": args.lr, "seed": args.seed,
              "balance": args.balance,
              "train_windows": len(train), "test_windows": len(test), "seconds": round(history["seconds"], 1),
              "test_metrics": metrics, "command": command}
    paths = save_forecaster(model, args.out, record, pose_frame=POSE_FRAME if train.box is not None else None)
    print(f"trained {args.model} in {history['seconds']:.1f} s; held-out "
          + ", ".join(f"{k} {v:.3f}" for k, v in metrics.items()))
    print("wrote " + " and ".join(paths))
    return 0


def _bench(args) -> int:
    train, test = load_dataset(args.data, encode_texts, balance=args.balance)
    print(f"data: {len(train)} train / {len(test)} test windows (test clips: {sorted(set(test.clips))}), "
          f"horizon {test.horizon}, layout {test.layout}, encoder {test.conditioning.encoder}")
    results = run_comparison(train, test, steps=args.steps, seed=args.seed, hypotheses=args.hypotheses,
                             log=lambda m: print(m, file=sys.stderr))
    print("\n(a) " + table_title(test))
    print(format_table(results))
    print("\n(b) ADE per forecast frame (Figure 4)")
    print(format_curves(results))
    timing = latency(results["one_stage"]["model"], results["transformer_ntp"]["model"], test, test.horizon)
    print("\n(c) " + format_latency(timing, test.horizon))
    if args.json:
        figures = {key: {k: v for k, v in value.items() if k != "model"} for key, value in results.items()}
        with open(args.json, "w") as handle:
            json.dump({"table": figures, "latency": timing}, handle, indent=1)
    return 0
