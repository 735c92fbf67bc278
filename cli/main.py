"""Command line: ``python -m posemotion demo|detect|forecast-data|forecast-train|forecast-bench|forecast|
motion-data|motion-train|motion-bench``."""

from __future__ import annotations

import argparse
import sys

from ..models.core.errors import InputError
from ..models.core.resources import demo_clip
from ..models.forecasting.inference import DEMO_FORECAST_TEXT, forecast_demo
from ..models.pose.pipeline import detect_video_to_files
from .forecast import add_commands as add_forecast_commands
from .forecast import run_command as run_forecast_command
from .motion import add_commands as add_motion_commands
from .motion import run_command as run_motion_command


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m posemotion", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    demo = commands.add_parser("demo", help="detect poses in the bundled real walking clip and render them")
    detect = commands.add_parser("detect", help="detect poses in a video and render them")
    detect.add_argument("video", help="input video file")
    for sub in (demo, detect):
        sub.add_argument("--out", default="demo_output", help="output folder (default: demo_output)")
        sub.add_argument("--max-frames", type=int, default=0, help="0 = all frames")
        sub.add_argument("--max-side", type=int, default=640, help="downsize the longer side to this (0 = keep)")
        sub.add_argument("--face", action="store_true", help="also detect and draw face points")
    add_forecast_commands(commands)
    add_motion_commands(commands)
    args = parser.parse_args(argv)
    if args.command.startswith("forecast"):
        try:
            return run_forecast_command(args)
        except InputError as error:
            print(f"error: {error}", file=sys.stderr)
            return 2
    if args.command.startswith("motion-"):
        try:
            return run_motion_command(args)
        except (InputError, FileNotFoundError) as error:
            print(f"error: {error}", file=sys.stderr)
            return 2
    try:
        video = demo_clip() if args.command == "demo" else args.video
        summary = detect_video_to_files(video, args.out, args.max_frames, args.max_side, args.face)
        print(f"pose found in {summary['pose_found']}/{summary['frames']} frames "
              f"({100 * summary['pose_found_fraction']:.1f} %), detection {summary['detect_fps']:.1f} frames/s")
        for key, path in summary["outputs"].items():
            print(f"wrote {key}: {path}")
        if args.command == "demo":
            result = forecast_demo(args.out)
            print(f"forecast 45 frames for {DEMO_FORECAST_TEXT!r} with the bundled forecaster; "
                  f"wrote {result['video']} and {result['poses']}")
    except (InputError, FileNotFoundError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    return 0
