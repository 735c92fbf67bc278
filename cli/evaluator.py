"""Options of ``python -m posemotion motion-evaluator train|eval`` (the text-motion evaluator). Only light
names are imported here; the commands live in evaluator_commands.py."""

from __future__ import annotations

import argparse
import os

DEFAULT_DATA = os.path.join("data", "motion_corpus")  # cli/corpus.py's DEFAULT_CORPUS
DEFAULT_CHECKPOINT = os.path.join("data", "motion_text", "evaluator.safetensors")


def add_commands(commands) -> None:
    evaluator = commands.add_parser(
        "motion-evaluator", help="train our text-motion evaluator, or measure a folder with it or Guo et al.'s",
        description="Text-motion evaluator: contrastive text (MiniLM) and motion encoders, and the text-to-motion "
                    "metrics R-precision top-1/2/3 (pools of 32, chance beside), MM-Dist, FID and Diversity in its "
                    "embedding space. 'eval --official DIR' measures with Guo et al.'s released HumanML3D evaluator "
                    "instead (the only numbers comparable with published ones, on the real HumanML3D).")
    actions = evaluator.add_subparsers(dest="action", required=True, metavar="ACTION", title="actions",
                                      help="train or eval")
    train = actions.add_parser("train", help="train our evaluator on a HumanML3D-layout folder and save it",
                               description="Train our evaluator on the folder's train split, report its held-out "
                                           "metrics and save a .safetensors checkpoint with its .json beside.")
    train.add_argument("--data", default=DEFAULT_DATA, help=f"HumanML3D-layout folder (default: {DEFAULT_DATA})")
    train.add_argument("--steps", type=int, default=300, help="optimiser steps (default: 300)")
    train.add_argument("--batch-size", type=int, default=32, help="pairs per step (default: 32)")
    train.add_argument("--lr", type=float, default=1e-3, help="learning rate (default: 0.001)")
    train.add_argument("--hidden", type=int, default=128, help="motion/text hidden width (default: 128)")
    train.add_argument("--embed-dim", type=int, default=128, help="co-embedding size (default: 128)")
    train.add_argument("--dropout", type=float, default=0.1, help="dropout in both heads (default: 0.1)")
    train.add_argument("--keep", type=float, default=1.0,
                       help="augmentation: show random crops of at least this fraction of each motion (default: 1 = "
                            "whole motions)")
    train.add_argument("--seed", type=int, default=0, help="random seed (default: 0)")
    train.add_argument("--threads", type=int, default=0, help="torch CPU threads (default: 0 = torch's default)")
    train.add_argument("--out", default=DEFAULT_CHECKPOINT,
                       help=f"checkpoint path, .safetensors (default: {DEFAULT_CHECKPOINT})")

    evaluate = actions.add_parser("eval", help="metrics of a folder's ground-truth pairs in an evaluator's space",
                                  description="R-precision (chance beside), MM-Dist, FID (split vs the train split) "
                                              "and Diversity of the folder's ground-truth text-motion pairs.")
    evaluate.add_argument("--data", default=DEFAULT_DATA, help=f"HumanML3D-layout folder (default: {DEFAULT_DATA})")
    source = evaluate.add_mutually_exclusive_group()
    source.add_argument("--checkpoint", default=None,
                        help=f"our evaluator (.safetensors; default: {DEFAULT_CHECKPOINT})")
    source.add_argument("--official", default=None, metavar="DIR",
                        help="Guo et al.'s checkpoints folder: t2m/text_mot_match/model/finest.tar, glove/our_vab_*"
                             " and t2m/Comp_v6_KLD01/meta/mean.npy, std.npy")
    evaluate.add_argument("--split", default="test", help="split to measure (default: test)")
    evaluate.add_argument("--seed", type=int, default=0, help="caption choice and pool shuffles (default: 0)")
    evaluate.add_argument("--json", default=None, help="also write the figures to this file")
    for sub in (train, evaluate):
        sub.add_argument("--verbose", action="store_true", default=argparse.SUPPRESS,
                         help="show the log lines and warnings hidden by default")
    evaluator.set_defaults(run=run_command)


def run_command(args) -> int:
    # The commands import torch and the MiniLM encoder (seconds): only once a command runs.
    from .evaluator_commands import run_command as run

    return run(args)
