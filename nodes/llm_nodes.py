"""Motion LLM nodes (MotionGPT-2): load a base LM + motion adapter, then text -> motion, motion -> text,
motion prediction and in-betweening.

MOTION_LLM between nodes is a :class:`LoadedMotionLLM`: either our motion LLM (a base causal LM from
``models/llm`` or the embedded SmolLM2, a LoRA adapter ``.safetensors`` and the motion tokenizer the
adapter names) or OpenMotionLab's official MotionGPT (its ``.tar`` with the user's flan-t5-base folder).
Its language model and motion tokenizer are one module handed to ComfyUI's memory manager, loaded
right before each generation. Generation reports progress once per token through the bridge's
progress bar, whose callback raises ComfyUI's interrupt between tokens.

Motions come out in the motion tokenizer's canonical frame (first pelvis at the origin, facing +z) at
its frame rate (20 fps for the bundled tokenizer). Predict and In-between read only the clip ends
(``context_seconds``) and return those ends with the generated motion, in one canonical frame.
"""

from __future__ import annotations

import dataclasses
import os

import torch

from ..models.core.errors import InputError, ModelFileError
from ..models.core.motion import Motion
from ..models.llm import BUNDLED_DIR, DEMO_ADAPTER
from ..models.llm.adapter import check_motion_tokenizer, load_motion_llm, open_motion_llm, read_adapter_header
from ..models.llm.base import check_dtype, load_base
from ..models.llm.generate import Sampling, inbetween_motions, motion_to_text, predict_motion, text_to_motion
from ..models.llm.model import MotionLLM
from ..models.llm.model import merge_lora as fold_lora_into_base
from ..models.llm.official import OfficialMotionGPT, caption_motion, generate_motion, load_motiongpt
from ..models.tokenizers.codec import encode_motion
from . import bridge

CATEGORY = "PoseMotion/llm"
EMBEDDED = "[embedded] SmolLM2-135M-Instruct"
DEMO_CHOICE = bridge.BUNDLED_PREFIX + os.path.basename(DEMO_ADAPTER)
ADAPTER_SUFFIXES = (".safetensors",)
OFFICIAL_SUFFIXES = (".tar", ".ckpt", ".pth")  # OpenMotionLab's MotionGPT checkpoints (PyTorch Lightning files)
DTYPES = ("float32", "bfloat16", "float16")
SAMPLING_INPUTS = {
    "seed": ("INT", {"default": 0, "min": 0, "max": 2**31 - 1, "tooltip": "The same seed gives the same motion."}),
    "sampling": (["sample", "greedy"], {"tooltip": "sample: temperature and top_p; greedy: the most likely token "
                                                   "each step (seed, temperature and top_p unused)."}),
    "temperature": ("FLOAT", {"default": 1.0, "min": 0.05, "max": 5.0, "step": 0.05,
                              "tooltip": "Lower = more typical motion, higher = more varied."}),
    "top_p": ("FLOAT", {"default": 0.95, "min": 0.05, "max": 1.0, "step": 0.01,
                        "tooltip": "Nucleus sampling: draw from the most likely tokens covering this probability."}),
}
SECONDS = ("FLOAT", {"default": 4.0, "min": 0.05, "max": 60.0, "step": 0.25,
                     "tooltip": "Length of the generated motion, at most the model's maximum (10 s for the demo "
                                "adapter); it becomes an exact token count."})
CONTEXT_SECONDS = ("FLOAT", {"default": 1.5, "min": 0.25, "max": 10.0, "step": 0.25,
                             "tooltip": "How much of the clip's end (or start) the model reads; clip ends plus the "
                                        "generated part must fit in the model's maximum."})


# --- the loaded model ---------------------------------------------------------------------------

class LoadedMotionLLM:
    """MOTION_LLM: ``model`` (a MotionLLM or an OfficialMotionGPT) and ``managed``, its language model and
    motion tokenizer as one module for ComfyUI's memory manager."""

    def __init__(self, model: MotionLLM | OfficialMotionGPT, name: str):
        self.model, self.name = model, name
        tokenizer = model.motion_tokenizer if isinstance(model, MotionLLM) else model.vae
        self.managed = bridge.ManagedModel(torch.nn.ModuleDict({"lm": model.lm, "motion_tokenizer": tokenizer}), name)

    def load(self) -> MotionLLM | OfficialMotionGPT:
        """The model on its compute device (the manager moves the modules in place)."""
        self.managed.load()
        return self.model

    def adapter_model(self, node: str) -> MotionLLM:
        """The model, refused by name when it is the official MotionGPT (which has no such task here)."""
        if not isinstance(self.model, MotionLLM):
            raise InputError("llm", f"{node} needs a motion LLM adapter; the official MotionGPT does text to "
                                    f"motion and motion to text only")
        return self.load()


def _base_choices() -> list[str]:
    folders = bridge.list_model_dirs("llm")
    files = [f for f in bridge.list_models("llm") if f.lower().endswith(".gguf")]
    return [EMBEDDED] + folders + files


def _adapter_choices() -> list[str]:
    folders = bridge.list_model_dirs("llm")  # a base folder's own weights are no adapter
    listed = [f for f in bridge.list_checkpoints("llm", ADAPTER_SUFFIXES + OFFICIAL_SUFFIXES, BUNDLED_DIR)
              if not any(f.startswith(d + "/") for d in folders)]
    # the demo adapter is always offered (the shipped workflows name it); loading says when it is absent
    return listed + ([DEMO_CHOICE] if DEMO_CHOICE not in listed else [])


def _base_path(base: str) -> str | None:
    if base == EMBEDDED:
        return None
    path = bridge.resolve_model_entry("llm", base, "base")
    if os.path.isfile(path) and not path.lower().endswith(".gguf"):
        raise InputError("base", f"{base!r} is neither a model folder (with config.json) nor a .gguf file")
    return path


class PoseMotionLoadMotionLLM:
    CATEGORY = CATEGORY
    DESCRIPTION = ("Loads the motion LLM: a base causal LM (a folder or .gguf in models/llm, or the embedded "
                   "SmolLM2-135M-Instruct) plus a motion adapter (.safetensors: LoRA weights and motion tokens; the "
                   "bundled demo adapter is for the embedded base). The adapter's motion tokenizer is the bundled one "
                   "it names, or connect one. An official MotionGPT checkpoint (.tar in models/llm) loads instead "
                   "when chosen as adapter, with your flan-t5-base folder as base.")
    RETURN_TYPES = ("MOTION_LLM",)
    RETURN_NAMES = ("llm",)
    FUNCTION = "load"

    @classmethod
    def INPUT_TYPES(cls):
        return {"required": {
            "base": (_base_choices(), {"tooltip": "The base LM the adapter was trained on (refused otherwise). For an "
                                                  "official MotionGPT checkpoint: the flan-t5-base folder."}),
            "adapter": (_adapter_choices(), {"tooltip": "A motion adapter (.safetensors) from models/llm or the "
                                                        "bundled demo, or an official MotionGPT .tar."}),
            "dtype": (list(DTYPES), {"tooltip": "bfloat16 halves the memory; float32 is fastest on most CPUs."}),
            "merge_lora": ("BOOLEAN", {"default": True, "tooltip": "Fold the LoRA weights into the base (faster "
                                                                   "generation, same results within rounding)."}),
        }, "optional": {
            "motion_tokenizer": ("MOTION_TOKENIZER", {"tooltip": "The motion tokenizer the adapter was trained with, "
                                                                 "when it is not a bundled one."}),
        }}

    def load(self, base, adapter, dtype, merge_lora, motion_tokenizer=None):
        dtype = check_dtype(dtype)
        adapter_path = bridge.resolve_checkpoint("llm", adapter, BUNDLED_DIR, "adapter")
        base_path = _base_path(base)
        if adapter_path.lower().endswith(OFFICIAL_SUFFIXES):
            official = _load_official(adapter_path, base_path, dtype, motion_tokenizer)
            return {"ui": {"text": [f"official MotionGPT {os.path.basename(adapter_path)} with {base}'s config and "
                                    f"tokenizer: {official.vocabulary.num_added} motion tokens"]},
                    "result": (LoadedMotionLLM(official, os.path.basename(adapter_path)),)}
        if motion_tokenizer is None:
            llm = open_motion_llm(adapter_path, base_path, dtype=dtype)
        else:
            tokenizer = motion_tokenizer.module
            header = read_adapter_header(adapter_path)
            try:  # before loading the base: the connected tokenizer against the adapter's
                check_motion_tokenizer(header, tokenizer, adapter_path)
            except ModelFileError as error:
                raise InputError("motion_tokenizer", str(error)) from error
            llm = load_motion_llm(load_base(base_path, dtype=dtype), tokenizer, adapter_path)
        if merge_lora:
            llm = fold_lora_into_base(llm)
        return {"ui": {"text": [f"{llm.base.name} + {os.path.basename(adapter_path)}: {llm.vocabulary.num_added} "
                                f"motion tokens ({llm.vocabulary.tokenizer_kind}), up to {llm.max_seconds:g} s"]},
                "result": (LoadedMotionLLM(llm, os.path.basename(adapter_path)),)}


def _load_official(checkpoint: str, t5_folder: str | None, dtype: torch.dtype, motion_tokenizer) -> OfficialMotionGPT:
    if t5_folder is None or not os.path.isdir(t5_folder):
        raise InputError("base", "an official MotionGPT checkpoint needs your flan-t5-base folder (config.json and "
                                 "tokenizer files) in models/llm as base")
    if motion_tokenizer is not None:
        raise InputError("motion_tokenizer", "the official MotionGPT checkpoint holds its own VQ-VAE; disconnect it")
    try:
        official = load_motiongpt(checkpoint, t5_folder)
    except ModelFileError as error:  # its messages name its own arguments: name this node's inputs first
        raise ModelFileError(f"{'base' if str(error).startswith('t5_folder') else 'adapter'}: {error}") from error
    official.lm.to(dtype)
    return official


# --- tasks --------------------------------------------------------------------------------------

def _sampling(seed: int, sampling: str, temperature: float, top_p: float) -> Sampling:
    return Sampling(greedy=sampling == "greedy", temperature=temperature, top_p=top_p, seed=seed)


def _clip_end(motion: Motion, seconds: float, last: bool) -> Motion:
    """The last (or first) ``seconds`` of ``motion``, plus the one frame its tokens' velocity features need."""
    frames = round(seconds * motion.fps) + 1
    if frames >= motion.num_frames:
        return motion
    part = slice(motion.num_frames - frames, None) if last else slice(0, frames)
    return dataclasses.replace(motion, joints=motion.joints[part].contiguous(),
                               params={key: value[part] for key, value in motion.params.items()})


def _summary(motion: Motion) -> str:
    return f"{motion.num_frames} frames ({motion.num_frames / motion.fps:.2f} s at {motion.fps:g} fps)"


class PoseMotionTextToMotion:
    CATEGORY = CATEGORY
    DESCRIPTION = ("Text (and optionally a start and an end pose: the first frame of start_pose, the last of "
                   "end_pose) -> a MOTION of exactly the requested length, decoded from motion tokens the LLM writes "
                   "under a grammar that only allows well-formed motions. The official MotionGPT chooses its own "
                   "length and takes no poses.")
    RETURN_TYPES = ("MOTION", "MOTION_TOKENS", "FLOAT")
    RETURN_NAMES = ("motion", "motion_tokens", "fps")
    OUTPUT_TOOLTIPS = ("smpl_22 joints, canonical frame, at the motion tokenizer's fps.",
                       "The generated tokens (official MotionGPT: its motion encoded again by its VQ-VAE).",
                       "The motion's frame rate.")
    FUNCTION = "generate"

    @classmethod
    def INPUT_TYPES(cls):
        return {"required": {
            "llm": ("MOTION_LLM",),
            "text": ("STRING", {"default": "a person walks forward, then waves with the right hand", "multiline": True,
                                "tooltip": "What the person does; longer than 64 tokens is cut with a warning."}),
            "seconds": SECONDS,
            **SAMPLING_INPUTS,
        }, "optional": {
            "start_pose": ("MOTION", {"tooltip": "Its first frame is where the motion starts."}),
            "end_pose": ("MOTION", {"tooltip": "Its last frame is where the motion ends."}),
        }}

    def generate(self, llm, text, seconds, seed, sampling, temperature, top_p, start_pose=None, end_pose=None):
        settings = _sampling(seed, sampling, temperature, top_p)
        if isinstance(llm.model, OfficialMotionGPT):
            return _official_motion(llm, text, start_pose, end_pose, settings)
        answer = text_to_motion(llm.load(), text, seconds, start_pose, end_pose, settings,
                                progress=bridge.Progress(1, "Text To Motion"))
        return {"ui": {"text": [_summary(answer.motion)]},
                "result": (answer.motion, answer.tokens, float(answer.motion.fps))}


def _official_motion(llm: LoadedMotionLLM, text, start_pose, end_pose, settings: Sampling) -> dict:
    for name, value in (("start_pose", start_pose), ("end_pose", end_pose)):
        if value is not None:
            raise InputError(name, "the official MotionGPT takes no start or end pose; disconnect it")
    official = llm.load()
    bridge.check_interrupt()  # its generate call has no per-token hook
    motion = generate_motion(official, text, seed=settings.seed)  # it always samples, as MotionGPT does
    # its own codes are not exposed: encode its motion again, the last frame repeated once because the
    # velocity features need one frame more than the codes stand for
    padded = dataclasses.replace(motion, joints=torch.cat([motion.joints, motion.joints[-1:]]).contiguous())
    tokens = encode_motion(official.vae, padded)
    return {"ui": {"text": [f"official MotionGPT: {_summary(motion)}"]}, "result": (motion, tokens, float(motion.fps))}


class PoseMotionMotionToText:
    CATEGORY = CATEGORY
    DESCRIPTION = ("A MOTION (or motion tokens of the LLM's own tokenizer) -> a caption written by the motion LLM "
                   "(greedy by default, at most 40 tokens). Connect motion or motion_tokens, not both.")
    RETURN_TYPES = ("STRING",)
    RETURN_NAMES = ("caption",)
    OUTPUT_NODE = True
    FUNCTION = "caption"

    @classmethod
    def INPUT_TYPES(cls):
        return {"required": {"llm": ("MOTION_LLM",), **SAMPLING_INPUTS}, "optional": {
            "motion": ("MOTION", {"tooltip": "3D motion (Load Motion, Text To Motion)."}),
            "motion_tokens": ("MOTION_TOKENS", {"tooltip": "Tokens of the LLM's own motion tokenizer."}),
        }}

    def caption(self, llm, seed, sampling, temperature, top_p, motion=None, motion_tokens=None):
        if motion is not None and motion_tokens is not None:
            raise InputError("motion_tokens", "connect either motion or motion_tokens, not both")
        if motion is None and motion_tokens is None:
            raise InputError("motion", "nothing to describe: connect a MOTION or MOTION_TOKENS")
        if isinstance(llm.model, OfficialMotionGPT):
            if motion is None:
                raise InputError("motion_tokens", "the official MotionGPT reads a MOTION; connect motion instead")
            official = llm.load()
            bridge.check_interrupt()
            text = caption_motion(official, motion)
        else:
            model = llm.load()
            source = motion if motion is not None else model.vocabulary.check_tokens(motion_tokens, "motion_tokens")
            text = motion_to_text(model, source, _sampling(seed, sampling, temperature, top_p),
                                  progress=bridge.Progress(1, "Motion To Text"))
        return {"ui": {"text": [text]}, "result": (text,)}


class PoseMotionPredictMotion:
    CATEGORY = CATEGORY
    DESCRIPTION = ("Continues a motion: the LLM reads the clip's last context_seconds and writes the next seconds. "
                   "Output: that end of the clip followed by the prediction.")
    RETURN_TYPES = ("MOTION", "MOTION_TOKENS", "FLOAT")
    RETURN_NAMES = ("motion", "motion_tokens", "fps")
    FUNCTION = "predict"

    @classmethod
    def INPUT_TYPES(cls):
        return {"required": {
            "llm": ("MOTION_LLM",), "motion": ("MOTION",), "context_seconds": CONTEXT_SECONDS,
            "seconds": (SECONDS[0], {**SECONDS[1], "default": 2.0}), **SAMPLING_INPUTS,
        }}

    def predict(self, llm, motion, context_seconds, seconds, seed, sampling, temperature, top_p):
        model = llm.adapter_model("Predict Motion")
        answer = predict_motion(model, _clip_end(motion, context_seconds, last=True), seconds,
                                _sampling(seed, sampling, temperature, top_p), progress=bridge.Progress(1, "Predict"))
        return {"ui": {"text": [_summary(answer.motion)]},
                "result": (answer.motion, answer.tokens, float(answer.motion.fps))}


class PoseMotionInbetweenMotions:
    CATEGORY = CATEGORY
    DESCRIPTION = ("Joins two motions: the LLM reads the end of first and the start of last (context_seconds of each) "
                   "and writes the seconds between them. Output: first's end, the new middle, last's start.")
    RETURN_TYPES = ("MOTION", "MOTION_TOKENS", "FLOAT")
    RETURN_NAMES = ("motion", "motion_tokens", "fps")
    FUNCTION = "inbetween"

    @classmethod
    def INPUT_TYPES(cls):
        return {"required": {
            "llm": ("MOTION_LLM",), "first": ("MOTION",), "last": ("MOTION",), "context_seconds": CONTEXT_SECONDS,
            "seconds": (SECONDS[0], {**SECONDS[1], "default": 2.0}), **SAMPLING_INPUTS,
        }}

    def inbetween(self, llm, first, last, context_seconds, seconds, seed, sampling, temperature, top_p):
        model = llm.adapter_model("In-between Motions")
        answer = inbetween_motions(model, _clip_end(first, context_seconds, last=True),
                                   _clip_end(last, context_seconds, last=False), seconds,
                                   _sampling(seed, sampling, temperature, top_p),
                                   progress=bridge.Progress(1, "In-between"))
        return {"ui": {"text": [_summary(answer.motion)]},
                "result": (answer.motion, answer.tokens, float(answer.motion.fps))}


NODE_CLASS_MAPPINGS = {
    "PoseMotionLoadMotionLLM": PoseMotionLoadMotionLLM,
    "PoseMotionTextToMotion": PoseMotionTextToMotion,
    "PoseMotionMotionToText": PoseMotionMotionToText,
    "PoseMotionPredictMotion": PoseMotionPredictMotion,
    "PoseMotionInbetweenMotions": PoseMotionInbetweenMotions,
}
NODE_DISPLAY_NAME_MAPPINGS = {
    "PoseMotionLoadMotionLLM": "Load Motion LLM",
    "PoseMotionTextToMotion": "Text To Motion (LLM)",
    "PoseMotionMotionToText": "Motion To Text (LLM)",
    "PoseMotionPredictMotion": "Predict Motion (LLM)",
    "PoseMotionInbetweenMotions": "In-between Motions (LLM)",
}
