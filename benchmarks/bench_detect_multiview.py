"""Benchmark: detection accuracy without ground truth, from pose2sim's calibrated four-camera demo.

Every variant in ``VARIANTS`` detects the same frames of the four synchronised views (portrait
1080/1088x1920 at 60 fps, read with the longer side at ``--max-side`` px, default 960; the cameras'
intrinsics are scaled to that size). Each joint of the 75-point holistic layout is triangulated
from the views that see it (``multiview.triangulate``: weighted DLT, confidence floor 0.3) and
reprojected; the table gives, per variant and joint group, the median and 90th-percentile distance
between a view's detection and that reprojection, in px at the read size and in % of the person's
box in that view (diagonal of the box around the view's body points), and the share of
triangulated joints that some view sees more than 5 % of the box away. It then prints each
variant's detection rate per view, the frames where a view has the person's left and right swapped
(``multiview.swapped_views``: swapping them back at least halves the body's reprojection error), the
frames where a view disagrees with the others (``multiview.disagreeing_views``: it saw another person
or swapped sides; a second table leaves those out) and its speed (frames per second over all views).

Variants: (1) raw MediaPipe Holistic on full frames, called directly (as benchmarks/bench_detect.py's
``direct_graphs``, without the selfie mask); (2)-(5) ``detect_poses`` in video mode with the settings
in the table. Nothing is downloaded: videos and calibration come with the ``pose2sim`` package.

Run: ``python benchmarks/bench_detect_multiview.py [--frames N] [--demo single|multi]`` (see
benchmarks/README.md).
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import time
import warnings
from dataclasses import replace

os.environ.setdefault("GLOG_minloglevel", "2")  # MediaPipe's C++ logging; set before it is imported
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
warnings.filterwarnings("ignore", message="SymbolDatabase.GetPrototype")  # protobuf, inside mediapipe

import mediapipe as mp  # noqa: E402
import numpy as np  # noqa: E402
from posemotion.models.core.resources import package_file, quiet_native_stderr  # noqa: E402
from posemotion.models.media.video import read_video  # noqa: E402
from posemotion.models.pose.detection import DetectionSettings, detect_poses  # noqa: E402
from posemotion.models.pose.multiview import (  # noqa: E402
    CONFIDENCE_FLOOR,
    INCONSISTENT_SHARE,
    Camera,
    disagreeing_views,
    read_qualisys_calibration,
    reprojection_report,
    swapped_views,
)

# name -> DetectionSettings fields for detect_poses; None = raw MediaPipe Holistic on full frames.
VARIANTS: dict[str, dict | None] = {
    "mediapipe direct": None,
    "node before (no crop)": dict(person_crop=False, hand_check=False, side_check=False),
    "crop": dict(person_crop=True, hand_check=False, side_check=False),
    "crop + hand check": dict(person_crop=True, hand_check=True, side_check=False),
    "crop+hands+sides (default)": dict(person_crop=True, hand_check=True, side_check=True),
}
# Shared by every detect_poses variant: tracking over the video, hands on, no face, no mask (the
# mask does not change the points and would only add time).
COMMON = dict(video=True, hands=True, face=False, mask="none", min_confidence=0.5)
DEMOS = {"single": "Demo_SinglePerson", "multi": "Demo_MultiPerson"}
CAMERA_FILES = ("cam01.mp4", "cam02.mp4", "cam03.mp4", "cam04.mp4")  # in the calibration's camera order
DEFAULT_FRAMES = 100  # the whole clip: about 75 s on 2 idle cores
DEFAULT_MAX_SIDE = 960


def raw_holistic(frames: np.ndarray) -> np.ndarray:
    """MediaPipe Holistic called directly on a view's frames -> [F, 75, 3] normalised x, y, confidence
    (body visibility; 1.0 for a found hand point; 0 where nothing was found)."""
    holistic = mp.solutions.holistic.Holistic(
        static_image_mode=False, model_complexity=1, smooth_landmarks=True, enable_segmentation=False,
        refine_face_landmarks=False, min_detection_confidence=COMMON["min_confidence"],
        min_tracking_confidence=COMMON["min_confidence"])
    out = np.zeros((len(frames), 75, 3), np.float32)
    for i, frame in enumerate(frames):
        result = holistic.process(frame)
        if result.pose_landmarks is None:
            continue
        out[i, :33] = [(p.x, p.y, p.visibility) for p in result.pose_landmarks.landmark]
        for offset, hand in ((33, result.left_hand_landmarks), (54, result.right_hand_landmarks)):
            if hand is not None:
                out[i, offset:offset + 21] = [(p.x, p.y, 1.0) for p in hand.landmark]
    holistic.close()
    return out


def node_landmarks(frames: np.ndarray, overrides: dict, fps: float) -> tuple[np.ndarray, int]:
    """``detect_poses`` -> ([F, 75, 3] normalised x, y, confidence, hands dropped by hand_check)."""
    detection = detect_poses(frames, DetectionSettings(**COMMON, **overrides), fps=fps)
    xy = detection.landmarks.joints[..., :2].numpy()
    confidence = detection.landmarks.params["visibility"].numpy()
    return np.concatenate([xy, confidence[..., None]], axis=-1), detection.hands_dropped


def run_variant(views: list[np.ndarray], overrides: dict | None, fps: float) -> tuple[list[np.ndarray], float, int]:
    """One variant on every view -> (per view [F, 75, 3], seconds spent detecting, hands dropped)."""
    warm = views[0][:2]  # builds and caches the graphs outside the timed region
    raw_holistic(warm) if overrides is None else node_landmarks(warm, overrides, fps)
    found, dropped, start = [], 0, time.perf_counter()
    for frames in views:
        if overrides is None:
            found.append(raw_holistic(frames))
        else:
            points, hands_dropped = node_landmarks(frames, overrides, fps)
            found.append(points)
            dropped += hands_dropped
    return found, time.perf_counter() - start, dropped


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--frames", type=int, default=DEFAULT_FRAMES,
                        help=f"first N frames of every view (default {DEFAULT_FRAMES}; the clips have 100)")
    parser.add_argument("--demo", choices=sorted(DEMOS), default="single",
                        help="pose2sim demo: single (one person) or multi (several people; one-person detection)")
    parser.add_argument("--max-side", type=int, default=DEFAULT_MAX_SIDE,
                        help=f"read frames with the longer side at this many px (default {DEFAULT_MAX_SIDE})")
    parser.add_argument("--verbose", action="store_true", help="keep MediaPipe's native log output")
    args = parser.parse_args(argv)
    if args.frames < 1 or args.max_side < 64:
        parser.error("--frames must be at least 1 and --max-side at least 64")

    demo = DEMOS[args.demo]
    cameras = read_qualisys_calibration(package_file("Pose2Sim", demo, "calibration", "Calib.qca.txt"))
    views, fps = [], 60.0
    for name in CAMERA_FILES:
        frames, fps = read_video(package_file("Pose2Sim", demo, "videos", name), max_frames=args.frames,
                                 max_side=args.max_side)
        views.append(frames)
    count = min(len(frames) for frames in views)
    views = [frames[:count] for frames in views]
    # the calibration's sensor is 1088x1920; two single-person videos are 1080 wide: taken as cropped
    # on the right (principal point kept), which fit the other views slightly better than a resize or
    # a centred crop (torso median 13.3 against 13.8 and 14.0 px at 1920 px, 30 frames)
    cameras = [_fit(camera, frames) for camera, frames in zip(cameras, views)]
    sizes = ", ".join(f"{c.name} {c.size[0]}x{c.size[1]}" for c in cameras)
    print(f"python {platform.python_version()}, mediapipe {mp.__version__}, numpy {np.__version__}, "
          f"{os.cpu_count()} CPU cores")
    print(f"pose2sim {demo}: {count} frames per view at {fps:.0f} fps, read at {sizes}")

    results = {}
    with quiet_native_stderr(not args.verbose):
        for name, overrides in VARIANTS.items():
            results[name] = run_variant(views, overrides, fps)

    sizes_px = np.array([camera.size for camera in cameras], np.float64)  # [V, 2]
    stacked = {name: np.stack(found, axis=1) for name, (found, _, _) in results.items()}  # [F, V, 75, 3]
    points = {name: found[..., :2] * sizes_px[None, :, None] for name, found in stacked.items()}
    confidence = {name: found[..., 2] for name, found in stacked.items()}
    swaps = {name: swapped_views(points[name], confidence[name], cameras) for name in results}
    odd = {name: disagreeing_views(points[name], confidence[name], cameras) for name in results}

    print(f"\nreprojection error of each view's detection against the joint triangulated from all views "
          f"(confidence >= {CONFIDENCE_FLOOR}); px at the read size; % of the person box diagonal in that "
          f"view; inconsistent = triangulated joints some view sees > {100 * INCONSISTENT_SHARE:.0f} % of the "
          f"box away")
    _print_table(points, confidence, cameras)
    print("\nthe same, leaving out in each frame the views that disagree with the others (another person, or left "
          "and right swapped; counted below)")
    _print_table(points, {name: np.where(odd[name][..., None], 0.0, confidence[name]) for name in results}, cameras)

    print(f"\ndetection rate per view (frames with a body, of {count}); in brackets the frames where the view "
          f"disagrees with the others / where it has left and right swapped; speed (all views' frames / seconds)")
    print(f"{'variant':<28}" + "".join(f"{camera.name:>16}" for camera in cameras) + f"{'fps':>8}{'hands dropped':>15}")
    for name, (found, seconds, dropped) in results.items():
        rates = "".join(f"{(view[:, :33, 2] > 0).any(1).mean():>6.0%} ({disagrees:>3}/{swapped:>3})"
                        for view, disagrees, swapped in zip(found, odd[name].sum(0), swaps[name].sum(0)))
        print(f"{name:<28}{rates}{len(cameras) * count / seconds:>8.1f}{dropped:>15}")
    return 0


def _print_table(points: dict, confidence: dict, cameras: list[Camera]) -> None:
    header = (f"{'variant':<28}{'group':<7}{'samples':>8}{'median px':>10}{'p90 px':>8}{'median %':>9}"
              f"{'p90 %':>7}{'inconsistent':>13}")
    print(header)
    print("-" * len(header))
    for name in points:
        for group, errors in reprojection_report(points[name], confidence[name], cameras).items():
            print(f"{name:<28}{group:<7}{errors.samples:>8}{errors.median_px:>10.1f}{errors.p90_px:>8.1f}"
                  f"{errors.median_pct:>9.2f}{errors.p90_pct:>7.2f}{100 * errors.inconsistent:>12.1f}%")


def _fit(camera: Camera, frames: np.ndarray) -> Camera:
    """The camera for frames that may be a right-cropped sensor image read at a smaller size."""
    height, width = frames.shape[1:3]
    full_width = round(width * camera.size[1] / height)  # the video's own width at sensor height
    return replace(camera, size=(full_width, camera.size[1])).scaled(width, height)


if __name__ == "__main__":
    sys.exit(main())
