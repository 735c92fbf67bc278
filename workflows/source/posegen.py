"""PoseGen workflows (merged in graphs.py).

The shipped files carry the paper's settings (832x480 skeleton and hand-normal renders, 81-frame
segments, 25 steps). ``TEST_SETTINGS`` shrinks them to a draft (96 px, 17-frame segments, 4 steps)
when the test runner and the real-ComfyUI tier execute them on tiny models.
"""

GRAPHS = {
    "posegen_from_video": {
        1: ("LoadImage", (0, 0), {"image": "posemotion_person.png"}),
        2: ("PoseMotionLoadVideo", (0, 1), {"video": "posemotion_walk.mp4", "max_frames": 0, "every_nth": 2,
                                            "max_side": 832}),
        10: ("PoseMotionDetectPose", (1, 0), {"image": (1, 0), "mode": "image", "person_mask": "none"}),
        3: ("PoseMotionDetectPose", (1, 1), {"image": (2, 0), "fps": (2, 1), "mode": "video", "smoothing": 0.3,
                                             "person_mask": "none"}),
        # the walker takes the reference's proportions; a full-body shot from a half-body photo keeps the
        # walker's place and size (placement "driving"); the hand landmarks move with the new wrists
        11: ("PoseMotionRetargetPose", (2, 0), {"driving": (3, 0), "reference": (10, 0), "landmarks_3d": (3, 2),
                                                "placement": "driving", "width": 832, "height": 480}),
        4: ("PoseMotionRenderSkeleton", (3, 0), {"pose_keypoint": (11, 0), "width": 832, "height": 480}),
        5: ("PoseMotionRenderNormals", (3, 1), {"landmarks_3d": (11, 1), "part": "hands", "width": 832,
                                                "height": 480}),
        6: ("PoseMotionLoadPoseGen", (1, 2), {
            "transformer": "posegen/720p-81f-base", "interpolation_model": "posegen/720p-81f-cond",
            "vae": "wan2.1_vae", "clip_vision": "clip_vision_h.safetensors",
            "text_encoder": "umt5_xxl_fp16.safetensors", "tokenizer": "umt5-xxl-tokenizer"}),
        7: ("PoseMotionPoseGenPlanSegments", (4, 0), {"pose_frames": (4, 0), "segment_length": 81}),
        8: ("PoseMotionPoseGenSample", (5, 0), {
            "posegen": (6, 0), "reference_image": (1, 0), "pose_frames": (4, 0), "hand_normals": (5, 0),
            "plan": (7, 0), "prompt": "a woman in a white space suit walks across a studio, full body shot",
            "subject_word": "woman", "segment_length": 81, "steps": 25, "kv_share": "full_body"}),
        9: ("SaveAnimatedWEBP", (6, 0), {"images": (8, 0), "filename_prefix": "posemotion/posegen", "fps": 15.0,
                                         "lossless": False, "quality": 90}),
    },
    "posegen_from_forecast": {
        1: ("LoadImage", (0, 0), {"image": "posemotion_person.png"}),
        2: ("PoseMotionDetectPose", (1, 0), {"image": (1, 0), "mode": "image", "person_mask": "none"}),
        3: ("PoseMotionTextEncode", (0, 1), {"text": "wave arms"}),
        4: ("PoseMotionLoadPoseForecaster", (1, 1), {"checkpoint": "[bundled] one_stage_minilm.safetensors"}),
        5: ("PoseMotionForecastPoses", (2, 0), {"forecaster": (4, 0), "conditioning": (3, 0), "initial_pose": (2, 0),
                                                "horizon": 45, "fps": 15.0}),
        # the forecast keeps the photographed person's proportions and place
        10: ("PoseMotionRetargetPose", (3, 0), {"driving": (5, 0), "reference": (2, 0), "width": 480,
                                                "height": 480}),
        6: ("PoseMotionRenderSkeleton", (4, 0), {"pose_keypoint": (10, 0), "width": 480, "height": 480}),
        7: ("PoseMotionLoadPoseGen", (2, 1), {
            "transformer": "posegen/720p-81f-base", "interpolation_model": "posegen/720p-81f-cond",
            "vae": "wan2.1_vae", "clip_vision": "clip_vision_h.safetensors",
            "text_encoder": "umt5_xxl_fp16.safetensors", "tokenizer": "umt5-xxl-tokenizer"}),
        8: ("PoseMotionPoseGenSample", (5, 0), {
            "posegen": (7, 0), "reference_image": (1, 0), "pose_frames": (6, 0),
            "prompt": "an astronaut in a white space suit waves his arms in front of a flag", "subject_word": "astronaut",
            "segment_length": 81, "steps": 25, "kv_share": "half_body"}),
        9: ("SaveAnimatedWEBP", (6, 0), {"images": (8, 0), "filename_prefix": "posemotion/posegen_forecast",
                                         "fps": 15.0, "lossless": False, "quality": 90}),
    },
}

# workflow -> node id -> inputs replaced when tests execute the workflow on tiny models
TEST_SETTINGS = {
    "posegen_from_video": {
        2: {"max_frames": 30, "every_nth": 3, "max_side": 512},
        11: {"width": 96, "height": 54}, 4: {"width": 96, "height": 54}, 5: {"width": 96, "height": 54},
        7: {"segment_length": 17}, 8: {"segment_length": 17, "steps": 4},
    },
    "posegen_from_forecast": {
        5: {"horizon": 12}, 10: {"width": 96, "height": 96}, 6: {"width": 96, "height": 96},
        8: {"segment_length": 17, "steps": 4},
    },
}
