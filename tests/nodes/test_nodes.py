"""Node classes called directly, as ComfyUI would, including every bad-input path."""

import json

import numpy as np
import pytest
import torch
from posemotion import NODE_CLASS_MAPPINGS, NODE_DISPLAY_NAME_MAPPINGS, WEB_DIRECTORY
from posemotion.models.core.errors import InputError
from posemotion.models.core.motion import Motion
from posemotion.models.core.pose_keypoint import make_frame
from posemotion.nodes.io_nodes import PoseMotionLoadVideo, PoseMotionSavePoseKeypoint
from posemotion.nodes.pose_nodes import PoseMotionDetectPose
from posemotion.nodes.render_nodes import PoseMotionRenderNormals, PoseMotionRenderSkeleton

DETECT_DEFAULTS = dict(mode="image", hands=True, face=False, person_mask="selfie_segmentation",
                       min_confidence=0.5, smoothing=0.0, binary_confidence=False)
SKELETON_DEFAULTS = dict(width=0, height=0, body=True, hands=True, face=False, body_threshold=0.3,
                         hand_threshold=0.7, stick_width=4, point_radius=4)


def test_registry_is_prefixed_and_complete():
    assert NODE_CLASS_MAPPINGS and all(name.startswith("PoseMotion") for name in NODE_CLASS_MAPPINGS)
    assert set(NODE_DISPLAY_NAME_MAPPINGS) == set(NODE_CLASS_MAPPINGS)
    for cls in NODE_CLASS_MAPPINGS.values():
        assert cls.CATEGORY.startswith("PoseMotion/")
        assert callable(getattr(cls, cls.FUNCTION)) and "required" in cls.INPUT_TYPES()
        if getattr(cls, "RETURN_NAMES", None):
            assert len(cls.RETURN_NAMES) == len(cls.RETURN_TYPES)
    assert WEB_DIRECTORY == "./web"


def test_detect_then_render(astronaut_image):
    out = PoseMotionDetectPose().detect(astronaut_image, **DETECT_DEFAULTS)
    pose, mask, landmarks = out["result"]
    assert out["ui"]["text"] == ["person found in 1/1 frames"]
    assert mask.shape == (1, 512, 512) and isinstance(landmarks, Motion)
    (skeleton,) = PoseMotionRenderSkeleton().render(pose, **SKELETON_DEFAULTS)
    assert skeleton.shape == (1, 512, 512, 3) and skeleton.dtype == torch.float32
    assert 0.002 < (skeleton.amax(-1) > 0).float().mean() < 0.2
    normals, normal_mask = PoseMotionRenderNormals().render(landmarks, "body", 256, 256, 1.0)
    assert normals.shape == (1, 256, 256, 3) and normal_mask.shape == (1, 256, 256)
    assert normal_mask.sum() > 500


def test_detect_rejects_bad_images():
    with pytest.raises(InputError, match="image: expected an IMAGE batch"):
        PoseMotionDetectPose().detect(torch.zeros(4, 4), **DETECT_DEFAULTS)
    with pytest.raises(InputError, match="image: empty batch"):
        PoseMotionDetectPose().detect(torch.zeros(0, 4, 4, 3), **DETECT_DEFAULTS)
    with pytest.raises(InputError, match="image: frame 0 contains NaN"):
        PoseMotionDetectPose().detect(torch.full((1, 4, 4, 3), float("inf")), **DETECT_DEFAULTS)


def test_detection_after_a_failed_call_is_unaffected(astronaut_image):
    with pytest.raises(InputError):
        PoseMotionDetectPose().detect(torch.zeros(0, 4, 4, 3), **dict(DETECT_DEFAULTS, mode="video"))
    out = PoseMotionDetectPose().detect(astronaut_image, **dict(DETECT_DEFAULTS, mode="video"))
    assert out["ui"]["text"] == ["person found in 1/1 frames"]


def test_render_skeleton_rejects_malformed_pose():
    with pytest.raises(InputError, match="pose_keypoint: frame 0, person 0, 'pose_keypoints_2d'"):
        PoseMotionRenderSkeleton().render([{"people": [{"pose_keypoints_2d": [1, 2]}], "canvas_width": 4,
                                            "canvas_height": 4}], **SKELETON_DEFAULTS)


def test_render_normals_rejects_bad_motion():
    with pytest.raises(InputError, match="landmarks_3d: expected a MOTION"):
        PoseMotionRenderNormals().render({"joints": []}, "hands", 0, 0, 1.0)
    hand_only = Motion(torch.zeros(2, 21, 3), 30.0, "hand_21")
    with pytest.raises(InputError, match="motion: normal maps need layout"):
        PoseMotionRenderNormals().render(hand_only, "hands", 64, 64, 1.0)
    holistic = Motion(torch.zeros(1, 75, 3), 30.0, "mediapipe_holistic_75_image", canvas_size=(8, 8))
    with pytest.raises(InputError, match="part"):
        PoseMotionRenderNormals().render(holistic, "tail", 0, 0, 1.0)


def test_motion_validation_names_the_problem():
    with pytest.raises(InputError, match="motion: joints contain NaN"):
        Motion(torch.full((2, 21, 3), float("nan")), 30.0, "hand_21")
    with pytest.raises(InputError, match="layout: unknown layout 'wolf_99'"):
        Motion(torch.zeros(2, 21, 3), 30.0, "wolf_99")
    with pytest.raises(InputError, match=r"must be \[T>=1, 21, 3\]"):
        Motion(torch.zeros(2, 20, 3), 30.0, "hand_21")
    with pytest.raises(InputError, match="fps"):
        Motion(torch.zeros(2, 21, 3), 0.0, "hand_21")
    with pytest.raises(InputError, match="canvas_size"):
        Motion(torch.zeros(1, 75, 3), 30.0, "mediapipe_holistic_75_image")
    with pytest.raises(InputError, match="float32 CPU"):
        Motion(torch.zeros(2, 21, 3, dtype=torch.float64), 30.0, "hand_21")


def test_load_video_node(comfy_dirs):
    assert "posemotion_walk.mp4" in PoseMotionLoadVideo.INPUT_TYPES()["required"]["video"][0]
    frames, fps, count = PoseMotionLoadVideo().load("posemotion_walk.mp4", 10, 2, 320)
    assert frames.shape == (10, 180, 320, 3) and count == 10 and fps == pytest.approx(15.0)
    with pytest.raises(InputError, match="video: file not found: 'missing.mp4'"):
        PoseMotionLoadVideo().load("missing.mp4", 0, 1, 0)
    with pytest.raises(InputError, match=r"video: '\.\./input/posemotion_walk\.mp4' must be a name inside the folder"):
        PoseMotionLoadVideo().load("../input/posemotion_walk.mp4", 0, 1, 0)
    (comfy_dirs["input"] / "broken.mp4").write_bytes(b"not a video at all")
    with pytest.raises(InputError, match="video: "):
        PoseMotionLoadVideo().load("broken.mp4", 0, 1, 0)


def test_save_pose_keypoint_node(comfy_dirs):
    frames = [make_frame([], 32, 16)] * 3
    out = PoseMotionSavePoseKeypoint().save(frames, "poses/run")
    (saved,) = out["ui"]["files"]
    assert saved == {"filename": "run_00001.json", "subfolder": "poses", "type": "output"}
    assert json.loads((comfy_dirs["output"] / "poses" / "run_00001.json").read_text()) == frames
    assert PoseMotionSavePoseKeypoint().save(frames, "poses/run")["ui"]["files"][0]["filename"] == "run_00002.json"
    with pytest.raises(ValueError, match="filename_prefix"):
        PoseMotionSavePoseKeypoint().save(frames, "../../escape")
    with pytest.raises(InputError, match="pose_keypoint: empty"):
        PoseMotionSavePoseKeypoint().save([], "poses/run")


def test_normal_maps_of_detected_hands(walk_frames):
    frames, fps = walk_frames
    out = PoseMotionDetectPose().detect(torch.from_numpy(frames).float() / 255, **dict(DETECT_DEFAULTS, mode="video"),
                                        fps=fps)
    landmarks = out["result"][2]
    rgb, mask = PoseMotionRenderNormals().render(landmarks, "hands", 0, 0, 1.0)
    seen = landmarks.visibility()[:, 33:].amax(1) > 0
    assert seen.any()
    assert (mask.flatten(1).sum(1) > 0).tolist() == seen.tolist()  # drawn exactly where a hand was seen
    normals = rgb[mask > 0] * 2 - 1
    np.testing.assert_allclose(normals.norm(dim=-1).numpy(), 1.0, atol=1e-2)
