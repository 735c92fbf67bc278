"""bench_detect_people's checker on people made up in 3D and projected through pose2sim's real calibration:
it must pair the right tracks across views, count right frames, and notice a lost person and a swapped id."""

import os
import sys

import numpy as np
from posemotion.models.core.resources import package_file
from posemotion.models.pose.multiview import read_qualisys_calibration

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "benchmarks"))

from bench_detect_people import check_view, match_people  # noqa: E402

FRAMES = 12


def _scene_centre(cameras) -> np.ndarray:
    """The point nearest to every camera's optical axis (least squares): where the cameras look."""
    rows, rhs = [], []
    for camera in cameras:
        centre = -camera.R.T @ camera.t
        axis = camera.R.T @ np.array([0.0, 0.0, 1.0])
        across = np.eye(3) - np.outer(axis, axis)  # distance to the axis, squared, is |across (x - centre)|^2
        rows.append(across)
        rhs.append(across @ centre)
    return np.linalg.lstsq(np.vstack(rows), np.concatenate(rhs), rcond=None)[0]


def _views(cameras, ids_per_view):
    """Two made-up people (18 points in a 0.4 m cube each, 1 m apart, drifting), projected into every
    view; ids_per_view[v] = (id of person 0, id of person 1) in view v."""
    rng = np.random.default_rng(0)
    centre = _scene_centre(cameras)
    shapes = [rng.uniform(-0.2, 0.2, (18, 3)) for _ in range(2)]
    views = []
    for camera, ids in zip(cameras, ids_per_view):
        view = {track: np.zeros((FRAMES, 18, 3)) for track in ids}
        for i in range(FRAMES):
            for person, track in enumerate(ids):
                world = centre + shapes[person] + [person - 0.5, 0.01 * i, 0.0]
                view[track][i, :, :2] = camera.project(world)
                view[track][i, :, 2] = 1.0
        views.append(view)
    return views


def test_the_checker_pairs_tracks_and_counts_right_frames():
    cameras = read_qualisys_calibration(package_file("Pose2Sim", "Demo_MultiPerson", "calibration", "Calib.qca.txt"))
    views = _views(cameras, [(0, 1), (1, 0), (0, 1), (1, 0)])
    assert sorted(map(tuple, match_people(views[1:], cameras[1:]))) == [(0, 1, 0), (1, 0, 1)]
    result = check_view(0, views, cameras)
    assert (result["people"], result["right"], result["stable"], result["unmatched"]) == (2, FRAMES, FRAMES, 0)

    lost = [dict(view) for view in views]
    lost[0][1] = views[0][1].copy()
    lost[0][1][3:5] = 0  # view 0 misses person 1 in frames 3 and 4
    result = check_view(0, lost, cameras)
    assert (result["right"], result["wrong"]) == (FRAMES - 2, [3, 4])

    swapped = [dict(view) for view in views]
    swapped[0] = {0: views[0][0].copy(), 1: views[0][1].copy()}
    swapped[0][0][8:], swapped[0][1][8:] = views[0][1][8:], views[0][0][8:]  # ids exchanged from frame 8
    result = check_view(0, swapped, cameras)
    assert result["right"] == FRAMES and result["stable"] == 8 and result["wrong"] == list(range(8, FRAMES))
