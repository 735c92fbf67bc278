"""Made-up motions (motion/arm_transplant.py): the donor's arm motion on the recipient's body, with the
recipient's bones, checked on the real clips; and bad input."""

import numpy as np
import pytest
from posemotion.models.captioning.facts3d import find_facts_3d
from posemotion.models.core.errors import InputError
from posemotion.models.core.layouts import SMPL_22, layout_parents
from posemotion.models.forecasting.dataset import read_mocap_joints
from posemotion.models.motion.arm_transplant import ping_pong, transplant_arms

ARMS = [SMPL_22.index(f"{side}_{joint}") for side in ("left", "right") for joint in ("elbow", "wrist")]
PARENTS = np.array(layout_parents("smpl_22")[1:])


def bone_lengths(joints):
    return np.linalg.norm(joints[:, 1:] - joints[:, PARENTS], axis=-1)


@pytest.fixture(scope="module")
def standing(mocap_dir):
    """The MocapBank clip's first 3 s: a person standing still."""
    return read_mocap_joints(str(mocap_dir), "test_mocapbank.bvh")[:90]


@pytest.fixture(scope="module")
def dance(mocap_dir):
    return read_mocap_joints(str(mocap_dir), "deepmimic/humanoid3d_dance_a.txt")


def test_the_body_is_the_recipients_and_the_arms_move_like_the_donors(standing, dance):
    composed = transplant_arms(standing, dance)
    assert composed.shape == standing.shape and composed.dtype == np.float32
    others = [j for j in range(22) if j not in ARMS]
    np.testing.assert_array_equal(composed[:, others], standing[:, others])
    np.testing.assert_allclose(bone_lengths(composed), bone_lengths(standing), rtol=1e-5)
    # the donor's elbow angle carries over exactly (a rotation of the whole arm keeps it)
    for donor_arm, chain in ((dance[:90], (16, 18, 20)), (dance[:90], (17, 19, 21))):
        def elbow_cosine(j):
            upper, fore = j[:, chain[1]] - j[:, chain[0]], j[:, chain[2]] - j[:, chain[1]]
            return (upper * fore).sum(-1) / np.linalg.norm(upper, axis=-1) / np.linalg.norm(fore, axis=-1)
        np.testing.assert_allclose(elbow_cosine(composed), elbow_cosine(donor_arm), atol=1e-5)
    assert not np.allclose(composed[:, ARMS], standing[:, ARMS], atol=0.05)


def test_the_captioner_reads_a_standing_body_with_dancing_arms_as_standing_and_waving(standing, dance):
    assert "wave" not in {fact.kind for fact in find_facts_3d(standing, 30.0)}
    kinds = {fact.kind for fact in find_facts_3d(transplant_arms(standing, dance), 30.0)}
    assert {"wave", "stand_still"} <= kinds and not kinds & {"walk", "jump", "kick"}


def test_a_clip_given_its_own_arms_is_unchanged(dance):
    np.testing.assert_allclose(transplant_arms(dance, dance), dance, atol=1e-5)


def test_a_short_donor_plays_forwards_then_backwards_without_a_jump():
    frames = np.arange(4.0)[:, None]
    assert ping_pong(frames, 9)[:, 0].tolist() == [0, 1, 2, 3, 2, 1, 0, 1, 2]
    with pytest.raises(InputError, match="donor"):
        ping_pong(frames[:1], 5)


def test_bad_input_names_the_motion(standing):
    with pytest.raises(InputError, match="recipient.*22, 3"):
        transplant_arms(standing[:, :18], standing)
    broken = standing.copy()
    broken[3, 20] = np.nan
    with pytest.raises(InputError, match="donor.*NaN"):
        transplant_arms(standing, broken)
