"""Workflows of the motion capability (merged in graphs.py)."""

GRAPHS = {
    "motion_tokenize": {
        1: ("PoseMotionLoadMotion", (0, 0), {"file": "posemotion_mocap.bvh", "fps": 20.0}),
        2: ("PoseMotionLoadMotionTokenizer", (0, 1), {"checkpoint": "[bundled] vqvae_small.safetensors"}),
        3: ("PoseMotionEncodeMotion", (1, 0), {"tokenizer": (2, 0), "motion": (1, 0)}),
        4: ("PoseMotionDecodeTokens", (2, 0), {"tokenizer": (2, 0), "motion_tokens": (3, 0)}),
        5: ("PoseMotionRenderMotion", (3, 0), {"motion": (4, 0), "width": 384, "height": 384}),
        6: ("SaveAnimatedWEBP", (4, 0), {"images": (5, 0), "filename_prefix": "posemotion/tokenized_motion",
                                         "fps": 20.0, "lossless": False, "quality": 90}),
        7: ("PoseMotionRenderMotion", (1, 1), {"motion": (1, 0), "width": 384, "height": 384}),
        8: ("SaveAnimatedWEBP", (2, 1), {"images": (7, 0), "filename_prefix": "posemotion/source_motion",
                                         "fps": 20.0, "lossless": False, "quality": 90}),
        9: ("PoseMotionSaveMotion", (3, 1), {"motion": (4, 0), "format": "bvh",
                                             "filename_prefix": "posemotion/tokenized_motion"}),
    },
    "motion_edit_pose_codes": {
        1: ("PoseMotionLoadMotion", (0, 0), {"file": "posemotion_mocap.bvh", "fps": 20.0}),
        2: ("PoseMotionLoadMotionTokenizer", (0, 1), {"checkpoint": "[bundled] pgr2m_small.safetensors"}),
        3: ("PoseMotionMotionToPoseCodes", (1, 0), {"tokenizer": (2, 0), "motion": (1, 0)}),
        4: ("PoseMotionEditPoseCodes", (2, 0), {"motion_tokens": (3, 0), "category": "left elbow angle 80-90 degrees",
                                                "start_frame": 10, "end_frame": 30}),
        5: ("PoseMotionPoseCodesToMotion", (3, 0), {"tokenizer": (2, 0), "motion_tokens": (4, 0),
                                                    "residual_stages": 0}),
        6: ("PoseMotionProjectMotion", (4, 0), {"motion": (5, 0), "width": 384, "height": 384}),
        7: ("PoseMotionRenderSkeleton", (5, 0), {"pose_keypoint": (6, 0)}),
        8: ("SaveAnimatedWEBP", (6, 0), {"images": (7, 0), "filename_prefix": "posemotion/edited_motion",
                                         "fps": 20.0, "lossless": False, "quality": 90}),
    },
}
