import json
import math

import numpy as np
import pytest
from posemotion.models.core.errors import InputError
from posemotion.models.core.pose_keypoint import make_frame, make_person, person_arrays, validate_pose_keypoint


def _frame():
    body = np.zeros((18, 3), np.float32)
    body[0] = (0.5, 0.25, 0.9)
    body[3] = (0.2, 0.6, 0.1)
    return make_frame([make_person(body=body, left_hand=np.full((21, 3), 0.5))], 640, 480)


def test_round_trip_and_json():
    frame = _frame()
    assert set(frame) == {"people", "canvas_width", "canvas_height"}
    person = frame["people"][0]
    assert set(person) == {"pose_keypoints_2d", "face_keypoints_2d", "hand_left_keypoints_2d", "hand_right_keypoints_2d"}
    assert person["face_keypoints_2d"] is None and person["hand_right_keypoints_2d"] is None
    assert len(person["pose_keypoints_2d"]) == 54
    assert json.loads(json.dumps([frame])) == [frame]
    arrays = person_arrays(person)
    assert arrays["body"].shape == (18, 3) and arrays["face"] is None
    np.testing.assert_allclose(arrays["body"][0], (0.5, 0.25, 0.9), rtol=1e-6)
    assert arrays["body"][1].tolist() == [0, 0, 0]  # missing points are 0, 0, 0


def test_accepts_controlnet_aux_output():
    """Their encoder writes None for absent parts and 1.0 confidences; a lone frame dict is wrapped."""
    theirs = {"people": [{"pose_keypoints_2d": [0.1, 0.2, 1.0] * 18, "face_keypoints_2d": None,
                          "hand_left_keypoints_2d": None, "hand_right_keypoints_2d": None}],
              "canvas_height": 768, "canvas_width": 512}
    assert validate_pose_keypoint(theirs) == [theirs]
    assert validate_pose_keypoint([make_frame([], 10, 10)])[0]["people"] == []


@pytest.mark.parametrize("bad, message", [
    ("nope", "expected a POSE_KEYPOINT list"),
    ([], "empty"),
    ([{"canvas_width": 5, "canvas_height": 5}], "frame 0: expected a dict with a 'people' list"),
    ([{"people": [], "canvas_width": 0, "canvas_height": 5}], "'canvas_width' must be a positive number"),
    ([{"people": ["x"], "canvas_width": 5, "canvas_height": 5}], "person 0: expected a dict"),
    ([{"people": [{"pose_keypoints_2d": [0.1, 0.2]}], "canvas_width": 5, "canvas_height": 5}], "not a multiple of 3"),
    ([{"people": [{"pose_keypoints_2d": [0.1, 0.2, 1.0] * 17}], "canvas_width": 5, "canvas_height": 5}], "expected 18 points"),
    ([{"people": [{"hand_left_keypoints_2d": [math.nan, 0.2, 1.0] * 21}], "canvas_width": 5, "canvas_height": 5}], "finite numbers"),
    ([{"people": [{"pose_keypoints_2d": "abc"}], "canvas_width": 5, "canvas_height": 5}], "flat list"),
])
def test_malformed_pose_keypoint_is_named(bad, message):
    with pytest.raises(InputError, match="pose_keypoint: .*" + message.replace("(", r"\(")):
        validate_pose_keypoint(bad)
