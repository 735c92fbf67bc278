"""Describe Motion and Check Motion Against Text called as ComfyUI calls them (inputs checked first)."""

import pytest
from posemotion import NODE_CLASS_MAPPINGS
from posemotion.models.core.errors import InputError
from posemotion.models.motion.io import read_motion
from posemotion.models.render.motion_view import project_motion

DESCRIBE = NODE_CLASS_MAPPINGS["PoseMotionDescribeMotion"]
CHECK = NODE_CLASS_MAPPINGS["PoseMotionCheckMotionAgainstText"]


@pytest.fixture(scope="module")
def motion(mocap_dir):
    return read_motion(mocap_dir / "test_mocapbank.bvh")  # stands, kneels, stands


def test_describe_motion_outputs(motion):
    out = DESCRIBE().describe(seed=1, count=2, motion=motion)
    caption, captions, lines, facts = out["result"]
    assert captions.split("\n") == out["ui"]["text"] and caption == out["ui"]["text"][0]
    assert len(captions.split("\n")) == 2 and len(lines.split("\n")) == 2
    assert all(line.count("#") == 3 and line.endswith("#0.0#0.0") for line in lines.split("\n"))
    assert "kneel" in facts and all(" s  " in line for line in facts.split("\n"))
    assert DESCRIBE().describe(seed=1, count=2, motion=motion) == out


def test_describe_pose_keypoint_frames(motion):
    frames = project_motion(motion, 0.0, 10.0, 1.1, 256, 256)
    caption, _, _, facts = DESCRIBE().describe(seed=0, count=1, pose_keypoint=frames, fps=motion.fps)["result"]
    assert caption.endswith(".") and facts


def test_check_motion_against_text_outputs(motion):
    out = CHECK().check(text="a person stands still, then kneels down and waves the right hand", motion=motion)
    score, report = out["result"]
    assert score == pytest.approx(2 / 3)
    assert report.splitlines()[1:4] == ["found: stand_still", "found: kneel", "missing: wave right"]
    assert "facts in the motion:" in report and out["ui"]["text"] == [report.splitlines()[0]]
    nothing, report = CHECK().check(text="good morning", motion=motion)["result"]
    assert nothing == -1.0 and report.startswith("no checkable fact in the text")


def test_exactly_one_source_and_a_text(motion):
    frames = [{"people": [], "canvas_width": 64, "canvas_height": 64}]
    with pytest.raises(InputError, match="^motion: nothing to read"):
        DESCRIBE().describe(seed=0, count=1)
    with pytest.raises(InputError, match="^pose_keypoint: connect either motion or pose_keypoint, not both"):
        CHECK().check(text="walk", motion=motion, pose_keypoint=frames)
    with pytest.raises(InputError, match="^text: expected a non-empty text"):
        CHECK().check(text=" ", pose_keypoint=frames, fps=30.0)
    with pytest.raises(InputError, match="^count: "):
        DESCRIBE().describe(seed=0, count=0, pose_keypoint=frames)
