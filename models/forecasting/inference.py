"""Forecasting from ComfyUI-level inputs: POSE_KEYPOINT in, POSE_KEYPOINT sequence out."""

from __future__ import annotations

import json
import os

import cv2
import numpy as np
import torch

from ..core.errors import InputError
from ..core.pose_keypoint import make_frame, make_person, person_arrays, validate_pose_keypoint
from ..core.resources import package_file
from ..media.video import read_video, write_video
from ..pose.detection import DetectionSettings, detect_poses
from ..render.openpose import render_skeletons
from . import BUNDLED_DIR
from .encoders import encode_texts
from .pose_frame import POSE_FRAME, from_pose_frame, p0_box, to_pose_frame
from .training import load_forecaster
from .types import Conditioning

# Which part of a POSE_KEYPOINT person feeds each checkpoint layout.
LAYOUT_PARTS = {"openpose_18": ("body",), "hand_21": ("right_hand", "left_hand")}
# The forecasting data is almost all mocap projected from SMPL joints, which have no eyes or ears
# (dataset.py): a P0 with them is unlike the training P0s, so they ride on the nose instead.
FACE_POINTS = (14, 15, 16, 17)  # OpenPose-18 right eye, left eye, right ear, left ear
NOSE = 0
MIN_VISIBLE = 4  # fewer visible keypoints than this cannot anchor a forecast
BUNDLED_FORECASTER = os.path.join(BUNDLED_DIR, "one_stage_minilm.safetensors")
# The action the data supports best: kneeling fills 800 of 3748 training windows (the MocapBank clip,
# every view); arm swings 148, waves 18, walks 96. The forecast crouches; the checker finds no kneel
# (tests/forecasting/test_demo_forecast.py).
DEMO_FORECAST_TEXT = "walk forward"  # of the three acceptance texts, the one the bundled checkpoint does
DEMO_CHECK_TEXTS = ("kneel down", "wave arms", DEMO_FORECAST_TEXT)  # the acceptance texts (tests/forecasting)
DEMO_FPS = 30.0  # the training data's frame rate: forecast frames are 1/30 s apart
DEMO_FORECAST_CLIP = ("Pose2Sim", "Demo_SinglePerson", "videos", "cam01.mp4")  # package, then path inside it


class NoPersonError(InputError):
    """The initial pose has no person: each front door gives its own way to supply one."""


def initial_pose(pose_keypoint, layout: str, threshold: float = 0.3) -> tuple[torch.Tensor, np.ndarray, tuple[int, int]]:
    """First person of the first frame -> (P0 [1, J, 2], visible [J] bool, canvas (width, height)).

    Raises one clear error when there is no person or the pose lacks the checkpoint's keypoints.
    """
    frames = validate_pose_keypoint(pose_keypoint, "initial_pose")
    frame = frames[0]
    if not frame["people"]:
        raise NoPersonError("initial_pose", "no person found in the image: connect a POSE_KEYPOINT with a manual "
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
    forecast frame. OpenPose-18 eyes and ears are not given to the model (``FACE_POINTS``): they
    follow the forecast nose rigidly, keeping their offsets from it at P0.
    """
    layout = model.config["layout"]
    p0, visible, (width, height) = initial_pose(pose_keypoint, layout)
    device = next(model.parameters()).device if isinstance(model, torch.nn.Module) else torch.device("cpu")
    conditioning = conditioning.to(device)
    rigid_face = layout == "openpose_18" and bool(visible[NOSE])
    shown = visible.copy()  # the keypoints the model sees
    if rigid_face:
        shown[list(FACE_POINTS)] = False
    p0_shown = torch.where(torch.from_numpy(shown)[None, :, None], p0, torch.zeros_like(p0))
    if getattr(model, "pose_frame", None) == POSE_FRAME:
        seen = torch.from_numpy(shown)[None]
        box = p0_box(p0, seen)
        # the bone-consistent head keeps 2D bone lengths in canvas units: it needs P0's visibility and aspect
        framed = model.forecast(to_pose_frame(p0_shown, seen, box).to(device), conditioning, horizon,
                                initial_visible=seen.to(device), aspect=width / height).cpu()
        poses = from_pose_frame(framed, box)[0]
    else:
        poses = model.forecast(p0_shown.to(device), conditioning, horizon).cpu()[0]
    if rigid_face:  # eyes and ears keep their P0 offsets from the forecast nose
        poses[:, list(FACE_POINTS)] = poses[:, NOSE:NOSE + 1] + (p0[0, list(FACE_POINTS)] - p0[0, NOSE])
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


def forecast_image(image_path: str, text: str, checkpoint: str, horizon: int, fps: float, out_dir: str,
                   initial_pose=None) -> dict:
    """Forecast from the text and the person in an image (detected, or ``initial_pose``, a POSE_KEYPOINT
    given instead); write the skeleton video over the image and the poses."""
    if not os.path.isfile(image_path):
        raise InputError("image", f"file not found: {image_path!r}")
    bgr = cv2.imread(image_path, cv2.IMREAD_COLOR)
    if bgr is None:
        raise InputError("image", f"cannot decode {image_path!r} as an image")
    rgb = cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)
    if initial_pose is None:
        initial_pose = detect_poses(rgb[None].copy(), DetectionSettings(mask="none")).pose_keypoint
    model = load_forecaster(checkpoint)
    frames = forecast_pose_keypoint(model, encode_texts([text]), initial_pose, horizon)
    os.makedirs(out_dir, exist_ok=True)
    skeleton = render_skeletons(frames, rgb.shape[1], rgb.shape[0])  # at the image's size whatever the pose's canvas
    overlay = np.maximum(skeleton, (rgb[None] * 0.5).astype(np.uint8))
    video = write_video(os.path.join(out_dir, "forecast.mp4"), overlay, fps)
    poses = os.path.join(out_dir, "forecast.json")
    with open(poses, "w") as handle:
        json.dump(frames, handle)
    return {"video": video, "poses": poses, "frames": frames}


def demo_frame() -> np.ndarray:
    """The demo's first frame (RGB uint8 [H, W, 3]) of pose2sim's cam01 recording."""
    frames, _ = read_video(package_file(*DEMO_FORECAST_CLIP), max_frames=1)
    return frames[0]


def demo_initial_pose() -> list[dict]:
    """The person detected in ``demo_frame()`` as POSE_KEYPOINT (what ``forecast_demo`` forecasts from)."""
    return detect_poses(demo_frame()[None].copy(), DetectionSettings(mask="none")).pose_keypoint


def forecast_demo(out_dir: str) -> dict:
    """Forecast 45 frames from the first frame of pose2sim's recording (one person, full body) and
    ``DEMO_FORECAST_TEXT`` with the bundled checkpoint. That recording is in the training split: the
    demo shows the pipeline working, the held-out figures are in the README."""
    os.makedirs(out_dir, exist_ok=True)
    image = os.path.join(out_dir, "forecast_input.png")
    cv2.imwrite(image, cv2.cvtColor(demo_frame(), cv2.COLOR_RGB2BGR))
    return forecast_image(image, DEMO_FORECAST_TEXT, BUNDLED_FORECASTER, 45, DEMO_FPS, out_dir)
