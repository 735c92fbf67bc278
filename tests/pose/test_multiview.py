"""Multi-view geometry: synthetic cameras (exact answers), pose2sim's real calibration and detections."""

import numpy as np
import pytest
from posemotion.models.core.errors import InputError
from posemotion.models.core.resources import package_file
from posemotion.models.media.video import read_video
from posemotion.models.pose.detection import DetectionSettings, detect_poses
from posemotion.models.pose.multiview import (
    CONFIDENCE_FLOOR,
    HOLISTIC_GROUPS,
    SIDE_SWAP,
    Camera,
    disagreeing_views,
    read_qualisys_calibration,
    reprojection_errors,
    reprojection_report,
    swapped_views,
    triangulate,
)

SIZE = (640, 480)
# Real detections of a few frames: MediaPipe's landmarks disagree between views by about 1.8 % of
# the person box (benchmarks/README.md); a wrong calibration convention gives 30-45 %.
REAL_MEDIAN_BOUND_PCT = 3.0


def ring_cameras(count=4, radius=4.0, height=1.5, dist=(-0.1, 0.03, 0.001, -0.001)):
    """Cameras on a circle around the origin, looking at a point 1 m up, with lens distortion."""
    K = np.array([[500.0, 0, 320], [0, 500.0, 240], [0, 0, 1]])
    cameras = []
    for i in range(count):
        angle = 2 * np.pi * i / count + 0.3
        position = np.array([radius * np.cos(angle), height, radius * np.sin(angle)])
        forward = np.array([0.0, 1.0, 0.0]) - position
        forward /= np.linalg.norm(forward)
        right = np.cross(forward, [0.0, 1.0, 0.0])
        right /= np.linalg.norm(right)
        R = np.stack([right, np.cross(forward, right), forward])  # OpenCV: x right, y down, z forward
        cameras.append(Camera(f"cam{i}", SIZE, K, np.array(dist), R, -R @ position))
    return cameras


@pytest.fixture()
def scene():
    rng = np.random.default_rng(0)
    points = rng.uniform([-0.5, 0.0, -0.5], [0.5, 2.0, 0.5], (50, 3))
    cameras = ring_cameras()
    pixels = np.stack([camera.project(points) for camera in cameras])
    return points, cameras, pixels


def test_projected_points_triangulate_back_exactly(scene):
    points, cameras, pixels = scene
    assert ((pixels >= 0) & (pixels < SIZE)).all()  # the scene is in view
    found, used = triangulate(pixels, np.ones(pixels.shape[:2]), cameras)
    assert np.abs(found - points).max() < 1e-6
    assert (used == 4).all()


def test_a_low_confidence_noisy_view_barely_moves_the_result(scene):
    points, cameras, pixels = scene
    noisy = pixels.copy()
    noisy[3] += np.random.default_rng(1).normal(0, 15, noisy[3].shape)
    confident = np.ones(pixels.shape[:2])
    doubtful = confident.copy()
    doubtful[3] = CONFIDENCE_FLOOR + 0.01
    equal_shift = np.linalg.norm(triangulate(noisy, confident, cameras)[0] - points, axis=1)
    weighted_shift = np.linalg.norm(triangulate(noisy, doubtful, cameras)[0] - points, axis=1)
    assert np.median(equal_shift) > 1e-3  # 15 px of noise in one view moves an equal-weight answer
    assert np.median(weighted_shift) < 0.2 * np.median(equal_shift)
    below_floor = confident.copy()
    below_floor[3] = CONFIDENCE_FLOOR - 0.01  # left out altogether
    found, used = triangulate(noisy, below_floor, cameras)
    assert np.abs(found - points).max() < 1e-6 and (used == 3).all()


def test_fewer_than_two_views_gives_nan(scene):
    points, cameras, pixels = scene
    confidence = np.zeros(pixels.shape[:2])
    confidence[0] = 1.0
    confidence[1, :10] = 1.0
    pixels = pixels.copy()
    pixels[1, 10:20] = np.nan  # a missing point counts as not seen, whatever its confidence
    confidence[1, 10:20] = 1.0
    found, used = triangulate(pixels, confidence, cameras)
    assert np.isfinite(found[:10]).all() and np.isnan(found[10:]).all()
    assert list(used[:10]) == [2] * 10 and set(used[10:]) == {1}


def test_undistort_removes_the_lens_and_scaling_follows_the_image(scene):
    points, cameras, pixels = scene
    camera = cameras[0]
    pinhole = Camera("pinhole", camera.size, camera.K, np.zeros(4), camera.R, camera.t)
    assert np.abs(camera.undistort_points(pixels[0]) - pinhole.project(points)).max() < 1e-3
    assert np.abs(pixels[0] - pinhole.project(points)).max() > 1.0  # the lens does move points
    half = camera.scaled(320, 240)
    assert half.size == (320, 240)
    assert np.abs(half.project(points) - pixels[0] / 2).max() < 1e-9
    assert np.isnan(camera.project(np.full((1, 3), np.nan))).all()


def test_report_is_zero_when_views_agree_and_flags_a_view_that_does_not(scene):
    _, cameras, _ = scene
    rng = np.random.default_rng(2)
    body = rng.uniform([-0.3, 0.0, -0.2], [0.3, 1.8, 0.2], (3, 75, 3))  # 3 frames of 75 points
    pixels = np.stack([np.stack([camera.project(frame) for camera in cameras]) for frame in body])
    confidence = np.ones(pixels.shape[:3])
    report = reprojection_report(pixels, confidence, cameras)
    assert set(report) == set(HOLISTIC_GROUPS)
    assert all(group.median_px < 1e-6 and group.inconsistent == 0 for group in report.values())
    assert report["hands"].samples == 3 * 4 * 42 and report["hands"].triangulated == 3 * 42
    _, diagonal = reprojection_errors(pixels, confidence, cameras)
    moved = pixels.copy()
    moved[:, 0, 33:75, 0] += 0.3 * diagonal[:, 0, None]  # one view's hands far off, in every frame
    report = reprojection_report(moved, confidence, cameras)
    assert report["hands"].inconsistent == 1.0 and report["hands"].median_pct > 1.0
    assert report["head"].inconsistent == 0 and report["head"].median_px < 1e-6


def test_a_view_with_left_and_right_exchanged_is_found(scene):
    _, cameras, _ = scene
    body = np.random.default_rng(3).uniform([-0.3, 0.0, -0.2], [0.3, 1.8, 0.2], (2, 75, 3))
    pixels = np.stack([np.stack([camera.project(frame) for camera in cameras]) for frame in body])
    confidence = np.ones(pixels.shape[:3])
    pixels[1, 2] = pixels[1, 2, SIDE_SWAP]  # frame 1: view 2 calls the left side right
    expected = np.zeros((2, 4), bool)
    expected[1, 2] = True
    assert (swapped_views(pixels, confidence, cameras) == expected).all()


def test_a_view_that_saw_someone_else_is_left_out(scene):
    _, cameras, _ = scene
    rng = np.random.default_rng(4)
    person, other = (rng.uniform([-0.3, 0.0, -0.2], [0.3, 1.8, 0.2], (2, 75, 3)) for _ in range(2))
    pixels = np.stack([np.stack([camera.project(frame) for camera in cameras]) for frame in person])
    confidence = np.ones(pixels.shape[:3])
    assert not disagreeing_views(pixels, confidence, cameras).any()
    pixels[0, 1] = cameras[1].project(other[0] + [0.8, 0.0, 0.3])  # frame 0: view 1 follows someone else
    confidence[1, 3] = 0.0  # frame 1: view 3 found nobody (not a disagreement)
    expected = np.zeros((2, 4), bool)
    expected[0, 1] = True
    assert (disagreeing_views(pixels, confidence, cameras) == expected).all()


def test_pose2sim_calibration_parses():
    cameras = read_qualisys_calibration(package_file("Pose2Sim", "Demo_SinglePerson", "calibration", "Calib.qca.txt"))
    assert [camera.name for camera in cameras] == ["cam01", "cam02", "cam03", "cam04"]
    assert all(camera.size == (1088, 1920) for camera in cameras)  # a portrait sensor
    assert cameras[0].K[0, 0] == pytest.approx(107599.671875 / 64)  # focalLengthU in 1/64 px
    assert cameras[0].K[0, 2] == pytest.approx(34110.316406 / 64)
    position = -cameras[0].R.T @ cameras[0].t  # the camera centre, from millimetres to metres
    assert position == pytest.approx([1.4602, -1.9092, 1.8965], abs=1e-4)
    for camera in cameras:
        assert np.allclose(camera.R @ camera.R.T, np.eye(3), atol=1e-6) and np.linalg.det(camera.R) > 0


def test_bad_input_names_it(tmp_path, scene):
    _, cameras, pixels = scene
    with pytest.raises(InputError, match="points2d"):
        triangulate(pixels[:3], np.ones((3, 50)), cameras)
    with pytest.raises(InputError, match="confidence"):
        triangulate(pixels, np.ones((4, 49)), cameras)
    broken = tmp_path / "Calib.qca.txt"
    broken.write_text("<calibration><cameras></cameras></calibration>")
    with pytest.raises(InputError, match="calibration"):
        read_qualisys_calibration(str(broken))
    with pytest.raises(InputError, match="calibration"):
        read_qualisys_calibration(str(tmp_path / "missing.qca.txt"))
    broken.write_text('<calibration><cameras><camera serial="cam01"><fov_video left="0"/></camera></cameras>'
                      '</calibration>')
    with pytest.raises(InputError, match="cam01"):
        read_qualisys_calibration(str(broken))


def test_real_detections_agree_across_the_calibrated_views():
    demo = ("Pose2Sim", "Demo_SinglePerson")
    cameras = read_qualisys_calibration(package_file(*demo, "calibration", "Calib.qca.txt"))
    points, confidence = [], []
    for index, camera in enumerate(cameras):
        frames, fps = read_video(package_file(*demo, "videos", f"cam0{index + 1}.mp4"), max_frames=4, max_side=640)
        landmarks = detect_poses(frames, DetectionSettings(video=True, mask="none"), fps=fps).landmarks
        height, width = frames.shape[1:3]
        # two of the videos are 1080 wide: the 1088-wide sensor image cropped on the right
        cameras[index] = Camera(camera.name, (round(width * 1920 / height), 1920), camera.K, camera.dist, camera.R,
                                camera.t).scaled(width, height)
        points.append(landmarks.joints[..., :2].numpy() * [width, height])
        confidence.append(landmarks.params["visibility"].numpy())
    report = reprojection_report(np.stack(points, 1), np.stack(confidence, 1), cameras)
    for group in ("head", "torso", "legs"):
        assert report[group].triangulated > 0
        assert report[group].median_pct < REAL_MEDIAN_BOUND_PCT, (group, report[group])
