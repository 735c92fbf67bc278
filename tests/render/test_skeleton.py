"""Pixel checks of the OpenPose-style renderer on poses whose drawing we can predict."""

import numpy as np
import pytest
from posemotion.models.core.errors import InputError
from posemotion.models.core.layouts import OPENPOSE_18, OPENPOSE_LIMBS
from posemotion.models.core.pose_keypoint import make_frame, make_person
from posemotion.models.render.openpose import (
    BODY_COLORS,
    HAND_EDGE_COLORS,
    HAND_POINT_COLOR,
    LIMB_COLOR_SCALE,
    render_skeletons,
)

W, H = 400, 300


def _body(**named):
    body = np.zeros((18, 3), np.float32)
    for name, (x, y, c) in named.items():
        body[OPENPOSE_18.index(name)] = (x / W, y / H, c)
    return body


def _limb_color(a, b):
    k = OPENPOSE_LIMBS.index((OPENPOSE_18.index(a), OPENPOSE_18.index(b)))
    return tuple(int(c * LIMB_COLOR_SCALE) for c in BODY_COLORS[k])


def test_body_limb_and_joint_colours():
    body = _body(neck=(200, 100, 1.0), right_shoulder=(140, 100, 0.9), right_elbow=(140, 200, 0.8))
    img = render_skeletons([make_frame([make_person(body=body)], W, H)])
    assert img.shape == (1, H, W, 3) and img.dtype == np.uint8
    frame = img[0]
    assert tuple(frame[100, 170]) == _limb_color("neck", "right_shoulder")  # horizontal limb middle
    assert tuple(frame[150, 140]) == _limb_color("right_shoulder", "right_elbow")  # vertical limb middle
    assert tuple(frame[200, 140]) == BODY_COLORS[OPENPOSE_18.index("right_elbow")]  # joint disc on top
    # the limb is an ellipse of half-width 4 px: covered 3 px from its axis, empty 7 px away
    assert frame[150, 143].any() and not frame[150, 147].any()
    assert not frame[10, 10].any() and not frame[250, 300].any()


def test_body_threshold_hides_points_and_their_limbs():
    body = _body(neck=(200, 100, 1.0), right_shoulder=(140, 100, 0.2), left_shoulder=(260, 100, 0.9))
    frame = render_skeletons([make_frame([make_person(body=body)], W, H)], body_threshold=0.3)[0]
    assert not frame[100, 140].any() and not frame[100, 170].any()
    assert tuple(frame[100, 230]) == _limb_color("neck", "left_shoulder")
    lowered = render_skeletons([make_frame([make_person(body=body)], W, H)], body_threshold=0.1)[0]
    assert lowered[100, 170].any()


def test_hand_edges_and_points():
    hand = np.zeros((21, 3), np.float32)
    hand[0] = (100 / W, 250 / H, 1.0)
    hand[1] = (160 / W, 250 / H, 1.0)
    hand[2] = (160 / W, 200 / H, 0.5)  # below the default hand threshold 0.7
    frame = render_skeletons([make_frame([make_person(right_hand=hand)], W, H)])[0]
    assert tuple(frame[250, 130]) == HAND_EDGE_COLORS[0]
    assert tuple(frame[250, 100]) == HAND_POINT_COLOR
    assert not frame[200, 160].any() and not frame[225, 160].any()
    assert not render_skeletons([make_frame([make_person(right_hand=hand)], W, H)], hands=False)[0].any()


def test_canvas_from_keypoints_or_given_and_faces():
    face = np.zeros((70, 3), np.float32)
    face[30] = (0.5, 0.5, 1.0)
    frames = [make_frame([make_person(face=face)], 64, 32), make_frame([], 64, 32)]
    assert render_skeletons(frames).shape == (2, 32, 64, 3)
    img = render_skeletons(frames, width=128, height=128, face=True)
    assert img.shape == (2, 128, 128, 3)
    assert tuple(img[0, 64, 64]) == (255, 255, 255) and not img[1].any()
    assert not render_skeletons(frames, face=False)[0].any()


def test_bad_render_arguments():
    frames = [make_frame([], 8, 8)]
    with pytest.raises(InputError, match="width/height"):
        render_skeletons(frames, width=-1)
    with pytest.raises(InputError, match="stick_width"):
        render_skeletons(frames, stick_width=0)
    with pytest.raises(InputError, match="pose_keypoint"):
        render_skeletons([{"people": None}])
