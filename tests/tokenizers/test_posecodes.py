"""Pose codes: slot exclusivity on real CMU mocap, geometric checks on hand-built poses, editing."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from posemotion.models.core.errors import InputError
from posemotion.models.motion.io import read_motion
from posemotion.models.tokenizers import posecodes as pc

# A standing body facing +z (its left towards +x), arms hanging, feet flat: smpl_22 order, metres.
STANDING = {
    "pelvis": (0.0, 0.95, 0.0), "left_hip": (0.09, 0.88, 0.0), "right_hip": (-0.09, 0.88, 0.0),
    "spine1": (0.0, 1.05, 0.0), "left_knee": (0.09, 0.50, 0.0), "right_knee": (-0.09, 0.50, 0.0),
    "spine2": (0.0, 1.17, 0.0), "left_ankle": (0.09, 0.08, 0.0), "right_ankle": (-0.09, 0.08, 0.0),
    "spine3": (0.0, 1.25, 0.0), "left_foot": (0.09, 0.02, 0.12), "right_foot": (-0.09, 0.02, 0.12),
    "neck": (0.0, 1.45, 0.0), "left_collar": (0.08, 1.38, 0.0), "right_collar": (-0.08, 1.38, 0.0),
    "head": (0.0, 1.60, 0.02), "left_shoulder": (0.18, 1.40, 0.0), "right_shoulder": (-0.18, 1.40, 0.0),
    "left_elbow": (0.18, 1.12, 0.0), "right_elbow": (-0.18, 1.12, 0.0),
    "left_wrist": (0.18, 0.87, 0.0), "right_wrist": (-0.18, 0.87, 0.0),
}
ORDER = list(STANDING)


def standing(**moved) -> np.ndarray:
    joints = dict(STANDING, **moved)
    return np.array([joints[name] for name in ORDER], dtype=np.float32)[None]


def active(codes: torch.Tensor, frame: int = 0) -> set[str]:
    return set(pc.active_category_names(codes[frame]))


def test_tables_have_70_slots_and_392_unique_names():
    assert len(pc.SLOTS) == 70 and len(pc.CATEGORY_NAMES) == 392 == len(set(pc.CATEGORY_NAMES))
    sizes = [len(slot.categories) for slot in pc.SLOTS]
    # official layout: 4 angles x 18, 18 distances x 10, 6 + 16 + 9 relative x/y/z x 3, 13 axis x 3, 4 ground x 2
    assert sizes == [18] * 4 + [10] * 18 + [3] * 31 + [3] * 13 + [2] * 4
    flat = [i for slot in pc.SLOTS for i in slot.categories]
    assert flat == list(range(392))
    assert pc.SLOTS[2].categories[0] == 36 and pc.SLOTS[22].categories[0] == 252 and pc.SLOTS[66].categories[0] == 384


@pytest.fixture(scope="module")
def cmu_walk(mocap_dir):

    motion = read_motion(mocap_dir / "test.asf", amc_path=mocap_dir / "test.amc", layout="smpl_22")
    joints = motion.joints.numpy()[::6]  # 120 -> 20 fps, as HumanML3D
    return joints, pc.pose_codes(joints)


def test_every_slot_has_exactly_one_category_on_real_mocap(cmu_walk):
    joints, codes = cmu_walk
    assert codes.shape == (joints.shape[0], 392) and codes.dtype == torch.bool
    per_slot = torch.stack([codes[:, list(slot.categories)].sum(1) for slot in pc.SLOTS], 1)
    assert bool((per_slot == 1).all()) and pc.slots_are_exclusive(codes)
    assert 100 < len({tuple(row.nonzero().flatten().tolist()) for row in codes})  # the codes do vary


def test_real_walk_codes_match_the_geometry(cmu_walk):
    """Walking back and forth along z: sideways words follow the facing; a foot is always down."""
    joints, codes = cmu_walk
    hips = joints[:, ORDER.index("left_hip")] - joints[:, ORDER.index("right_hip")]
    facing_plus_z, facing_minus_z = hips[:, 0] > 0.1, hips[:, 0] < -0.1  # the left hip towards +x / -x
    assert facing_plus_z.sum() > 50 and facing_minus_z.sum() > 50
    left_of = codes[:, pc.category_index("left hand to the left of right hand")].numpy()
    right_of = codes[:, pc.category_index("left hand to the right of right hand")].numpy()
    assert left_of[facing_plus_z].mean() > 0.9 and right_of[facing_minus_z].mean() > 0.9
    feet = codes[:, [pc.category_index("left foot on the ground"), pc.category_index("right foot on the ground")]]
    assert feet.any(1).float().mean() > 0.95
    assert not codes[:, pc.category_index("left knee on the ground")].any()
    # knee angle bins agree with the angle measured here
    hip, knee, ankle = (joints[:, ORDER.index(n)] for n in ("left_hip", "left_knee", "left_ankle"))
    a, b = hip - knee, ankle - knee
    angle = np.degrees(np.arccos(np.sum(a * b, 1) / np.linalg.norm(a, axis=1) / np.linalg.norm(b, axis=1)))
    bins = codes[:, list(pc.SLOTS[0].categories)].float().argmax(1).numpy()
    clear = np.abs(angle - np.round(angle / 10) * 10) > 0.5  # away from a bin edge
    assert (bins[clear] == np.minimum(np.floor(angle[clear] / 10), 17)).all()


def test_straight_and_bent_elbow():
    codes = pc.pose_codes(standing())
    assert {"left elbow angle 170-180 degrees", "left upper arm vertical", "left forearm vertical",
            "left hand to the left of right hand", "left hand to right hand distance 0.3-0.4 m"} <= active(codes)
    # forearm turned forward to 95 degrees from the upper arm (which points down)
    angle = math.radians(95)
    elbow = np.array(STANDING["left_elbow"])
    wrist = elbow + 0.25 * np.array([0.0, math.cos(angle), math.sin(angle)])
    codes = pc.pose_codes(standing(left_wrist=tuple(wrist)))
    assert {"left elbow angle 90-100 degrees", "left forearm horizontal", "left hand in front of torso",
            "right elbow angle 170-180 degrees"} <= active(codes)
    assert "left hand behind torso" not in active(codes)


def test_a_value_on_a_bin_edge_falls_into_the_lower_bin():
    arms = {f"{side}_{joint}": (sign * 0.25, STANDING[f"{side}_{joint}"][1], 0.0)
            for side, sign in (("left", 1), ("right", -1)) for joint in ("shoulder", "elbow", "wrist")}
    codes = pc.pose_codes(standing(**arms))  # hands and elbows exactly 0.5 m apart
    assert {"left hand to right hand distance 0.4-0.5 m", "left elbow to right elbow distance 0.4-0.5 m"} <= active(codes)


def test_feet_on_and_off_the_ground():
    codes = pc.pose_codes(standing())
    assert {"left foot on the ground", "right foot on the ground", "left knee off the ground"} <= active(codes)
    lifted = {name: (x, y + 0.3, z) for name, (x, y, z) in STANDING.items() if name in ("left_ankle", "left_foot")}
    codes = pc.pose_codes(standing(**lifted))
    assert {"left foot off the ground", "right foot on the ground"} <= active(codes)
    kneeling = pc.pose_codes(standing(left_knee=(0.09, 0.05, 0.2)))
    assert "left knee on the ground" in active(kneeling)


def test_batched_numpy_and_torch_agree_and_jitter_is_seeded():
    joints = np.concatenate([standing(), standing(left_knee=(0.09, 0.55, 0.2))])
    single = pc.pose_codes(joints)
    batched = pc.pose_codes(torch.from_numpy(joints)[None].repeat(2, 1, 1, 1))
    assert batched.shape == (2, 2, 392) and torch.equal(batched[1], single)
    first = pc.pose_codes(joints, jitter_generator=torch.Generator().manual_seed(3))
    again = pc.pose_codes(joints, jitter_generator=torch.Generator().manual_seed(3))
    assert torch.equal(first, again) and pc.slots_are_exclusive(first)


def test_bad_joints_are_rejected():
    with pytest.raises(InputError, match="22, 3"):
        pc.pose_codes(np.zeros((5, 24, 3)))
    with pytest.raises(InputError, match="NaN"):
        pc.pose_codes(np.full((2, 22, 3), np.nan))


def test_category_lookup_and_close_matches():
    assert pc.CATEGORY_NAMES[pc.category_index("left elbow angle 80-90 degrees")] == "left elbow angle 80-90 degrees"
    assert pc.category_index("Left Foot On The Ground") == pc.category_index("left foot on the ground")
    assert pc.category_index(391) == 391
    with pytest.raises(InputError, match="left elbow angle 80-90 degrees"):
        pc.category_index("left elbow angle 85-90 degrees")
    with pytest.raises(InputError, match="0..391"):
        pc.category_index(392)


def test_edit_touches_only_its_slot_and_frames(cmu_walk):
    _, codes = cmu_walk
    codes = codes[:40]
    target = pc.category_index("left hand above left shoulder")
    slot = pc.SLOTS[pc.SLOT_OF_CATEGORY[target]]
    before = codes.clone()
    edited = pc.edit_pose_codes(codes, "left hand above left shoulder", 10, 20)
    assert torch.equal(codes, before)  # input untouched
    assert edited[10:20, target].all() and pc.slots_are_exclusive(edited)
    others = [i for i in range(392) if i not in slot.categories]
    assert torch.equal(edited[:, others], codes[:, others])
    assert torch.equal(edited[:10], codes[:10]) and torch.equal(edited[20:], codes[20:])
    assert edited[10:20, list(slot.categories)].sum(1).eq(1).all()


@pytest.mark.parametrize("start,end", [(-1, 5), (5, 5), (8, 3), (0, 41), (1.5, 4)])
def test_edit_rejects_impossible_ranges(cmu_walk, start, end):
    with pytest.raises(InputError, match="frame"):
        pc.edit_pose_codes(cmu_walk[1][:40], 0, start, end)


def test_codes_per_step_take_the_first_frame_of_each_step():
    codes = torch.zeros(10, 392, dtype=torch.bool)
    codes[torch.arange(10), torch.arange(10)] = True
    steps = pc.pose_codes_per_step(codes, 4)
    assert steps.shape == (2, 392) and steps[0, 0] and steps[1, 4] and steps.sum() == 2
