"""The pose commands of ``python -m posemotion``: ``demo`` and ``detect`` (options in pose.py)."""

from __future__ import annotations

from pathlib import Path

from ..models.captioning.phrasing import fact_label
from ..models.core.resources import demo_clip
from ..models.forecasting.inference import DEMO_FORECAST_TEXT, DEMO_FPS, forecast_demo
from ..models.forecasting.text_metrics import LONG_RATIO, check_forecast_frames
from ..models.genmo import DEMO_MODEL
from ..models.llm import DEMO_ADAPTER
from ..models.llm.adapter import open_motion_llm
from ..models.pose.pipeline import detect_video_to_files
from .genmo_commands import open_model, sample_to_files
from .llm_commands import generate_to_files
from .pose import DETECT_OUT_SUFFIX

DEMO_LLM_TEXT = "a person walks forward"
DEMO_LLM_SECONDS = 4.0
DEMO_TIMELINE = ("0-3: a person walks forward", "3-6: a person jumps up")
DEMO_TIMELINE_SECONDS = 6.0


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
        if not args.skip_llm:
            _text_to_motion_step(out)
        if not args.skip_genmo:
            _timeline_step(out)
    return 0


def _text_to_motion_step(out) -> None:
    """The demo's motion LLM step: DEMO_LLM_TEXT -> 4 s of 3D motion -> BVH, npz and a skeleton video."""
    llm = open_motion_llm(DEMO_ADAPTER, merge=True)
    result = generate_to_files(DEMO_LLM_TEXT, DEMO_LLM_SECONDS, str(Path(out) / "text_to_motion"), llm)
    motion = result["motion"]
    print(f"motion LLM ({llm.base.name} + bundled adapter): {motion.num_frames} frames for {DEMO_LLM_TEXT!r} in "
          f"{result['seconds']:.1f} s; wrote {result['paths']['mp4']} and {result['paths']['bvh']}")
    print(f"checker (rules, 3D): {result['check'].message}")


def _timeline_step(out) -> None:
    """The demo's GENMO step: a two-prompt timeline -> 6 s of 3D motion -> BVH, npz and a skeleton video."""
    model, text_encoder, _ = open_model(DEMO_MODEL)
    result = sample_to_files(model, text_encoder, list(DEMO_TIMELINE), DEMO_TIMELINE_SECONDS,
                             str(Path(out) / "timeline"))
    motion = result["motion"]
    print(f"GENMO (bundled demo model): {motion.num_frames} frames for the timeline {' / '.join(DEMO_TIMELINE)} in "
          f"{result['seconds']:.1f} s; wrote {result['paths']['mp4']} and {result['paths']['bvh']}")
    for prompt, check in result["verdicts"]:
        print(f"checker (rules, 3D) {prompt.start:g}-{prompt.end:g} s {prompt.text!r}: {check.message}")
