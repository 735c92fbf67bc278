"""2D poses -> the denoiser's keypoint condition (COCO-17 normalised to the person box).

Data contract (one person, T frames; torch float32 unless stated):

- ``keypoints`` [T, 17, 3]: COCO-17 joints (``core.layouts.COCO_17`` order); x, y relative to the
  person box, ``2 * (pixel - box centre) / box side`` so the box spans -1..1 (y down); confidence
  0..1. Joints outside the box or with confidence 0 are 0, 0, 0.
- ``bbox`` [T, 3]: box centre x, y and side, as fractions of the image's longer side.
- ``present`` [T] bool: the person was seen (at least ``MIN_BOX_JOINTS`` joints of confidence >=
  ``KEYPOINT_MIN_CONFIDENCE``); absent frames are all zeros.

The box follows GEM's crop (facts from its ``get_bbx_xys``): the confident joints' extent fitted to a
192 x 256 (width x height) crop, ``side = max(height, width / BOX_ASPECT) * BOX_ENLARGE``, square.

Training keypoints come from 3D clips through the same path as detections:
``render.motion_view.project_motion`` (POSE_KEYPOINT) -> ``pose_keypoint_to_coco``. SMPL has no eyes
or ears, so projections carry them with confidence 0 (the nose is SMPL's head joint); at inference
``keypoint_condition`` zeroes detected eyes and ears too (``keep_training_joints``), so the model
always sees the joints it was trained on (``TRAINING_JOINTS``).

``fit_camera`` / ``to_camera_frame`` place an estimated gravity-view motion in the detecting camera's
frame: a grid over the camera's yaw and elevation, each with a linear least-squares weak-perspective
scale and image offset against the detected 2D joints; the best fit wins.
"""

from __future__ import annotations

import math
import warnings

import numpy as np
import torch

from ..core.errors import InputError, positive_number
from ..core.layouts import COCO_17, OPENPOSE_18, SMPL_22
from ..core.motion import Motion, validate_motion
from ..core.pose_keypoint import validate_pose_keypoint
from ..render.motion_view import project_motion
from .conditions import COCO_JOINTS, KEYPOINT_MIN_CONFIDENCE

BOX_ASPECT = 192 / 256  # GEM's person crop, width / height
BOX_ENLARGE = 1.2  # GEM's margin around the joints' extent
MIN_BOX_JOINTS = 2  # confident joints needed to place a box (one point has no extent)
MIN_BOX_SIDE = 0.01  # of the image's longer side: keeps the normalisation finite for a collapsed box
PROJECTION_SIZE = 512  # pixels of the square virtual image training projections are made in

_COCO_FROM_OPENPOSE = np.array([OPENPOSE_18.index(name) for name in COCO_17])
# SMPL joints have no eyes or ears; the nose is the head joint (as in project_motion).
TRAINING_JOINTS = tuple(k for k, name in enumerate(COCO_17) if "eye" not in name and "ear" not in name)
SMPL_FOR_COCO = {k: SMPL_22.index("head" if COCO_17[k] == "nose" else COCO_17[k]) for k in TRAINING_JOINTS}

# Camera fit: the grid searched, and the focal length that turns a weak-perspective scale into depth.
FIT_YAW_STEP = 5.0  # degrees, over the full circle
FIT_ELEVATIONS = (-20.0, -10.0, 0.0, 10.0, 20.0, 30.0)  # degrees (camera above the subject > 0)
NOMINAL_FOV_DEGREES = 55.0  # field of view across the longer image side assumed for the detecting camera


def _boxes(xy: np.ndarray, confident: np.ndarray) -> np.ndarray:
    """[T, 3] (centre x, y, side) in pixels from the confident joints of each frame."""
    low = np.where(confident[..., None], xy, np.inf).min(axis=1)
    high = np.where(confident[..., None], xy, -np.inf).max(axis=1)
    ok = confident.sum(axis=1) >= MIN_BOX_JOINTS
    low, high = np.where(ok[:, None], low, 0.0), np.where(ok[:, None], high, 0.0)
    width, height = high[:, 0] - low[:, 0], high[:, 1] - low[:, 1]
    side = np.maximum(height, width / BOX_ASPECT) * BOX_ENLARGE
    return np.concatenate([(low + high) / 2, side[:, None]], axis=1)


def coco_from_openpose(body: np.ndarray, canvas: np.ndarray) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """OpenPose-18 bodies [T, 18, 3] (x, y in 0..1 of each frame's canvas [T, 2] (width, height), conf)
    -> (keypoints [T, 17, 3], bbox [T, 3], present [T]) as in the module docstring."""
    coco = np.asarray(body, np.float64)[:, _COCO_FROM_OPENPOSE]
    canvas = np.asarray(canvas, np.float64)
    xy = coco[..., :2] * canvas[:, None, :]  # pixels, so the box is square on the image
    conf = np.clip(coco[..., 2], 0.0, 1.0)
    present = (conf >= KEYPOINT_MIN_CONFIDENCE).sum(axis=1) >= MIN_BOX_JOINTS
    longer = canvas.max(axis=1)
    box = _boxes(xy, conf >= KEYPOINT_MIN_CONFIDENCE)
    box[:, 2] = np.maximum(box[:, 2], MIN_BOX_SIDE * longer)
    local = 2.0 * (xy - box[:, None, :2]) / box[:, None, 2:]
    keep = (conf > 0) & (np.abs(local) <= 1.0).all(axis=-1) & present[:, None]
    keypoints = np.where(keep[..., None], np.concatenate([local, conf[..., None]], axis=-1), 0.0)
    bbox = np.where(present[:, None], box / longer[:, None], 0.0)
    return (torch.from_numpy(keypoints.astype(np.float32)), torch.from_numpy(bbox.astype(np.float32)),
            torch.from_numpy(present))


def pose_keypoint_to_coco(frames: list[dict], person: int = 0) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """POSE_KEYPOINT frames -> (keypoints [T, 17, 3], bbox [T, 3], present [T]) of person ``person``.

    Frames where that person is missing, has no body, or too few confident joints are absent.
    """
    frames = validate_pose_keypoint(frames, "poses")
    if isinstance(person, bool) or not isinstance(person, int) or person < 0:
        raise InputError("person", f"expected a person index >= 0, got {person!r}")
    body = np.zeros((len(frames), len(OPENPOSE_18), 3))
    canvas = np.array([[f["canvas_width"], f["canvas_height"]] for f in frames], np.float64)
    for t, frame in enumerate(frames):
        people = frame["people"]
        if person < len(people) and people[person].get("pose_keypoints_2d"):
            body[t] = np.asarray(people[person]["pose_keypoints_2d"], np.float64).reshape(-1, 3)
    return coco_from_openpose(body, canvas)


def keep_training_joints(keypoints: torch.Tensor) -> torch.Tensor:
    """A copy of keypoints [..., 17, 3] with the joints outside ``TRAINING_JOINTS`` (eyes, ears) zeroed."""
    out = keypoints.clone()
    dropped = [k for k in range(COCO_JOINTS) if k not in TRAINING_JOINTS]
    out[..., dropped, :] = 0.0
    return out


def project_joints_to_coco(joints, yaw_degrees: float, elevation_degrees: float = 10.0,
                           distance_scale: float = 1.1, relative_to_facing: bool = True
                           ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """World ``smpl_22`` joints [T, 22, 3] (metres, y up) seen by ``project_motion``'s virtual camera
    (yaw from the body's mean facing by default) -> the (keypoints, bbox, present) of a detection."""
    joints = torch.as_tensor(np.asarray(joints, np.float32))
    motion = Motion(joints=joints, fps=20.0, layout="smpl_22")
    frames = project_motion(motion, yaw_degrees=yaw_degrees, elevation_degrees=elevation_degrees,
                            distance_scale=distance_scale, width=PROJECTION_SIZE, height=PROJECTION_SIZE,
                            relative_to_facing=relative_to_facing)
    return pose_keypoint_to_coco(frames)


def keypoint_condition(frames: list[dict], fps: float, num_frames: int, motion_fps: float = 20.0, person: int = 0
                       ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """POSE_KEYPOINT at ``fps`` -> (keypoints [1, L, 17, 3], bbox [1, L, 3], mask [1, L]) for a motion of
    ``num_frames`` at ``motion_fps``: motion frame i takes the pose frame nearest in time (i / motion_fps);
    ``person`` picks the person of each frame.

    Motion frames past the poses' end are absent (with a warning); eyes and ears are zeroed
    (``keep_training_joints``).
    """
    for name, value in (("fps", fps), ("motion_fps", motion_fps)):
        positive_number(value, name, "a positive frame rate")
    if isinstance(num_frames, bool) or not isinstance(num_frames, int) or num_frames < 1:
        raise InputError("num_frames", f"expected a positive frame count, got {num_frames!r}")
    keypoints, bbox, present = pose_keypoint_to_coco(frames, person)
    if not present.any():
        raise InputError("poses", f"no person found in any of the {len(present)} frames")
    source = np.floor(np.arange(num_frames) * fps / motion_fps + 0.5).astype(np.int64)  # nearest, ties later
    inside = source < len(present)
    if not inside.all():
        warnings.warn(f"poses: {len(present)} frames at {fps:g} fps cover {len(present) / fps:.2f} s, shorter than "
                      f"the motion's {num_frames / motion_fps:.2f} s; the last {int((~inside).sum())} motion frames "
                      f"have "
                      f"no keypoint condition", stacklevel=2)
    source = torch.from_numpy(np.minimum(source, len(present) - 1))
    mask = present[source] & torch.from_numpy(inside)
    keypoints = torch.where(mask[:, None, None], keep_training_joints(keypoints[source]), 0.0)
    bbox = torch.where(mask[:, None], bbox[source], 0.0)
    return keypoints[None], bbox[None], mask[None]


def camera_axes(yaw_degrees: np.ndarray, elevation_degrees: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(right, up, back) [..., 3] of cameras in ``render.camera``'s convention (yaw about +y from the +z
    side, elevation above the target); back points from the target to the camera."""
    yaw, el = np.radians(yaw_degrees), np.radians(elevation_degrees)
    back = np.stack([np.sin(yaw) * np.cos(el), np.sin(el), np.cos(yaw) * np.cos(el)], axis=-1)
    right = np.stack([np.cos(yaw), np.zeros_like(yaw), -np.sin(yaw)], axis=-1)  # forward x world up, unit
    return right, np.cross(back, right), back


def _image_points(keypoints, bbox, present) -> tuple[np.ndarray, np.ndarray]:
    """Detected joints in units of the image's longer side [T, 17, 2] and their fitting weights [T, 17]."""
    keypoints, bbox = np.asarray(keypoints, np.float64), np.asarray(bbox, np.float64)
    present = np.asarray(present, bool)
    if keypoints.ndim == 4 and bbox.ndim == 3 and present.ndim == 2:  # keypoint_condition's batch of one
        keypoints, bbox, present = keypoints[0], bbox[0], present[0]
    frames = keypoints.shape[0]
    if keypoints.shape != (frames, COCO_JOINTS, 3) or bbox.shape != (frames, 3) or present.shape != (frames,):
        raise InputError("keypoints", f"expected keypoints [T, 17, 3], bbox [T, 3] and present [T], got "
                                      f"{list(keypoints.shape)}, {list(bbox.shape)}, {list(present.shape)}")
    points = bbox[:, None, :2] + keypoints[..., :2] * bbox[:, None, 2:] / 2
    weights = (keypoints[..., 2] >= KEYPOINT_MIN_CONFIDENCE) & present[:, None]
    return points, weights


def _weak_perspective(a: np.ndarray, b: np.ndarray, u: np.ndarray, v: np.ndarray):
    """Least squares of ``u = s a + ox``, ``v = s b + oy`` over points [N] for every camera [N, G] column:
    (scale [G], ox [G], oy [G], mean squared residual [G])."""
    da, db = a - a.mean(0), b - b.mean(0)
    du, dv = (u - u.mean())[:, None], (v - v.mean())[:, None]
    scale = ((da * du).sum(0) + (db * dv).sum(0)) / np.maximum((da ** 2 + db ** 2).sum(0), 1e-12)
    residual = ((du - scale * da) ** 2 + (dv - scale * db) ** 2).mean(0)
    return scale, u.mean() - scale * a.mean(0), v.mean() - scale * b.mean(0), residual


def fit_camera(joints, keypoints, bbox, present, canvas_size: tuple[int, int] = (1, 1)) -> dict:
    """The static camera that best shows gravity-view ``joints`` [T, 22, 3] as the detected 2D joints.

    ``keypoints``, ``bbox``, ``present`` as ``pose_keypoint_to_coco`` (or ``keypoint_condition``'s
    batch of one) for the same T frames; ``canvas_size`` (width, height) of the detection's image.
    Weak perspective: image point (units of the longer side, y down) = ``scale * (p . right, -p . up)
    + offset``. A grid over yaw (``FIT_YAW_STEP``) and ``FIT_ELEVATIONS``, refined in 1 degree steps;
    a mirrored view (negative scale) is never chosen. Returns ``{"yaw", "elevation", "scale",
    "offset" (x, y), "error" (RMS residual, units of the longer side), "centre" (image centre, same units)}``.
    """
    points3d = np.asarray(joints, np.float64)
    image, weights = _image_points(keypoints, bbox, present)
    if points3d.shape != (image.shape[0], len(SMPL_22), 3):
        raise InputError("joints", f"expected smpl_22 joints [{image.shape[0]}, 22, 3] for the {image.shape[0]} "
                                   f"keypoint frames, got {list(points3d.shape)}")
    coco = list(SMPL_FOR_COCO)
    pairs = weights[:, coco]
    if pairs.sum() < 3:
        raise InputError("keypoints", "fewer than 3 confident joints in the frames with a person: nothing to fit")
    p = points3d[:, [SMPL_FOR_COCO[k] for k in coco]][pairs]  # [N, 3]
    u, v = image[:, coco, 0][pairs], image[:, coco, 1][pairs]

    def search(yaws: np.ndarray, elevations: np.ndarray):
        yaw, el = (grid.reshape(-1) for grid in np.meshgrid(yaws, elevations, indexing="ij"))
        right, up, _ = camera_axes(yaw, el)
        scale, ox, oy, residual = _weak_perspective(p @ right.T, -(p @ up.T), u, v)
        residual = np.where(scale > 0, residual, np.inf)
        best = int(np.argmin(residual))
        if not np.isfinite(residual[best]):  # e.g. a body upside down relative to the detections
            raise InputError("joints", "no camera shows these joints as the detected poses without mirroring them "
                                       "(the 3D motion does not match the 2D poses)")
        return yaw[best], el[best], scale[best], ox[best], oy[best], residual[best]

    yaw, el, *_ = search(np.arange(0.0, 360.0, FIT_YAW_STEP), np.asarray(FIT_ELEVATIONS))
    steps = np.arange(-FIT_YAW_STEP, FIT_YAW_STEP + 0.5)
    low, high = min(FIT_ELEVATIONS), max(FIT_ELEVATIONS)
    yaw, el, scale, ox, oy, residual = search(yaw + steps, np.clip(el + steps, low, high))
    width, height = canvas_size
    longer = max(width, height)
    return {"yaw": float(yaw % 360.0), "elevation": float(el), "scale": float(scale), "offset": (float(ox), float(oy)),
            "error": float(np.sqrt(residual)), "centre": (width / 2 / longer, height / 2 / longer)}


def to_camera_frame(motion: Motion, fit: dict) -> Motion:
    """``motion`` (the gravity-view joints ``fit`` was made from) in the fitted camera's frame.

    Camera frame: metres, x right, y up, z toward the viewer; the camera at the origin looks along -z
    with a ``NOMINAL_FOV_DEGREES`` field of view across the image's longer side, which turns the
    weak-perspective scale into the subject's distance (``focal / scale``). Projecting the result
    through that pinhole puts the body where the detection saw it.
    """
    motion = validate_motion(motion)
    if motion.is_image_space:
        raise InputError("motion", f"expected a world-space motion, got layout {motion.layout!r}")
    try:
        yaw, el, scale = float(fit["yaw"]), float(fit["elevation"]), float(fit["scale"])
        (ox, oy), (cx, cy) = fit["offset"], fit["centre"]
    except (KeyError, TypeError, ValueError):
        raise InputError("fit", f"expected fit_camera's dict (yaw, elevation, scale, offset, centre), got {fit!r}") \
            from None
    if not scale > 0:
        raise InputError("fit", f"scale must be positive, got {scale}")
    right, up, back = camera_axes(np.float64(yaw), np.float64(el))
    points = motion.joints.numpy().astype(np.float64)
    focal = 0.5 / math.tan(math.radians(NOMINAL_FOV_DEGREES) / 2)
    x = points @ right + (ox - cx) / scale
    y = points @ up - (oy - cy) / scale
    depth = points @ back
    z = depth - depth.mean() - focal / scale
    camera = np.stack([x, y, z], axis=-1).astype(np.float32)
    return Motion(joints=torch.from_numpy(camera), fps=motion.fps, layout=motion.layout, params=dict(motion.params))
