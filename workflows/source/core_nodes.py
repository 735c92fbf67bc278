"""The core ComfyUI nodes our workflows use: declarations, and the minimal behaviour to run them here.

Their INPUT_TYPES mirror ComfyUI 0.3.64's /object_info for these nodes, so UI files get the
frontend's widget order and the validator checks values against the real definitions. Their
functions are not ComfyUI's: just enough for the in-process runner (runner.py) that the tests and
the thumbnail renderer use (load an image, save frames as files, turn a mask into an image).
"""

from __future__ import annotations

import cv2
import numpy as np
import soundfile
import torch

from ...nodes import bridge

IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".webp"}
AUDIO_SUFFIXES = {".flac", ".wav", ".ogg"}


class LoadImage:
    CATEGORY = "image"
    RETURN_TYPES = ("IMAGE", "MASK")
    FUNCTION = "load_image"

    @classmethod
    def INPUT_TYPES(cls):
        return {"required": {"image": (bridge.list_input_files(IMAGE_SUFFIXES), {"image_upload": True})}}

    def load_image(self, image):
        bgr = cv2.imread(bridge.resolve_input(image, "image"), cv2.IMREAD_COLOR)
        if bgr is None:
            raise bridge.InputError("image", f"{image!r} is not an image OpenCV can read")
        rgb = torch.from_numpy(cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)).float().div(255)[None]
        return (rgb, torch.zeros(1, *rgb.shape[1:3]))


class SaveImage:
    CATEGORY = "image"
    RETURN_TYPES = ()
    OUTPUT_NODE = True
    FUNCTION = "save_images"

    @classmethod
    def INPUT_TYPES(cls):
        return {"required": {"images": ("IMAGE",), "filename_prefix": ("STRING", {"default": "ComfyUI"})},
                "hidden": {"prompt": "PROMPT", "extra_pnginfo": "EXTRA_PNGINFO"}}

    def save_images(self, images, filename_prefix="ComfyUI"):
        return _save_frames(images, filename_prefix, ".png")


class SaveAnimatedWEBP:
    CATEGORY = "image/animation"
    RETURN_TYPES = ()
    OUTPUT_NODE = True
    FUNCTION = "save_images"

    @classmethod
    def INPUT_TYPES(cls):
        return {"required": {
            "images": ("IMAGE",),
            "filename_prefix": ("STRING", {"default": "ComfyUI"}),
            "fps": ("FLOAT", {"default": 6.0, "min": 0.01, "max": 1000.0, "step": 0.01}),
            "lossless": ("BOOLEAN", {"default": True}),
            "quality": ("INT", {"default": 80, "min": 0, "max": 100}),
            "method": (["default", "fastest", "slowest"],),
        }, "hidden": {"prompt": "PROMPT", "extra_pnginfo": "EXTRA_PNGINFO"}}

    def save_images(self, images, fps, filename_prefix, lossless, quality, method):
        if images.ndim != 4 or not fps > 0:
            raise bridge.InputError("images", f"expected a batch of frames and fps > 0, got {tuple(images.shape)}"
                                              f" at {fps} fps")
        # OpenCV writes no animated WebP: keep the first frame as a file, report the frame count.
        out = _save_frames(images[:1], filename_prefix, ".webp")
        out["ui"]["frames"] = [len(images)]
        return out


class MaskToImage:
    CATEGORY = "mask"
    RETURN_TYPES = ("IMAGE",)
    FUNCTION = "mask_to_image"

    @classmethod
    def INPUT_TYPES(cls):
        return {"required": {"mask": ("MASK",)}}

    def mask_to_image(self, mask):
        return (mask.reshape(-1, 1, *mask.shape[-2:]).movedim(1, -1).expand(-1, -1, -1, 3),)


class Preview3DAnimation:
    CATEGORY = "3d"
    RETURN_TYPES = ()
    OUTPUT_NODE = True
    FUNCTION = "process"
    # not ComfyUI's: the size our UI files give the node. The frontend makes a new node at least
    # 300 x 550 for its 3D viewer, but a loaded workflow keeps the saved size.
    MIN_UI_SIZE = (420, 560)

    @classmethod
    def INPUT_TYPES(cls):
        return {"required": {"model_file": ("STRING", {"default": "", "multiline": False})},
                "optional": {"camera_info": ("LOAD3D_CAMERA", {})}}

    def process(self, model_file, camera_info=None):
        # core hands model_file to the frontend, which fetches it from the output folder (/view)
        if not bridge.contained(bridge.output_directory(), model_file, "model_file").is_file():
            raise bridge.InputError("model_file", f"{model_file!r} is not a file in the output folder")
        return {"ui": {"result": [model_file, camera_info]}}


class LoadAudio:
    CATEGORY = "audio"
    RETURN_TYPES = ("AUDIO",)
    FUNCTION = "load"

    @classmethod
    def INPUT_TYPES(cls):
        return {"required": {"audio": (bridge.list_input_files(AUDIO_SUFFIXES), {"audio_upload": True})}}

    def load(self, audio):
        samples, rate = soundfile.read(bridge.resolve_input(audio, "audio"), dtype="float32", always_2d=True)
        return ({"waveform": torch.from_numpy(np.ascontiguousarray(samples.T))[None], "sample_rate": rate},)


def _save_frames(images: torch.Tensor, filename_prefix: str, suffix: str) -> dict:
    results = []
    for frame in (images.clamp(0, 1) * 255 + 0.5).to(torch.uint8).numpy():
        path, name, subfolder = bridge.output_path(filename_prefix, suffix)
        cv2.imwrite(path, cv2.cvtColor(frame, cv2.COLOR_RGB2BGR))
        results.append({"filename": name, "subfolder": subfolder, "type": "output"})
    return {"ui": {"images": results}}


CORE_NODES = {cls.__name__: cls for cls in (LoadImage, SaveImage, SaveAnimatedWEBP, MaskToImage,
                                               Preview3DAnimation, LoadAudio)}
