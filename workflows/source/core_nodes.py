"""Declarations of the core ComfyUI nodes our workflows use, for writing and checking workflow files.

Their INPUT_TYPES mirror ComfyUI 0.3.64's /object_info for these nodes, so UI files get the
frontend's widget order and the validator checks values against the real definitions. They hold no
behaviour; the test runner's stand-ins (tests/support/comfy_standins.py) add it.
"""

from __future__ import annotations

from ...nodes import bridge

IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".webp"}


class LoadImage:
    CATEGORY = "image"
    RETURN_TYPES = ("IMAGE", "MASK")
    FUNCTION = "load_image"

    @classmethod
    def INPUT_TYPES(cls):
        return {"required": {"image": (bridge.list_input_files(IMAGE_SUFFIXES), {"image_upload": True})}}


class SaveImage:
    CATEGORY = "image"
    RETURN_TYPES = ()
    OUTPUT_NODE = True
    FUNCTION = "save_images"

    @classmethod
    def INPUT_TYPES(cls):
        return {"required": {"images": ("IMAGE",), "filename_prefix": ("STRING", {"default": "ComfyUI"})},
                "hidden": {"prompt": "PROMPT", "extra_pnginfo": "EXTRA_PNGINFO"}}


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


class MaskToImage:
    CATEGORY = "mask"
    RETURN_TYPES = ("IMAGE",)
    FUNCTION = "mask_to_image"

    @classmethod
    def INPUT_TYPES(cls):
        return {"required": {"mask": ("MASK",)}}


CORE_NODES = {cls.__name__: cls for cls in (LoadImage, SaveImage, SaveAnimatedWEBP, MaskToImage)}
