"""``python -m posemotion motion-corpus``: build the motion-text corpus and print its statistics."""

from __future__ import annotations

import time

from ..models.core.resources import console_progress
from ..models.motion_text.corpus import build_corpus


def run_command(args) -> int:
    start = time.perf_counter()
    stats = build_corpus(args.out, args.mocap, seed=args.seed, progress=console_progress("windows"),
                         include_video=not args.no_video, detect_progress=console_progress("detect"))
    for line in stats.lines():
        print(line)
    print(f"built in {time.perf_counter() - start:.1f} s")
    return 0
