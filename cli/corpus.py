"""Options of ``python -m posemotion motion-corpus`` (the motion-text corpus). Only light names are
imported here; the command lives in corpus_commands.py."""

from __future__ import annotations

import os

from ..models.core.resources import DEFAULT_MOCAP

DEFAULT_CORPUS = os.path.join("data", "motion_corpus")  # motion_text.corpus.DEFAULT_OUT


def add_commands(commands) -> None:
    corpus = commands.add_parser(
        "motion-corpus", help="build the motion-text corpus (HumanML3D layout) from the shipped motion",
        description="Build the motion-text corpus: the mocap clips and MediaPipe poses of the shipped videos, "
                    "cut into 2-10 s windows at 20 fps, mirrored, captioned from the motion itself and split by "
                    "segment, written as a HumanML3D-layout folder; prints its statistics.")
    corpus.add_argument("--out", default=DEFAULT_CORPUS, help=f"output folder (default: {DEFAULT_CORPUS})")
    corpus.add_argument("--mocap", default=DEFAULT_MOCAP,
                        help=f"folder written by scripts/fetch_mocap.sh (default: {DEFAULT_MOCAP})")
    corpus.add_argument("--no-video", action="store_true",
                        help="mocap only: skip MediaPipe on the Sports2D and Pose2Sim videos (tens of seconds)")
    corpus.add_argument("--seed", type=int, default=0, help="mixed into every caption's seed (default: 0)")
    corpus.set_defaults(run=run_command)


def run_command(args) -> int:
    # The build imports torch, MediaPipe and the captioner (seconds): only once the command runs.
    from .corpus_commands import run_command as run

    return run(args)
