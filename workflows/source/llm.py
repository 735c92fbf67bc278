"""Motion LLM workflows (merged in graphs.py): text -> motion, motion -> text, prediction, in-betweening,
and text -> motion -> PoseGen video.

The shipped files load the embedded SmolLM2 base with the bundled demo adapter. ``TEST_SETTINGS``
swaps in the tiny base folder and adapter that tests/support/llm_tiny_parts.py writes to models/llm (random
weights: fast, grammatical, meaningless) and shortens what is generated.
"""

LLM = {"base": "[embedded] SmolLM2-135M-Instruct", "adapter": "[bundled] smollm2_vqvae_demo.safetensors",
       "dtype": "float32", "merge_lora": True}
TINY_LLM = {"base": "tiny-smollm2", "adapter": "tiny_motion_llm.safetensors"}  # tests/support/llm_tiny_parts.py
TEXT = "a person walks forward, then waves with the right hand"
POSEGEN_PARTS = {"transformer": "posegen/720p-81f-base", "interpolation_model": "posegen/720p-81f-cond",
                 "vae": "wan2.1_vae", "clip_vision": "clip_vision_h.safetensors",
                 "text_encoder": "umt5_xxl_fp16.safetensors", "tokenizer": "umt5-xxl-tokenizer"}
WEBP = {"fps": 20.0, "lossless": False, "quality": 90}

GRAPHS = {
    "llm_text_to_motion": {
        1: ("PoseMotionLoadMotionLLM", (0, 0), LLM),
        2: ("PoseMotionTextToMotion", (1, 0), {"llm": (1, 0), "text": TEXT, "seconds": 4.0, "seed": 0}),
        3: ("PoseMotionRenderMotion", (2, 0), {"motion": (2, 0), "width": 384, "height": 384}),
        4: ("SaveAnimatedWEBP", (3, 0), {"images": (3, 0), "filename_prefix": "posemotion/llm_motion", **WEBP}),
        5: ("PoseMotionSaveMotion", (2, 1), {"motion": (2, 0), "format": "bvh",
                                             "filename_prefix": "posemotion/llm_motion"}),
    },
    "llm_motion_to_text": {
        1: ("PoseMotionLoadMotion", (0, 0), {"file": "posemotion_mocap.bvh", "fps": 20.0}),
        2: ("PoseMotionLoadMotionLLM", (0, 1), LLM),
        3: ("PoseMotionMotionToText", (1, 0), {"llm": (2, 0), "motion": (1, 0), "sampling": "greedy"}),
        4: ("PoseMotionRenderMotion", (1, 1), {"motion": (1, 0), "width": 384, "height": 384}),
        5: ("SaveAnimatedWEBP", (2, 1), {"images": (4, 0), "filename_prefix": "posemotion/llm_captioned_motion",
                                         **WEBP}),
    },
    "llm_predict_motion": {
        1: ("PoseMotionLoadMotion", (0, 0), {"file": "posemotion_mocap.bvh", "fps": 20.0}),
        2: ("PoseMotionLoadMotionLLM", (0, 1), LLM),
        3: ("PoseMotionPredictMotion", (1, 0), {"llm": (2, 0), "motion": (1, 0), "context_seconds": 2.0,
                                                "seconds": 3.0}),
        4: ("PoseMotionRenderMotion", (2, 0), {"motion": (3, 0), "width": 384, "height": 384}),
        5: ("SaveAnimatedWEBP", (3, 0), {"images": (4, 0), "filename_prefix": "posemotion/llm_predicted", **WEBP}),
        6: ("PoseMotionSaveMotion", (2, 1), {"motion": (3, 0), "format": "bvh",
                                             "filename_prefix": "posemotion/llm_predicted"}),
    },
    "llm_inbetween_motions": {
        1: ("PoseMotionLoadMotion", (0, 0), {"file": "posemotion_mocap.bvh", "fps": 20.0, "layout": "smpl_22"}),
        2: ("PoseMotionLoadMotion", (0, 1), {"file": "posemotion_mocap_2.bvh", "fps": 20.0, "layout": "smpl_22"}),
        3: ("PoseMotionLoadMotionLLM", (0, 2), LLM),
        4: ("PoseMotionInbetweenMotions", (1, 0), {"llm": (3, 0), "first": (1, 0), "last": (2, 0),
                                                   "context_seconds": 1.5, "seconds": 2.0}),
        5: ("PoseMotionRenderMotion", (2, 0), {"motion": (4, 0), "width": 384, "height": 384}),
        6: ("SaveAnimatedWEBP", (3, 0), {"images": (5, 0), "filename_prefix": "posemotion/llm_inbetween", **WEBP}),
        7: ("PoseMotionSaveMotion", (2, 1), {"motion": (4, 0), "format": "bvh",
                                             "filename_prefix": "posemotion/llm_inbetween"}),
    },
    "llm_posegen_from_text": {
        1: ("LoadImage", (0, 0), {"image": "posemotion_person.png"}),
        2: ("PoseMotionLoadMotionLLM", (0, 1), LLM),
        3: ("PoseMotionTextToMotion", (1, 1), {"llm": (2, 0), "text": "a person waves with both arms",
                                               "seconds": 4.0, "seed": 0}),
        4: ("PoseMotionProjectMotion", (2, 1), {"motion": (3, 0), "width": 480, "height": 480}),
        # the projected motion takes the photographed person's proportions, place and size
        9: ("PoseMotionDetectPose", (1, 2), {"image": (1, 0), "mode": "image", "person_mask": "none"}),
        10: ("PoseMotionRetargetPose", (3, 1), {"driving": (4, 0), "reference": (9, 0), "width": 480,
                                                "height": 480}),
        5: ("PoseMotionRenderSkeleton", (4, 1), {"pose_keypoint": (10, 0), "width": 480, "height": 480}),
        6: ("PoseMotionLoadPoseGen", (1, 0), POSEGEN_PARTS),
        7: ("PoseMotionPoseGenSample", (5, 0), {
            "posegen": (6, 0), "reference_image": (1, 0), "pose_frames": (5, 0),
            "prompt": "an astronaut in a white space suit waves his arms in front of a flag",
            "subject_word": "astronaut", "segment_length": 81, "steps": 25, "kv_share": "half_body"}),
        8: ("SaveAnimatedWEBP", (6, 0), {"images": (7, 0), "filename_prefix": "posemotion/llm_posegen", **WEBP}),
    },
}

# workflow -> node id -> inputs replaced when tests execute the workflow on tiny models
TEST_SETTINGS = {
    "llm_text_to_motion": {1: TINY_LLM, 2: {"seconds": 1.0}},
    "llm_motion_to_text": {2: TINY_LLM},
    "llm_predict_motion": {2: TINY_LLM, 3: {"context_seconds": 1.0, "seconds": 1.0}},
    "llm_inbetween_motions": {3: TINY_LLM, 4: {"context_seconds": 1.0, "seconds": 1.0}},
    "llm_posegen_from_text": {2: TINY_LLM, 3: {"seconds": 0.6}, 4: {"width": 96, "height": 96},
                              10: {"width": 96, "height": 96}, 5: {"width": 96, "height": 96},
                              7: {"segment_length": 17, "steps": 4}},
}
