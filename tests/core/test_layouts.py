import numpy as np
import pytest
from posemotion.models.core.errors import InputError
from posemotion.models.core.layouts import (
    HAND_21,
    HAND_EDGES,
    LAYOUTS,
    MEDIAPIPE_33,
    OPENPOSE_18,
    OPENPOSE_LIMBS,
    layout_names,
    to_openpose_18,
)
from posemotion.models.render.openpose import BODY_COLORS, HAND_EDGE_COLORS


def test_layout_sizes():
    assert len(OPENPOSE_18) == 18 and len(MEDIAPIPE_33) == 33 and len(HAND_21) == 21
    assert len(LAYOUTS["mediapipe_holistic_75_image"]) == 75
    assert len(OPENPOSE_LIMBS) == 17 and len(BODY_COLORS) == 18
    assert len(HAND_EDGES) == 20 and len(HAND_EDGE_COLORS) == 20
    # every hand point is reached from the wrist; the hand edges form a tree
    assert {b for _, b in HAND_EDGES} == set(range(1, 21))


def test_hand_palette_is_the_hsv_wheel():
    assert HAND_EDGE_COLORS[0] == (255, 0, 0)
    assert HAND_EDGE_COLORS[5] == (127, 255, 0)  # hue 0.25
    assert HAND_EDGE_COLORS[10] == (0, 255, 255)  # hue 0.5


def _named(layout, **points):
    names = layout_names(layout)
    out = np.zeros((len(names), 3), np.float32)
    for name, value in points.items():
        out[names.index(name)] = value
    return out


def test_mediapipe_to_openpose_maps_named_joints():
    mp = np.zeros((33, 3), np.float32)
    for i in range(33):
        mp[i] = (i / 100, 1 - i / 100, 0.9)
    op = to_openpose_18(mp, "mediapipe_33")
    for k, name in enumerate(OPENPOSE_18):
        if name == "neck":
            continue
        np.testing.assert_allclose(op[k], mp[MEDIAPIPE_33.index(name)])
    left, right = mp[MEDIAPIPE_33.index("left_shoulder")], mp[MEDIAPIPE_33.index("right_shoulder")]
    np.testing.assert_allclose(op[1, :2], (left[:2] + right[:2]) / 2)


def test_neck_missing_when_a_shoulder_is_missing():
    mp = _named("mediapipe_33", left_shoulder=(0.4, 0.3, 0.9))
    assert to_openpose_18(mp, "mediapipe_33")[1].tolist() == [0, 0, 0]


def test_coco_to_openpose_and_batched_shapes():
    coco = np.random.default_rng(0).random((5, 17, 3)).astype(np.float32)
    op = to_openpose_18(coco, "coco_17")
    assert op.shape == (5, 18, 3)
    np.testing.assert_allclose(op[:, OPENPOSE_18.index("left_wrist")], coco[:, 9])


def test_bad_layouts():
    with pytest.raises(InputError, match="layout: unknown layout 'smpl_99'"):
        layout_names("smpl_99")
    with pytest.raises(InputError, match="points: expected"):
        to_openpose_18(np.zeros((10, 3)), "mediapipe_33")
    with pytest.raises(InputError, match="no conversion"):
        to_openpose_18(np.zeros((21, 3)), "hand_21")
