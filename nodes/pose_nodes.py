"""Pose detection node."""

from __future__ import annotations

from ..models.pose.detection import MASK_SOURCES, PEOPLE_MODES, DetectionSettings, detect_poses
from ..models.pose.retarget import BONE_LENGTHS, PLACEMENTS, ROOT_MOTIONS, retarget_landmarks, retarget_sequence
from . import bridge


class PoseMotionDetectPose:
    CATEGORY = "PoseMotion/pose"
    DESCRIPTION = ("Detects the body (OpenPose-18), hands and optionally face of one person, or of everyone, in an "
                   "image or in video frames with MediaPipe Holistic, on an upscaled crop around each person. "
                   "Frames without a person give an empty 'people' list.")
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
                "person_crop": ("BOOLEAN", {"default": True, "tooltip": (
                    "Find the person on the whole frame, then detect on an upscaled crop around them: finds small "
                    "and distant people that whole-frame detection misses. Off = MediaPipe on the whole frame.")}),
                "people": (list(PEOPLE_MODES), {"default": "one", "tooltip": (
                    "all: every person, one entry each in pose_keypoint with a stable track_id over the video "
                    "(always on crops; slower: about one extra detection per person and frame). one: the most "
                    "prominent person.")}),
                "hand_check": ("BOOLEAN", {"default": True, "tooltip": (
                    "Drop a hand that is not at its own wrist or is a copy of the other hand (MediaPipe puts both "
                    "hands on one spot when it loses a wrist).")}),
                "side_check": ("BOOLEAN", {"default": True, "tooltip": (
                    "Video mode: when MediaPipe suddenly swaps the person's left and right and keeps the swap, "
                    "exchange the sides back (body and hands).")}),
                "motion_track": ("INT", {"default": 0, "min": 0, "max": 999, "tooltip": (
                    "With people = all: the track id whose landmarks make landmarks_3d (and, with person_mask = "
                    "pose_segmentation, the mask); ids count from 0 in the order people appear. Retarget Pose To "
                    "Reference follows track 0.")}),
            },
        }

    def detect(self, image, mode, hands, face, person_mask, min_confidence, smoothing, binary_confidence, fps=30.0,
               person_crop=True, people="one", hand_check=True, side_check=True, motion_track=0):
        settings = DetectionSettings(video=mode == "video", hands=hands, face=face, mask=person_mask,
                                     min_confidence=min_confidence, smoothing=smoothing,
                                     binary_confidence=binary_confidence, person_crop=person_crop, people=people,
                                     hand_check=hand_check, side_check=side_check, motion_track=motion_track)
        detection = detect_poses(image, settings, fps=fps, progress=bridge.Progress(len(image), "Detect pose"))
        found = sum(1 for frame in detection.pose_keypoint if frame["people"])
        summary = f"person found in {found}/{len(detection.pose_keypoint)} frames"
        if people == "all":
            summary += f", {len({p['track_id'] for f in detection.pose_keypoint for p in f['people']})} people tracked"
        if detection.hands_dropped:
            summary += f"; {detection.hands_dropped} hands dropped (not at their wrist, or a copy)"
        if detection.sides_exchanged:
            summary += f"; left and right exchanged back in {detection.sides_exchanged} frames"
        return {"ui": {"text": [summary]}, "result": (detection.pose_keypoint, detection.masks, detection.landmarks)}


class PoseMotionRetargetPose:
    CATEGORY = "PoseMotion/pose"
    DESCRIPTION = ("Gives a driving pose sequence the reference person's proportions and place: every OpenPose "
                   "bone takes the reference's 2D length (walked from the neck, directions kept), the root path is "
                   "scaled and shifted so the figure stands where and as large as the reference person, and hands "
                   "and face follow the new wrists and head. Reference bones that are missing or implausible keep "
                   "the driving person's proportion at the figure's scale. placement=driving keeps the driving "
                   "person's place and size and changes only the proportions.")
    RETURN_TYPES = ("POSE_KEYPOINT", "MOTION")
    RETURN_NAMES = ("pose_keypoint", "landmarks_3d")
    OUTPUT_TOOLTIPS = (
        "The retargeted poses on the reference's canvas (one person per frame).",
        "The driving landmarks_3d moved the same way (for hand normal maps); empty (None) when landmarks_3d "
        "is not connected.",
    )
    FUNCTION = "retarget"

    @classmethod
    def INPUT_TYPES(cls):
        return {
            "required": {
                "driving": ("POSE_KEYPOINT", {"tooltip": "The pose sequence to retarget, e.g. Detect Pose on a "
                                                         "video. Its first person (or first track) is used."}),
                "reference": ("POSE_KEYPOINT", {"tooltip": "The pose of the reference person, e.g. Detect Pose on "
                                                           "the reference image; its first frame's first person."}),
                "bone_lengths": (list(BONE_LENGTHS), {
                    "default": "scaled",
                    "tooltip": "scaled: each bone times reference length / the driving bone's typical length, so "
                               "foreshortening is kept (a turned shoulder line stays short). exact: every bone "
                               "exactly the reference's 2D length in every frame."}),
                "placement": (list(PLACEMENTS), {
                    "default": "reference",
                    "tooltip": "reference: the figure stands where and as large as the reference person, on the "
                               "reference's canvas. driving: it keeps the driving person's place, size and canvas "
                               "and takes only the reference's proportions (e.g. a full-body shot from a "
                               "half-body reference photo)."}),
                "root_motion": (list(ROOT_MOTIONS), {
                    "default": "follow",
                    "tooltip": "follow: the figure moves as the driving person does (scaled with the figure), "
                               "starting where placement puts it. fixed: the neck stays at that starting place."}),
                "width": ("INT", {"default": 0, "min": 0, "max": 8192, "step": 8,
                                  "tooltip": "Output canvas; 0 x 0 = the one placement names. Another aspect "
                                             "centre-crops that canvas as PoseGen crops its reference image, so set "
                                             "the size you render and generate at."}),
                "height": ("INT", {"default": 0, "min": 0, "max": 8192, "step": 8,
                                   "tooltip": "Output canvas height; 0 x 0 = the one placement names."}),
            },
            "optional": {
                "landmarks_3d": ("MOTION", {"tooltip": "Detect Pose's landmarks_3d of the driving sequence: "
                                                       "moved too, so hand normal maps follow the new wrists. "
                                                       "With people = all it must be track 0 (motion_track 0), "
                                                       "the person retargeted."}),
            },
        }

    def retarget(self, driving, reference, bone_lengths, placement, root_motion, width, height, landmarks_3d=None):
        result = retarget_sequence(driving, reference, bone_lengths, root_motion, width, height, placement)
        moved = retarget_landmarks(landmarks_3d, result) if landmarks_3d is not None else None
        used = int(result.reference_bones.sum())
        summary = (f"reference person {result.reference_scale:.2f}x the driving one; {used}/"
                   f"{len(result.reference_bones)} bones take the reference's proportion, the rest the driving one")
        return {"ui": {"text": [summary]}, "result": (result.pose_keypoint, moved)}


NODE_CLASS_MAPPINGS = {"PoseMotionDetectPose": PoseMotionDetectPose, "PoseMotionRetargetPose": PoseMotionRetargetPose}
NODE_DISPLAY_NAME_MAPPINGS = {"PoseMotionDetectPose": "Detect Pose (MediaPipe)",
                              "PoseMotionRetargetPose": "Retarget Pose To Reference"}
