"""Command line: ``python -m posemotion demo|detect|forecast-data|forecast-train|forecast-bench|forecast|
motion-data|motion-train|motion-bench``."""

from __future__ import annotations

import argparse
import json
import os
import sys
import time

import numpy as np

from .detection import DetectionSettings, detect_poses
from .errors import InputError
from .forecasting.commands import add_commands as add_forecast_commands
from .forecasting.commands import run_command as run_forecast_command
from .normal_maps import render_motion_normals
from .resources import console_progress, package_file
from .tokenizers.commands import add_commands as add_motion_commands
from .tokenizers.commands import run_command as run_motion_command
from .skeleton import render_skeletons
from .video import read_video, write_video

def demo_clip() -> str:
    """The real street clip that the sports2d package ships (BSD-3), see README."""
    return package_file("Sports2D", "Demo", "demo.mp4")


def run_pipeline(video: str, out_dir: str, max_frames: int = 0, max_side: int = 640, face: bool = False) -> dict:
    """Detect poses in a video and write skeleton, hand-normal and body-normal videos plus the JSON."""
    frames, fps = read_video(video, max_frames=max_frames, max_side=max_side)
    print(f"read {len(frames)} frames {frames.shape[2]}x{frames.shape[1]} at {fps:.1f} fps from {video}")
    start = time.perf_counter()
    detection = detect_poses(frames, DetectionSettings(video=True, face=face, mask="none"), fps=fps,
                             progress=console_progress("detect"))
    seconds = time.perf_counter() - start
    found = sum(1 for frame in detection.pose_keypoint if frame["people"])
    os.makedirs(out_dir, exist_ok=True)
    outputs = {"skeleton": os.path.join(out_dir, "skeleton.mp4"),
               "hand_normals": os.path.join(out_dir, "hand_normals.mp4"),
               "body_normals": os.path.join(out_dir, "body_normals.mp4"),
               "poses": os.path.join(out_dir, "poses.json")}
    write_video(outputs["skeleton"], render_skeletons(detection.pose_keypoint, face=face), fps)
    for part, key in (("hands", "hand_normals"), ("whole", "body_normals")):
        rgb, _ = render_motion_normals(detection.landmarks, part, progress=console_progress(f"{part} normals"))
        write_video(outputs[key], (rgb * 255 + 0.5).astype(np.uint8), fps)
    with open(outputs["poses"], "w") as handle:
        json.dump(detection.pose_keypoint, handle)
    summary = {"frames": len(frames), "pose_found": found, "pose_found_fraction": found / len(frames),
               "detect_fps": len(frames) / seconds, "outputs": outputs}
    print(f"pose found in {found}/{len(frames)} frames ({100 * found / len(frames):.1f} %), "
          f"detection {summary['detect_fps']:.1f} frames/s")
    for key, path in outputs.items():
        print(f"wrote {key}: {path}")
    return summary


DEMO_FORECAST_TEXT = "step and swing arms"


def forecast_demo(out_dir: str) -> dict:
    """Forecast 45 frames from the first frame of pose2sim's recording (one person, full body) and a
    short text with the bundled checkpoint. That recording is in the training split: the demo
    shows the pipeline working, the held-out figures are in the README."""
    import cv2

    from .forecasting.commands import BUNDLED_CHECKPOINT, forecast_image

    frames, _ = read_video(package_file("Pose2Sim", "Demo_SinglePerson", "videos", "cam01.mp4"), max_frames=1)
    os.makedirs(out_dir, exist_ok=True)
    image = os.path.join(out_dir, "forecast_input.png")
    cv2.imwrite(image, cv2.cvtColor(frames[0], cv2.COLOR_RGB2BGR))
    return forecast_image(image, DEMO_FORECAST_TEXT, BUNDLED_CHECKPOINT, 45, 30.0, out_dir)


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
        run_pipeline(video, args.out, args.max_frames, args.max_side, args.face)
        if args.command == "demo":
            forecast_demo(args.out)
    except (InputError, FileNotFoundError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    return 0
