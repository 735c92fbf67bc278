"""2D/3D pose detection with MediaPipe Holistic (body 33, both hands 21, face mesh) and a person mask.

``Detection.world`` holds MediaPipe's 3D world landmarks of the body: layout ``mediapipe_33``,
metres, origin at the centre of the hips in every frame (so no global translation), y up. MediaPipe
gives them with x right, y down and z away from the camera; they are turned 180 degrees about x,
``(x, -y, -z)``, which keeps the handedness (a person facing the camera faces +z). Frames without a
person are zeros with visibility 0 (``params["visibility"]``, MediaPipe's body visibility).

The models ship inside the mediapipe 0.10.14 wheel; nothing is downloaded. Which image Holistic sees
(the full frame, or an upscaled crop around each person) and who is who over frames is
``people_search``'s job. With ``people="one"`` the POSE_KEYPOINT has at most one person per frame;
with ``people="all"`` one per person found, each with an extra ``"track_id"`` (stable over the
video), and the MOTION outputs follow the person ``motion_track``. Frames where nobody is found give
``"people": []`` and zero landmarks.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from ..core.errors import InputError
from ..core.layouts import FACE_MESH_TO_68, MEDIAPIPE_33, left_right_swap, to_openpose_18
from ..core.motion import Motion
from ..core.pose_keypoint import make_frame, make_person
from ..core.resources import ProgressCallback
from ..media.images import as_uint8_frames
from .hand_check import check_hands
from .people_search import search_people, selfie_masks
from .side_check import keep_sides

MASK_SOURCES = ("selfie_segmentation", "pose_segmentation", "none")
PEOPLE_MODES = ("one", "all")
# Confidence at which a body point counts as present when ``binary_confidence`` is on (the
# renderer's default body threshold). MediaPipe reports no per-point hand or face confidence.
BODY_PRESENT = 0.3

MIN_SIDE = 32  # pixels: a person in a smaller image is a few pixels tall, far below what MediaPipe finds


@dataclass(frozen=True)
class DetectionSettings:
    video: bool = False  # track between frames (and smooth landmarks) instead of detecting anew
    hands: bool = True
    face: bool = False
    mask: str = "selfie_segmentation"
    min_confidence: float = 0.5
    smoothing: float = 0.0  # extra exponential smoothing of keypoints over frames, 0 = off
    binary_confidence: bool = False  # write conf 1.0/0.0 (controlnet_aux renderer convention)
    person_crop: bool = True  # find the person on the full frame, detect on an upscaled crop around its box
    people: str = "one"  # "one", or "all": every person the pose detector finds, with track ids
    hand_check: bool = True  # drop a hand that is not at its own wrist or duplicates the other hand
    side_check: bool = True  # video mode: undo MediaPipe's sudden left/right swaps (side_check module)
    motion_track: int = 0  # with people="all": the track id whose landmarks make the MOTION outputs

    def __post_init__(self):
        if self.mask not in MASK_SOURCES:
            raise InputError("mask", f"unknown mask source {self.mask!r}; expected one of {MASK_SOURCES}")
        if not 0.0 <= self.min_confidence <= 1.0:
            raise InputError("min_confidence", f"expected 0..1, got {self.min_confidence}")
        if self.people not in PEOPLE_MODES:
            raise InputError("people", f"unknown mode {self.people!r}; expected one of {PEOPLE_MODES}")
        if not 0.0 <= self.smoothing < 1.0:
            raise InputError("smoothing", f"expected 0 <= smoothing < 1, got {self.smoothing}")


@dataclass(frozen=True)
class Detection:
    pose_keypoint: list[dict]  # POSE_KEYPOINT, one frame per input frame
    masks: torch.Tensor  # [B, H, W] float32 person probability 0..1
    landmarks: Motion  # layout mediapipe_holistic_75_image, visibility in params
    world: Motion | None = None  # layout mediapipe_33, metres, hip-centred, y up (module docstring)
    hands_dropped: int = 0  # hands that ``hand_check`` dropped (not at their wrist, or a duplicate)
    sides_exchanged: int = 0  # frames whose left and right ``side_check`` exchanged back


def detect_poses(frames, settings: DetectionSettings = DetectionSettings(), fps: float = 30.0,
                 progress: ProgressCallback | None = None) -> Detection:
    """Detect body, hands (and face) in every frame; see ``Detection`` for what comes back."""
    rgb = as_uint8_frames(frames)
    count, height, width = rgb.shape[:3]
    if min(height, width) < MIN_SIDE:
        raise InputError("image", f"{width}x{height} px is too small to find a person in: expected at least "
                                  f"{MIN_SIDE} px on each side")
    sightings = search_people(rgb, settings, progress)
    tracks = sorted({track for frame in sightings for track in frame})
    motion_track = settings.motion_track if settings.people == "all" else (tracks[0] if tracks else 0)
    if settings.people == "all" and tracks and motion_track not in tracks:
        raise InputError("motion_track", f"no person has track id {motion_track}; the tracks found are {tracks}")
    masks = np.zeros((count, height, width), np.float32)
    per_track = {track: np.zeros((count, 75, 4), np.float32) for track in tracks}
    world = np.zeros((count, 33, 4), np.float32)  # x, y, z, visibility of the MOTION's person
    faces: dict[tuple[int, int], np.ndarray] = {}
    for i, frame in enumerate(sightings):
        for track, seen in frame.items():
            per_track[track][i] = seen.points
            if seen.face is not None and settings.face:
                faces[i, track] = seen.face
            if track == motion_track and seen.world is not None:
                world[i] = seen.world
            if seen.mask is not None and track == motion_track:
                masks[i] = seen.mask
    if settings.mask == "selfie_segmentation":
        masks = selfie_masks(rgb)
    sides_exchanged = 0
    if settings.side_check and settings.video:
        for track, points in per_track.items():
            per_track[track], exchanged = keep_sides(points, width, height)
            sides_exchanged += len(exchanged)
            if track == motion_track:
                world[exchanged] = world[exchanged][:, left_right_swap(MEDIAPIPE_33)]
    hands_dropped = 0
    if settings.hand_check:  # also when hands stay out of POSE_KEYPOINT: the MOTION carries them
        for points in per_track.values():
            for i in range(count):
                points[i], dropped = check_hands(points[i], width, height)
                hands_dropped += dropped
    if settings.smoothing > 0:
        per_track = {track: _smooth(points, settings.smoothing) for track, points in per_track.items()}
        world = _smooth(world, settings.smoothing)
    pose_keypoint = []
    for i, frame in enumerate(sightings):
        people = []
        for track in sorted(frame):
            for person in _people(per_track[track][i], faces.get((i, track)), settings):
                if settings.people == "all":
                    person["track_id"] = track
                people.append(person)
        pose_keypoint.append(make_frame(people, width, height))
    landmarks = per_track.get(motion_track, np.zeros((count, 75, 4), np.float32))
    motion = Motion(
        joints=torch.from_numpy(landmarks[..., :3].copy()),
        fps=float(fps),
        layout="mediapipe_holistic_75_image",
        params={"visibility": torch.from_numpy(landmarks[..., 3].copy())},
        canvas_size=(width, height),
    )
    world_motion = Motion(joints=torch.from_numpy(world[..., :3].copy()), fps=float(fps), layout="mediapipe_33",
                          params={"visibility": torch.from_numpy(world[..., 3].copy())})
    return Detection(pose_keypoint, torch.from_numpy(masks), motion, world_motion, hands_dropped, sides_exchanged)


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
