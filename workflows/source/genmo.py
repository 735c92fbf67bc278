"""GENMO workflows (merged in graphs.py): a text timeline -> motion; a video -> its 3D motion; music and
text -> a dance; two keyframes -> the motion between them; a timeline -> motion -> PoseGen video.

The shipped files load the bundled demo model. ``TEST_SETTINGS`` swaps in the tiny random model that
tests/support/genmo_tiny.py writes to models/genmo (fast, meaningless) and shortens the motions.
"""

from .llm import POSEGEN_PARTS, WEBP  # the same PoseGen parts and animated-WEBP settings

GENMO = {"checkpoint": "[bundled] genmo_demo.safetensors", "text_encoder": "[embedded] all-MiniLM-L6-v2"}
TINY_GENMO = {"checkpoint": "tiny_genmo.safetensors"}  # tests/support/genmo_tiny.py
TIMELINE = "0-3: a person walks forward\n3-6: a person turns left"
SAMPLE = {"steps": 50, "cfg": 2.5, "seed": 0, "window": 120}
FAST = {"steps": 2}  # test runs: two denoising steps

GRAPHS = {
    "genmo_timeline_to_motion": {
        1: ("PoseMotionLoadGenmo", (0, 0), GENMO),
        2: ("PoseMotionGenmoTimeline", (0, 1), {"text": TIMELINE}),
        3: ("PoseMotionGenmoSample", (1, 0), {"genmo": (1, 0), "timeline": (2, 0), "seconds": 6.0, **SAMPLE}),
        4: ("PoseMotionRenderMotion", (2, 0), {"motion": (3, 0), "width": 384, "height": 384}),
        5: ("SaveAnimatedWEBP", (3, 0), {"images": (4, 0), "filename_prefix": "posemotion/genmo_timeline", **WEBP}),
        6: ("PoseMotionSaveMotion", (2, 1), {"motion": (3, 0), "format": "bvh",
                                             "filename_prefix": "posemotion/genmo_timeline"}),
    },
    "genmo_video_to_motion": {
        1: ("PoseMotionLoadVideo", (0, 0), {"video": "posemotion_walk.mp4", "max_frames": 120, "every_nth": 1,
                                            "max_side": 640}),
        2: ("PoseMotionLoadGenmo", (0, 1), GENMO),
        3: ("PoseMotionEstimateMotion", (1, 0), {"genmo": (2, 0), "frames": (1, 0), "fps": (1, 1), "seed": 0}),
        4: ("PoseMotionRenderMotion", (2, 0), {"motion": (3, 0), "yaw": 90.0, "width": 384, "height": 384}),
        5: ("SaveAnimatedWEBP", (3, 0), {"images": (4, 0), "filename_prefix": "posemotion/genmo_estimated_side",
                                         **WEBP}),
        6: ("PoseMotionRenderSkeleton", (2, 1), {"pose_keypoint": (3, 2), "width": 384, "height": 384}),
        7: ("SaveAnimatedWEBP", (3, 1), {"images": (6, 0), "filename_prefix": "posemotion/genmo_detected", **WEBP}),
        8: ("PoseMotionSaveMotion", (2, 2), {"motion": (3, 1), "format": "bvh",
                                             "filename_prefix": "posemotion/genmo_estimated_camera"}),
        # the same poses guiding generation (DDIM under the 2D condition) instead of one-pass estimation
        9: ("PoseMotionGenmoPose2D", (2, 3), {"pose_keypoint": (3, 2), "fps": (1, 1)}),
        10: ("PoseMotionGenmoSample", (3, 3), {"genmo": (2, 0), "pose_2d": (9, 0), "seconds": 4.0, **SAMPLE}),
        11: ("PoseMotionRenderMotion", (4, 3), {"motion": (10, 0), "yaw": 90.0, "width": 384, "height": 384}),
        12: ("SaveAnimatedWEBP", (5, 3), {"images": (11, 0), "filename_prefix": "posemotion/genmo_guided_side",
                                          **WEBP}),
    },
    "genmo_music_dance": {
        1: ("LoadAudio", (0, 0), {"audio": "posemotion_music.flac"}),
        2: ("PoseMotionGenmoMusic", (1, 0), {"audio": (1, 0)}),
        3: ("PoseMotionLoadGenmo", (0, 1), GENMO),
        4: ("PoseMotionGenmoTimeline", (0, 2), {"text": "a person swings both arms while jumping"}),
        5: ("PoseMotionGenmoSample", (2, 0), {"genmo": (3, 0), "timeline": (4, 0), "music": (2, 0),
                                              "seconds": 8.0, **SAMPLE}),
        6: ("PoseMotionRenderMotion", (3, 0), {"motion": (5, 0), "width": 384, "height": 384}),
        7: ("SaveAnimatedWEBP", (4, 0), {"images": (6, 0), "filename_prefix": "posemotion/genmo_dance", **WEBP}),
    },
    "genmo_keyframes_inbetween": {
        1: ("PoseMotionLoadMotion", (0, 0), {"file": "posemotion_mocap.bvh", "fps": 20.0, "layout": "smpl_22"}),
        2: ("PoseMotionGenmoKeyframes", (1, 0), {"motion": (1, 0), "frames": "0, 79"}),
        3: ("PoseMotionLoadGenmo", (0, 1), GENMO),
        4: ("PoseMotionGenmoSample", (2, 0), {"genmo": (3, 0), "keyframes": (2, 0), "seconds": 4.0, **SAMPLE}),
        5: ("PoseMotionRenderMotion", (3, 0), {"motion": (4, 0), "width": 384, "height": 384}),
        6: ("SaveAnimatedWEBP", (4, 0), {"images": (5, 0), "filename_prefix": "posemotion/genmo_inbetween", **WEBP}),
        7: ("PoseMotionSaveMotion", (3, 1), {"motion": (4, 0), "format": "bvh",
                                             "filename_prefix": "posemotion/genmo_inbetween"}),
    },
    "genmo_posegen_from_timeline": {
        1: ("LoadImage", (0, 0), {"image": "posemotion_person.png"}),
        2: ("PoseMotionLoadGenmo", (0, 1), GENMO),
        3: ("PoseMotionGenmoTimeline", (0, 2), {"text": "0-2: a person jumps up\n2-4: a person walks forward"}),
        4: ("PoseMotionGenmoSample", (1, 1), {"genmo": (2, 0), "timeline": (3, 0), "seconds": 4.0, **SAMPLE}),
        5: ("PoseMotionProjectMotion", (2, 1), {"motion": (4, 0), "width": 480, "height": 480}),
        # the projected motion takes the photographed person's proportions, place and size
        10: ("PoseMotionDetectPose", (1, 2), {"image": (1, 0), "mode": "image", "person_mask": "none"}),
        11: ("PoseMotionRetargetPose", (3, 1), {"driving": (5, 0), "reference": (10, 0), "width": 480,
                                                "height": 480}),
        6: ("PoseMotionRenderSkeleton", (4, 1), {"pose_keypoint": (11, 0), "width": 480, "height": 480}),
        7: ("PoseMotionLoadPoseGen", (1, 0), POSEGEN_PARTS),
        8: ("PoseMotionPoseGenSample", (5, 0), {
            "posegen": (7, 0), "reference_image": (1, 0), "pose_frames": (6, 0),
            "prompt": "an astronaut in a white space suit jumps, then walks forward",
            "subject_word": "astronaut", "segment_length": 81, "steps": 25, "kv_share": "half_body"}),
        9: ("SaveAnimatedWEBP", (6, 0), {"images": (8, 0), "filename_prefix": "posemotion/genmo_posegen", **WEBP}),
    },
}

# workflow -> node id -> inputs replaced when tests execute the workflow on tiny models
TEST_SETTINGS = {
    "genmo_timeline_to_motion": {1: TINY_GENMO, 2: {"text": "0-1: a person walks forward\n1-2: a person waves"},
                                 3: {"seconds": 2.0, **FAST}},
    "genmo_video_to_motion": {1: {"max_frames": 24, "every_nth": 2, "max_side": 320}, 2: TINY_GENMO,
                              10: {"seconds": 1.0, **FAST}},
    "genmo_music_dance": {3: TINY_GENMO, 5: {"seconds": 2.0, **FAST}},
    "genmo_keyframes_inbetween": {2: {"frames": "0, 19"}, 3: TINY_GENMO, 4: {"seconds": 1.0, **FAST}},
    "genmo_posegen_from_timeline": {2: TINY_GENMO, 3: {"text": "0-0.5: a person waves\n0.5-1: a person walks"},
                                    4: {"seconds": 1.0, **FAST}, 5: {"width": 96, "height": 96},
                                    11: {"width": 96, "height": 96}, 6: {"width": 96, "height": 96},
                                    8: {"segment_length": 17, "steps": 4}},
}
