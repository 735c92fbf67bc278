"""Pose detection node."""

from __future__ import annotations

from ..models.pose.detection import MASK_SOURCES, DetectionSettings, detect_poses
from . import bridge


class PoseMotionDetectPose:
    CATEGORY = "PoseMotion/pose"
    DESCRIPTION = ("Detects one person's body (OpenPose-18), hands and optionally face in an image or in "
                   "video frames with MediaPipe Holistic. Frames without a person give an empty 'people' list.")
    RETURN_TYPES = ("POSE_KEYPOINT", "MASK", "MOTION")
    RETURN_NAMES = ("pose_keypoint", "person_mask", "landmarks_3d")
    OUTPUT_TOOLTIPS = (
        "2D poses in comfyui_controlnet_aux's POSE_KEYPOINT format (normalised x, y, confidence).",
        "Person segmentation, 0..1 per pixel.",
        "3D landmarks (33 body + 2x21 hand points, image space) for the normal-map renderer.",
    )
    FUNCTION = "detect"

    @classmethod
    def INPUT_TYPES(cls):
        return {
            "required": {
                "image": ("IMAGE", {"tooltip": "One image or a batch of video frames."}),
                "mode": (["image", "video"], {"default": "image",
                         "tooltip": "video tracks the person from frame to frame; image detects each frame anew."}),
                "hands": ("BOOLEAN", {"default": True}),
                "face": ("BOOLEAN", {"default": False}),
                "person_mask": (list(MASK_SOURCES), {"default": "selfie_segmentation"}),
                "min_confidence": ("FLOAT", {"default": 0.5, "min": 0.0, "max": 1.0, "step": 0.05}),
                "smoothing": ("FLOAT", {"default": 0.0, "min": 0.0, "max": 0.95, "step": 0.05,
                              "tooltip": "Extra temporal smoothing of keypoints (0 = off)."}),
                "binary_confidence": ("BOOLEAN", {"default": False,
                                      "tooltip": "Write confidence 1/0, as controlnet_aux's pose renderer expects."}),
            },
            "optional": {
                "fps": ("FLOAT", {"forceInput": True, "tooltip": "Frame rate of the frames (default 30)."}),
            },
        }

    def detect(self, image, mode, hands, face, person_mask, min_confidence, smoothing, binary_confidence, fps=30.0):
        settings = DetectionSettings(video=mode == "video", hands=hands, face=face, mask=person_mask,
                                     min_confidence=min_confidence, smoothing=smoothing,
                                     binary_confidence=binary_confidence)
        detection = detect_poses(image, settings, fps=fps, progress=bridge.Progress(len(image), "Detect pose"))
        found = sum(1 for frame in detection.pose_keypoint if frame["people"])
        return {"ui": {"text": [f"person found in {found}/{len(detection.pose_keypoint)} frames"]},
                "result": (detection.pose_keypoint, detection.masks, detection.landmarks)}


NODE_CLASS_MAPPINGS = {"PoseMotionDetectPose": PoseMotionDetectPose}
NODE_DISPLAY_NAME_MAPPINGS = {"PoseMotionDetectPose": "Detect Pose (MediaPipe)"}
