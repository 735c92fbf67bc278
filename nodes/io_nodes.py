"""Video and pose-file nodes."""

from __future__ import annotations

import json

from ..models.core.pose_keypoint import validate_pose_keypoint
from ..models.media.images import to_image
from ..models.media.video import read_video
from . import bridge


class PoseMotionLoadVideo:
    CATEGORY = "PoseMotion/io"
    DESCRIPTION = "Loads a video from ComfyUI's input folder as IMAGE frames, with its frame rate."
    RETURN_TYPES = ("IMAGE", "FLOAT", "INT")
    RETURN_NAMES = ("frames", "fps", "frame_count")
    FUNCTION = "load"

    @classmethod
    def INPUT_TYPES(cls):
        return {"required": {
            "video": (bridge.list_input_files(bridge.VIDEO_EXTENSIONS), {"tooltip": "A video in ComfyUI's input folder."}),
            "max_frames": ("INT", {"default": 0, "min": 0, "max": 100000, "tooltip": "0 = all frames."}),
            "every_nth": ("INT", {"default": 1, "min": 1, "max": 100, "tooltip": "Keep one frame in n."}),
            "max_side": ("INT", {"default": 0, "min": 0, "max": 8192, "step": 8,
                         "tooltip": "Downsize so the longer side is at most this (0 = original)."}),
        }}

    @classmethod
    def IS_CHANGED(cls, video, **_):
        return bridge.input_modified_time(video)

    def load(self, video, max_frames, every_nth, max_side):
        frames, fps = read_video(bridge.resolve_input(video, "video"), max_frames, every_nth, max_side)
        return (to_image(frames).to(bridge.output_device()), float(fps), len(frames))


class PoseMotionSavePoseKeypoint:
    CATEGORY = "PoseMotion/io"
    DESCRIPTION = "Saves POSE_KEYPOINT frames as an OpenPose-style JSON file in ComfyUI's output folder."
    RETURN_TYPES = ()
    OUTPUT_NODE = True
    FUNCTION = "save"

    @classmethod
    def INPUT_TYPES(cls):
        return {"required": {
            "pose_keypoint": ("POSE_KEYPOINT",),
            "filename_prefix": ("STRING", {"default": "posemotion/pose"}),
        }}

    def save(self, pose_keypoint, filename_prefix):
        frames = validate_pose_keypoint(pose_keypoint)
        return bridge.save_output(filename_prefix, ".json", lambda path: _write_json(frames, path),
                                  f"{len(frames)} frames")


def _write_json(value, path: str) -> None:
    with open(path, "w") as handle:
        json.dump(value, handle)


NODE_CLASS_MAPPINGS = {
    "PoseMotionLoadVideo": PoseMotionLoadVideo,
    "PoseMotionSavePoseKeypoint": PoseMotionSavePoseKeypoint,
}
NODE_DISPLAY_NAME_MAPPINGS = {
    "PoseMotionLoadVideo": "Load Video Frames",
    "PoseMotionSavePoseKeypoint": "Save Pose Keypoints (JSON)",
}
