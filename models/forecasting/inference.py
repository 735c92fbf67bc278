"""Forecasting from ComfyUI-level inputs: POSE_KEYPOINT in, POSE_KEYPOINT sequence out."""

from __future__ import annotations

import numpy as np
import torch

from ..errors import InputError
from ..pose_keypoint import make_frame, make_person, person_arrays, validate_pose_keypoint
from .pose_frame import POSE_FRAME, from_pose_frame, p0_box, to_pose_frame
from .types import Conditioning

# Which part of a POSE_KEYPOINT person feeds each checkpoint layout.
LAYOUT_PARTS = {"openpose_18": ("body",), "hand_21": ("right_hand", "left_hand")}
MIN_VISIBLE = 4  # fewer visible keypoints than this cannot anchor a forecast


def initial_pose(pose_keypoint, layout: str, threshold: float = 0.3) -> tuple[torch.Tensor, np.ndarray, tuple[int, int]]:
    """First person of the first frame -> (P0 [1, J, 2], visible [J] bool, canvas (width, height)).

    Raises one clear error when there is no person or the pose lacks the checkpoint's keypoints.
    """
    frames = validate_pose_keypoint(pose_keypoint, "initial_pose")
    frame = frames[0]
    if not frame["people"]:
        raise InputError("initial_pose", "no person found in the image: connect a POSE_KEYPOINT with a manual "
                         "initial pose (e.g. from a pose editor) to forecast anyway")
    if layout not in LAYOUT_PARTS:
        raise InputError("layout", f"unsupported checkpoint layout {layout!r}; expected one of {sorted(LAYOUT_PARTS)}")
    parts = person_arrays(frame["people"][0])
    points = next((parts[name] for name in LAYOUT_PARTS[layout] if parts[name] is not None), None)
    if points is None:
        available = [name for name, value in parts.items() if value is not None]
        raise InputError("initial_pose", f"the checkpoint forecasts {layout} keypoints ({' or '.join(LAYOUT_PARTS[layout])}) "
                         f"but the pose only has {available or 'no keypoints'}")
    visible = points[:, 2] >= threshold
    if visible.sum() < MIN_VISIBLE:
        raise InputError("initial_pose", f"only {int(visible.sum())} keypoints are visible (confidence >= {threshold}); "
                         f"need at least {MIN_VISIBLE}")
    xy = np.where(visible[:, None], points[:, :2], 0.0).astype(np.float32)
    return torch.from_numpy(xy)[None], visible, (int(frame["canvas_width"]), int(frame["canvas_height"]))


@torch.no_grad()
def forecast_pose_keypoint(model, conditioning: Conditioning, pose_keypoint, horizon: int,
                           include_initial: bool = True) -> list[dict]:
    """Forecast ``horizon`` frames after the pose; returns POSE_KEYPOINT frames (P0 first if asked).

    Runs on the model's device. Keypoints not visible in P0 stay missing (0, 0, 0) in every
    forecast frame.
    """
    layout = model.config["layout"]
    p0, visible, (width, height) = initial_pose(pose_keypoint, layout)
    device = next(model.parameters()).device if isinstance(model, torch.nn.Module) else torch.device("cpu")
    conditioning = conditioning.to(device)
    if getattr(model, "pose_frame", None) == POSE_FRAME:
        seen = torch.from_numpy(visible)[None]
        box = p0_box(p0, seen)
        framed = model.forecast(to_pose_frame(p0, seen, box).to(device), conditioning, horizon).cpu()
        poses = from_pose_frame(framed, box)[0]
    else:
        poses = model.forecast(p0.to(device), conditioning, horizon).cpu()[0]
    if include_initial:
        poses = torch.cat([p0, poses])
    if not torch.isfinite(poses).all():
        raise FloatingPointError("the forecaster produced non-finite coordinates")
    conf = visible.astype(np.float32)[:, None]
    frames = []
    for pose in poses.numpy():
        points = np.concatenate([pose, conf], axis=1)
        person = make_person(body=points) if layout == "openpose_18" else make_person(right_hand=points)
        frames.append(make_frame([person], width, height))
    return frames
