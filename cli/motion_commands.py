"""The motion-tokenizer commands of ``python -m posemotion`` (options in motion.py)."""

from __future__ import annotations

import json
import os
import sys

import torch

from ..models.core.resources import console_progress
from ..models.core.training import is_main_process
from ..models.tokenizers import benchmark
from ..models.tokenizers.checkpoints import save_tokenizer
from ..models.tokenizers.dataset import build_motion_dataset, load_motion_dataset
from ..models.tokenizers.training import evaluate_tokenizer, make_tokenizer, train_tokenizer


def run_command(args) -> int:
    if getattr(args, "threads", 0) > 0:
        torch.set_num_threads(args.threads)
    if args.command == "motion-data":
        summary = build_motion_dataset(args.out, args.mocap, mirror=args.mirror, test_fraction=args.test_fraction)
        brief = {k: v for k, v in summary.items() if k != "clips"}
        brief["test_clip_ids"] = [c["id"] for c in summary["clips"] if c["test"]]
        print(json.dumps(brief, indent=1))
        print(f"wrote {os.path.join(args.out, 'motion.safetensors')} and motion.json")
        return 0
    if args.command == "motion-train":
        return _train(args)
    if args.command == "motion-bench":
        return _bench(args.data, args.checkpoints, args.frames, args.repeats, args.json)
    raise ValueError(args.command)


def _train(args) -> int:
    train, test, summary = load_motion_dataset(args.data)
    overrides = {} if args.tau is None else {"residual_dropout": args.tau}
    model = make_tokenizer(args.kind, small=not args.full_size, **overrides)
    main = is_main_process()  # under `accelerate launch`, only the main process prints and writes
    if main:
        print(f"{args.kind}: {sum(p.numel() for p in model.parameters()) / 1e6:.2f} M parameters, {len(train)} "
              f"train / {len(test)} test clips ({summary['train_frames']} / {summary['test_frames']} frames)")
    history = train_tokenizer(model, train, args.steps, batch_size=args.batch_size, window=args.window, lr=args.lr,
                              joint_weight=args.joint_weight, seed=args.seed,
                              progress=console_progress(f"train {args.kind}"), log=lambda m: print(m, file=sys.stderr))
    if not main:
        return 0
    metrics = evaluate_tokenizer(model, test)
    command = "python -m posemotion " + " ".join(sys.argv[1:]) if sys.argv[1:2] == ["motion-train"] else ""
    record = {**{k: v for k, v in history.items() if k != "history"}, "seconds": round(history["seconds"], 1),
              "final_losses": history["history"][-1], "command": command,
              "data": {"path": args.data, "train_clips": len(train), "test_clips": len(test),
                       "train_frames": summary["train_frames"], "test_frames": summary["test_frames"],
                       "mirror": summary["mirror"], "fps": summary["fps"]},
              "test_metrics": metrics}
    paths = save_tokenizer(model, args.out, extra={"training": record})
    print(f"trained {args.kind} in {history['seconds']:.1f} s; held-out "
          + ", ".join(f"{k} {v:.3f}" for k, v in metrics.items()))
    print("wrote " + " and ".join(paths))
    return 0


def _bench(data_dir: str, checkpoints: str, frames: int = 196, repeats: int = 7, json_path: str | None = None) -> int:
    figures = benchmark.run_benchmark(data_dir, checkpoints, frames, repeats)
    print("\n(a) held-out reconstruction, small trained configs (errors in mm; accel in mm/frame^2; "
          "usage/perplexity averaged over token streams)")
    print(format_reconstruction(figures["reconstruction"]))
    print("\n(b) PGR2M residual dropout tau: decoding with residuals vs from pose codes alone (MPJPE / PA-MPJPE mm)")
    print(format_trade_off(figures["pgr2m_tau"]))
    print(f"\n(c) encode+decode of one {frames}-frame sequence (batch 1, median of {repeats} interleaved runs, "
          f"inference mode, {torch.get_num_threads()} threads; medians of encode, decode and total taken separately)")
    print(format_throughput(figures["throughput"]))
    if json_path:
        with open(json_path, "w") as handle:
            json.dump(figures, handle, indent=1)
    return 0


def format_reconstruction(results: dict) -> str:
    lines = [f"{'tokenizer':<10}{'MPJPE':>8}{'PA-MPJPE':>10}{'accel':>8}{'usage':>8}{'perplex.':>10}{'round-trip':>12}"]
    for kind, m in results.items():
        lines.append(f"{kind:<10}{m['mpjpe_mm']:>8.1f}{m['pa_mpjpe_mm']:>10.1f}{m['accel_mm']:>8.2f}"
                     f"{m['usage']:>8.3f}{m['perplexity']:>10.1f}{m['token_agreement']:>12.3f}")
    return "\n".join(lines)


def format_trade_off(results: dict) -> str:
    lines = [f"{'tau':<6}{'residuals MPJPE':>17}{'PA':>7}{'pose codes MPJPE':>18}{'PA':>7}"]
    for tau, r in results.items():
        a, b = r["with_residuals"], r["pose_codes_only"]
        lines.append(f"{tau:<6}{a['mpjpe_mm']:>17.1f}{a['pa_mpjpe_mm']:>7.1f}{b['mpjpe_mm']:>18.1f}{b['pa_mpjpe_mm']:>7.1f}")
    return "\n".join(lines)


def format_throughput(results: dict) -> str:
    lines = [f"{'tokenizer':<18}{'params M':>9}{'encode ms':>11}{'decode ms':>11}{'total ms':>10}{'frames/s':>10}"
             f"{'x real time (20 fps)':>22}"]
    for name, r in results.items():
        lines.append(f"{name:<18}{r['parameters_m']:>9.2f}{1000 * r['encode_seconds']:>11.1f}"
                     f"{1000 * r['decode_seconds']:>11.1f}{1000 * r['seconds']:>10.1f}{r['frames_per_second']:>10.0f}"
                     f"{r['realtime_multiple']:>22.0f}")
    return "\n".join(lines)
