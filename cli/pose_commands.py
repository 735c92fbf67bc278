"""The pose commands of ``python -m posemotion``: ``demo`` and ``detect`` (options in pose.py)."""

from __future__ import annotations

from pathlib import Path

from ..models.captioning.phrasing import fact_label
from ..models.core.resources import demo_clip
from ..models.forecasting.inference import DEMO_FORECAST_TEXT, DEMO_FPS, forecast_demo
from ..models.forecasting.text_metrics import LONG_RATIO, check_forecast_frames
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
        check = check_forecast_frames(result["frames"], DEMO_FORECAST_TEXT, DEMO_FPS)
        found = [fact_label(q) for q, ok in zip(check["queries"], check["satisfied"]) if ok]
        print(f"checker (rules, 2D): {len(found)} of {len(check['queries'])} facts of the text found in the forecast "
              f"({', '.join(found) or 'none'}); longest bone {check['worst_ratio']:.2f}x its frame-0 length "
              f"(limit {LONG_RATIO}x)")
    return 0
