"""Benchmark: several people per frame, checked against calibrated multi-view geometry.

``detect_poses`` with ``people="all"`` (video mode) runs on each of the four synchronised views of
pose2sim's multi-person demo. Each view in turn is held out: the people of the other three views are
matched to one another by triangulation (every combination of one track per view, a view may lack the
person; weighted DLT on the OpenPose-18 body points; combinations whose median reprojection error stays
under ``MATCH_PX`` are kept, those seen by more views first, then the best fit first, each track used
once), and each matched person is triangulated frame by frame and
reprojected into the held-out view. There a frame counts as right when every person whose reprojection
lies in the picture is found exactly once (a track whose body points lie within ``FOUND_SHARE`` of that
person's box diagonal, median); and as right with stable ids when, in addition, each of those tracks
is the person it matched most often over the clip. Tracks that match no one are counted apart
(``unmatched``: frames with one): a false person, or someone too few other views see to be
triangulated (pose2sim's background woman is seen by cam01 and cam02 only). No ground truth is used,
only the cameras' calibration; nothing is downloaded (videos and calibration come with ``pose2sim``).

Run: ``python benchmarks/bench_detect_people.py [--frames N]`` (see benchmarks/README.md).
"""

from __future__ import annotations

import argparse
import itertools
import os
import sys
import time
import warnings
from collections import Counter

os.environ.setdefault("GLOG_minloglevel", "2")  # MediaPipe's C++ logging; set before it is imported
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
warnings.filterwarnings("ignore", message="SymbolDatabase.GetPrototype")  # protobuf, inside mediapipe

import numpy as np  # noqa: E402
from posemotion.models.core.pose_keypoint import person_arrays  # noqa: E402
from posemotion.models.core.resources import package_file, quiet_native_stderr  # noqa: E402
from posemotion.models.media.video import read_video  # noqa: E402
from posemotion.models.pose.detection import DetectionSettings, detect_poses  # noqa: E402
from posemotion.models.pose.multiview import (  # noqa: E402
    Camera,
    read_qualisys_calibration,
    reprojection_errors,
    triangulate,
)

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from bench_detect_multiview import _fit as fit_camera  # noqa: E402

DEMO = "Demo_MultiPerson"
CAMERA_FILES = ("cam01.mp4", "cam02.mp4", "cam03.mp4", "cam04.mp4")  # in the calibration's camera order
MAX_SIDE = 960
MATCH_PX = 15.0  # tracks of different views are one person if they triangulate this well (median px)
FOUND_SHARE = 0.15  # a track is a person if its points lie this close (share of the person's box diagonal)
IN_PICTURE = 0.5  # a person counts as visible in a view when this share of their reprojection is inside


def tracks_of(frames: np.ndarray, fps: float) -> dict[int, np.ndarray]:
    """people="all" on one view -> {track id: [F, 18, 3] body x, y in px and confidence (0 where absent)}."""
    height, width = frames.shape[1:3]
    detection = detect_poses(frames, DetectionSettings(video=True, people="all", hands=False, mask="none"), fps=fps)
    out: dict[int, np.ndarray] = {}
    for i, frame in enumerate(detection.pose_keypoint):
        for person in frame["people"]:
            body = person_arrays(person)["body"]
            out.setdefault(person["track_id"], np.zeros((len(frames), 18, 3)))[i] = body * [width, height, 1]
    return out


def match_people(views: list[dict[int, np.ndarray]], cameras: list[Camera]) -> list[list[int | None]]:
    """One track id (or None) per view for each person, from how well the tracks triangulate together."""
    scored = []
    for combo in itertools.product(*[[None, *view] for view in views]):
        used = [v for v, track in enumerate(combo) if track is not None]
        if len(used) < 2:
            continue
        error = _median_reprojection([views[v][combo[v]] for v in used], [cameras[v] for v in used])
        if error < MATCH_PX:
            scored.append((-len(used), error, combo))  # more views first, then the better fit
    people, taken = [], set()
    for _, _, combo in sorted(scored, key=lambda s: (s[0], s[1])):
        if all(track is None or (v, track) not in taken for v, track in enumerate(combo)):
            people.append(list(combo))
            taken.update((v, track) for v, track in enumerate(combo) if track is not None)
    return people


def _median_reprojection(tracks: list[np.ndarray], cameras: list[Camera]) -> float:
    """Median over the frames where every view has the person of that frame's median reprojection error (px)."""
    stacked = np.stack(tracks, axis=1)  # [F, V, 18, 3]
    everywhere = (stacked[..., 2].sum(-1) > 0).all(1)
    if not everywhere.any():
        return np.inf
    errors, _ = reprojection_errors(stacked[everywhere, ..., :2], stacked[everywhere, ..., 2], cameras)
    errors = errors.reshape(len(errors), -1)
    measured = np.isfinite(errors).any(1)
    return float(np.median(np.nanmedian(errors[measured], axis=1))) if measured.any() else np.inf


def check_view(held_out: int, views: list[dict[int, np.ndarray]], cameras: list[Camera]) -> dict:
    """The held-out view's tracks, frame by frame, against the people the other views triangulate."""
    others = [v for v in range(len(views)) if v != held_out]
    people = match_people([views[v] for v in others], [cameras[v] for v in others])
    camera, frames = cameras[held_out], len(next(iter(views[others[0]].values())))
    rows = []
    for i in range(frames):
        projected = [_reproject(i, [(views[v], t, cameras[v]) for v, t in zip(others, person) if t is not None],
                                camera) for person in people]
        visible = {n for n, p in enumerate(projected) if p is not None and _in_picture(p, camera) >= IN_PICTURE}
        found = {track: _nearest(points[i], projected) for track, points in views[held_out].items()
                 if (points[i, :, 2] > 0).any()}
        rows.append((visible, found))
    identity = {track: Counter(f[track][0] for _, f in rows if track in f).most_common(1)[0][0]
                for track in views[held_out]}
    right = [_everyone_once(visible, found) for visible, found in rows]
    stable = [ok and all(n == identity[track] for track, (n, share) in found.items() if share < FOUND_SHARE)
              for ok, (_, found) in zip(right, rows)]
    return dict(people=len(people), visible=Counter(len(v) for v, _ in rows), right=sum(right), stable=sum(stable),
                unmatched=sum(any(share >= FOUND_SHARE for _, share in found.values()) for _, found in rows),
                wrong=[i for i, ok in enumerate(stable) if not ok])


def _reproject(frame: int, seen_by: list[tuple[dict, int, Camera]], camera: Camera) -> np.ndarray | None:
    """A person triangulated in one frame from the views that have them, projected into ``camera``."""
    seen_by = [(view[track][frame], cam) for view, track, cam in seen_by if view[track][frame, :, 2].sum() > 0]
    if len(seen_by) < 2:
        return None
    world, _ = triangulate(np.stack([points[:, :2] for points, _ in seen_by]),
                           np.stack([points[:, 2] for points, _ in seen_by]), [cam for _, cam in seen_by])
    return camera.project(world)


def _in_picture(pixels: np.ndarray, camera: Camera) -> float:
    width, height = camera.size
    x, y = pixels[:, 0], pixels[:, 1]
    return float(((x > 0) & (x < width) & (y > 0) & (y < height)).mean())  # NaN compares False: outside


def _nearest(points: np.ndarray, projected: list[np.ndarray | None]) -> tuple[int | None, float]:
    """(person, median distance of the track's points to theirs / their box diagonal) for the closest person."""
    best: tuple[int | None, float] = (None, np.inf)
    for n, pixels in enumerate(projected):
        usable = (points[:, 2] > 0) & np.isfinite(pixels).all(1) if pixels is not None else None
        if usable is None or usable.sum() < 3:
            continue
        diagonal = np.linalg.norm(np.nanmax(pixels, 0) - np.nanmin(pixels, 0))
        share = float(np.median(np.linalg.norm(points[usable, :2] - pixels[usable], axis=1)) / diagonal)
        best = min(best, (n, share), key=lambda b: b[1])
    return best


def _everyone_once(visible: set[int], found: dict[int, tuple[int | None, float]]) -> bool:
    """Every visible person found by exactly one track (tracks matching no one are counted apart)."""
    return sorted(n for n, share in found.values() if share < FOUND_SHARE) == sorted(visible)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--frames", type=int, default=100, help="frames per view (default: all 100)")
    args = parser.parse_args(argv)
    if args.frames < 10:
        parser.error("--frames must be at least 10")
    cameras = read_qualisys_calibration(package_file("Pose2Sim", DEMO, "calibration", "Calib.qca.txt"))
    views, start = [], time.perf_counter()
    with quiet_native_stderr(True):
        for camera_index, name in enumerate(CAMERA_FILES):
            frames, fps = read_video(package_file("Pose2Sim", DEMO, "videos", name), max_frames=args.frames,
                                     max_side=MAX_SIDE)
            cameras[camera_index] = fit_camera(cameras[camera_index], frames)  # the calibration is at 1088x1920
            views.append(tracks_of(frames, fps))
    seconds = time.perf_counter() - start
    print(f"pose2sim {DEMO}, {args.frames} frames per view at {MAX_SIDE} px, people=all, video mode "
          f"({seconds:.0f} s detecting)")
    print(f"{'held-out view':<14}{'people':>7}{'visible per frame':>20}{'right':>8}{'stable ids':>12}"
          f"{'unmatched':>11}  frames not right (with stable ids)")
    for held_out, camera in enumerate(cameras):
        result = check_view(held_out, views, cameras)
        visible = ", ".join(f"{n}: {count}" for n, count in sorted(result["visible"].items()))
        wrong = ", ".join(map(str, result["wrong"])) or "-"
        print(f"{camera.name:<14}{result['people']:>7}{visible:>20}{result['right']:>8}{result['stable']:>12}"
              f"{result['unmatched']:>11}  {wrong}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
