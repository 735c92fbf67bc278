"""Left/right mirror images (motion/mirror.py): world joints and normalised image points, numpy and
torch, the real mocap clips, and bad input."""

import numpy as np
import pytest
import torch
from posemotion.models.core.errors import InputError
from posemotion.models.core.layouts import OPENPOSE_18, SMPL_22, SMPL_52
from posemotion.models.motion.io import read_motion
from posemotion.models.motion.mirror import mirror_image_points, mirror_joints, swap_sides


@pytest.fixture(scope="module")
def mixamo(mocap_dir):
    """The Mixamo clip, the one with fingers: smpl_52 joints (torch)."""
    return read_motion(mocap_dir / "test_freebvh.bvh")


def test_a_real_clip_mirrors_with_x_negated_and_sides_swapped(mixamo):
    assert mixamo.layout == "smpl_52"
    joints = mixamo.joints
    flipped = mirror_joints(joints, "smpl_52")
    assert isinstance(flipped, torch.Tensor) and flipped.dtype == joints.dtype
    for left in ("left_wrist", "left_index3", "left_foot"):
        right = left.replace("left", "right")
        l, r = SMPL_52.index(left), SMPL_52.index(right)
        assert torch.equal(flipped[:, l, 0], -joints[:, r, 0]) and torch.equal(flipped[:, l, 1:], joints[:, r, 1:])
    assert torch.equal(flipped[:, 0, 0], -joints[:, 0, 0])  # a centre joint stays, mirrored in place
    assert torch.equal(mirror_joints(flipped, "smpl_52"), joints)
    body = joints[:, :22].numpy().copy()
    flipped_body = mirror_joints(body, "smpl_22")
    assert isinstance(flipped_body, np.ndarray) and flipped_body.dtype == body.dtype
    np.testing.assert_array_equal(flipped_body, flipped[:, :22].numpy())  # the hands do not move body joints
    np.testing.assert_array_equal(body, joints[:, :22].numpy())  # the input is left alone


def test_image_points_flip_x_carry_their_channels_and_keep_unseen_points_at_zero():
    points = np.zeros((2, 18, 3), np.float32)
    points[:, OPENPOSE_18.index("left_wrist")] = (0.2, 0.5, 0.9)
    points[:, OPENPOSE_18.index("nose")] = (0.4, 0.1, 1.0)
    plain = mirror_image_points(points, "openpose_18")
    assert tuple(plain[0, OPENPOSE_18.index("right_wrist")]) == pytest.approx((0.8, 0.5, 0.9))
    assert tuple(plain[0, OPENPOSE_18.index("nose")]) == pytest.approx((0.6, 0.1, 1.0))
    seen = mirror_image_points(points, "openpose_18", visible=points[..., 2] > 0)
    assert not seen[0, OPENPOSE_18.index("left_wrist")].any()  # unseen: still (0, 0, 0)
    np.testing.assert_allclose(mirror_image_points(seen, "openpose_18", visible=seen[..., 2] > 0), points)
    xy = torch.rand(4, 18, 2)
    visible = torch.rand(4, 18) > 0.3
    flipped, flipped_visible = mirror_image_points(xy, "openpose_18", visible), swap_sides(visible, "openpose_18")
    assert isinstance(flipped, torch.Tensor) and not flipped[~flipped_visible].any()
    back = mirror_image_points(flipped, "openpose_18", flipped_visible)
    assert torch.allclose(back[visible], xy[visible]) and torch.equal(swap_sides(flipped_visible, "openpose_18"),
                                                                      visible)


def test_swap_sides_reorders_any_axis():
    values = np.arange(2 * 22).reshape(2, 22)
    assert [SMPL_22[i] for i in swap_sides(values, "smpl_22")[0]][:3] == ["pelvis", "right_hip", "left_hip"]
    np.testing.assert_array_equal(swap_sides(values.T, "smpl_22", axis=0), swap_sides(values, "smpl_22").T)


@pytest.mark.parametrize("call, name", [
    (lambda: mirror_joints(np.zeros((3, 21, 3)), "smpl_22"), "joints"),
    (lambda: mirror_joints(np.zeros((3, 22, 2)), "smpl_22"), "joints"),
    (lambda: mirror_joints(np.zeros((3, 22, 3)), "smpl_99"), "layout"),
    (lambda: mirror_image_points(np.zeros((3, 18, 1)), "openpose_18"), "points"),
    (lambda: mirror_image_points(np.zeros((3, 18, 2)), "openpose_18", np.ones((3, 17), bool)), "visible"),
    (lambda: swap_sides(np.zeros((3, 18)), "openpose_18", axis=0), "values"),
])
def test_bad_input_names_the_input(call, name):
    with pytest.raises(InputError) as error:
        call()
    assert error.value.input_name == name
