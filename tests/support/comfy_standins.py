"""Test-only stand-ins that run the core ComfyUI nodes our workflows use, without ComfyUI.

Inputs and outputs come from the declarations in ``workflows/source/core_nodes.py``; these add the
behaviour the test runner needs (load an image, save frames, turn a mask into an image).
"""

from __future__ import annotations

import cv2
import torch
from posemotion.nodes import bridge
from posemotion.workflows.source import core_nodes


def _save_frames(images: torch.Tensor, filename_prefix: str, suffix: str) -> dict:
    results = []
    for frame in (images.clamp(0, 1) * 255 + 0.5).to(torch.uint8).numpy():
        path, name, subfolder = bridge.output_path(filename_prefix, suffix)
        cv2.imwrite(path, cv2.cvtColor(frame, cv2.COLOR_RGB2BGR))
        results.append({"filename": name, "subfolder": subfolder, "type": "output"})
    return {"ui": {"images": results}}


class LoadImage(core_nodes.LoadImage):
    def load_image(self, image):
        bgr = cv2.imread(bridge.resolve_input(image, "image"), cv2.IMREAD_COLOR)
        rgb = torch.from_numpy(cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)).float().div(255)[None]
        return (rgb, torch.zeros(1, *rgb.shape[1:3]))


class SaveImage(core_nodes.SaveImage):
    def save_images(self, images, filename_prefix="ComfyUI"):
        return _save_frames(images, filename_prefix, ".png")


class SaveAnimatedWEBP(core_nodes.SaveAnimatedWEBP):
    def save_images(self, images, fps, filename_prefix, lossless, quality, method):
        assert images.ndim == 4 and fps > 0
        out = _save_frames(images[:1], filename_prefix, ".webp")
        out["ui"]["frames"] = [len(images)]
        return out


class MaskToImage(core_nodes.MaskToImage):
    def mask_to_image(self, mask):
        return (mask.reshape(-1, 1, *mask.shape[-2:]).movedim(1, -1).expand(-1, -1, -1, 3),)


CORE_NODES = {cls.__name__: cls for cls in (LoadImage, SaveImage, SaveAnimatedWEBP, MaskToImage)}
