"""Benchmark: the Detect Pose node's overhead over calling MediaPipe directly, on real video frames.

Both sides process the same 100 frames of the sports2d walking clip (longer side 640 px) with the
same MediaPipe graphs that the node builds for mode "video" and person_mask "selfie_segmentation":

- direct: ``Holistic(static_image_mode=False, model_complexity=1, smooth_landmarks=True,
  enable_segmentation=False, refine_face_landmarks=False, min_detection_confidence=0.5,
  min_tracking_confidence=0.5)`` and ``SelfieSegmentation(model_selection=1)``, ``.process(frame)``
  on both for every uint8 RGB frame (frames prepared beforehand, not timed);
- ours: ``PoseMotionDetectPose().detect(image=<IMAGE tensor>, mode="video", ...)``, timed as a
  whole: IMAGE -> uint8 conversion, MediaPipe, and building POSE_KEYPOINT, MASK and MOTION.

Graphs are built and warmed up before timing; the runs are interleaved (3 each by default).
Prints median (and best) frames per second of both and the ratio ours / direct. A third path,
``detect_poses`` called on the uint8 frames (the node without its IMAGE conversion), shows where
the node's overhead goes; ``--no-breakdown`` skips it.

The node runs with its defaults, so with ``person_crop`` on (the person found by the pose detector,
landmarks on an upscaled crop around them) and ``hand_check`` on.

A second table times the opt-in ``people="all"`` against ``people="one"`` on the first frames of
pose2sim's multi-person demo (cam01, longer side 960 px, three people in view) and prints the cost per
extra person and frame; ``--no-people`` skips it.

Run: ``python benchmarks/bench_detect.py`` (see benchmarks/README.md).
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import time
import warnings

os.environ.setdefault("GLOG_minloglevel", "2")  # MediaPipe's C++ logging; set before it is imported
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
warnings.filterwarnings("ignore", message="SymbolDatabase.GetPrototype")  # protobuf, inside mediapipe

import cv2  # noqa: E402
import mediapipe as mp  # noqa: E402
import numpy as np  # noqa: E402
import torch  # noqa: E402
from posemotion.models.core.resources import demo_clip, package_file, quiet_native_stderr  # noqa: E402
from posemotion.models.media.images import to_image  # noqa: E402
from posemotion.models.media.video import read_video  # noqa: E402
from posemotion.models.pose.detection import DetectionSettings, detect_poses  # noqa: E402
from posemotion.nodes.pose_nodes import PoseMotionDetectPose  # noqa: E402

NODE_ARGS = dict(mode="video", hands=True, face=False, person_mask="selfie_segmentation", min_confidence=0.5,
                 smoothing=0.0, binary_confidence=False)


def direct_graphs(min_confidence: float):
    """The graphs detection.py builds for video mode with the selfie-segmentation mask."""
    holistic = mp.solutions.holistic.Holistic(
        static_image_mode=False, model_complexity=1, smooth_landmarks=True, enable_segmentation=False,
        refine_face_landmarks=False, min_detection_confidence=min_confidence,
        min_tracking_confidence=min_confidence)
    selfie = mp.solutions.selfie_segmentation.SelfieSegmentation(model_selection=1)
    return holistic, selfie


def run_direct(holistic, selfie, frames: np.ndarray) -> int:
    found = 0
    for frame in frames:
        result = holistic.process(frame)
        selfie.process(frame)
        found += result.pose_landmarks is not None
    return found


def run_ours(node: PoseMotionDetectPose, image: torch.Tensor, fps: float) -> int:
    out = node.detect(image=image, fps=fps, **NODE_ARGS)
    return sum(1 for frame in out["result"][0] if frame["people"])


def run_model(frames: np.ndarray, fps: float) -> int:
    """The node's model function on uint8 frames: the node minus IMAGE conversion and progress."""
    settings = DetectionSettings(video=True, hands=NODE_ARGS["hands"], face=NODE_ARGS["face"],
                                 mask=NODE_ARGS["person_mask"], min_confidence=NODE_ARGS["min_confidence"],
                                 smoothing=NODE_ARGS["smoothing"], binary_confidence=NODE_ARGS["binary_confidence"])
    detection = detect_poses(frames, settings, fps=fps)
    return sum(1 for frame in detection.pose_keypoint if frame["people"])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--frames", type=int, default=100, help="frames of the demo clip (default 100)")
    parser.add_argument("--repeats", type=int, default=3, help="timed runs per path, interleaved (default 3)")
    parser.add_argument("--verbose", action="store_true", help="keep MediaPipe's native log output")
    parser.add_argument("--people-frames", type=int, default=30, help="frames of the multi-person demo (default 30)")
    parser.add_argument("--no-people", action="store_true", help="skip the people='all' table")
    parser.add_argument("--no-breakdown", action="store_true",
                        help="skip the third path, detect_poses() on uint8 frames (where the node's overhead is)")
    args = parser.parse_args(argv)
    if args.frames < 1 or args.repeats < 1:
        parser.error("--frames and --repeats must be at least 1")

    frames, fps = read_video(demo_clip(), max_frames=args.frames, max_side=640)
    image = to_image(frames)  # the IMAGE tensor the node gets in ComfyUI: float32 [B,H,W,3], 0..1
    count = len(frames)
    print(f"python {platform.python_version()}, mediapipe {mp.__version__}, torch {torch.__version__}, "
          f"numpy {np.__version__}, cv2 {cv2.__version__}, {os.cpu_count()} CPU cores")
    print(f"{count} frames {frames.shape[2]}x{frames.shape[1]} of {os.path.basename(demo_clip())}, "
          f"node settings {NODE_ARGS}")

    node = PoseMotionDetectPose()
    with quiet_native_stderr(not args.verbose):
        holistic, selfie = direct_graphs(NODE_ARGS["min_confidence"])
        paths = {"posemotion node": lambda: run_ours(node, image, fps),
                 "mediapipe direct": lambda: run_direct(holistic, selfie, frames)}
        if not args.no_breakdown:
            paths["detect_poses uint8"] = lambda: run_model(frames, fps)
        seconds = {name: [] for name in paths}
        found = {}
        run_direct(holistic, selfie, frames[:2])  # warm-up: first inference allocates
        run_ours(node, image[:2], fps)  # warm-up: builds and caches the node's graphs
        for _ in range(args.repeats):
            for name, run in paths.items():
                holistic.reset()  # a fresh sequence, as the node does at the start of every call
                start = time.perf_counter()
                found[name] = run()
                seconds[name].append(time.perf_counter() - start)
        holistic.close()
        selfie.close()

    print(f"\n{args.repeats} interleaved runs each")
    print(f"{'path':<18}{'median fps':>12}{'best fps':>10}{'median s':>10}{'person found':>14}")
    medians = {}
    for name, runs in seconds.items():
        medians[name] = count / statistics.median(runs)
        print(f"{name:<18}{medians[name]:>12.2f}{count / min(runs):>10.2f}{statistics.median(runs):>10.2f}"
              f"{found[name]:>10}/{count}")
    ratio = medians["posemotion node"] / medians["mediapipe direct"]
    print(f"ratio posemotion node / mediapipe direct (median fps): {ratio:.3f} "
          f"(node overhead {100 * (1 / ratio - 1):+.1f} % time per frame)")
    if "detect_poses uint8" in medians:
        print(f"ratio detect_poses uint8 / mediapipe direct (median fps): "
              f"{medians['detect_poses uint8'] / medians['mediapipe direct']:.3f} "
              f"(the rest of the node's overhead is the IMAGE -> uint8 conversion and progress)")
    if not args.no_people:
        with quiet_native_stderr(not args.verbose):
            people_table(args.people_frames, args.repeats)
    return 0


def people_table(frame_count: int, repeats: int) -> None:
    """people="all" against people="one" on the multi-person demo, interleaved, median seconds."""
    video = package_file("Pose2Sim", "Demo_MultiPerson", "videos", "cam01.mp4")
    frames, fps = read_video(video, max_frames=frame_count, max_side=960)
    seconds = {"one": [], "all": []}
    found = {}
    for _ in range(repeats):
        for people in seconds:
            start = time.perf_counter()
            detection = detect_poses(frames, DetectionSettings(video=True, people=people, mask="none"), fps=fps)
            seconds[people].append(time.perf_counter() - start)
            found[people] = sum(len(frame["people"]) for frame in detection.pose_keypoint) / len(frames)
    print(f"\npeople mode, {len(frames)} frames {frames.shape[2]}x{frames.shape[1]} of pose2sim Demo_MultiPerson "
          f"cam01, video mode, no mask, {repeats} interleaved runs each")
    print(f"{'people':<8}{'median s':>10}{'ms/frame':>10}{'people/frame':>14}")
    per_frame = {}
    for people, runs in seconds.items():
        per_frame[people] = 1000 * statistics.median(runs) / len(frames)
        print(f"{people:<8}{statistics.median(runs):>10.2f}{per_frame[people]:>10.1f}{found[people]:>14.2f}")
    extra = found["all"] - found["one"]
    if extra > 0:
        print(f"cost per extra person: {(per_frame['all'] - per_frame['one']) / extra:.1f} ms per frame "
              f"(all / one time: {per_frame['all'] / per_frame['one']:.2f}x)")


if __name__ == "__main__":
    sys.exit(main())
