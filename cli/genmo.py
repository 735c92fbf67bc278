"""Options of the GENMO commands: ``genmo`` (a text timeline, optional music and keyframes -> a motion),
``genmo-estimate`` (a video -> the person's 3D motion) and ``genmo-train`` (the demo model). Only light
names are imported here; the commands live in genmo_commands.py."""

from __future__ import annotations

import os

from ..models.genmo import DEFAULT_CORPUS, DEMO_MODEL

DEFAULT_OUT = os.path.join("assets", "genmo", "genmo_demo.safetensors")
DEFAULT_CACHE = os.path.join("data", "genmo_cache")  # MiniLM tokens of the corpus captions (git-ignored)


def _model_options(parser) -> None:
    parser.add_argument("--model", default=DEMO_MODEL,
                        help="GENMO checkpoint: ours (.safetensors) or NVIDIA's gem_smpl.ckpt (default: the bundled "
                             "demo model)")
    parser.add_argument("--text-encoder", default=None,
                        help="T5 encoder folder for GEM's weights (default: the embedded MiniLM the demo model uses)")
    parser.add_argument("--smpl", default=None,
                        help="SMPL body model file (SMPL_NEUTRAL.npz or .pkl) that GEM's 151-d output is decoded with; "
                             "needed with gem_smpl.ckpt, unused by the demo model")
    parser.add_argument("--seed", type=int, default=0, help="noise seed (default: 0)")
    parser.add_argument("--window", type=int, default=None,
                        help="attention window in frames, 0 = full (default: the model's, 120)")


def _add_sample_commands(commands) -> None:
    sample = commands.add_parser(
        "genmo", help="generate a 3D motion from a text timeline (and music, keyframes) with GENMO",
        description="Sample one motion with the GENMO diffusion model and write it as BVH, .npz, a rendered skeleton "
                    ".mp4 and a .json with the rule checker's verdict on each prompt's window.")
    sample.add_argument("--text", action="append", default=[], metavar="[START-END:]TEXT",
                        help='a prompt with its window in seconds ("0-3:walks forward") or shares of the length '
                             '("0%%-50%%:walks"), or for the whole motion ("waves"); repeat for a timeline')
    sample.add_argument("--seconds", type=float, default=6.0, help="length in seconds (default: 6)")
    sample.add_argument("--music", default=None, help="an audio file (wav, flac, ogg, opus) the motion follows")
    sample.add_argument("--keyframes", default=None, help="a motion file whose frames become keyframes")
    sample.add_argument("--keyframe-frames", default="0", help='target frame numbers for --keyframes, e.g. "0, 79"')
    sample.add_argument("--steps", type=int, default=50, help="DDIM steps (default: 50)")
    sample.add_argument("--cfg", type=float, default=2.5, help="classifier-free guidance scale (default: 2.5)")
    sample.add_argument("--out", default="genmo_out", help="output folder (default: genmo_out)")
    _model_options(sample)
    sample.set_defaults(run=run_command)

    estimate = commands.add_parser(
        "genmo-estimate", help="estimate a person's 3D motion from a video with GENMO",
        description="Detect the person's 2D pose in every frame of VIDEO, estimate their 3D motion in one GENMO pass "
                    "(estimation mode) and write it (gravity view and camera view) as BVH, .npz and .mp4 renders.")
    estimate.add_argument("video", help="a video of one person")
    estimate.add_argument("--max-frames", type=int, default=0, help="read at most this many frames (0 = all)")
    estimate.add_argument("--out", default="genmo_estimate_out", help="output folder (default: genmo_estimate_out)")
    _model_options(estimate)
    estimate.set_defaults(run=run_command)


def add_commands(commands) -> None:
    _add_sample_commands(commands)
    train = commands.add_parser(
        "genmo-train", help="train the demo GENMO model (text/2D-conditioned motion diffusion) on a corpus",
        description="Train a GENMO denoiser (GEM's design, small config) on a HumanML3D-layout folder's train split "
                    "with the dual-mode objective (estimation from projected 2D keypoints + text/2D-conditioned "
                    "generation; the corpus's 2D-only clips through the 2D reprojection loss) and save it as a "
                    ".safetensors checkpoint with its .json beside.")
    train.add_argument("--corpus", default=DEFAULT_CORPUS, help=f"HumanML3D-layout folder (default: {DEFAULT_CORPUS})")
    train.add_argument("--steps", type=int, default=2000, help="optimiser steps (default: 2000)")
    train.add_argument("--batch-size", type=int, default=16, help="crops per step (default: 16)")
    train.add_argument("--lr", type=float, default=2e-4, help="learning rate (default: 0.0002)")
    train.add_argument("--width", type=int, default=256, help="transformer width (default: 256, the small config)")
    train.add_argument("--layers", type=int, default=4, help="transformer blocks (default: 4)")
    train.add_argument("--heads", type=int, default=4, help="attention heads (default: 4)")
    train.add_argument("--init", default=None,
                       help="a GENMO checkpoint to continue training (its sizes and statistics are kept; the optimiser "
                            "starts afresh)")
    train.add_argument("--batch-2d", type=int, default=None,
                       help="2D-only crops per step for the reprojection loss (default: half of --batch-size; "
                            "0 = none)")
    train.add_argument("--reprojection-weight", type=float, default=1.0,
                       help="weight of the 2D-only reprojection loss (default: 1.0)")
    train.add_argument("--seed", type=int, default=0, help="random seed (default: 0)")
    train.add_argument("--threads", type=int, default=0, help="torch CPU threads (default: 0 = torch's default)")
    train.add_argument("--cache", default=DEFAULT_CACHE,
                       help=f"folder for the caption token cache (default: {DEFAULT_CACHE}; '' for none)")
    train.add_argument("--out", default=DEFAULT_OUT, help=f"checkpoint path, .safetensors (default: {DEFAULT_OUT})")
    train.set_defaults(run=run_command)


def run_command(args) -> int:
    # The commands import torch and the MiniLM encoder (seconds): only once one runs.
    from .genmo_commands import run

    return run(args)
