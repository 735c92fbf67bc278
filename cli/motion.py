"""Options of the motion-tokenizer commands of ``python -m posemotion``: dataset, training,
benchmark tables. Only light names are imported here; the commands live in motion_commands.py."""

from __future__ import annotations

import os

from ..models.core.resources import DEFAULT_MOCAP
from ..models.tokenizers import BENCHMARKED_KINDS, DATASET_DIR

DEFAULT_CHECKPOINTS = os.path.join("data", "motion", "checkpoints")


def add_commands(commands) -> None:
    data = commands.add_parser("motion-data", help="build the motion-tokenizer dataset (HumanML3D features) from mocap",
                               description="Build the motion-tokenizer dataset: HumanML3D features of the mocap "
                                           "clips, split into training and held-out clips.")
    data.add_argument("--out", default=DATASET_DIR, help=f"output folder (default: {DATASET_DIR})")
    data.add_argument("--mocap", default=DEFAULT_MOCAP,
                      help=f"folder written by scripts/fetch_mocap.sh (default: {DEFAULT_MOCAP})")
    data.add_argument("--mirror", action="store_true", help="add the left/right mirror of every clip")
    data.add_argument("--test-fraction", type=float, default=0.2,
                      help="fraction of the clips held out for testing (default: 0.2)")

    train = commands.add_parser("motion-train", help="train one motion tokenizer and save a checkpoint",
                                description="Train one motion tokenizer, report held-out reconstruction metrics and "
                                            "save a .safetensors checkpoint with its .json config.")
    train.add_argument("--kind", required=True, choices=BENCHMARKED_KINDS, help="which tokenizer to train")
    train.add_argument("--tau", type=float, default=None, help="PGR2M residual dropout (default: the class's)")
    train.add_argument("--data", default=DATASET_DIR,
                       help=f"dataset folder from motion-data, or a HumanML3D-layout folder such as motion-corpus "
                            f"writes (default: {DATASET_DIR})")
    train.add_argument("--steps", type=int, default=1000, help="optimiser steps (default: 1000)")
    train.add_argument("--batch-size", type=int, default=32,
                       help="global batch of windows per step, split across processes (default: 32)")
    train.add_argument("--window", type=int, default=40,
                       help="training window in frames, a multiple of 4 (default: 40)")
    train.add_argument("--lr", type=float, default=2e-4, help="learning rate (default: 0.0002)")
    train.add_argument("--joint-weight", type=float, default=1.0,
                       help="weight of the L1 loss on joints recovered from the features, metres (default: 1; 0 = off)")
    train.add_argument("--seed", type=int, default=0, help="random seed (default: 0)")
    train.add_argument("--full-size", action="store_true", help="the official-size config instead of the small one")
    train.add_argument("--threads", type=int, default=0, help="torch CPU threads (default: 0 = torch's default)")
    train.add_argument("--out", required=True, help="checkpoint path (.safetensors); a .json config is written beside")

    bench = commands.add_parser("motion-bench", help="tokenizer reconstruction, PGR2M tau trade-off, throughput",
                                description="Held-out reconstruction of the trained tokenizers, PGR2M's residual "
                                            "dropout trade-off and encode/decode throughput.")
    bench.add_argument("--data", default=DATASET_DIR, help=f"dataset folder from motion-data (default: {DATASET_DIR})")
    bench.add_argument("--checkpoints", default=DEFAULT_CHECKPOINTS,
                       help="folder of the trained tokenizers (names as scripts/reproduce_tokenizers.sh writes them; "
                            f"default: {DEFAULT_CHECKPOINTS})")
    bench.add_argument("--frames", type=int, default=196,
                       help="sequence length for the throughput table (default: 196)")
    bench.add_argument("--repeats", type=int, default=7, help="timed runs per tokenizer, median taken (default: 7)")
    bench.add_argument("--json", default=None, help="also write all figures to this file")
    bench.add_argument("--threads", type=int, default=0, help="torch CPU threads (default: 0 = torch's default)")
    for sub in (data, train, bench):
        sub.set_defaults(run=run_command)


def run_command(args) -> int:
    # The commands import torch (seconds): imported only once a motion command runs, so that
    # --help and argument errors answer at once.
    from .motion_commands import run_command as run

    return run(args)
