"""The shipped workflows, described once: node id -> (class, (column, row), inputs).

An input given as (node id, output slot) is a link, anything else a widget value (widgets left out
take their defaults). Each capability's graphs live in a module of its own and are merged here;
``TEST_SETTINGS`` (workflow -> node id -> inputs) shrinks a workflow for the test runner and the
real-ComfyUI tier, which run it on tiny models.
"""

from __future__ import annotations

from . import captioning, genmo, llm, motion, posegen

GRAPHS = {
    "pose_from_image": {
        1: ("LoadImage", (0, 0), {"image": "posemotion_person.png"}),
        2: ("PoseMotionDetectPose", (1, 0), {"image": (1, 0), "mode": "image", "face": True}),
        3: ("PoseMotionRenderSkeleton", (2, 0), {"pose_keypoint": (2, 0), "face": True}),
        4: ("SaveImage", (3, 0), {"images": (3, 0), "filename_prefix": "posemotion/skeleton"}),
        5: ("PoseMotionRenderNormals", (2, 1), {"landmarks_3d": (2, 2), "part": "whole"}),
        6: ("SaveImage", (3, 1), {"images": (5, 0), "filename_prefix": "posemotion/body_normals"}),
        7: ("MaskToImage", (2, 2), {"mask": (2, 1)}),
        8: ("SaveImage", (3, 2), {"images": (7, 0), "filename_prefix": "posemotion/person_mask"}),
        9: ("PoseMotionSavePoseKeypoint", (2, 3), {"pose_keypoint": (2, 0), "filename_prefix": "posemotion/pose"}),
    },
    "pose_from_video": {
        1: ("PoseMotionLoadVideo", (0, 0), {"video": "posemotion_walk.mp4", "max_frames": 48, "every_nth": 2,
                                            "max_side": 512}),
        2: ("PoseMotionDetectPose", (1, 0), {"image": (1, 0), "fps": (1, 1), "mode": "video", "smoothing": 0.3,
                                             "person_mask": "none"}),
        3: ("PoseMotionRenderSkeleton", (2, 0), {"pose_keypoint": (2, 0)}),
        4: ("SaveAnimatedWEBP", (3, 0), {"images": (3, 0), "filename_prefix": "posemotion/skeleton", "fps": 15.0,
                                         "lossless": False, "quality": 90}),
        5: ("PoseMotionRenderNormals", (2, 1), {"landmarks_3d": (2, 2), "part": "hands", "thickness": 1.0}),
        6: ("SaveAnimatedWEBP", (3, 1), {"images": (5, 0), "filename_prefix": "posemotion/hand_normals", "fps": 15.0,
                                         "lossless": False, "quality": 90}),
    },
    "forecast_from_image": {
        1: ("LoadImage", (0, 0), {"image": "posemotion_person.png"}),
        2: ("PoseMotionDetectPose", (1, 0), {"image": (1, 0), "mode": "image", "person_mask": "none"}),
        3: ("PoseMotionTextEncode", (0, 1), {"text": "wave arms"}),
        4: ("PoseMotionLoadPoseForecaster", (1, 1), {"checkpoint": "[bundled] one_stage_minilm.safetensors"}),
        5: ("PoseMotionForecastPoses", (2, 0), {"forecaster": (4, 0), "conditioning": (3, 0), "initial_pose": (2, 0),
                                                "horizon": 45, "fps": 30.0}),
        6: ("PoseMotionRenderSkeleton", (3, 0), {"pose_keypoint": (5, 0)}),
        7: ("SaveAnimatedWEBP", (4, 0), {"images": (6, 0), "filename_prefix": "posemotion/forecast", "fps": 30.0,
                                         "lossless": False, "quality": 90}),
    },
    "forecast_with_blip": {
        1: ("LoadImage", (0, 0), {"image": "posemotion_person.png"}),
        2: ("PoseMotionDetectPose", (1, 0), {"image": (1, 0), "mode": "image", "person_mask": "none"}),
        3: ("PoseMotionLoadBLIP", (0, 1), {"model": "blip-itm-base-coco"}),
        4: ("PoseMotionBLIPEncode", (1, 1), {"blip": (3, 0), "image": (1, 0), "text": "walk forward"}),
        5: ("PoseMotionLoadPoseForecaster", (1, 2), {"checkpoint": "one_stage_blip.safetensors"}),
        6: ("PoseMotionForecastPoses", (2, 0), {"forecaster": (5, 0), "conditioning": (4, 0), "initial_pose": (2, 0),
                                                "horizon": 45, "fps": 30.0}),
        7: ("PoseMotionRenderSkeleton", (3, 0), {"pose_keypoint": (6, 0)}),
        8: ("SaveAnimatedWEBP", (4, 0), {"images": (7, 0), "filename_prefix": "posemotion/forecast_blip", "fps": 30.0,
                                         "lossless": False, "quality": 90}),
    },
}

TEST_SETTINGS: dict[str, dict[int, dict]] = {}
for _module in (motion, posegen, captioning, llm, genmo):
    assert not set(_module.GRAPHS) & set(GRAPHS), f"{_module.__name__} repeats a workflow name"
    GRAPHS.update(_module.GRAPHS)
    TEST_SETTINGS.update(getattr(_module, "TEST_SETTINGS", {}))
