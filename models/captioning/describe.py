"""The captioner's one entry point: facts and captions of a MOTION or of POSE_KEYPOINT frames.

``find_facts(motion, fps=None, person=0) -> list[Fact]`` takes
- a MOTION (``core/motion.py``) with layout ``smpl_22`` / ``smpl_52``: 3D facts
  (``facts3d.find_facts_3d`` on its joints at its own frame rate);
- a MOTION with layout ``mediapipe_holistic_75_image`` (Detect Pose's landmarks): 2D facts of its
  body converted to OpenPose-18 (``facts2d.find_facts_2d``), a point visible when its MediaPipe
  visibility is at least ``MIN_VISIBILITY``;
- POSE_KEYPOINT frames (``core/pose_keypoint.py``) with ``fps``: 2D facts of person ``person``'s
  OpenPose-18 body, a point visible when its confidence is at least ``MIN_CONFIDENCE``; a frame
  without that person counts as not seen.
A MOTION carries its own frame rate: ``fps`` is for POSE_KEYPOINT only (a different one is refused).
Anything else is one InputError naming the input: an unknown layout, NaN joints, a motion shorter
than ``facts.MIN_SECONDS`` (from the finders), POSE_KEYPOINT without ``fps``, a person not present.

``describe_motion(...) -> Description``: the facts, ``count`` captions (``phrasing.py``) and their
HumanML3D text lines. Captions made here are derived from the motion by rules (see phrasing.py).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..core.errors import InputError
from ..core.layouts import to_openpose_18
from ..core.motion import Motion, validate_motion
from ..core.pose_keypoint import canvas_size, validate_pose_keypoint
from .facts import Fact
from .facts2d import find_facts_2d
from .facts3d import find_facts_3d
from .phrasing import caption_sentences, fact_label, humanml3d_line

LAYOUTS_3D = ("smpl_22", "smpl_52")
LAYOUT_IMAGE = "mediapipe_holistic_75_image"
MIN_VISIBILITY = 0.5  # MediaPipe visibility of a point counted as seen
MIN_CONFIDENCE = 0.3  # POSE_KEYPOINT confidence of a point counted as seen (Render Skeleton's default threshold)


@dataclass(frozen=True)
class Description:
    facts: list[Fact]
    captions: list[str]
    text_lines: list[str]


def is_image_source(motion) -> bool:
    """Whether ``find_facts`` reads ``motion`` as 2D image points (POSE_KEYPOINT, or Detect Pose's landmarks)."""
    return not isinstance(motion, Motion) or motion.layout == LAYOUT_IMAGE


def _check_fps(fps) -> float:
    if fps is None:
        raise InputError("fps", "POSE_KEYPOINT frames carry no frame rate: give fps")
    if isinstance(fps, bool) or not isinstance(fps, (int, float)) or not np.isfinite(fps) or fps <= 0:
        raise InputError("fps", f"expected a positive number of frames per second, got {fps!r}")
    return float(fps)


def _renamed(error: InputError, input_name: str) -> InputError:
    """The finders name their input "motion"; POSE_KEYPOINT frames came in as ``input_name``."""
    message = str(error).split(": ", 1)[1] if error.input_name == "motion" else None
    return InputError(input_name, message) if message is not None else error


def _pose_keypoint_body(frames: list[dict], person: int) -> tuple[np.ndarray, np.ndarray]:
    """[T, 18, 2] normalised x, y and [T, 18] visibility of one person's OpenPose-18 body."""
    xy = np.zeros((len(frames), 18, 2), np.float32)
    visible = np.zeros((len(frames), 18), bool)
    for t, frame in enumerate(frames):
        people = frame["people"]
        body = people[person].get("pose_keypoints_2d") if person < len(people) else None
        if body:
            points = np.asarray(body, np.float32).reshape(18, 3)
            xy[t], visible[t] = points[:, :2], points[:, 2] >= MIN_CONFIDENCE
    if not any(person < len(frame["people"]) for frame in frames):
        most = max(len(frame["people"]) for frame in frames)
        raise InputError("person", f"person {person} is in no frame (the frames hold at most {most} people)")
    return xy, visible


def _holistic_body(motion: Motion) -> tuple[np.ndarray, np.ndarray]:
    points = np.concatenate([motion.joints[:, :33, :2].numpy(), motion.visibility()[:, :33, None].numpy()], -1)
    body = to_openpose_18(points, "mediapipe_33")
    return body[..., :2], body[..., 2] >= MIN_VISIBILITY


def find_facts(motion, fps: float | None = None, person: int = 0) -> list[Fact]:
    """Facts of a MOTION or POSE_KEYPOINT frames, sorted by start time (see the module docstring)."""
    if isinstance(person, bool) or not isinstance(person, int) or person < 0:
        raise InputError("person", f"expected a person index >= 0, got {person!r}")
    if isinstance(motion, (list, tuple, dict)):
        frames = validate_pose_keypoint(motion)
        xy, visible = _pose_keypoint_body(frames, person)
        width, height = canvas_size(frames)
        try:
            return find_facts_2d(xy, visible, _check_fps(fps), aspect=width / height)
        except InputError as error:
            raise _renamed(error, "pose_keypoint") from None
    if not isinstance(motion, Motion):
        raise InputError("motion", f"expected a MOTION or POSE_KEYPOINT frames, got {type(motion).__name__}")
    validate_motion(motion)  # NaN joints, shapes, layout
    if fps is not None and abs(_check_fps(fps) - motion.fps) > 1e-6:
        raise InputError("fps", f"a MOTION carries its own frame rate ({motion.fps:g}); got fps={fps!r}")
    if person != 0:
        raise InputError("person", f"a MOTION holds one person (index 0), got {person}")
    if motion.layout in LAYOUTS_3D:
        return find_facts_3d(motion.joints[:, :22], motion.fps)
    if motion.layout == LAYOUT_IMAGE:
        xy, visible = _holistic_body(motion)
        width, height = motion.canvas_size
        return find_facts_2d(xy, visible, motion.fps, aspect=width / height)
    raise InputError("motion", f"unknown layout {motion.layout!r} for captioning: expected one of "
                               f"{LAYOUTS_3D + (LAYOUT_IMAGE,)} or POSE_KEYPOINT frames")


def fact_lines(facts: list[Fact]) -> list[str]:
    """One line per fact: "0.00-2.35 s  walk forward"."""
    return [f"{fact.start:.2f}-{fact.end:.2f} s  {fact_label(fact)}" for fact in facts]


def describe_motion(motion, fps: float | None = None, seed: int = 0, count: int = 3, person: int = 0) -> Description:
    """Facts, ``count`` captions and HumanML3D text lines of a motion. A motion where no fact is found
    (possible for 2D poses seen too rarely) is an InputError naming the motion."""
    facts = find_facts(motion, fps=fps, person=person)
    if not facts:
        name = "motion" if isinstance(motion, Motion) else "pose_keypoint"
        raise InputError(name, "no fact found to describe (too few visible frames?)")
    captions = caption_sentences(facts, seed, count)
    return Description(facts, captions, [humanml3d_line(caption) for caption in captions])
