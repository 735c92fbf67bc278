"""The pose commands of ``python -m posemotion``: ``demo`` and ``detect`` (options in pose.py)."""

from __future__ import annotations

from pathlib import Path

from ..models.core.resources import demo_clip
from ..models.forecasting.inference import DEMO_FORECAST_TEXT, forecast_demo
from ..models.pose.pipeline import detect_video_to_files
from .pose import DETECT_OUT_SUFFIX


def run_command(args) -> int:
    if args.command == "demo":
        video, out = demo_clip(), args.out
    else:
        video, out = args.video, args.out or Path(args.video).stem + DETECT_OUT_SUFFIX
    summary = detect_video_to_files(video, out, args.max_frames, args.max_side, args.face)
    print(f"pose found in {summary['pose_found']}/{summary['frames']} frames "
          f"({100 * summary['pose_found_fraction']:.1f} %), detection {summary['detect_fps']:.1f} frames/s")
    for key, path in summary["outputs"].items():
        print(f"wrote {key}: {path}")
    if args.command == "demo":
        result = forecast_demo(out)
        print(f"forecast 45 frames for {DEMO_FORECAST_TEXT!r} with the bundled forecaster; "
              f"wrote {result['video']} and {result['poses']}")
    return 0
