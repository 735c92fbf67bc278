"""Benchmark: our OpenPose skeleton renderer vs controlnet_aux's OpenPose drawing, on real poses.

Detects poses (MediaPipe, video mode, no mask) in 200 frames of the sports2d walking clip, then
draws body and hands at 512x512 with

- ours:   ``render_skeletons(frames, 512, 512, body=True, hands=True, face=False)`` (one call), and
- theirs: controlnet_aux 0.0.10's ``draw_bodypose`` / ``draw_handpose``, one fresh canvas per frame,
          looped the way its ``draw_poses`` does.

Both sides get exactly the same points: the ones that pass our renderer's thresholds (body conf
>= 0.3; a hand only when all 21 points pass conf >= 0.7 and controlnet_aux's edge check, else no
hand). The conversion to controlnet_aux's ``Keypoint`` lists happens outside the timed region.
Prints frames per second (best, median and worst of interleaved repeats, after one untimed run
each), the ratio of medians, the mean IoU of the two drawings' non-black pixels, and how many of
those pixels lie more than 1 px from the other drawing (sub-pixel geometry vs real differences).

Run: ``python benchmarks/bench_render.py`` (see benchmarks/README.md for the install steps).
Exit codes: 0 done, 2 controlnet_aux (or one of its drawing code's imports) is missing.
"""

from __future__ import annotations

import argparse
import gc
import hashlib
import importlib
import importlib.metadata
import importlib.util
import inspect
import json
import os
import platform
import statistics
import sys
import tempfile
import time
import types
import warnings

os.environ.setdefault("GLOG_minloglevel", "2")  # MediaPipe's C++ logging, before it is imported
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import cv2  # noqa: E402
import numpy as np  # noqa: E402
from posemotion.models.core.pose_keypoint import make_frame, make_person, person_arrays  # noqa: E402
from posemotion.models.core.resources import demo_clip, quiet_native_stderr  # noqa: E402
from posemotion.models.media.video import read_video  # noqa: E402
from posemotion.models.pose.detection import DetectionSettings, detect_poses  # noqa: E402
from posemotion.models.render.openpose import render_skeletons  # noqa: E402

INSTALL_HINT = "pip install --no-deps controlnet-aux==0.0.10"
SIZE = 512
_DEFAULTS = inspect.signature(render_skeletons).parameters
BODY_THRESHOLD = float(_DEFAULTS["body_threshold"].default)  # 0.3
HAND_THRESHOLD = float(_DEFAULTS["hand_threshold"].default)  # 0.7
THEIR_EPS = 0.01  # controlnet_aux skips hand points whose integer pixel x or y is not > this


def load_controlnet_aux():
    """-> (util module, Keypoint class) of controlnet_aux.open_pose, without running its __init__s.

    ``controlnet_aux/__init__.py`` imports every detector (timm, huggingface_hub, ...) and
    ``open_pose/__init__.py`` imports huggingface_hub and PIL, so both packages are registered as
    empty modules whose ``__path__`` points at the installed folders; ``open_pose.util`` and
    ``open_pose.body`` (torch, scipy) then import on their own. Exits 2 when it is not installed.
    """
    spec = importlib.util.find_spec("controlnet_aux")  # a top-level find_spec runs no package code
    if spec is None or not spec.submodule_search_locations:
        print(f"controlnet_aux is not installed; install it with:\n    {INSTALL_HINT}", file=sys.stderr)
        raise SystemExit(2)
    root = list(spec.submodule_search_locations)[0]
    parents = (("controlnet_aux", root), ("controlnet_aux.open_pose", os.path.join(root, "open_pose")))
    for name, path in parents:
        if name not in sys.modules:
            if not os.path.isfile(os.path.join(path, "util.py" if name.endswith("open_pose") else "__init__.py")):
                print(f"controlnet_aux at {root} has no {name} folder; reinstall with:\n    {INSTALL_HINT}",
                      file=sys.stderr)
                raise SystemExit(2)
            module = types.ModuleType(name)
            module.__path__ = [path]
            module.__package__ = name
            module.__file__ = None
            sys.modules[name] = module
    sys.modules["controlnet_aux"].open_pose = sys.modules["controlnet_aux.open_pose"]
    try:
        with warnings.catch_warnings():  # body.py imports the deprecated scipy.ndimage.filters
            warnings.simplefilter("ignore", DeprecationWarning)
            util = importlib.import_module("controlnet_aux.open_pose.util")
            body = importlib.import_module("controlnet_aux.open_pose.body")
            import matplotlib.colors  # noqa: F401  draw_handpose uses matplotlib.colors.hsv_to_rgb
    except ImportError as error:
        print(f"cannot import controlnet_aux's OpenPose drawing code: {error}\n"
              f"install the benchmark extras with:  pip install -e \".[bench]\"  and  {INSTALL_HINT}",
              file=sys.stderr)
        raise SystemExit(2) from None
    return util, body.Keypoint


def detected_poses(frames: int, max_side: int, refresh: bool) -> tuple[list[dict], str]:
    """POSE_KEYPOINT of the demo clip's first ``frames`` frames, cached as JSON in the temp folder."""
    import mediapipe

    clip = demo_clip()
    stat = os.stat(clip)
    key = json.dumps([os.path.abspath(clip), stat.st_size, stat.st_mtime_ns, frames, max_side, mediapipe.__version__])
    cache = os.path.join(tempfile.gettempdir(),
                         f"posemotion_bench_poses_{hashlib.sha1(key.encode()).hexdigest()[:16]}.json")
    if os.path.isfile(cache) and not refresh:
        with open(cache) as handle:
            return json.load(handle), f"cached {cache}"
    video, fps = read_video(clip, max_frames=frames, max_side=max_side)
    start = time.perf_counter()
    with quiet_native_stderr(), warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="SymbolDatabase.GetPrototype")  # protobuf, in mediapipe
        detection = detect_poses(video, DetectionSettings(video=True, mask="none"), fps=fps)
    seconds = time.perf_counter() - start
    temporary = f"{cache}.{os.getpid()}.tmp"
    with open(temporary, "w") as handle:
        json.dump(detection.pose_keypoint, handle)
    os.replace(temporary, cache)
    return detection.pose_keypoint, f"detected in {seconds:.1f} s, cached to {cache}"


def common_poses(pose_keypoint: list[dict], Keypoint) -> tuple[list[dict], list[list[tuple]], dict]:
    """-> (filtered POSE_KEYPOINT for ours, per-frame [(body, left, right)] for theirs, counts).

    Keeps exactly the points our renderer would draw, and whole hands only (controlnet_aux's
    draw_handpose fails on a None inside a hand), so that both renderers draw the same things.
    """
    ours, theirs = [], []
    counts = {"people": 0, "body_points": 0, "hands_drawn": 0, "hands_dropped": 0}
    for frame in pose_keypoint:
        people_ours, people_theirs = [], []
        for person in frame["people"]:
            counts["people"] += 1
            parts = person_arrays(person)
            body = parts["body"]
            body_theirs = [None] * 18
            if body is not None:
                keep = body[:, 2] >= BODY_THRESHOLD
                body = np.where(keep[:, None], body, 0.0)
                body_theirs = [Keypoint(float(x), float(y), float(c)) if k else None
                               for (x, y, c), k in zip(body.tolist(), keep)]
                counts["body_points"] += int(keep.sum())
            hands_ours, hands_theirs = [], []
            for hand in (parts["left_hand"], parts["right_hand"]):
                if hand is not None:
                    pixels = (hand[:, :2] * SIZE).astype(np.int32)  # what both renderers draw at
                    if not ((hand[:, 2] >= HAND_THRESHOLD).all() and (pixels > THEIR_EPS).all()):
                        counts["hands_dropped"] += 1
                        hand = None
                counts["hands_drawn"] += hand is not None
                hands_ours.append(hand)
                hands_theirs.append(None if hand is None else
                                    [Keypoint(float(x), float(y), float(c)) for x, y, c in hand.tolist()])
            people_ours.append(make_person(body=body, left_hand=hands_ours[0], right_hand=hands_ours[1]))
            people_theirs.append((body_theirs, hands_theirs[0], hands_theirs[1]))
        ours.append(make_frame(people_ours, frame["canvas_width"], frame["canvas_height"]))
        theirs.append(people_theirs)
    return ours, theirs, counts


def render_ours(pose_keypoint: list[dict]) -> np.ndarray:
    return render_skeletons(pose_keypoint, SIZE, SIZE, body=True, hands=True, face=False)


def render_theirs(poses: list[list[tuple]], util) -> list[np.ndarray]:
    """controlnet_aux's draw_poses loop (body and hands, no face) over all frames."""
    draw_bodypose, draw_handpose = util.draw_bodypose, util.draw_handpose
    out = []
    for people in poses:
        canvas = np.zeros((SIZE, SIZE, 3), np.uint8)
        for body, left, right in people:
            canvas = draw_bodypose(canvas, body)
            canvas = draw_handpose(canvas, left)
            canvas = draw_handpose(canvas, right)
        out.append(canvas)
    return out


def timed(function, *args) -> tuple[float, object]:
    gc.collect()
    gc.disable()
    try:
        start = time.perf_counter()
        result = function(*args)
        return time.perf_counter() - start, result
    finally:
        gc.enable()


def mask_iou(ours: np.ndarray, theirs: list[np.ndarray]) -> tuple[list[float], int, int]:
    """-> (per-frame IoU of the non-black pixels for frames where either drawing has any,
    pixels in all unions, pixels of either drawing more than 1 px away from the other's)."""
    ious, union_total, far = [], 0, 0
    near = np.ones((3, 3), np.uint8)
    for a, b in zip(ours, theirs):
        a, b = a.any(axis=-1), b.any(axis=-1)
        union = np.count_nonzero(a | b)
        if union:
            ious.append(np.count_nonzero(a & b) / union)
            union_total += union
            far += np.count_nonzero(a & ~cv2.dilate(b.view(np.uint8), near).view(bool))
            far += np.count_nonzero(b & ~cv2.dilate(a.view(np.uint8), near).view(bool))
    return ious, union_total, far


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--frames", type=int, default=200, help="frames of the demo clip (default 200)")
    parser.add_argument("--repeats", type=int, default=15, help="timed runs per renderer, interleaved (default 15)")
    parser.add_argument("--redetect", action="store_true", help="ignore the cached poses and detect again")
    args = parser.parse_args(argv)
    if args.frames < 1 or args.repeats < 1:
        parser.error("--frames and --repeats must be at least 1")

    util, Keypoint = load_controlnet_aux()
    pose_keypoint, source = detected_poses(args.frames, 640, args.redetect)
    ours_input, theirs_input, counts = common_poses(pose_keypoint, Keypoint)

    print(f"python {platform.python_version()}, cv2 {cv2.__version__}, numpy {np.__version__}, "
          f"controlnet-aux {importlib.metadata.version('controlnet-aux')}, {os.cpu_count()} CPU cores")
    print(f"poses: {len(pose_keypoint)} frames of {os.path.basename(demo_clip())} ({source})")
    print(f"drawn at {SIZE}x{SIZE}: {counts['people']} people, {counts['body_points']} body points "
          f"(conf >= {BODY_THRESHOLD}), {counts['hands_drawn']} hands (all 21 points conf >= {HAND_THRESHOLD}), "
          f"{counts['hands_dropped']} partial hands left out of both")

    render_ours(ours_input)  # one untimed full run each: imports, first-call and first-allocation costs
    render_theirs(theirs_input, util)
    seconds = {"posemotion": [], "controlnet_aux": []}
    for _ in range(args.repeats):
        elapsed, ours_images = timed(render_ours, ours_input)
        seconds["posemotion"].append(elapsed)
        elapsed, theirs_images = timed(render_theirs, theirs_input, util)
        seconds["controlnet_aux"].append(elapsed)

    frames = len(ours_input)
    print(f"\n{frames} frames, {args.repeats} interleaved runs each")
    print(f"{'renderer':<16}{'best fps':>10}{'median fps':>12}{'worst fps':>11}{'median ms/frame':>17}")
    medians = {}
    for name, runs in seconds.items():
        medians[name] = frames / statistics.median(runs)
        print(f"{name:<16}{frames / min(runs):>10.0f}{medians[name]:>12.0f}{frames / max(runs):>11.0f}"
              f"{1000 / medians[name]:>17.3f}")
    print(f"ratio posemotion / controlnet_aux (median fps): {medians['posemotion'] / medians['controlnet_aux']:.2f}x")

    ious, union, far = mask_iou(ours_images, theirs_images)
    if ious:
        print(f"IoU of non-black pixels: mean {statistics.fmean(ious):.4f}, min {min(ious):.4f} "
              f"over {len(ious)} frames with pixels")
        print(f"pixels of either drawing more than 1 px from the other's: {far} of {union} "
              f"({100 * far / union:.3f} %)")
    else:
        print("IoU of non-black pixels: no frame has any pixel drawn")
    return 0


if __name__ == "__main__":
    sys.exit(main())
