"""The GENMO commands of ``python -m posemotion`` (options in genmo.py)."""

from __future__ import annotations

import json
import os
import sys
import time
from dataclasses import replace

import numpy as np
import soundfile
import torch

from ..models.core.errors import InputError
from ..models.core.resources import console_progress
from ..models.core.training import is_main_process
from ..models.genmo.denoiser import GenmoConfig
from ..models.genmo.model import check_decodable, load_genmo, save_genmo
from ..models.genmo.music import music_features
from ..models.genmo.pipeline import (
    KeyframeInput,
    MusicInput,
    estimate_from_video,
    sample_from_inputs,
    timeline_verdicts,
)
from ..models.genmo.smpl151 import load_smpl_body_model
from ..models.genmo.text_encoders import open_text_encoder
from ..models.genmo.training import train_genmo
from ..models.media.video import read_video, write_video
from ..models.motion.io import read_motion
from ..models.render.motion_view import render_motion
from .llm_commands import write_motion_files

DERIVED_NOTE = "captions of {corpus} were derived from the motion (sources.json): the model learns their vocabulary"


def run_train(args) -> int:
    if not str(args.out).endswith(".safetensors"):
        raise InputError("out", f"checkpoints are .safetensors files, got {args.out!r}")
    if args.threads > 0:
        torch.set_num_threads(args.threads)
    config = replace(GenmoConfig.small(), width=args.width, layers=args.layers, heads=args.heads)
    init = load_genmo(args.init) if args.init else None
    model, history = train_genmo(args.corpus, args.steps, config=config, batch_size=args.batch_size, lr=args.lr,
                                 seed=args.seed, cache_dir=args.cache or None, init=init,
                                 batch_2d_size=args.batch_2d, reprojection_weight=args.reprojection_weight,
                                 progress=console_progress("train GENMO"),
                                 log=lambda line: print(line, file=sys.stderr))
    if not is_main_process():
        return 0
    seconds = history["seconds"]
    print(f"trained on {history['items']} items ({history['captions']} captions) in {seconds:.1f} s "
          f"({seconds / args.steps:.2f} s/step) on {history['device']}; "
          f"final loss {history['history'][-1]['loss']:.3f}")
    record = {"seconds": round(seconds, 1), "device": history["device"], "steps": args.steps,
              "batch_size": args.batch_size, "lr": args.lr, "seed": args.seed, "corpus": args.corpus,
              "items": history["items"], "items_2d": history["items_2d"], "captions": history["captions"],
              "history": history["history"],
              "conditions": history["conditions"],
              "captions_note": DERIVED_NOTE.format(corpus=args.corpus),
              "command": "python -m posemotion " + " ".join(sys.argv[1:]),
              "continues": init.record if init is not None else None}
    paths = save_genmo(model, args.out, record=record)
    print(DERIVED_NOTE.format(corpus=args.corpus))
    print("wrote " + " and ".join(paths))
    return 0


# ----------------------------------------------------------------------------- genmo and genmo-estimate

def open_model(path: str, text_encoder: str | None = None, smpl: str | None = None):
    """The GENMO model at ``path``, the text encoder it was trained with and the SMPL body model a
    151-d GEM model decodes through (``smpl``: its file; None for none)."""
    model = load_genmo(path)
    body_model = load_smpl_body_model(smpl) if smpl else None
    check_decodable(model, body_model)
    return model, open_text_encoder(model.config.text_encoder, text_encoder), body_model


def read_music(path: str, fps: float) -> MusicInput:
    if not os.path.isfile(path):
        raise InputError("music", f"file not found: {path!r}")
    try:
        samples, rate = soundfile.read(path, dtype="float32", always_2d=True)
    except (RuntimeError, OSError) as error:  # soundfile's LibsndfileError is a RuntimeError
        raise InputError("music", f"{path!r} is not an audio file soundfile can read: {error}") from error
    features, _ = music_features(torch.from_numpy(np.ascontiguousarray(samples.T)), rate, fps=fps)
    return MusicInput(features, fps)


def sample_to_files(model, text_encoder, timeline: list[str], seconds: float, out_dir: str, music=None,
                    keyframes=None, steps: int = 50, cfg: float = 2.5, seed: int = 0, window=None,
                    body_model=None) -> dict:
    """Timeline (+ music, keyframes) -> motion -> files, with the checker's verdict on each prompt's window;
    backs ``genmo`` and the demo's timeline step."""
    started = time.perf_counter()
    motion, prompts = sample_from_inputs(model, timeline, seconds, music=music, keyframes=keyframes, steps=steps,
                                         cfg=cfg, seed=seed, window=window, text_encoder=text_encoder,
                                         body_model=body_model,
                                         progress=console_progress("GENMO denoising"))
    elapsed = time.perf_counter() - started
    paths = write_motion_files(motion, out_dir)
    return {"motion": motion, "prompts": prompts, "paths": paths, "verdicts": timeline_verdicts(motion, prompts),
            "seconds": elapsed}


def _sample(args) -> int:
    model, text_encoder, body_model = open_model(args.model, args.text_encoder, args.smpl)
    music = read_music(args.music, model.fps) if args.music else None
    keyframes = KeyframeInput(read_motion(args.keyframes), args.keyframe_frames) if args.keyframes else None
    result = sample_to_files(model, text_encoder, args.text, args.seconds, args.out, music, keyframes, args.steps,
                             args.cfg, args.seed, args.window, body_model)
    motion = result["motion"]
    print(f"sampled {motion.num_frames} frames ({motion.num_frames / motion.fps:.1f} s at {motion.fps:g} fps) in "
          f"{result['seconds']:.1f} s ({args.steps} steps)")
    for suffix, path in result["paths"].items():
        print(f"wrote {suffix}: {path}")
    for prompt, check in result["verdicts"]:
        print(f"checker (rules, 3D) {prompt.start:g}-{prompt.end:g} s {prompt.text!r}: {check.message}")
    with open(os.path.join(args.out, "motion.json"), "w") as handle:
        json.dump({"timeline": args.text, "seconds": args.seconds, "model": args.model, "seed": args.seed,
                   "steps": args.steps, "cfg": args.cfg, "music": args.music, "keyframes": args.keyframes,
                   "checks": [{"start": p.start, "end": p.end, "text": p.text, "check": c.message}
                              for p, c in result["verdicts"]]}, handle, indent=1)
    return 0


def _estimate(args) -> int:
    model, _, body_model = open_model(args.model, args.text_encoder, args.smpl)
    frames, fps = read_video(args.video, max_frames=args.max_frames, max_side=640)
    estimate = estimate_from_video(model, frames, fps, progress=console_progress("detecting poses"), seed=args.seed,
                                   window=args.window, body_model=body_model)
    paths = write_motion_files(estimate.motion, args.out)
    camera_paths = write_motion_files(estimate.camera_motion, args.out, stem="motion_camera")
    side = os.path.join(args.out, "motion_side.mp4")
    write_video(side, render_motion(estimate.motion, yaw_degrees=90.0, width=384, height=384), estimate.motion.fps)
    seen = sum(1 for frame in estimate.poses if frame["people"])
    print(f"person seen in {seen}/{len(frames)} frames; estimated {estimate.motion.num_frames} frames at "
          f"{estimate.motion.fps:g} fps")
    for suffix, path in {**paths, "camera-view bvh": camera_paths["bvh"], "side view": side}.items():
        print(f"wrote {suffix}: {path}")
    return 0


def run(args) -> int:
    if args.command == "genmo-train":
        return run_train(args)
    return _estimate(args) if args.command == "genmo-estimate" else _sample(args)
