"""Motion caption nodes: describe a motion in words, and check a motion against a text.

Both take a MOTION (3D SMPL joints from Load Motion, or Detect Pose's landmarks) or POSE_KEYPOINT
frames with their frame rate: exactly one of the two. The captions are derived from the motion by
rules (models/captioning), not written by a person.
"""

from __future__ import annotations

from ..models.captioning.check import check_motion_against_text, query_lines
from ..models.captioning.describe import describe_motion, fact_lines
from ..models.core.errors import InputError

NO_SCORE = -1.0  # Check Motion Against Text's score when the text names no checkable fact
SOURCE_INPUTS = {
    "motion": ("MOTION", {"tooltip": "3D motion (Load Motion, smpl_22 / smpl_52) or Detect Pose's landmarks_3d. "
                                     "Connect this or pose_keypoint, not both."}),
    "pose_keypoint": ("POSE_KEYPOINT", {"tooltip": "2D OpenPose-18 frames (Detect Pose in video mode, Forecast "
                                                   "Poses); the first person is read. Connect this or motion."}),
    "fps": ("FLOAT", {"default": 30.0, "min": 1.0, "max": 240.0, "step": 0.5,
                      "tooltip": "Frame rate of pose_keypoint (a MOTION carries its own and ignores this)."}),
}


def _source(motion, pose_keypoint, fps) -> tuple[object, float | None]:
    """The one connected input and the fps that goes with it."""
    if motion is not None and pose_keypoint is not None:
        raise InputError("pose_keypoint", "connect either motion or pose_keypoint, not both")
    if motion is None and pose_keypoint is None:
        raise InputError("motion", "nothing to read: connect a MOTION to motion or POSE_KEYPOINT frames to "
                                   "pose_keypoint")
    return (motion, None) if motion is not None else (pose_keypoint, fps)


class PoseMotionDescribeMotion:
    CATEGORY = "PoseMotion/motion"
    DESCRIPTION = ("Finds what a motion does (walks forward, turns left by about 90 degrees, raises the right arm, "
                   "jumps, ...) with documented thresholds and writes it as English captions in the style of "
                   "HumanML3D, plus HumanML3D text lines (caption#tokens#0.0#0.0). Captions are derived from the "
                   "motion by rules.")
    RETURN_TYPES = ("STRING", "STRING", "STRING", "STRING")
    RETURN_NAMES = ("caption", "captions", "humanml3d_lines", "facts")
    OUTPUT_TOOLTIPS = ("The first caption.", "All captions, one per line.",
                       "HumanML3D texts/<name>.txt lines, one per caption.",
                       "One line per fact found: start-end seconds, kind, side or direction, angle.")
    OUTPUT_NODE = True
    FUNCTION = "describe"

    @classmethod
    def INPUT_TYPES(cls):
        return {"required": {
            "seed": ("INT", {"default": 0, "min": 0, "max": 2**31 - 1,
                             "tooltip": "Chooses among the phrasings; the same seed gives the same captions."}),
            "count": ("INT", {"default": 3, "min": 1, "max": 10, "tooltip": "How many different captions to write."}),
        }, "optional": SOURCE_INPUTS}

    def describe(self, seed, count, motion=None, pose_keypoint=None, fps=30.0):
        source, source_fps = _source(motion, pose_keypoint, fps)
        description = describe_motion(source, fps=source_fps, seed=seed, count=count)
        facts = "\n".join(fact_lines(description.facts))
        return {"ui": {"text": description.captions},
                "result": (description.captions[0], "\n".join(description.captions),
                           "\n".join(description.text_lines), facts)}


class PoseMotionCheckMotionAgainstText:
    CATEGORY = "PoseMotion/motion"
    DESCRIPTION = ("Scores how much of a text a motion does: the text's checkable facts (walk forward, wave the "
                   "right hand, turn around, ...) are looked up among the facts Describe Motion finds. score = the "
                   "fraction found, or -1 when the text names no checkable fact (not scored, rather than 0).")
    RETURN_TYPES = ("FLOAT", "STRING")
    RETURN_NAMES = ("score", "report")
    OUTPUT_TOOLTIPS = ("Fraction of the text's facts found in the motion, 0..1; -1 when the text names no "
                       "checkable fact.",
                       "One line per fact of the text (found or missing), then the facts found in the motion.")
    OUTPUT_NODE = True
    FUNCTION = "check"

    @classmethod
    def INPUT_TYPES(cls):
        return {"required": {
            "text": ("STRING", {"default": "a person walks forward", "multiline": True,
                                "tooltip": "Any English motion text: a caption or a short prompt ('wave arms')."}),
        }, "optional": SOURCE_INPUTS}

    def check(self, text, motion=None, pose_keypoint=None, fps=30.0):
        source, source_fps = _source(motion, pose_keypoint, fps)
        result = check_motion_against_text(source, text, fps=source_fps)
        lines = [result.message] + query_lines(result) + ["facts in the motion:"] + fact_lines(result.found)
        score = NO_SCORE if result.score is None else float(result.score)
        return {"ui": {"text": [result.message]}, "result": (score, "\n".join(lines))}


NODE_CLASS_MAPPINGS = {
    "PoseMotionDescribeMotion": PoseMotionDescribeMotion,
    "PoseMotionCheckMotionAgainstText": PoseMotionCheckMotionAgainstText,
}
NODE_DISPLAY_NAME_MAPPINGS = {
    "PoseMotionDescribeMotion": "Describe Motion",
    "PoseMotionCheckMotionAgainstText": "Check Motion Against Text",
}
