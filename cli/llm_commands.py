"""The motion LLM commands of ``python -m posemotion`` (options in llm.py)."""

from __future__ import annotations

import json
import os
import sys
import time

import torch

from ..models.captioning.check import check_motion_against_text
from ..models.core.checkpoint import config_path_of
from ..models.core.errors import InputError
from ..models.core.resources import console_progress
from ..models.llm.adapter import load_motion_llm, open_motion_llm, save_adapter
from ..models.llm.base import check_dtype, load_base
from ..models.llm.data import load_items
from ..models.llm.generate import Sampling, motion_to_text, text_to_motion
from ..models.llm.model import LoraSettings, build_motion_llm, trainable_parameters
from ..models.llm.training import train_motion_llm
from ..models.media.video import write_video
from ..models.motion.io import read_motion, write_motion
from ..models.render.motion_view import render_motion
from ..models.tokenizers import BUNDLED_DIR as TOKENIZERS_DIR
from ..models.tokenizers.checkpoints import load_tokenizer


def write_motion_files(motion, out_dir: str, stem: str = "motion") -> dict[str, str]:
    """``stem``.bvh, .npz and a rendered skeleton .mp4 of ``motion`` in ``out_dir``."""
    os.makedirs(out_dir, exist_ok=True)
    paths = {suffix: os.path.join(out_dir, f"{stem}.{suffix}") for suffix in ("bvh", "npz", "mp4")}
    write_motion(motion, paths["bvh"])
    write_motion(motion, paths["npz"])
    write_video(paths["mp4"], render_motion(motion, width=384, height=384), motion.fps)
    return paths


def _sampling(args) -> Sampling:
    return Sampling(args.greedy, args.temperature, args.top_p, args.seed)


def _open(args):
    return open_motion_llm(args.adapter, args.base, args.tokenizer, check_dtype(args.dtype), merge=True)


def generate_to_files(text: str, seconds: float, out_dir: str, llm=None, args=None) -> dict:
    """Text -> motion -> files, with the rule checker's verdict; backs text-to-motion and the demo."""
    start = time.perf_counter()
    answer = text_to_motion(llm, text, seconds, sampling=_sampling(args) if args else Sampling(),
                            progress=console_progress("generating motion tokens"))
    paths = write_motion_files(answer.motion, out_dir)
    check = check_motion_against_text(answer.motion, text)
    return {"motion": answer.motion, "paths": paths, "check": check, "seconds": time.perf_counter() - start}


def _train(args) -> int:
    if args.threads:
        torch.set_num_threads(args.threads)
    tokenizer_path = args.tokenizer if os.path.isfile(args.tokenizer) else os.path.join(TOKENIZERS_DIR, args.tokenizer)
    if not os.path.isfile(tokenizer_path):
        raise InputError("tokenizer", f"no motion tokenizer file {args.tokenizer!r} (nor a bundled one of that name)")
    lora = LoraSettings(args.rank, args.alpha, targets=tuple(t.strip() for t in args.targets.split(",") if t.strip()))
    started = time.perf_counter()
    base = load_base(args.base)
    if args.init_adapter:  # its LoRA settings and rows are the starting point; --rank/--alpha/--targets unused
        llm = load_motion_llm(base, load_tokenizer(tokenizer_path), args.init_adapter)
        print(f"continuing {args.init_adapter}")
    else:
        llm = build_motion_llm(base, load_tokenizer(tokenizer_path), lora)
    trainable, total = trainable_parameters(llm)
    print(f"base {base.name}: {total / 1e6:.1f} M parameters, {trainable / 1e6:.2f} M trainable "
          f"({100 * trainable / total:.2f} %); {llm.vocabulary.num_added} motion tokens added")
    items = load_items(llm, args.data, "train", console_progress("tokenising the train split"), args.limit_items)
    if args.max_item_seconds is not None:
        items = [item for item in items if item.tokens.num_frames / item.tokens.fps <= args.max_item_seconds]
    print(f"{len(items)} training items (motion windows with their captions) from {args.data}")
    record = train_motion_llm(llm, items, args.align_steps, args.instruct_steps, args.batch_size, args.seed,
                              args.bf16, lr=args.lr, progress=lambda stage: console_progress(f"stage {stage}"),
                              log=print)
    # as the other trainers: only a real command line is recorded (not the argv of whatever called main())
    command = "python -m posemotion " + " ".join(sys.argv[1:]) if sys.argv[1:2] == ["llm-train"] else ""
    if args.init_adapter:  # what made the starting adapter, so that the pair of commands reproduces this one
        record["continued_from"] = {"file": os.path.basename(args.init_adapter),
                                    "training": _training_record(args.init_adapter)}
    record = {**record, "command": command, "data": os.path.abspath(args.data) if args.data else None,
              "total_seconds": time.perf_counter() - started}
    paths = save_adapter(llm, args.out, {"training": record}, tokenizer_file=tokenizer_path)
    print(f"wrote {paths[0]} ({os.path.getsize(paths[0]) / 1e6:.1f} MB) and {paths[1]}")
    return 0


def _training_record(adapter: str) -> dict | None:
    try:
        with open(config_path_of(adapter)) as handle:
            return json.load(handle).get("training")
    except (OSError, ValueError):
        return None


def run_command(args) -> int:
    if args.command == "llm-train":
        return _train(args)
    llm = _open(args)
    if args.command == "motion-to-text":
        motion = read_motion(args.file)
        print(motion_to_text(llm, motion, _sampling(args) if not args.greedy else Sampling(greedy=True)))
        return 0
    result = generate_to_files(args.text, args.seconds, args.out, llm, args)
    motion = result["motion"]
    print(f"generated {motion.num_frames} frames ({motion.num_frames / motion.fps:.1f} s at {motion.fps:g} fps) "
          f"in {result['seconds']:.1f} s")
    for suffix, path in result["paths"].items():
        print(f"wrote {suffix}: {path}")
    print(f"checker (rules, 3D): {result['check'].message}")
    with open(os.path.join(args.out, "motion.json"), "w") as handle:
        json.dump({"text": args.text, "seconds": args.seconds, "adapter": args.adapter, "seed": args.seed,
                   "greedy": args.greedy, "check": result["check"].message}, handle, indent=1)
    return 0
