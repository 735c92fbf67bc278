"""Options of the forecasting commands of ``python -m posemotion``: dataset, training, the paper's
tables, inference. Only light names are imported here; the commands live in forecast_commands.py."""

from __future__ import annotations

import os

from ..models.core.resources import DEFAULT_MOCAP
from ..models.forecasting import HYPOTHESES

DEFAULT_DATA = os.path.join("data", "forecast", "windows.npz")
FORECAST_OUT_SUFFIX = "_forecast"  # forecast --image PHOTO writes to <image stem>_forecast unless --out is given
MODELS = ("one_stage", "lstm", "transformer_ntp", "quant_tf")

DEFAULT_BALANCE = 0.05
BALANCE_HELP = (f"repeat training windows of rare fact kinds until each kind is in about this share of the rows "
                f"(0 = off; default: {DEFAULT_BALANCE})")

def add_commands(commands) -> None:
    data = commands.add_parser("forecast-data", help="build the forecasting dataset from shipped videos and mocap",
                               description="Build the forecasting dataset (windows of an initial pose and the next "
                                           "45 frames, each captioned from what its motion does) from the videos of "
                                           "the data packages and the mocap clips (16 virtual cameras, mirrored).")
    data.add_argument("--out", default=DEFAULT_DATA, help=f"dataset file to write (default: {DEFAULT_DATA})")
    data.add_argument("--mocap", default=DEFAULT_MOCAP,
                      help=f"folder written by scripts/fetch_mocap.sh (default: {DEFAULT_MOCAP})")

    train = commands.add_parser("forecast-train", help="train one forecaster and save a checkpoint",
                                description="Train one forecaster on the dataset, report held-out metrics and save "
                                            "a .safetensors checkpoint with its .json config.")
    train.add_argument("--data", default=DEFAULT_DATA,
                       help=f"dataset file from forecast-data (default: {DEFAULT_DATA})")
    train.add_argument("--model", default="one_stage", choices=MODELS,
                       help="the paper's one-stage model or a trained baseline (default: one_stage)")
    train.add_argument("--steps", type=int, default=1500, help="optimiser steps (default: 1500)")
    train.add_argument("--batch-size", type=int, default=32,
                       help="global batch of windows per step, split across processes (default: 32)")
    train.add_argument("--lr", type=float, default=1e-3, help="learning rate (default: 0.001)")
    train.add_argument("--seed", type=int, default=0, help="random seed (default: 0)")
    train.add_argument("--hypotheses", type=int, default=HYPOTHESES,
                       help="one_stage: futures guessed per window, the best-scored one returned "
                            f"(default: {HYPOTHESES}; 1 is the paper's single guess)")
    train.add_argument("--direction-weight", type=float, default=0.0,
                       help="one_stage: weight of the bone-direction loss term (default: 0)")
    train.add_argument("--spectrum-weight", type=float, default=0.0,
                       help="one_stage: weight of the phase-free spectrum term, which asks for the truth's "
                            "oscillations (waves, swings) without asking when they turn (default: 0)")
    train.add_argument("--balance", type=float, default=DEFAULT_BALANCE, help=BALANCE_HELP)
    train.add_argument("--out", required=True, help="checkpoint path (.safetensors); a .json config is written beside")

    bench = commands.add_parser("forecast-bench", help="the paper's Table 1, Figure 4 and the latency comparison",
                                description="Train the one-stage model and every baseline, then print the paper's "
                                            "Table 1, Figure 4 (ADE per forecast frame) and the latency comparison.")
    bench.add_argument("--data", default=DEFAULT_DATA,
                       help=f"dataset file from forecast-data (default: {DEFAULT_DATA})")
    bench.add_argument("--steps", type=int, default=1500, help="optimiser steps per trained model (default: 1500)")
    bench.add_argument("--seed", type=int, default=0, help="random seed (default: 0)")
    bench.add_argument("--hypotheses", type=int, default=HYPOTHESES,
                       help=f"futures our forecaster guesses (default: {HYPOTHESES}); with more than one, the "
                            "single-guess model is trained and shown too")
    bench.add_argument("--balance", type=float, default=DEFAULT_BALANCE,
                       help=BALANCE_HELP + "; the same for every model")
    bench.add_argument("--json", default=None, help="also write all figures to this file")

    run = commands.add_parser("forecast", help="forecast poses from an image and a short text",
                              description="Detect the person in an image (or take the initial pose from --pose) and "
                                          "forecast the following poses from a short text; write a skeleton video "
                                          "over the image and the poses as POSE_KEYPOINT JSON.")
    run.add_argument("--image", required=True, help="image of one person (the first frame of the forecast)")
    run.add_argument("--text", required=True, help='what the person does next, e.g. "wave arms"')
    run.add_argument("--pose", default=None, metavar="FILE",
                     help="POSE_KEYPOINT JSON with the initial pose (first person of the first frame), e.g. poses.json "
                          "from detect or a pose editor's export; default: detect it in the image")
    run.add_argument("--checkpoint", default=None,
                     help="forecaster checkpoint (.safetensors; default: the bundled one_stage_minilm)")
    run.add_argument("--horizon", type=int, default=45, help="frames to forecast (default: 45)")
    run.add_argument("--fps", type=float, default=30.0, help="frame rate of the written video (default: 30)")
    run.add_argument("--out", default=None,
                     help=f"output folder (default: <image name>{FORECAST_OUT_SUFFIX} in the current folder)")
    for sub in (data, train, bench, run):
        sub.set_defaults(run=run_command)


def run_command(args) -> int:
    # The commands import torch, transformers and mediapipe (seconds): imported only once a
    # forecasting command runs, so that --help and argument errors answer at once.
    from .forecast_commands import run_command as run

    return run(args)
