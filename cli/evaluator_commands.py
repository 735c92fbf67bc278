"""The text-motion evaluator commands of ``python -m posemotion motion-evaluator`` (options in evaluator.py)."""

from __future__ import annotations

import json
import os
import sys

import torch

from ..models.core.errors import InputError
from ..models.core.resources import console_progress
from ..models.core.training import is_main_process
from ..models.motion_text.corpus import SOURCES_FILE
from ..models.motion_text.evaluator import evaluate_folder, load_evaluator, save_evaluator, train_evaluator
from ..models.motion_text.official_evaluator import evaluate_folder_official, load_official_evaluator
from .evaluator import DEFAULT_CHECKPOINT

OURS_NOTE = ("NOTE: our evaluator's numbers are NOT comparable with published HumanML3D numbers (different data, "
             "captions derived from the motion, a different evaluator); compare them only with each other.")
OFFICIAL_NOTE = ("Guo et al.'s evaluator: comparable with published numbers only on the real HumanML3D test split "
                 "(papers average 20 repeated evaluations and measure generated motions; this is the ground truth).")
DERIVED_NOTE = "captions in {folder} were derived from the motion itself (sources.json beside the layout)"


def run_command(args) -> int:
    if getattr(args, "threads", 0) > 0:
        torch.set_num_threads(args.threads)
    if args.action == "train":
        return _train(args)
    return _eval(args)


def _train(args) -> int:
    if not str(args.out).endswith(".safetensors"):
        raise InputError("out", f"checkpoints are .safetensors files, got {args.out!r}")
    model, history = train_evaluator(args.data, args.steps, batch_size=args.batch_size, lr=args.lr, seed=args.seed,
                                     progress=console_progress("train text-motion evaluator"),
                                     log=lambda line: print(line, file=sys.stderr),
                                     keep=args.keep, hidden=args.hidden, embed_dim=args.embed_dim,
                                     dropout=args.dropout)
    if not is_main_process():
        return 0
    print(f"trained on {history['items']} items ({history['captions']} distinct captions) in "
          f"{history['seconds']:.1f} s on {history['device']}; final loss {history['history'][-1]['loss']:.3f}")
    metrics = _held_out(model, args.data)
    command = "python -m posemotion " + " ".join(sys.argv[1:]) if sys.argv[1:2] == ["motion-evaluator"] else ""
    record = {"seconds": round(history["seconds"], 1), "device": history["device"], "steps": args.steps,
              "batch_size": args.batch_size, "lr": args.lr, "seed": args.seed, "keep": args.keep, "data": args.data,
              "items": history["items"], "captions": history["captions"], "final_losses": history["history"][-1],
              "test_metrics": metrics, "command": command}
    paths = save_evaluator(model, args.out, record=record)
    if metrics is not None:
        print(format_metrics(metrics))
        _print_notes(args.data, official=False)
    print("wrote " + " and ".join(paths))
    return 0


def _held_out(model, folder: str) -> dict | None:
    try:
        return evaluate_folder(model, folder, split="test")
    except (InputError, FileNotFoundError) as error:  # no test split: say so, keep the checkpoint
        print(f"no held-out metrics: {error}", file=sys.stderr)
        return None


def _eval(args) -> int:
    if args.official:
        evaluator = load_official_evaluator(args.official)
        metrics = evaluate_folder_official(evaluator, args.data, split=args.split, seed=args.seed)
    else:
        metrics = evaluate_folder(load_evaluator(args.checkpoint or DEFAULT_CHECKPOINT), args.data, split=args.split,
                                  seed=args.seed)
    print(format_metrics(metrics))
    _print_notes(args.data, official=bool(args.official))
    if args.json:
        with open(args.json, "w") as handle:
            json.dump(metrics, handle, indent=1)
    return 0


def _print_notes(folder: str, official: bool) -> None:
    if os.path.isfile(os.path.join(folder, SOURCES_FILE)):
        print(DERIVED_NOTE.format(folder=folder))
    print(OFFICIAL_NOTE if official else OURS_NOTE)


def format_metrics(metrics: dict) -> str:
    """The metrics table: R-precision with chance beside it, MM-Dist, FID, Diversity."""
    fid_label = f"FID ({metrics['split']} vs {metrics['fid_reference']})" if metrics.get("fid") is not None else "FID"
    rows = [(f"R-precision top-{k}", f"{metrics[f'r_precision_top{k}']:.3f}", f"{metrics[f'chance_top{k}']:.3f}")
            for k in (1, 2, 3)]
    rows += [("MM-Dist", f"{metrics['mm_dist']:.3f}", ""),
             (fid_label, "n/a (no reference split)" if metrics.get("fid") is None else f"{metrics['fid']:.4f}", ""),
             ("Diversity", f"{metrics['diversity']:.3f}", f"({metrics['diversity_pairs']} pairs)")]
    width = max(len(r[0]) for r in rows) + 2
    head = (f"{metrics['evaluator']}: split {metrics['split']!r}, {metrics['items']} items (one caption line each, "
            f"seeded), pools of {metrics['pool']}, {metrics['shuffles']} shuffles")
    lines = [head, f"{'metric':<{width}}{'value':>10}  chance"]
    lines += [f"{name:<{width}}{value:>10}  {chance}" for name, value, chance in rows]
    return "\n".join(lines)
