"""GENMO nodes: load the motion diffusion model, build its conditions (a text timeline, 2D poses, music,
3D keyframes), sample a MOTION of any length, or estimate a person's 3D motion from a video.

GENMO between nodes is a :class:`LoadedGenmo`: the model (denoiser, feature statistics, config), the
text encoder its checkpoint names and, for NVIDIA's 151-d gem_smpl.ckpt, the SMPL body model its motion is
decoded with (SMPL_NEUTRAL.npz / .pkl, found in the models/smpl folder: Load GENMO has no input for it, so
that workflows saved before keep their widgets); the denoiser is handed to ComfyUI's memory manager and loaded right
before each run. Sampling reports progress once per denoising step and honours Cancel between steps.

The condition nodes check and carry their inputs (GENMO_TIMELINE: the prompt lines; GENMO_POSE_2D,
GENMO_MUSIC, GENMO_KEYFRAMES: ``models.genmo.pipeline``'s PoseInput, MusicInput, KeyframeInput); the
sample node fits them to the requested length, so a prompt window or a keyframe outside the length is
reported there, naming the prompt or frame.
"""

from __future__ import annotations

import os

from ..models.core.errors import InputError, ModelFileError
from ..models.genmo import BUNDLED_DIR
from ..models.genmo.keyframes import parse_frames
from ..models.genmo.keypoints2d import pose_keypoint_to_coco
from ..models.genmo.model import MAX_SECONDS, load_genmo
from ..models.genmo.music import audio_to_music
from ..models.genmo.pipeline import (
    KeyframeInput,
    MusicInput,
    PoseInput,
    estimate_from_video,
    sample_from_inputs,
    untrained_inputs,
)
from ..models.genmo.smpl151 import REPRESENTATION as GEM_SMPL
from ..models.genmo.smpl151 import SMPL_NAMES, load_smpl_body_model
from ..models.genmo.text_encoders import open_text_encoder
from ..models.genmo.timeline import parse_timeline
from . import bridge

CATEGORY = "PoseMotion/genmo"
EMBEDDED_TEXT = "[embedded] all-MiniLM-L6-v2"
CHECKPOINT_SUFFIXES = (".safetensors", ".ckpt")  # ours, and NVIDIA's gem_smpl.ckpt
ANY_LENGTH = 10**9  # frames / seconds: windows and keyframes are checked against the motion's length when sampling
MUSIC_FPS = 20.0  # the demo model's (HumanML3D's) frame rate; Sample recomputes them for a model at another rate
SMPL_FOLDER = "smpl"
SAMPLING = {
    "steps": ("INT", {"default": 50, "min": 1, "max": 1000, "tooltip": "DDIM denoising steps (GEM uses 50)."}),
    "cfg": ("FLOAT", {"default": 2.5, "min": 0.0, "max": 20.0, "step": 0.1,
                      "tooltip": "Classifier-free guidance: 1 = conditions as given, higher follows them harder, "
                                 "0 = ignore them."}),
    "seed": ("INT", {"default": 0, "min": 0, "max": 2**31 - 1, "tooltip": "The same seed gives the same motion."}),
    "window": ("INT", {"default": 120, "min": 0, "max": 100000,
                       "tooltip": "Attention window in frames (each frame sees +-window/2): cost grows linearly with "
                                  "the length. 0 = full attention."}),
}


class LoadedGenmo:
    """GENMO_MODEL: ``model`` (a GenmoModel), ``text_encoder``, ``body_model`` (the SMPL model a 151-d model
    decodes with, or None) and ``managed`` (the denoiser for the manager)."""

    def __init__(self, model, text_encoder, name: str, body_model=None):
        self.model, self.text_encoder, self.name, self.body_model = model, text_encoder, name, body_model
        self.managed = bridge.ManagedModel(model.denoiser, name)

    def load(self):
        self.managed.load()
        return self.model


def _checkpoint_choices() -> list[str]:
    return bridge.list_checkpoints("genmo", CHECKPOINT_SUFFIXES, BUNDLED_DIR)


def _text_encoder_choices() -> list[str]:
    return [EMBEDDED_TEXT] + bridge.list_model_dirs("text_encoders")


def _smpl_body_model() -> tuple[object, str | None]:
    """(the SMPL body model, its file name) from the models/smpl folder (SMPL_NAMES, in that order, at any
    depth), or (None, None) when it holds none; a file that does not load -> ModelFileError naming it."""
    files = bridge.list_models(SMPL_FOLDER)
    for wanted in SMPL_NAMES:
        for name in files:
            if name.rsplit("/", 1)[-1] == wanted:
                path = bridge.resolve_model(SMPL_FOLDER, name, "body_model")
                try:
                    return load_smpl_body_model(path), name
                except ModelFileError as error:
                    raise ModelFileError(f"body_model: {error}") from error
    return None, None


class PoseMotionLoadGenmo:
    CATEGORY = CATEGORY
    DESCRIPTION = ("Loads a GENMO motion diffusion model: the bundled demo model (HumanML3D 263-d motion, trained here "
                   "on the pack's small motion-text corpus) or a model you trained (models/genmo). NVIDIA's "
                   "gem_smpl.ckpt (in models/genmo) needs your T5-3B encoder folder (models/text_encoders) and the "
                   "SMPL body model: put SMPL_NEUTRAL.npz or SMPL_NEUTRAL.pkl in models/smpl; its motion comes out "
                   "at 30 fps, without keyframes.")
    RETURN_TYPES = ("GENMO_MODEL",)
    RETURN_NAMES = ("genmo",)
    FUNCTION = "load"

    @classmethod
    def INPUT_TYPES(cls):
        return {"required": {
            "checkpoint": (_checkpoint_choices(), {"tooltip": "A GENMO checkpoint from models/genmo or the bundled "
                                                              "demo model."}),
            "text_encoder": (_text_encoder_choices(), {"tooltip": "The text encoder the model was trained with: the "
                                                                  "embedded MiniLM for the demo model, a T5 encoder "
                                                                  "folder for GEM's weights."}),
        }}

    def load(self, checkpoint, text_encoder=EMBEDDED_TEXT):
        path = bridge.resolve_checkpoint("genmo", checkpoint, BUNDLED_DIR, "checkpoint")
        try:
            model = load_genmo(path)
        except ModelFileError as error:  # the loader names the file, not this node's input
            raise ModelFileError(f"checkpoint: {error}") from error
        folder = None if text_encoder == EMBEDDED_TEXT else bridge.resolve_model_dir("text_encoders", text_encoder,
                                                                                     "text_encoder")
        encoder = open_text_encoder(model.config.text_encoder, folder)
        config = model.config
        body_model, body_note = None, ""
        if config.representation == GEM_SMPL:
            body_model, smpl_name = _smpl_body_model()
            body_note = (f", body model {smpl_name}" if body_model is not None else
                         f"; no {' or '.join(SMPL_NAMES)} in models/smpl: Sample and Estimate need it")
        return {"ui": {"text": [f"{os.path.basename(path)}: {config.representation}, {config.width} wide, "
                                f"{config.layers} layers, text {model.config.text_encoder}, {model.fps:g} fps"
                                f"{body_note}"]},
                "result": (LoadedGenmo(model, encoder, os.path.basename(path), body_model),)}


class PoseMotionGenmoTimeline:
    CATEGORY = CATEGORY
    DESCRIPTION = ("Prompts with time windows, one per line: 'START-END: text' in seconds ('0-3: walks forward'), "
                   "'0%-50%: text' as shares of the length, or plain text for the whole motion. Windows may overlap "
                   "(both prompts then act on the shared frames).")
    RETURN_TYPES = ("GENMO_TIMELINE",)
    RETURN_NAMES = ("timeline",)
    FUNCTION = "build"

    @classmethod
    def INPUT_TYPES(cls):
        return {"required": {"text": ("STRING", {"default": "0-3: a person walks forward\n3-6: a person jumps up",
                                                 "multiline": True})}}

    def build(self, text):
        lines = [line for line in str(text).splitlines() if line.strip()]
        if not lines:
            raise InputError("text", "the timeline is empty: write at least one prompt, e.g. '0-3: walks forward'")
        parse_timeline(lines, ANY_LENGTH)  # syntax and empty prompts now; windows against the length at sampling
        return {"ui": {"text": [f"{len(lines)} prompt(s)"]}, "result": (lines,)}


class PoseMotionGenmoPose2D:
    CATEGORY = CATEGORY
    DESCRIPTION = ("2D poses (POSE_KEYPOINT, e.g. from Detect Pose on video frames) as a GENMO condition: the motion "
                   "follows them where a person is seen. They are resampled from fps to the model's frame rate.")
    RETURN_TYPES = ("GENMO_POSE_2D",)
    RETURN_NAMES = ("pose_2d",)
    FUNCTION = "build"

    @classmethod
    def INPUT_TYPES(cls):
        return {"required": {
            "pose_keypoint": ("POSE_KEYPOINT",),
            "fps": ("FLOAT", {"default": 30.0, "min": 0.1, "max": 240.0, "step": 0.5, "forceInput": True,
                              "tooltip": "The frame rate of the poses (Load Video's fps)."}),
            "person": ("INT", {"default": 0, "min": 0, "max": 64, "tooltip": "Which person of each frame."}),
        }}

    def build(self, pose_keypoint, fps, person):
        if not isinstance(pose_keypoint, list) or not pose_keypoint:
            raise InputError("pose_keypoint", "expected a non-empty list of POSE_KEYPOINT frames")
        # the rule Sample applies: a frame counts when the person has enough confident joints for a box
        seen = int(pose_keypoint_to_coco(pose_keypoint, int(person))[2].sum())
        if seen == 0:
            raise InputError("pose_keypoint", f"person {person} is in none of the {len(pose_keypoint)} frames "
                                              f"(missing, or too few confident joints)")
        return {"ui": {"text": [f"person {person} in {seen}/{len(pose_keypoint)} frames"]},
                "result": (PoseInput(pose_keypoint, float(fps), int(person)),)}


class PoseMotionGenmoMusic:
    CATEGORY = CATEGORY
    DESCRIPTION = ("Music (AUDIO, e.g. from Load Audio) as a GENMO condition: 35 features per motion frame (onset "
                   "strength, 20 MFCC, 12 chroma, onset peaks, beats; EDGE's layout). A track shorter than the motion "
                   "is padded (the rest is unconditioned) with a warning.")
    RETURN_TYPES = ("GENMO_MUSIC",)
    RETURN_NAMES = ("music",)
    FUNCTION = "build"

    @classmethod
    def INPUT_TYPES(cls):
        return {"required": {"audio": ("AUDIO",)}}

    def build(self, audio):
        try:
            features, _ = audio_to_music(audio, fps=MUSIC_FPS, num_frames=None)
        except InputError as error:  # the feature code calls the track "music": name this node's input
            if error.input_name != "music":
                raise
            raise InputError("audio", str(error).removeprefix("music: ")) from error
        return {"ui": {"text": [f"{len(features)} frames of music features at {MUSIC_FPS:g} fps"]},
                "result": (MusicInput(features, MUSIC_FPS, audio),)}


class PoseMotionGenmoKeyframes:
    CATEGORY = CATEGORY
    DESCRIPTION = ("3D keyframes for GENMO: frames of a MOTION the sampled motion must pass through (inpainting). "
                   "frames lists target frame numbers, e.g. '0, 79'; a motion with exactly that many frames gives "
                   "them in order, a longer one gives its own frames at those numbers.")
    RETURN_TYPES = ("GENMO_KEYFRAMES",)
    RETURN_NAMES = ("keyframes",)
    FUNCTION = "build"

    @classmethod
    def INPUT_TYPES(cls):
        return {"required": {"motion": ("MOTION",),
                             "frames": ("STRING", {"default": "0, 79", "tooltip": "Target frame numbers, comma-"
                                                                                  "separated (at 20 fps, the demo "
                                                                                  "model's frame rate)."})}}

    def build(self, motion, frames):
        parse_frames(frames, ANY_LENGTH)  # syntax now; against the length at sampling
        return {"ui": {"text": [f"keyframes at {frames}"]}, "result": (KeyframeInput(motion, frames),)}


class PoseMotionGenmoSample:
    CATEGORY = CATEGORY
    DESCRIPTION = ("Samples one MOTION of the requested length from GENMO under any combination of a text timeline, "
                   "2D poses, music and 3D keyframes (none at all gives an unconditioned motion). smpl_22 joints at "
                   "the model's frame rate (20 fps for the demo model, 30 for GEM's), y up, starting at the origin "
                   "(the demo model's facing +z).")
    RETURN_TYPES = ("MOTION", "FLOAT")
    RETURN_NAMES = ("motion", "fps")
    FUNCTION = "sample"

    @classmethod
    def INPUT_TYPES(cls):
        return {"required": {
            "genmo": ("GENMO_MODEL",),
            "seconds": ("FLOAT", {"default": 6.0, "min": 0.05, "max": MAX_SECONDS, "step": 0.5,
                                  "tooltip": f"Length of the motion, at most {MAX_SECONDS:g} s (the library's "
                                             f"max_seconds; attention cost grows linearly with it)."}),
            **SAMPLING,
        }, "optional": {
            "timeline": ("GENMO_TIMELINE",), "pose_2d": ("GENMO_POSE_2D",), "music": ("GENMO_MUSIC",),
            "keyframes": ("GENMO_KEYFRAMES",),
        }}

    def sample(self, genmo, seconds, steps, cfg, seed, window, timeline=None, pose_2d=None, music=None,
               keyframes=None):
        model = genmo.load()
        motion, _ = sample_from_inputs(
            model, timeline, seconds, poses=pose_2d, music=music, keyframes=keyframes, steps=steps, cfg=cfg,
            seed=seed, window=window, text_encoder=genmo.text_encoder, progress=bridge.Progress(steps, "GENMO"),
            check_interrupt=bridge.check_interrupt, body_model=genmo.body_model)
        untrained = untrained_inputs(genmo.model, timeline=timeline, poses=pose_2d, music=music)
        note = f"; {', '.join(untrained)}: not in this model's training, ignore the effect" if untrained else ""
        return {"ui": {"text": [f"{motion.num_frames} frames at {motion.fps:g} fps{note}"]},
                "result": (motion, float(motion.fps))}


class PoseMotionEstimateMotion:
    CATEGORY = CATEGORY
    DESCRIPTION = ("A video of one person -> their 3D motion: detects the person's 2D pose in every frame, then GENMO "
                   "estimates the motion in one pass (estimation mode). Outputs the motion in a gravity-aligned frame "
                   "(y up, starting at the origin) and the same motion as seen by the video's camera.")
    RETURN_TYPES = ("MOTION", "MOTION", "POSE_KEYPOINT")
    RETURN_NAMES = ("motion", "camera_motion", "pose_keypoint")
    OUTPUT_TOOLTIPS = ("Gravity-view: y up, first pelvis at the origin, facing +z.",
                       "The same motion rotated, scaled and placed so it projects onto the detected 2D poses.",
                       "The detected 2D poses.")
    FUNCTION = "estimate"

    @classmethod
    def INPUT_TYPES(cls):
        return {"required": {
            "genmo": ("GENMO_MODEL",),
            "frames": ("IMAGE", {"tooltip": "Video frames of one person (Load Video)."}),
            "fps": ("FLOAT", {"default": 30.0, "min": 0.1, "max": 240.0, "step": 0.5, "forceInput": True}),
            "seed": SAMPLING["seed"],
            "window": SAMPLING["window"],
        }}

    def estimate(self, genmo, frames, fps, seed, window):
        result = estimate_from_video(genmo.load(), frames, fps, progress=bridge.Progress(len(frames), "Detect pose"),
                                     seed=seed, window=window, body_model=genmo.body_model)
        return {"ui": {"text": [f"{result.motion.num_frames} frames at {result.motion.fps:g} fps"]},
                "result": (result.motion, result.camera_motion, result.poses)}


NODE_CLASS_MAPPINGS = {
    "PoseMotionLoadGenmo": PoseMotionLoadGenmo,
    "PoseMotionGenmoTimeline": PoseMotionGenmoTimeline,
    "PoseMotionGenmoPose2D": PoseMotionGenmoPose2D,
    "PoseMotionGenmoMusic": PoseMotionGenmoMusic,
    "PoseMotionGenmoKeyframes": PoseMotionGenmoKeyframes,
    "PoseMotionGenmoSample": PoseMotionGenmoSample,
    "PoseMotionEstimateMotion": PoseMotionEstimateMotion,
}
NODE_DISPLAY_NAME_MAPPINGS = {
    "PoseMotionLoadGenmo": "Load GENMO",
    "PoseMotionGenmoTimeline": "Text Timeline (GENMO)",
    "PoseMotionGenmoPose2D": "2D Pose Condition (GENMO)",
    "PoseMotionGenmoMusic": "Music Features (GENMO)",
    "PoseMotionGenmoKeyframes": "Keyframes (GENMO)",
    "PoseMotionGenmoSample": "GENMO Sample",
    "PoseMotionEstimateMotion": "Estimate 3D Motion (GENMO)",
}
