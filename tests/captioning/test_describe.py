"""The captioner's entry point on real clips, in 3D, as POSE_KEYPOINT frames and as Detect Pose's
landmarks, and every bad input named."""

import numpy as np
import pytest
import torch
from posemotion.models.captioning.describe import describe_motion, fact_lines, find_facts
from posemotion.models.core.errors import InputError
from posemotion.models.core.layouts import _FROM_MEDIAPIPE
from posemotion.models.core.motion import Motion
from posemotion.models.motion.io import read_motion
from posemotion.models.render.motion_view import project_motion


@pytest.fixture(scope="module")
def mocapbank(mocap_dir) -> Motion:
    """The MocapBank clip: stands, kneels for about 7 s, stands again (15 s at 30 fps)."""
    return read_motion(mocap_dir / "test_mocapbank.bvh")


@pytest.fixture(scope="module")
def frames(mocapbank) -> list[dict]:
    """The clip seen from the front as POSE_KEYPOINT frames."""
    return project_motion(mocapbank, 0.0, 10.0, 1.1, 512, 512)


def test_a_real_clip_is_described(mocapbank):
    description = describe_motion(mocapbank, seed=2, count=4)
    kinds = {fact.kind for fact in description.facts}
    assert {"kneel", "stand_still"} <= kinds
    assert [f.start for f in description.facts] == sorted(f.start for f in description.facts)
    assert len(description.captions) == 4 and len(set(description.captions)) == 4
    assert all("kneel" in c or "knees" in c for c in description.captions)
    assert [line.split("#")[0] for line in description.text_lines] == description.captions
    assert describe_motion(mocapbank, seed=2, count=4) == description
    lines = fact_lines(description.facts)
    assert len(lines) == len(description.facts) and any(" kneel" in line for line in lines)


def test_pose_keypoint_frames_and_landmarks_give_2d_facts(mocapbank, frames):
    facts_2d = find_facts(frames, fps=mocapbank.fps)
    assert "kneel" in {f.kind for f in facts_2d} or "crouch" in {f.kind for f in facts_2d}
    assert all(f.kind != "turn" and f.direction is None for f in facts_2d if f.kind in ("walk", "run", "turn"))
    # the same points as Detect Pose's landmarks (mediapipe_holistic_75_image): the same facts
    body = np.asarray([f["people"][0]["pose_keypoints_2d"] for f in frames], np.float32).reshape(-1, 18, 3)
    landmarks = np.zeros((len(frames), 75, 3), np.float32)
    visibility = np.zeros((len(frames), 75), np.float32)
    for openpose, mediapipe in _FROM_MEDIAPIPE.items():
        landmarks[:, mediapipe, :2], visibility[:, mediapipe] = body[:, openpose, :2], body[:, openpose, 2]
    holistic = Motion(torch.from_numpy(landmarks), mocapbank.fps, "mediapipe_holistic_75_image",
                      params={"visibility": torch.from_numpy(visibility)}, canvas_size=(512, 512))
    assert {f.kind for f in find_facts(holistic)} == {f.kind for f in facts_2d}


def test_bad_inputs_are_named(mocapbank, frames):
    joints = mocapbank.joints
    nan = Motion(joints.clone(), mocapbank.fps, mocapbank.layout)
    nan.joints[0, 0, 0] = float("nan")
    cases = [
        (lambda: find_facts(nan), "^motion: joints contain NaN"),
        (lambda: find_facts(Motion(joints[:10].clone(), 30.0, "smpl_22")), "^motion: "),
        (lambda: find_facts(Motion(torch.zeros(40, 33, 3), 30.0, "mediapipe_33")),
         "^motion: unknown layout 'mediapipe_33'"),
        (lambda: find_facts("walk.bvh"), "^motion: expected a MOTION or POSE_KEYPOINT"),
        (lambda: find_facts(frames), "^fps: POSE_KEYPOINT frames carry no frame rate"),
        (lambda: find_facts(frames, fps=-3.0), "^fps: expected a positive number"),
        (lambda: find_facts(frames, fps=30.0, person=2), "^person: person 2 is in no frame"),
        (lambda: find_facts(frames[:5], fps=30.0), "^pose_keypoint: "),
        (lambda: find_facts(mocapbank, person=1), "^person: a MOTION holds one person"),
        (lambda: find_facts(mocapbank, fps=20.0), "^fps: a MOTION carries its own frame rate"),
        (lambda: find_facts([{"people": "x"}], fps=30.0), "^pose_keypoint: frame 0"),
        # the person seen in the first frame only: nothing to describe
        (lambda: describe_motion(frames[:1] + [dict(f, people=[]) for f in frames[1:40]], fps=30.0),
         "^pose_keypoint: no fact found to describe"),
    ]
    for call, message in cases:
        with pytest.raises(InputError, match=message):
            call()
    assert find_facts(mocapbank, fps=mocapbank.fps)  # the motion's own frame rate is fine
