"""What the GENMO nodes, the CLI and the demo call: user-level inputs -> conditions -> a MOTION.

- ``PoseInput`` (POSE_KEYPOINT frames at their own fps, which person), ``MusicInput`` (music features
  per frame at some fps, from ``music.audio_to_music``, with the audio when it is known, so that a model
  at another fps gets them anew) and ``KeyframeInput`` (a MOTION and the
  target frame numbers) carry what a user gives before the length is known;
- :func:`sample_from_inputs` parses the timeline against the length, fits every input to it and
  samples (``model.generate_motion``);
- :func:`estimate_from_poses`: 2D poses of a video -> the gravity-view motion (estimation mode) and
  the same motion placed in the video's camera frame (``keypoints2d.fit_camera``);
  :func:`estimate_from_video` detects those poses first;
- :func:`timeline_verdicts`: the rule checker (``captioning.check``) on each prompt's window of a
  motion. Its facts are derived from the motion by documented thresholds, not by people.
"""

from __future__ import annotations

import dataclasses
import math
import warnings
from dataclasses import dataclass

import torch

from ..captioning.check import CheckResult, check_motion_against_text
from ..core.errors import InputError, positive_number
from ..core.motion import Motion
from ..core.resources import ProgressCallback
from ..pose.detection import DetectionSettings, detect_poses
from .keyframes import make_keyframes, parse_frames
from .keypoints2d import fit_camera, keypoint_condition, to_camera_frame
from .model import GenmoModel, check_decodable, estimate_motion, frames_for_seconds, generate_motion
from .music import audio_to_music, fit_to_frames
from .timeline import Prompt, parse_timeline


@dataclass(frozen=True)
class PoseInput:
    frames: list
    fps: float
    person: int = 0


@dataclass(frozen=True)
class MusicInput:
    features: torch.Tensor  # [N, 35] at ``fps``
    fps: float
    audio: dict | None = None  # the AUDIO they came from: features at another model's fps are computed anew


@dataclass(frozen=True)
class KeyframeInput:
    motion: Motion
    frames: str | tuple


@dataclass(frozen=True)
class Estimate:
    motion: Motion  # gravity-view: y up, first pelvis at the origin
    camera_motion: Motion  # the same motion as the video's camera sees it
    camera: dict  # fit_camera's result
    poses: list  # the POSE_KEYPOINT frames it was estimated from


# Estimation reads one person's body: no hands, face or segmentation mask to compute. Whole-frame
# detection without side check, as in the corpus the demo model's 2D condition was trained on.
VIDEO_DETECTION = DetectionSettings(video=True, hands=False, face=False, mask="none", person_crop=False,
                                    side_check=False)


def _fit_music(music: MusicInput, length: int, fps: float) -> tuple[torch.Tensor, torch.Tensor]:
    if not math.isclose(music.fps, fps, rel_tol=1e-6) and music.audio is not None:
        music = MusicInput(audio_to_music(music.audio, fps=fps, num_frames=None)[0], fps, music.audio)
    if not math.isclose(music.fps, fps, rel_tol=1e-6):
        raise InputError("music", f"features are at {music.fps:g} fps but the model runs at {fps:g} fps: compute them "
                                  f"at the model's frame rate")
    return fit_to_frames(music.features, length, fps)


def untrained_inputs(model: GenmoModel, **given) -> list[str]:
    """The given inputs (name -> value or None) the model's training never showed it, from the
    ``conditions`` its training record lists (absent for GEM's weights, which saw them all)."""
    trained = model.record.get("conditions")
    if trained is None:
        return []
    names = {"timeline": "text", "poses": "keypoints", "music": "music"}
    return [name for name, value in given.items() if value is not None and names[name] not in trained]


def sample_from_inputs(model: GenmoModel, timeline, seconds: float, poses: PoseInput | None = None,
                       music: MusicInput | None = None, keyframes: KeyframeInput | None = None, body_model=None,
                       **sampling) -> tuple[Motion, list[Prompt]]:
    """One motion of ``seconds`` under any subset of the inputs; ``sampling`` goes to ``generate_motion``
    (steps, cfg, seed, window, text_encoder, progress, check_interrupt). ``body_model``: the SMPL model a
    151-d GEM model needs (``smpl151.load_smpl_body_model``). Returns the motion with the parsed prompts."""
    check_decodable(model, body_model, keyframes)  # before any input is fitted to the model
    for name in untrained_inputs(model, music=music, poses=poses, timeline=timeline or None):
        warnings.warn(f"{name}: this model was trained without it (its record lists {model.record['conditions']}); "
                      f"it changes the motion in ways the model never learned", stacklevel=2)
    length = frames_for_seconds(seconds, model.fps)
    prompts = parse_timeline(timeline, length / model.fps, model.fps) if timeline else []
    keypoints = None
    if poses is not None:
        keypoints = keypoint_condition(poses.frames, poses.fps, length, model.fps, person=poses.person)
    music_fields = _fit_music(music, length, model.fps) if music is not None else None
    frames = None
    if keyframes is not None:
        frames = make_keyframes(keyframes.motion, parse_frames(keyframes.frames, length), length, model.stats)
    motion = generate_motion(model, prompts, length / model.fps, keypoints=keypoints, music=music_fields,
                             keyframes=frames, body_model=body_model, **sampling)
    return motion, prompts


def estimate_from_poses(model: GenmoModel, frames: list, fps: float, person: int = 0, **options) -> Estimate:
    """The 3D motion of person ``person`` in POSE_KEYPOINT ``frames`` at ``fps``; ``options`` go to
    ``estimate_motion`` (seed, window, mode, body_model for a 151-d GEM model, ...)."""
    check_decodable(model, options.get("body_model"))
    if not isinstance(frames, list) or not frames:
        raise InputError("pose_keypoint", "expected a non-empty list of POSE_KEYPOINT frames")
    fps = positive_number(fps, "fps", "a positive frame rate")
    length = max(1, round(len(frames) / fps * model.fps))
    keypoints = keypoint_condition(frames, fps, length, model.fps, person=person)
    motion = estimate_motion(model, keypoints, **options)
    camera = fit_camera(motion.joints, *(tensor[0] for tensor in keypoints))
    return Estimate(motion, to_camera_frame(motion, camera), camera, frames)


def estimate_from_video(model: GenmoModel, frames, fps: float, progress: ProgressCallback | None = None,
                        **options) -> Estimate:
    """Detect the person in video ``frames`` (IMAGE or uint8 [T, H, W, 3]) at ``fps``, then
    :func:`estimate_from_poses`; ``progress`` follows the detection, frame by frame."""
    check_decodable(model, options.get("body_model"))  # before the detection, which takes a while
    detection = detect_poses(frames, VIDEO_DETECTION, fps=fps, progress=progress)
    return estimate_from_poses(model, detection.pose_keypoint, fps, **options)


def timeline_verdicts(motion: Motion, prompts: list[Prompt]) -> list[tuple[Prompt, CheckResult]]:
    """The rule checker's verdict on each prompt, read on the prompt's own window of ``motion``."""
    verdicts = []
    for prompt in prompts:
        start = min(int(round(prompt.start * motion.fps)), motion.num_frames - 1)
        end = max(start + 1, min(int(round(prompt.end * motion.fps)), motion.num_frames))
        window = dataclasses.replace(motion, joints=motion.joints[start:end].contiguous(), params={})
        verdicts.append((prompt, check_motion_against_text(window, prompt.text)))
    return verdicts
