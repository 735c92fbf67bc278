"""POSE_KEYPOINT: 2D poses between nodes, in comfyui_controlnet_aux's exact format.

A POSE_KEYPOINT value is a list with one dict per frame (a single image is a list of one)::

    {"people": [person, ...], "canvas_width": int, "canvas_height": int}
    person = {"pose_keypoints_2d":       [x, y, c] * 18  (OpenPose-18 body)  or None,
              "face_keypoints_2d":       [x, y, c] * 70  (68 face points + 2 pupils) or None,
              "hand_left_keypoints_2d":  [x, y, c] * 21  or None,
              "hand_right_keypoints_2d": [x, y, c] * 21  or None}

x and y are normalised to 0..1 of the canvas, c is a confidence in 0..1, a missing point is
0, 0, 0 and a missing part is None. A frame without a person has ``"people": []``.

Interop note: controlnet_aux's JSON-to-image renderer keeps only points with c >= 1.0; the
detector's ``binary_confidence`` option writes 1.0 for every kept point for that renderer.
Values are plain Python lists and floats (JSON-serialisable) and are never mutated in place.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from .errors import InputError

MAX_CANVAS_SIDE = 16384  # ComfyUI's largest image side (nodes.MAX_RESOLUTION)
PERSON_PARTS = {  # person key -> (short name, expected point count or None for any)
    "pose_keypoints_2d": ("body", 18),
    "face_keypoints_2d": ("face", None),
    "hand_left_keypoints_2d": ("left_hand", 21),
    "hand_right_keypoints_2d": ("right_hand", 21),
}


def points_to_list(points: np.ndarray | None) -> list[float] | None:
    """[N, 3] array -> flat list of floats, with non-positive-confidence points written as 0,0,0."""
    if points is None:
        return None
    points = np.asarray(points, np.float64).reshape(-1, 3)
    points = np.where(points[:, 2:3] > 0, points, 0.0)
    return [float(v) for v in points.reshape(-1)]


def make_person(body=None, left_hand=None, right_hand=None, face=None) -> dict[str, Any]:
    """A person dict from [N, 3] arrays (normalised x, y, conf) or None for absent parts."""
    return {
        "pose_keypoints_2d": points_to_list(body),
        "face_keypoints_2d": points_to_list(face),
        "hand_left_keypoints_2d": points_to_list(left_hand),
        "hand_right_keypoints_2d": points_to_list(right_hand),
    }


def make_frame(people: list[dict], width: int, height: int) -> dict[str, Any]:
    return {"people": list(people), "canvas_width": int(width), "canvas_height": int(height)}


def person_arrays(person: dict) -> dict[str, np.ndarray | None]:
    """Person dict -> {"body", "face", "left_hand", "right_hand"}: [N, 3] float32 arrays or None."""
    out = {}
    for key, (name, _) in PERSON_PARTS.items():
        values = person.get(key)
        out[name] = None if not values else np.asarray(values, np.float32).reshape(-1, 3)
    return out


def validate_pose_keypoint(value: Any, input_name: str = "pose_keypoint") -> list[dict]:
    """Check a POSE_KEYPOINT value and return it as a list of frames (a lone frame dict is wrapped).

    Raises InputError naming the input, the frame, the person and the field at fault.
    """
    frames = [value] if isinstance(value, dict) else value
    if not isinstance(frames, (list, tuple)):
        raise InputError(input_name, f"expected a POSE_KEYPOINT list of frame dicts, got {type(value).__name__}")
    if len(frames) == 0:
        raise InputError(input_name, "empty: expected at least one frame")
    for f, frame in enumerate(frames):
        where = f"frame {f}"
        if not isinstance(frame, dict) or not isinstance(frame.get("people"), list):
            raise InputError(input_name, f"{where}: expected a dict with a 'people' list")
        for key in ("canvas_width", "canvas_height"):
            size = frame.get(key)
            if isinstance(size, bool) or not isinstance(size, (int, float)) or not 1 <= size <= MAX_CANVAS_SIDE:
                raise InputError(input_name, f"{where}: '{key}' must be a positive number up to {MAX_CANVAS_SIDE}, "
                                             f"got {size!r}")
        for p, person in enumerate(frame["people"]):
            if not isinstance(person, dict):
                raise InputError(input_name, f"{where}, person {p}: expected a dict, got {type(person).__name__}")
            for key, (_, count) in PERSON_PARTS.items():
                _check_part(input_name, f"{where}, person {p}, '{key}'", person.get(key), count)
    return list(frames)


def _check_part(input_name: str, where: str, values: Any, count: int | None) -> None:
    if values is None:
        return
    if not isinstance(values, (list, tuple)):
        raise InputError(input_name, f"{where}: expected a flat list of x, y, confidence numbers or None")
    if len(values) % 3:
        raise InputError(input_name, f"{where}: length {len(values)} is not a multiple of 3 (x, y, confidence)")
    if count is not None and values and len(values) != 3 * count:
        raise InputError(input_name, f"{where}: expected {count} points ({3 * count} numbers), got {len(values) // 3}")
    for v in values:
        if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v):
            raise InputError(input_name, f"{where}: expected finite numbers, found {v!r}")


def canvas_size(frames: list[dict]) -> tuple[int, int]:
    """(width, height) of the first frame: the canvas a renderer uses when none is given."""
    return int(frames[0]["canvas_width"]), int(frames[0]["canvas_height"])
