"""Options of the pose commands of ``python -m posemotion``: ``demo`` and ``detect``."""

from __future__ import annotations

DEMO_OUT = "demo_output"
DETECT_OUT_SUFFIX = "_poses"  # detect VIDEO writes to <video stem>_poses unless --out is given


def add_commands(commands) -> None:
    demo = commands.add_parser(
        "demo", help="detect poses in a bundled street clip, forecast poses from a bundled image, generate "
                     "motions from text",
        description="Detect poses in the street clip that the sports2d package ships and write skeleton and "
                    "normal-map videos, then forecast 45 frames from the first frame of pose2sim's recording "
                    "with the bundled forecaster, then generate a 4-second 3D motion for 'a person walks forward' "
                    "with the motion LLM (embedded SmolLM2 + bundled adapter) as BVH and a skeleton video, then a "
                    "6-second motion for a two-prompt timeline with the bundled GENMO model.")
    demo.add_argument("--out", default=DEMO_OUT, help=f"output folder (default: {DEMO_OUT})")
    demo.add_argument("--skip-llm", action="store_true", help="leave out the text-to-motion step (about a minute)")
    demo.add_argument("--skip-genmo", action="store_true", help="leave out the GENMO timeline step (about 20 s)")
    detect = commands.add_parser(
        "detect", help="detect poses in a video and render them",
        description="Detect body and hand poses in a video; write skeleton, hand-normal and body-normal videos "
                    "and the poses as POSE_KEYPOINT JSON.")
    detect.add_argument("video", help="input video file")
    detect.add_argument("--out", default=None,
                        help=f"output folder (default: <video name>{DETECT_OUT_SUFFIX} in the current folder)")
    for sub in (demo, detect):
        sub.add_argument("--max-frames", type=int, default=0, help="read at most this many frames (default: 0 = all)")
        sub.add_argument("--max-side", type=int, default=640,
                         help="downsize so the longer side is at most this many pixels (default: 640; 0 = keep)")
        sub.add_argument("--face", action="store_true", help="also detect and draw face points")
        sub.set_defaults(run=run_command)


def run_command(args) -> int:
    # The implementation imports torch and mediapipe (seconds): imported only once a pose command
    # runs, so that --help and argument errors answer at once.
    from .pose_commands import run_command as run

    return run(args)
