"""Workflows of the motion captioner (merged in graphs.py): describe a mocap clip in words, and check
it against a text. Each also renders the clip, so the saved animation shows what was described."""

CHECK_TEXT = "a person stands still, then kneels down and waves the right hand"

GRAPHS = {
    "describe_motion": {
        1: ("PoseMotionLoadMotion", (0, 0), {"file": "posemotion_mocap.bvh", "fps": 20.0}),
        2: ("PoseMotionDescribeMotion", (1, 0), {"motion": (1, 0), "seed": 0, "count": 3}),
        3: ("PoseMotionRenderMotion", (1, 1), {"motion": (1, 0), "width": 384, "height": 384}),
        4: ("SaveAnimatedWEBP", (2, 1), {"images": (3, 0), "filename_prefix": "posemotion/described_motion",
                                         "fps": 20.0, "lossless": False, "quality": 90}),
    },
    "check_motion_against_text": {
        1: ("PoseMotionLoadMotion", (0, 0), {"file": "posemotion_mocap.bvh", "fps": 20.0}),
        2: ("PoseMotionCheckMotionAgainstText", (1, 0), {"motion": (1, 0), "text": CHECK_TEXT}),
        3: ("PoseMotionRenderMotion", (1, 1), {"motion": (1, 0), "width": 384, "height": 384}),
        4: ("SaveAnimatedWEBP", (2, 1), {"images": (3, 0), "filename_prefix": "posemotion/checked_motion",
                                         "fps": 20.0, "lossless": False, "quality": 90}),
    },
}
