"""Test-only stand-ins for the core ComfyUI nodes our workflows use.

Their INPUT_TYPES mirror ComfyUI 0.3.64's /object_info for these nodes, so the UI-workflow
validator checks widget values against the real definitions; they run without ComfyUI.
"""

from __future__ import annotations

import cv2
import torch

from posemotion.nodes import bridge


def _save_frames(images: torch.Tensor, filename_prefix: str, suffix: str) -> dict:
    results = []
    for frame in (images.clamp(0, 1) * 255 + 0.5).to(torch.uint8).numpy():
        path, name, subfolder = bridge.output_path(filename_prefix, suffix)
        cv2.imwrite(path, cv2.cvtColor(frame, cv2.COLOR_RGB2BGR))
        results.append({"filename": name, "subfolder": subfolder, "type": "output"})
    return {"ui": {"images": results}}


class LoadImage:
    CATEGORY = "image"
    RETURN_TYPES = ("IMAGE", "MASK")
    FUNCTION = "load_image"

    @classmethod
    def INPUT_TYPES(cls):
        files = bridge.list_input_files({".png", ".jpg", ".jpeg", ".webp"})
        return {"required": {"image": (files, {"image_upload": True})}}

    def load_image(self, image):
        bgr = cv2.imread(bridge.resolve_input(image, "image"), cv2.IMREAD_COLOR)
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
        assert images.ndim == 4 and fps > 0
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


CORE_NODES = {cls.__name__: cls for cls in (LoadImage, SaveImage, SaveAnimatedWEBP, MaskToImage)}

