"""Skeleton and normal-map rendering nodes."""

from __future__ import annotations

import torch

from ..models.media.images import to_image
from ..models.render.normal_maps import NORMAL_MAP_PARTS, render_motion_normals
from ..models.render.openpose import render_skeletons
from . import bridge

_SIZE = {"default": 0, "min": 0, "max": 8192, "step": 8, "tooltip": "0 = the canvas size stored with the poses."}


class PoseMotionRenderSkeleton:
    CATEGORY = "PoseMotion/render"
    DESCRIPTION = ("Draws POSE_KEYPOINT frames as OpenPose-style skeletons (ControlNet / Wan pose convention), "
                   "ready for pose-conditioned models such as WanVaceToVideo's control_video.")
    RETURN_TYPES = ("IMAGE",)
    RETURN_NAMES = ("skeleton",)
    FUNCTION = "render"

    @classmethod
    def INPUT_TYPES(cls):
        return {"required": {
            "pose_keypoint": ("POSE_KEYPOINT",),
            "width": ("INT", dict(_SIZE)),
            "height": ("INT", dict(_SIZE)),
            "body": ("BOOLEAN", {"default": True}),
            "hands": ("BOOLEAN", {"default": True}),
            "face": ("BOOLEAN", {"default": False}),
            "body_threshold": ("FLOAT", {"default": 0.3, "min": 0.0, "max": 1.0, "step": 0.05}),
            "hand_threshold": ("FLOAT", {"default": 0.7, "min": 0.0, "max": 1.0, "step": 0.05}),
            "stick_width": ("INT", {"default": 4, "min": 1, "max": 64}),
            "point_radius": ("INT", {"default": 4, "min": 0, "max": 64}),
        }}

    def render(self, pose_keypoint, width, height, body, hands, face, body_threshold, hand_threshold,
               stick_width, point_radius):
        frames = render_skeletons(pose_keypoint, width, height, body=body, hands=hands, face=face,
                                  body_threshold=body_threshold, hand_threshold=hand_threshold,
                                  stick_width=stick_width, point_radius=point_radius)
        return (to_image(frames).to(bridge.output_device()),)


class PoseMotionRenderNormals:
    CATEGORY = "PoseMotion/render"
    DESCRIPTION = ("Renders 3D landmarks as solid body shapes (a filled torso, neck and head, tapered limbs; hands "
                   "with a palm and tapered fingers) with camera-space normals (RGB = n*0.5+0.5, x right, y up, "
                   "z toward the viewer): hand normals for PoseGen, or the body.")
    RETURN_TYPES = ("IMAGE", "MASK")
    RETURN_NAMES = ("normals", "mask")
    FUNCTION = "render"

    @classmethod
    def INPUT_TYPES(cls):
        return {"required": {
            "landmarks_3d": ("MOTION",),
            "part": (list(NORMAL_MAP_PARTS), {"default": "hands"}),
            "width": ("INT", dict(_SIZE)),
            "height": ("INT", dict(_SIZE)),
            "thickness": ("FLOAT", {"default": 1.0, "min": 0.1, "max": 5.0, "step": 0.1,
                          "tooltip": "Scales the limbs' and fingers' radii and the depth of the torso and palm."}),
        }}

    def render(self, landmarks_3d, part, width, height, thickness):
        progress = bridge.Progress(landmarks_3d.num_frames, "Render normals")
        rgb, mask = render_motion_normals(landmarks_3d, part, width, height, thickness, progress=progress)
        device = bridge.output_device()
        return (to_image(rgb).to(device), torch.from_numpy(mask).to(torch.float32).to(device))


NODE_CLASS_MAPPINGS = {
    "PoseMotionRenderSkeleton": PoseMotionRenderSkeleton,
    "PoseMotionRenderNormals": PoseMotionRenderNormals,
}
NODE_DISPLAY_NAME_MAPPINGS = {
    "PoseMotionRenderSkeleton": "Render Pose Skeleton (OpenPose)",
    "PoseMotionRenderNormals": "Render Normal Map (hands/body)",
}
