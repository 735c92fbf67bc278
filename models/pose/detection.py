"""2D/3D pose detection with MediaPipe Holistic (body 33, both hands 21, face mesh) and a person mask.

``Detection.world`` holds MediaPipe's 3D world landmarks of the body: layout ``mediapipe_33``,
metres, origin at the centre of the hips in every frame (so no global translation), y up. MediaPipe
gives them with x right, y down and z away from the camera; they are turned 180 degrees about x,
``(x, -y, -z)``, which keeps the handedness (a person facing the camera faces +z). Frames without a
person are zeros with visibility 0 (``params["visibility"]``, MediaPipe's body visibility).

The models ship inside the mediapipe 0.10.14 wheel; nothing is downloaded. MediaPipe Holistic
tracks one person. Frames where nobody is found give ``"people": []`` and zero landmarks.
"""

from __future__ import annotations

from dataclasses import dataclass

import mediapipe as mp
import numpy as np
import torch

from ..core.errors import InputError
from ..core.layouts import FACE_MESH_TO_68, to_openpose_18
from ..core.motion import Motion
from ..core.pose_keypoint import make_frame, make_person
from ..core.resources import ProgressCallback
from ..media.images import as_uint8_frames

MASK_SOURCES = ("selfie_segmentation", "pose_segmentation", "none")
# Confidence at which a body point counts as present when ``binary_confidence`` is on (the
# renderer's default body threshold). MediaPipe reports no per-point hand or face confidence.
BODY_PRESENT = 0.3



@dataclass(frozen=True)
class DetectionSettings:
    video: bool = False  # track between frames (and smooth landmarks) instead of detecting anew
    hands: bool = True
    face: bool = False
    mask: str = "selfie_segmentation"
    min_confidence: float = 0.5
    smoothing: float = 0.0  # extra exponential smoothing of keypoints over frames, 0 = off
    binary_confidence: bool = False  # write conf 1.0/0.0 (controlnet_aux renderer convention)

    def __post_init__(self):
        if self.mask not in MASK_SOURCES:
            raise InputError("mask", f"unknown mask source {self.mask!r}; expected one of {MASK_SOURCES}")
        if not 0.0 <= self.min_confidence <= 1.0:
            raise InputError("min_confidence", f"expected 0..1, got {self.min_confidence}")
        if not 0.0 <= self.smoothing < 1.0:
            raise InputError("smoothing", f"expected 0 <= smoothing < 1, got {self.smoothing}")


@dataclass(frozen=True)
class Detection:
    pose_keypoint: list[dict]  # POSE_KEYPOINT, one frame per input frame
    masks: torch.Tensor  # [B, H, W] float32 person probability 0..1
    landmarks: Motion  # layout mediapipe_holistic_75_image, visibility in params
    world: Motion | None = None  # layout mediapipe_33, metres, hip-centred, y up (module docstring)


_GRAPHS: dict[tuple, object] = {}


def _solutions(settings: DetectionSettings):
    """MediaPipe graphs are slow to build (~0.3 s), so keep one per configuration."""
    key = ("holistic", settings.video, settings.min_confidence, settings.mask == "pose_segmentation")
    if key not in _GRAPHS:
        _GRAPHS[key] = mp.solutions.holistic.Holistic(
            static_image_mode=not settings.video,
            model_complexity=1,  # the only pose model the wheel ships
            smooth_landmarks=settings.video,
            enable_segmentation=settings.mask == "pose_segmentation",
            refine_face_landmarks=False,
            min_detection_confidence=settings.min_confidence,
            min_tracking_confidence=settings.min_confidence,
        )
    holistic = _GRAPHS[key]
    selfie = None
    if settings.mask == "selfie_segmentation":
        if "selfie" not in _GRAPHS:
            _GRAPHS["selfie"] = mp.solutions.selfie_segmentation.SelfieSegmentation(model_selection=1)
        selfie = _GRAPHS["selfie"]
    return holistic, selfie


def _landmark_array(landmarks, count: int) -> np.ndarray | None:
    """MediaPipe landmark list -> [count, 4] (x, y, z, visibility) or None."""
    if landmarks is None:
        return None
    points = np.array([(p.x, p.y, p.z, p.visibility) for p in landmarks.landmark], np.float32)
    return points[:count]


def detect_poses(frames, settings: DetectionSettings = DetectionSettings(), fps: float = 30.0,
                 progress: ProgressCallback | None = None) -> Detection:
    """Detect body, hands (and face) in every frame; see ``Detection`` for what comes back."""
    rgb = as_uint8_frames(frames)
    count, height, width = rgb.shape[:3]
    holistic, selfie = _solutions(settings)
    holistic.reset()  # a new sequence: forget the previous call's tracking state
    faces, masks = [], np.zeros((count, height, width), np.float32)
    landmarks = np.zeros((count, 75, 4), np.float32)
    world = np.zeros((count, 33, 4), np.float32)  # x, y, z, visibility
    for i in range(count):
        result = holistic.process(rgb[i])
        body = _landmark_array(result.pose_landmarks, 33)
        if body is not None:
            landmarks[i, :33] = body
            world_body = _landmark_array(result.pose_world_landmarks, 33)
            if world_body is not None:
                world[i] = world_body * np.array([1, -1, -1, 1], np.float32)  # y down, z away -> y up, z toward
            for offset, hand in ((33, result.left_hand_landmarks), (54, result.right_hand_landmarks)):
                hand = _landmark_array(hand, 21)
                if hand is not None:
                    hand[:, 2] += body[15 if offset == 33 else 16, 2]  # hand z is relative to its wrist
                    hand[:, 3] = 1.0
                    landmarks[i, offset:offset + 21] = hand
        face = _landmark_array(result.face_landmarks, 468) if settings.face and body is not None else None
        faces.append(face)
        if selfie is not None:
            masks[i] = selfie.process(rgb[i]).segmentation_mask
        elif result.segmentation_mask is not None:
            masks[i] = result.segmentation_mask
        if progress is not None:
            progress(i + 1, count)
    if settings.smoothing > 0:
        landmarks = _smooth(landmarks, settings.smoothing)
        world = _smooth(world, settings.smoothing)
    pose_keypoint = [
        make_frame(_people(landmarks[i], face, settings), width, height) for i, face in enumerate(faces)
    ]
    motion = Motion(
        joints=torch.from_numpy(landmarks[..., :3].copy()),
        fps=float(fps),
        layout="mediapipe_holistic_75_image",
        params={"visibility": torch.from_numpy(landmarks[..., 3].copy())},
        canvas_size=(width, height),
    )
    world_motion = Motion(joints=torch.from_numpy(world[..., :3].copy()), fps=float(fps), layout="mediapipe_33",
                          params={"visibility": torch.from_numpy(world[..., 3].copy())})
    return Detection(pose_keypoint, torch.from_numpy(masks), motion, world_motion)


def _people(points: np.ndarray, face: np.ndarray | None, settings: DetectionSettings) -> list[dict]:
    """One frame's 75 landmarks (x, y, z, visibility) -> POSE_KEYPOINT people list."""
    if not points[:33, 3].any():
        return []
    xyc = points[:, [0, 1, 3]].copy()
    inside = (xyc[:, 0] >= 0) & (xyc[:, 0] <= 1) & (xyc[:, 1] >= 0) & (xyc[:, 1] <= 1)
    xyc[~inside] = 0.0  # OpenPose never reports points off the canvas
    body = to_openpose_18(xyc[:33], "mediapipe_33")
    hands = [xyc[33:54], xyc[54:75]] if settings.hands else [None, None]
    hands = [h if h is not None and h[:, 2].any() else None for h in hands]
    face68 = _face_70(face) if face is not None else None
    if settings.binary_confidence:
        body[:, 2] = (body[:, 2] >= BODY_PRESENT).astype(np.float32)
    return [make_person(body=body, left_hand=hands[0], right_hand=hands[1], face=face68)]


def _face_70(mesh: np.ndarray) -> np.ndarray:
    """468-point face mesh -> OpenPose's 68 face points plus the two pupils, confidence 1."""
    points = mesh[list(FACE_MESH_TO_68), :2]
    pupils = np.stack([points[36:42].mean(0), points[42:48].mean(0)])
    out = np.concatenate([points, pupils])
    return np.concatenate([out, np.ones((70, 1), np.float32)], axis=1)


def _smooth(landmarks: np.ndarray, strength: float) -> np.ndarray:
    """Exponential smoothing over frames, restarted wherever a point was not seen."""
    out = landmarks.copy()
    for t in range(1, len(out)):
        seen = (out[t, :, 3] > 0) & (out[t - 1, :, 3] > 0)
        out[t, seen, :3] = strength * out[t - 1, seen, :3] + (1 - strength) * landmarks[t, seen, :3]
    return out
