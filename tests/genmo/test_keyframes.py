"""3D keyframes from real mocap: frame lists, the pose parts they fix, root positions, errors."""

import numpy as np
import pytest
import torch
from posemotion.models.core.errors import InputError
from posemotion.models.core.motion import Motion
from posemotion.models.genmo.keyframes import Keyframes, make_keyframes, parse_frames
from posemotion.models.motion.humanml3d import FeatureStats, joints_to_features
from posemotion.models.motion.io import read_motion
from posemotion.models.motion.resample import resample

POSE_TOLERANCE = 1e-3  # metres: the keyframe features must rebuild the pose's shape this closely


@pytest.fixture(scope="module")
def walk(mocap_dir):
    """The real CMU walk at 20 fps (smpl_22 world joints), its first 200 frames."""
    motion = resample(read_motion(str(mocap_dir / "test.asf"), str(mocap_dir / "test.amc")), 20.0)
    return Motion(joints=motion.joints[:200].clone(), fps=20.0, layout="smpl_22")


@pytest.fixture(scope="module")
def stats(walk):
    return FeatureStats.compute([joints_to_features(walk.joints)])


def _pose_from_row(row: np.ndarray) -> np.ndarray:
    """[22, 3] pose (up to a turn about y and an xz shift) from a row's root height and ric columns."""
    pose = np.zeros((22, 3))
    pose[0, 1] = row[3]
    pose[1:] = row[4:67].reshape(21, 3)
    return pose


def _distances(pose: np.ndarray) -> np.ndarray:
    return np.linalg.norm(pose[:, None] - pose[None], axis=-1)


@pytest.mark.parametrize("text, expected", [("0, 119", (0, 119)), ("0 60,  -1", (0, 60, 119)), ([5, -120], (5, 0))])
def test_parse_frames(text, expected):
    assert parse_frames(text, 120) == expected


@pytest.mark.parametrize("text, problem", [("", "no keyframe"), ("0, 120", "outside"), ("-121", "outside"),
                                           ("3, 3", "twice"), ("0, -120", "twice"), ("0, a", "whole frame"),
                                           ([1.5], "list of ints")])
def test_parse_frames_errors_name_frames(text, problem):
    with pytest.raises(InputError, match=problem) as error:
        parse_frames(text, 120)
    assert error.value.input_name == "frames"


def test_contiguous_motion_fixes_only_pose_parts_at_its_frames(walk, stats):
    keyframes = make_keyframes(walk, "0, 50, 119", 120, stats)
    assert isinstance(keyframes, Keyframes) and keyframes.frames == (0, 50, 119)
    rows = keyframes.mask.any(dim=1).nonzero().flatten().tolist()
    assert rows == [0, 50, 119]
    assert keyframes.mask[50].nonzero().flatten().tolist() == list(range(3, 193))
    assert (keyframes.features[~keyframes.mask] == 0).all()
    assert torch.isnan(keyframes.root[1]).all() and torch.isfinite(keyframes.root[[0, 50, 119]]).all()
    denormalised = stats.denormalize(keyframes.features.numpy())
    floor = walk.joints[..., 1].min().item()
    for frame in (0, 50, 119):
        original = walk.joints[frame].numpy()
        rebuilt = _pose_from_row(denormalised[frame])
        assert np.abs(_distances(rebuilt) - _distances(original)).max() < POSE_TOLERANCE
        assert abs(rebuilt[0, 1] - (original[0, 1] - floor)) < POSE_TOLERANCE
        assert abs(keyframes.root[frame, 1].item() - (original[0, 1] - floor)) < POSE_TOLERANCE
    # root: first keyframe at the origin; the others keep their horizontal distance from it
    torch.testing.assert_close(keyframes.root[0, [0, 2]], torch.zeros(2))
    for frame in (50, 119):
        moved = np.linalg.norm((walk.joints[frame, 0] - walk.joints[0, 0]).numpy()[[0, 2]])
        assert abs(keyframes.root[frame, [0, 2]].norm().item() - moved) < POSE_TOLERANCE


def test_one_pose_per_keyframe(walk, stats):
    poses = Motion(joints=walk.joints[[10, 150]].clone(), fps=20.0, layout="smpl_22")
    keyframes = make_keyframes(poses, [0, -1], 120, stats)
    assert keyframes.frames == (0, 119)
    denormalised = stats.denormalize(keyframes.features.numpy())
    floor = poses.joints[..., 1].min().item()
    for k, frame in enumerate(keyframes.frames):
        rebuilt = _pose_from_row(denormalised[frame])
        assert np.abs(_distances(rebuilt) - _distances(poses.joints[k].numpy())).max() < POSE_TOLERANCE
        # heights from the two poses' common floor, not each pose's own lowest joint
        np.testing.assert_allclose(rebuilt[:, 1], poses.joints[k, :, 1].numpy() - floor, atol=POSE_TOLERANCE)
    moved = np.linalg.norm((poses.joints[1, 0] - poses.joints[0, 0]).numpy()[[0, 2]])
    assert abs(keyframes.root[119, [0, 2]].norm().item() - moved) < POSE_TOLERANCE


def test_other_frame_rates_are_resampled(mocap_dir, stats):
    original = read_motion(str(mocap_dir / "test_freebvh.bvh"))  # smpl_52 at 30 fps
    assert original.fps == 30.0
    keyframes = make_keyframes(original, "0, 40", 60, stats)  # frame 40 at 20 fps = 2 s = frame 60 at 30 fps
    denormalised = stats.denormalize(keyframes.features.numpy())
    rebuilt = _pose_from_row(denormalised[40])
    assert np.abs(_distances(rebuilt) - _distances(original.joints[60, :22].numpy())).max() < POSE_TOLERANCE


def test_errors(walk, stats):
    with pytest.raises(InputError, match="keyframes: the motion has 200 frames") as error:
        make_keyframes(walk, "0, 250", 300, stats)
    assert "exactly 2 frames" in str(error.value)
    with pytest.raises(InputError, match="stats"):
        make_keyframes(walk, "0", 120, FeatureStats(np.zeros(10), np.ones(10)))
    with pytest.raises(InputError, match="frames"):
        make_keyframes(walk, "0, 120", 120, stats)
    with pytest.raises(InputError, match="keyframes"):
        make_keyframes("not a motion", "0", 120, stats)
