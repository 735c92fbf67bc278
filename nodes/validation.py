"""Every node's inputs checked against its own INPUT_TYPES before its function runs.

Inside ComfyUI the server already checks widget values (ranges, combos) but not linked values, and
outside it (tests, other hosts) nothing does; so each input kind has one check here and a bad value
ends as one InputError naming the input, never as an error from deep inside a model. NaN passes
ComfyUI's own range check, so FLOAT inputs are also required to be finite.
"""

from __future__ import annotations

import functools
import inspect
import math
from collections.abc import Callable
from typing import Any

from ..models.core.errors import InputError
from ..models.core.motion import validate_motion
from ..models.core.pose_keypoint import validate_pose_keypoint
from ..models.forecasting.encoders import BlipEncoder
from ..models.forecasting.model import OneStageForecaster
from ..models.forecasting.types import Conditioning
from ..models.genmo.model import GenmoModel
from ..models.genmo.pipeline import KeyframeInput, MusicInput, PoseInput
from ..models.llm.model import MotionLLM
from ..models.llm.official import OfficialMotionGPT
from ..models.media.images import validate_image
from ..models.posegen.pipeline import PoseGenModels
from ..models.posegen.segments import SegmentPlan
from ..models.tokenizers.base import MotionTokenizer, validate_tokens
from .bridge import ManagedModel


def _number(value, name: str, options: dict, kind: type) -> None:
    if isinstance(value, bool) or not isinstance(value, (int, float) if kind is float else int):
        raise InputError(name, f"expected {'a number' if kind is float else 'a whole number'}, "
                               f"got {type(value).__name__} {value!r:.60}")
    if kind is float and not math.isfinite(value):
        raise InputError(name, f"expected a finite number, got {value!r}")
    low, high = options.get("min"), options.get("max")
    if (low is not None and value < low) or (high is not None and value > high):
        raise InputError(name, f"{value!r} is outside the allowed range {low}..{high}")


def _of_class(expected: str, accept: Callable[[Any], bool]) -> Callable[[Any, str], None]:
    def check(value, name: str) -> None:
        if not accept(value):
            raise InputError(name, f"expected {expected}, got {type(value).__name__}")
    return check


def _managed(module_class: type) -> Callable[[Any], bool]:
    return lambda value: isinstance(value, ManagedModel) and isinstance(value.module, module_class)


# One check per ComfyUI type the pack's nodes take as a linked input.
TYPE_CHECKS: dict[str, Callable[[Any, str], Any]] = {
    "IMAGE": validate_image,
    "POSE_KEYPOINT": validate_pose_keypoint,
    "MOTION": validate_motion,
    "MOTION_TOKENS": validate_tokens,
    "FORECAST_CONDITIONING": _of_class("FORECAST_CONDITIONING from a text or BLIP encode node",
                                       lambda v: isinstance(v, Conditioning)),
    "POSE_FORECASTER": _of_class("POSE_FORECASTER from Load Pose Forecaster", _managed(OneStageForecaster)),
    "MOTION_TOKENIZER": _of_class("MOTION_TOKENIZER from Load Motion Tokenizer", _managed(MotionTokenizer)),
    "BLIP_MODEL": _of_class("BLIP_MODEL from Load BLIP", lambda v: isinstance(getattr(v, "encoder", None), BlipEncoder)
                            and isinstance(getattr(v, "managed", None), ManagedModel)),
    "POSEGEN_MODEL": _of_class("POSEGEN_MODEL from Load PoseGen", lambda v: isinstance(v, PoseGenModels)
                               and isinstance(v.transformer, ManagedModel)),
    "POSEGEN_PLAN": _of_class("POSEGEN_PLAN from PoseGen Plan Segments", lambda v: isinstance(v, SegmentPlan)),
    "MOTION_LLM": _of_class("MOTION_LLM from Load Motion LLM",
                            lambda v: isinstance(getattr(v, "managed", None), ManagedModel)
                            and isinstance(getattr(v, "model", None), (MotionLLM, OfficialMotionGPT))),
    "GENMO_MODEL": _of_class("GENMO_MODEL from Load GENMO",
                             lambda v: isinstance(getattr(v, "managed", None), ManagedModel)
                             and isinstance(getattr(v, "model", None), GenmoModel)),
    "GENMO_TIMELINE": _of_class("GENMO_TIMELINE from Text Timeline (a list of prompt lines)",
                                lambda v: isinstance(v, list) and bool(v) and all(isinstance(x, str) for x in v)),
    "GENMO_POSE_2D": _of_class("GENMO_POSE_2D from 2D Pose Condition", lambda v: isinstance(v, PoseInput)),
    "GENMO_MUSIC": _of_class("GENMO_MUSIC from Music Features", lambda v: isinstance(v, MusicInput)),
    "GENMO_KEYFRAMES": _of_class("GENMO_KEYFRAMES from Keyframes", lambda v: isinstance(v, KeyframeInput)),
    "AUDIO": _of_class("AUDIO (a dict with 'waveform' [B, C, N] and 'sample_rate')",
                       lambda v: isinstance(v, dict) and {"waveform", "sample_rate"} <= set(v)),
}


# Combos listing files or folders: the bridge resolves the chosen name and its error names the folder
# and where it looked (more help than the list), after refusing absolute and '..' names.
FOLDER_COMBOS = {"video", "file", "checkpoint", "model", "transformer", "interpolation_model", "vae", "clip_vision",
                 "text_encoder", "tokenizer", "base_lora", "interpolation_lora", "base", "adapter"}


def check_input(name: str, spec: tuple, value) -> None:
    """One input against its INPUT_TYPES entry: (type or combo list, options)."""
    kind, options = spec[0], (spec[1] if len(spec) > 1 else {})
    if isinstance(kind, (list, tuple)):  # a combo
        if not isinstance(value, str) or (value not in kind and name not in FOLDER_COMBOS):
            shown = ", ".join(map(repr, list(kind)[:8])) + (", ..." if len(kind) > 8 else "")
            raise InputError(name, f"{value!r:.80} is not one of the choices ({shown or 'none installed'})")
    elif kind == "INT":
        _number(value, name, options, int)
    elif kind == "FLOAT":
        _number(value, name, options, float)
    elif kind == "BOOLEAN":
        if not isinstance(value, bool):
            raise InputError(name, f"expected true or false, got {type(value).__name__}")
    elif kind == "STRING":
        if not isinstance(value, str):
            raise InputError(name, f"expected text, got {type(value).__name__}")
    elif kind in TYPE_CHECKS:
        TYPE_CHECKS[kind](value, name)


@functools.cache
def _declared(node_class: type) -> dict:
    """A node's INPUT_TYPES, read once: loaders list model folders there (a file-system scan), and the
    only lists that change with the files are FOLDER_COMBOS, whose membership is not checked here."""
    return node_class.INPUT_TYPES()


def check_inputs(node_class: type, inputs: dict) -> dict:
    """All inputs of one call: required ones present and valid, optional ones valid when given. Returns
    the inputs without optional ones set to None (not connected: the function's default applies)."""
    declared = _declared(node_class)
    required, optional = declared.get("required", {}), declared.get("optional", {})
    unknown = sorted(set(inputs) - set(required) - set(optional))
    if unknown:
        raise InputError(unknown[0], f"not an input of {node_class.__name__} (its inputs: "
                                     f"{sorted(required) + sorted(optional)})")
    for name, spec in required.items():
        if name not in inputs:
            raise InputError(name, "missing: this input is required")
        check_input(name, spec, inputs[name])
    for name, spec in optional.items():
        if inputs.get(name) is not None:
            check_input(name, spec, inputs[name])
    return {name: value for name, value in inputs.items() if value is not None or name in required}


def validate_on_call(node_class: type) -> type:
    """Wrap the node's FUNCTION so that every call first runs check_inputs (once per class)."""
    function = getattr(node_class, node_class.FUNCTION)
    if getattr(function, "checks_inputs", False):
        return node_class
    names = list(inspect.signature(function).parameters)[1:]  # after self

    @functools.wraps(function)
    def checked(self, *args, **kwargs):
        if len(args) > len(names):
            raise InputError(node_class.__name__, f"takes {len(names)} inputs, got {len(args)} positional values")
        inputs = {**dict(zip(names, args)), **kwargs}
        return function(self, **check_inputs(node_class, inputs))

    checked.checks_inputs = True
    setattr(node_class, node_class.FUNCTION, checked)
    return node_class
