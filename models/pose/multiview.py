"""Calibrated multi-view geometry for measuring 2D detections without ground truth.

Data contract:

- ``Camera``: one calibrated view. ``size`` is (width, height) in pixels, ``K`` the 3x3 intrinsic
  matrix, ``dist`` OpenCV's (k1, k2, p1, p2[, k3]), ``R`` [3, 3] and ``t`` [3] map world points to
  OpenCV camera coordinates (x right, y down, z forward): ``x_cam = R @ x_world + t``. World units
  are metres.
- 2D points are pixels of the images the detector saw, as detected (with lens distortion), shaped
  ``[V, N, 2]`` (views, points) with a confidence ``[V, N]`` in 0..1; NaN points count as missing.
- ``triangulate`` gives ``[N, 3]`` world points (NaN where fewer than ``MIN_VIEWS`` views reach
  ``CONFIDENCE_FLOOR``) and how many views each used.
- ``reprojection_report`` takes a sequence ``[F, V, J, 2]`` / ``[F, V, J]`` in the 75-point holistic
  layout (MediaPipe body 33, left hand 21, right hand 21) and reports, per joint group, how far each
  detection lies from the reprojection of the joint triangulated from all views.
- ``swapped_views`` / ``disagreeing_views`` give ``[F, V]`` flags: a view with the person's left and
  right exchanged, or one that saw another person, told apart by how well it fits the other views.

``read_qualisys_calibration`` reads the Qualisys ``.qca.txt`` XML that pose2sim's demos ship. Facts
of that format (as pose2sim reads it): sensor coordinates (focal lengths, principal point, sensor
extent) are in 1/64 pixel; distortion coefficients are divided by 64 as well; ``transform`` holds
a matrix M (r11..r33, row-major) and the camera position (x, y, z) in millimetres, and the OpenCV
world->camera rotation is M turned 180 degrees about the camera's x axis (Qualisys cameras look
down their -z with y up). The demo calibration describes a portrait 1088x1920 sensor with
``viewrotation="0"``: no image rotation is needed for the portrait videos (checked: MediaPipe's
detections in the four views reproject within a median 2 % of the person box; reading M transposed
gives 30 to 45 %).
"""

from __future__ import annotations

import contextlib
import warnings
import xml.etree.ElementTree as ElementTree
from dataclasses import dataclass, field, replace

import cv2
import numpy as np

from ..core.errors import InputError
from .side_check import SIDE_SWAP

QUALISYS_SUBPIXELS = 64  # Qualisys sensor coordinates are in 1/64 pixel
MIN_VIEWS = 2
# Views whose confidence is below this are left out of a joint's triangulation: MediaPipe's body
# visibility at which the renderer draws a point (detection.BODY_PRESENT); hands are 1.0 when found.
CONFIDENCE_FLOOR = 0.3
# A triangulated joint is "inconsistent across views" when a view sees it further than this share
# of that view's person box diagonal from where the other views put it.
INCONSISTENT_SHARE = 0.05
# Joint groups of the 75-point holistic layout (mediapipe_33 indices, then the two 21-point hands).
HOLISTIC_GROUPS: dict[str, tuple[int, ...]] = {
    "head": tuple(range(0, 11)),  # nose, eyes, ears, mouth corners
    "torso": (11, 12, 23, 24),  # shoulders and hips
    "arms": tuple(range(13, 23)),  # elbows, wrists, and the body model's pinky/index/thumb points
    "legs": tuple(range(25, 33)),  # knees, ankles, heels, foot tips
    "hands": tuple(range(33, 75)),  # the hand models' 2 x 21 points
}
BODY_POINTS = 33  # the person box is drawn around these (mediapipe_33)
# A view counts as left/right swapped in a frame when swapping its sides at least halves the median
# reprojection error of the body points over all views.
SWAP_GAIN = 0.5
# A frame's views agree when the median body reprojection error is at most this share of the views'
# box diagonals (frames without a swap in the single-person demo: 1.5 to 2 %).
AGREEMENT_SHARE = 0.03


@dataclass(frozen=True, eq=False)
class Camera:
    name: str
    size: tuple[int, int]  # (width, height) pixels
    K: np.ndarray  # [3, 3]
    dist: np.ndarray  # (k1, k2, p1, p2[, k3])
    R: np.ndarray  # [3, 3] world -> camera
    t: np.ndarray  # [3] world -> camera, metres
    rvec: np.ndarray = field(init=False, repr=False)

    def __post_init__(self):
        object.__setattr__(self, "rvec", cv2.Rodrigues(np.asarray(self.R, np.float64))[0])

    def project(self, points3d) -> np.ndarray:
        """World points [N, 3] -> pixels [N, 2], lens distortion applied (NaN rows stay NaN)."""
        points = np.asarray(points3d, np.float64).reshape(-1, 3)
        out = np.full((len(points), 2), np.nan)
        finite = np.isfinite(points).all(1)
        if finite.any():
            pixels, _ = cv2.projectPoints(points[finite], self.rvec, np.asarray(self.t, np.float64),
                                          np.asarray(self.K, np.float64), np.asarray(self.dist, np.float64))
            out[finite] = pixels.reshape(-1, 2)
        return out

    def undistort_points(self, points2d, normalized: bool = False) -> np.ndarray:
        """Detected pixels [N, 2] -> where an ideal pinhole camera would see them: pixels (same K),
        or normalised camera coordinates (x/z, y/z) with ``normalized=True``. NaN rows stay NaN."""
        points = np.asarray(points2d, np.float64).reshape(-1, 2)
        out = np.full_like(points, np.nan)
        finite = np.isfinite(points).all(1)
        if finite.any():
            K = np.asarray(self.K, np.float64)
            ideal = cv2.undistortPoints(points[finite].reshape(-1, 1, 2), K, np.asarray(self.dist, np.float64),
                                        P=None if normalized else K)
            out[finite] = ideal.reshape(-1, 2)
        return out

    def scaled(self, width: int, height: int) -> Camera:
        """The same camera for its images resized to ``width`` x ``height`` (distortion unchanged:
        it acts on normalised coordinates)."""
        sx, sy = width / self.size[0], height / self.size[1]
        K = np.asarray(self.K, np.float64).copy()
        K[0] *= sx
        K[1] *= sy
        return replace(self, size=(int(width), int(height)), K=K)


def read_qualisys_calibration(path: str) -> list[Camera]:
    """Qualisys ``.qca.txt`` calibration -> one ``Camera`` per camera element, in file order."""
    try:
        root = ElementTree.parse(path).getroot()
    except (OSError, ElementTree.ParseError) as error:
        raise InputError("calibration", f"cannot read a Qualisys calibration from {path!r}: {error}") from error
    cameras = []
    for element in root.findall("cameras/camera"):
        try:
            cameras.append(_qualisys_camera(element, f"camera{len(cameras)}"))
        except (AttributeError, TypeError, ValueError) as error:  # a missing element or attribute
            raise InputError("calibration", f"{path!r}: camera {element.get('serial')!r} is incomplete: "
                                            f"{error}") from error
    if not cameras:
        raise InputError("calibration", f"{path!r} holds no cameras/camera element")
    return cameras


def _qualisys_camera(element, default_name: str) -> Camera:
    fov, intrinsic, transform = (element.find(tag) for tag in ("fov_video", "intrinsic", "transform"))
    left, top = float(fov.get("left")), float(fov.get("top"))
    size = (int(float(fov.get("right")) - left + 1), int(float(fov.get("bottom")) - top + 1))
    # sensor values are in 1/64 px; pose2sim scales the distortion coefficients by the same factor
    f_u, f_v, c_u, c_v, k1, k2, p1, p2 = (float(intrinsic.get(name)) / QUALISYS_SUBPIXELS for name in (
        "focalLengthU", "focalLengthV", "centerPointU", "centerPointV", "radialDistortion1", "radialDistortion2",
        "tangentalDistortion1", "tangentalDistortion2"))
    K = np.array([[f_u, 0.0, c_u - left], [0.0, f_v, c_v - top], [0.0, 0.0, 1.0]])
    matrix = np.array([[float(transform.get(f"r{row}{col}")) for col in (1, 2, 3)] for row in (1, 2, 3)])
    position = np.array([float(transform.get(axis)) for axis in "xyz"]) / 1000.0  # mm -> m
    R = np.diag([1.0, -1.0, -1.0]) @ matrix  # Qualisys camera frame (looks along -z, y up) -> OpenCV's
    return Camera(element.get("serial") or default_name, size, K, np.array([k1, k2, p1, p2]), R, -R @ position)


def triangulate(points2d, confidence, cameras: list[Camera]) -> tuple[np.ndarray, np.ndarray]:
    """Weighted DLT: pixels [V, N, 2] and confidence [V, N] -> world points [N, 3] and views used [N].

    Each view adds two rows of the linear system, on undistorted normalised coordinates, multiplied
    by its confidence; views below ``CONFIDENCE_FLOOR`` (or with NaN points) are left out, and
    points seen by fewer than ``MIN_VIEWS`` views come back NaN.
    """
    points2d = np.asarray(points2d, np.float64)
    confidence = np.asarray(confidence, np.float64)
    views = len(cameras)
    if points2d.ndim != 3 or points2d.shape[0] != views or points2d.shape[2] != 2:
        raise InputError("points2d", f"expected [{views} views, N, 2], got {list(points2d.shape)}")
    if confidence.shape != points2d.shape[:2]:
        raise InputError("confidence", f"expected {list(points2d.shape[:2])}, got {list(confidence.shape)}")
    count = points2d.shape[1]
    weight = np.where(np.isfinite(points2d).all(2) & (confidence >= CONFIDENCE_FLOOR), confidence, 0.0)
    rows = np.zeros((count, 2 * views, 4))
    for v, camera in enumerate(cameras):
        xy = camera.undistort_points(points2d[v], normalized=True)
        xy = np.nan_to_num(xy)
        P = np.hstack([np.asarray(camera.R, np.float64), np.asarray(camera.t, np.float64).reshape(3, 1)])
        w = weight[v][:, None]
        rows[:, 2 * v] = w * (xy[:, :1] * P[2] - P[0])
        rows[:, 2 * v + 1] = w * (xy[:, 1:] * P[2] - P[1])
    used = (weight > 0).sum(0)
    out = np.full((count, 3), np.nan)
    solvable = used >= MIN_VIEWS
    if solvable.any():
        _, _, vt = np.linalg.svd(rows[solvable])
        homogeneous = vt[:, -1]
        out[solvable] = homogeneous[:, :3] / homogeneous[:, 3:]
    return out, used


@dataclass(frozen=True)
class GroupErrors:
    """Reprojection errors of one joint group over all frames, views and joints measured."""
    samples: int  # (frame, view, joint) detections compared with their reprojection
    median_px: float
    p90_px: float
    median_pct: float  # error in % of the person box diagonal in that view
    p90_pct: float
    inconsistent: float  # share of triangulated (frame, joint) with a view off by > INCONSISTENT_SHARE
    triangulated: int  # (frame, joint) pairs seen by at least MIN_VIEWS views


def reprojection_errors(points2d, confidence, cameras: list[Camera]) -> tuple[np.ndarray, np.ndarray]:
    """Sequence [F, V, J, 2] / [F, V, J] -> (errors [F, V, J] px, box diagonals [F, V] px).

    A joint is triangulated from every view that reaches the floor, then reprojected into those
    views; the error is the pixel distance to that view's detection (NaN where not measured). The box
    is the bounding box of that view's body points (the first ``BODY_POINTS``) above the floor.
    """
    points2d = np.asarray(points2d, np.float64)
    confidence = np.asarray(confidence, np.float64)
    if points2d.ndim != 4 or points2d.shape[-1] != 2 or confidence.shape != points2d.shape[:3]:
        raise InputError("points2d", f"expected [F, V, J, 2] points and [F, V, J] confidence, got "
                                     f"{list(points2d.shape)} and {list(confidence.shape)}")
    frames, views, joints = confidence.shape
    seen = np.isfinite(points2d).all(-1) & (confidence >= CONFIDENCE_FLOOR)
    errors = np.full((frames, views, joints), np.nan)
    for f in range(frames):
        world, used = triangulate(points2d[f], confidence[f], cameras)
        for v, camera in enumerate(cameras):
            measured = seen[f, v] & (used >= MIN_VIEWS)
            if measured.any():
                errors[f, v, measured] = np.linalg.norm(camera.project(world[measured]) - points2d[f, v, measured],
                                                        axis=1)
    body = np.where(seen[..., :BODY_POINTS, None], points2d[:, :, :BODY_POINTS], np.nan)
    with _quiet_nan_warnings():
        extent = np.nanmax(body, axis=2) - np.nanmin(body, axis=2)
    diagonal = np.hypot(extent[..., 0], extent[..., 1])
    diagonal[~(diagonal > 0)] = np.nan
    return errors, diagonal


def reprojection_report(points2d, confidence, cameras: list[Camera],
                        groups: dict[str, tuple[int, ...]] = HOLISTIC_GROUPS) -> dict[str, GroupErrors]:
    """Per joint group: median and 90th percentile reprojection error (px and % of the person box)
    and the share of triangulated joints inconsistent across views (see ``reprojection_errors``)."""
    errors, diagonal = reprojection_errors(points2d, confidence, cameras)
    relative = errors / diagonal[..., None]
    report = {}
    for name, joints in groups.items():
        px, share = errors[:, :, list(joints)], relative[:, :, list(joints)]
        measured = np.isfinite(px)
        triangulated = measured.any(1)  # [F, J]: reprojected into at least one view
        with _quiet_nan_warnings():
            worst = np.nanmax(np.where(measured, share, -np.inf), axis=1)
        values, shares = px[measured], share[measured & np.isfinite(share)]
        report[name] = GroupErrors(
            samples=int(measured.sum()),
            median_px=_percentile(values, 50), p90_px=_percentile(values, 90),
            median_pct=100 * _percentile(shares, 50), p90_pct=100 * _percentile(shares, 90),
            inconsistent=float((worst[triangulated] > INCONSISTENT_SHARE).mean()) if triangulated.any() else np.nan,
            triangulated=int(triangulated.sum()))
    return report


def swapped_views(points2d, confidence, cameras: list[Camera]) -> np.ndarray:
    """[F, V] bool: views whose detection has the person's left and right exchanged (``SWAP_GAIN``),
    told by how much better that view fits the others with its sides swapped back."""
    points2d = np.asarray(points2d, np.float64)
    confidence = np.asarray(confidence, np.float64)
    body = slice(0, BODY_POINTS)
    out = np.zeros(confidence.shape[:2], bool)
    for f in range(len(points2d)):
        with _quiet_nan_warnings():
            base = np.nanmedian(reprojection_errors(points2d[f:f + 1, :, body], confidence[f:f + 1, :, body],
                                                    cameras)[0])
        for v in range(len(cameras)):
            points, weights = points2d[f:f + 1].copy(), confidence[f:f + 1].copy()
            points[0, v], weights[0, v] = points[0, v, SIDE_SWAP], weights[0, v, SIDE_SWAP]
            with _quiet_nan_warnings():
                swapped = np.nanmedian(reprojection_errors(points[:, :, body], weights[:, :, body], cameras)[0])
            out[f, v] = swapped < SWAP_GAIN * base
    return out


def disagreeing_views(points2d, confidence, cameras: list[Camera]) -> np.ndarray:
    """[F, V] bool: views that saw another person (or swapped sides). In each frame the view whose
    removal fits the rest best is left out, one at a time, until the rest agree (``AGREEMENT_SHARE``)
    or ``MIN_VIEWS`` are left; views without a body are never flagged."""
    points2d = np.asarray(points2d, np.float64)[:, :, :BODY_POINTS]
    confidence = np.asarray(confidence, np.float64)[:, :, :BODY_POINTS]
    out = np.zeros(confidence.shape[:2], bool)
    for f in range(len(points2d)):
        seen = [v for v in range(len(cameras)) if (confidence[f, v] >= CONFIDENCE_FLOOR).any()]
        kept = list(seen)
        while len(kept) > MIN_VIEWS and _disagreement(points2d[f], confidence[f], cameras, kept) > AGREEMENT_SHARE:
            kept.remove(min(kept, key=lambda v: _disagreement(points2d[f], confidence[f], cameras,
                                                              [u for u in kept if u != v])))
        out[f, [v for v in seen if v not in kept]] = True
    return out


def _disagreement(points2d: np.ndarray, confidence: np.ndarray, cameras: list[Camera], views: list[int]) -> float:
    """One frame ([V, J, 2], [V, J]): median reprojection error over ``views`` in share of the box."""
    errors, diagonal = reprojection_errors(points2d[None, views], confidence[None, views], [cameras[v] for v in views])
    with _quiet_nan_warnings():
        share = np.nanmedian(errors / diagonal[..., None])
    return float(share) if np.isfinite(share) else np.inf


def _percentile(values: np.ndarray, q: float) -> float:
    return float(np.percentile(values, q)) if values.size else float("nan")


@contextlib.contextmanager
def _quiet_nan_warnings():
    """nanmax/nanmin over all-NaN slices warn; those slices are expected (joints nobody saw)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        yield
