"""Retarget Pose To Reference as ComfyUI calls it: through the pack's registry, with its input checks."""

import numpy as np
import pytest
import torch
from posemotion import NODE_CLASS_MAPPINGS, NODE_DISPLAY_NAME_MAPPINGS
from posemotion.models.core.errors import InputError
from posemotion.models.core.motion import Motion
from posemotion.models.core.pose_keypoint import make_frame, make_person

NODE = NODE_CLASS_MAPPINGS["PoseMotionRetargetPose"]
OPTIONS = dict(bone_lengths="scaled", placement="reference", root_motion="follow", width=0, height=0)


def stick(scale: float = 1.0, size=(640, 480)) -> dict:
    """A standing OpenPose-18 figure (no hands), ``scale`` times the size of the base one, neck at (320, 140)."""
    body = np.array([(320, 100), (320, 140), (290, 140), (280, 190), (275, 235), (350, 140), (360, 190),
                     (365, 235), (300, 240), (300, 320), (300, 400), (340, 240), (340, 320), (340, 400),
                     (312, 92), (328, 92), (305, 96), (335, 96)], np.float64)
    body = (body - body[1]) * scale + body[1]
    return make_frame([make_person(body=np.concatenate([body / size, np.ones((18, 1))], axis=1))], *size)


def call(**inputs):
    return getattr(NODE(), NODE.FUNCTION)(**{**OPTIONS, **inputs})


def test_the_node_is_registered_with_tooltips():
    assert NODE_DISPLAY_NAME_MAPPINGS["PoseMotionRetargetPose"] == "Retarget Pose To Reference"
    declared = NODE.INPUT_TYPES()
    for name, spec in {**declared["required"], **declared["optional"]}.items():
        assert spec[1].get("tooltip"), f"{name} has no tooltip"


def test_a_small_figure_grows_to_the_reference_size():
    out = call(driving=[stick(0.5), stick(0.5)], reference=[stick(1.0, size=(800, 600))])
    poses, landmarks = out["result"]
    assert landmarks is None  # landmarks_3d not connected
    assert (poses[0]["canvas_width"], poses[0]["canvas_height"]) == (800, 600)
    body = np.array(poses[0]["people"][0]["pose_keypoints_2d"]).reshape(18, 3) * [800, 600, 1]
    reference = np.array(stick(1.0, (800, 600))["people"][0]["pose_keypoints_2d"]).reshape(18, 3) * [800, 600, 1]
    assert np.abs(body - reference).max() < 1e-3
    assert out["ui"]["text"][0].startswith("reference person 2.00x the driving one; 17/17 bones")
    # placement=driving: the driving figure's own size, place and canvas (the same proportions here: unchanged)
    same, _ = call(driving=[stick(0.5)], reference=[stick(1.0, size=(800, 600))], placement="driving")["result"]
    assert (same[0]["canvas_width"], same[0]["canvas_height"]) == (640, 480)
    expected = stick(0.5)["people"][0]["pose_keypoints_2d"]
    assert np.allclose(same[0]["people"][0]["pose_keypoints_2d"], expected, atol=1e-6)


def test_another_aspect_crops_the_reference_canvas_as_posegen_does():
    # 800x600 -> 4:3 to 16:9: PoseGen keeps rows 75..525 of the reference image and scales them by 1.6
    poses, _ = call(driving=[stick()], reference=[stick(size=(800, 600))], width=1280, height=720)["result"]
    neck = np.array(poses[0]["people"][0]["pose_keypoints_2d"]).reshape(18, 3)[1]
    assert (poses[0]["canvas_width"], poses[0]["canvas_height"]) == (1280, 720)
    assert np.allclose(neck[:2] * [1280, 720], [320 * 1.6, (140 - 75) * 1.6], atol=1e-3)


def test_connected_landmarks_come_back_on_the_reference_canvas():
    visibility = torch.zeros(2, 75)
    landmarks = Motion(joints=torch.zeros(2, 75, 3), fps=30.0, layout="mediapipe_holistic_75_image",
                       params={"visibility": visibility}, canvas_size=(640, 480))
    _, moved = call(driving=[stick(), stick()], reference=[stick(size=(800, 600))], landmarks_3d=landmarks)["result"]
    assert isinstance(moved, Motion) and moved.canvas_size == (800, 600) and moved.num_frames == 2


@pytest.mark.parametrize("inputs, message", [
    (dict(driving=[]), "driving: empty"),
    (dict(reference=[make_frame([], 512, 512)]), "reference: no person"),
    (dict(reference=[{"people": [], "canvas_width": 0, "canvas_height": 512}]), "reference: frame 0: 'canvas_width'"),
    (dict(bone_lengths="longer"), "bone_lengths: 'longer' is not one of the choices"),
    (dict(width=320), "height: set both width and height"),
    (dict(landmarks_3d=Motion(joints=torch.zeros(2, 22, 3), fps=30.0, layout="smpl_22")),
     "landmarks_3d: expected Detect Pose's 'mediapipe_holistic_75_image' landmarks"),
])
def test_bad_input_names_the_input(inputs, message):
    with pytest.raises(InputError, match=message):
        call(**{"driving": [stick()], "reference": [stick()], **inputs})
