"""``python -m posemotion describe-motion`` (options in caption.py)."""

from __future__ import annotations

import json
import os

from ..models.captioning.check import check_motion_against_text, query_lines
from ..models.captioning.describe import describe_motion, fact_lines
from ..models.core.errors import InputError
from ..models.core.pose_keypoint import validate_pose_keypoint
from ..models.motion.io import MOTION_SUFFIXES, read_motion
from ..models.motion.resample import resample


def read_source(path: str, amc: str | None = None, fps: float | None = None) -> tuple[object, float | None]:
    """(a MOTION or POSE_KEYPOINT frames, the fps find_facts needs: None for a MOTION)."""
    if not os.path.isfile(path):
        raise InputError("file", f"file not found: {path!r}")
    suffix = os.path.splitext(path)[1].lower()
    if suffix == ".json":
        try:
            with open(path, encoding="utf-8") as handle:
                frames = json.load(handle)
        except (json.JSONDecodeError, UnicodeDecodeError) as error:
            raise InputError("file", f"{path!r} is not JSON: {error}") from None
        return validate_pose_keypoint(frames, "file"), fps
    if suffix not in MOTION_SUFFIXES:
        raise InputError("file", f"expected one of {MOTION_SUFFIXES + ('.json',)}, got {path!r}")
    if suffix == ".asf" and amc is None:
        amc = os.path.splitext(path)[0] + ".amc"
    motion = read_motion(path, amc_path=amc)
    if fps is not None and abs(fps - motion.fps) > 1e-6:
        motion = resample(motion, fps)
    return motion, None


def run_command(args) -> int:
    source, fps = read_source(args.file, args.amc, args.fps)
    description = describe_motion(source, fps=fps, seed=args.seed, count=args.count)
    print(f"facts ({len(description.facts)}, found by rules):")
    print("\n".join("  " + line for line in fact_lines(description.facts)))
    print("captions (derived from the motion):")
    print("\n".join(f"  {i}. {caption}" for i, caption in enumerate(description.captions, 1)))
    print("HumanML3D text lines:")
    print("\n".join("  " + line for line in description.text_lines))
    if args.check is not None:
        result = check_motion_against_text(source, args.check, fps=fps)
        print(f"check {args.check!r}: {result.message}")
        print("\n".join("  " + line for line in query_lines(result)))
    return 0
