"""HumanML3D features on real mocap: the CMU ASF/AMC clip and the MocapBank BVH clip, loaded as
smpl_22 joints by ``motion_io.read_motion`` and resampled to 20 fps."""

from __future__ import annotations

import glob
import os

import numpy as np
import pytest
import torch
from posemotion.models.core.errors import InputError, ModelFileError
from posemotion.models.motion import humanml3d as h
from posemotion.models.motion.asf_amc import read_asf_amc
from posemotion.models.motion.io import read_motion
from posemotion.models.motion.resample import resample as resample_motion
from posemotion.models.motion.resample import resample_frames
from posemotion.models.motion.rotations import cont6d_to_matrix, matrix_to_cont6d, quat_between, quat_to_matrix
from safetensors.torch import load_file, save_file


def _smpl22(*paths) -> np.ndarray:
    motion = resample_motion(read_motion(*paths, layout="smpl_22"), h.FPS)
    assert motion.layout == "smpl_22" and motion.fps == h.FPS
    return motion.joints.numpy()


@pytest.fixture(scope="session")
def cmu_clip(mocap_dir):
    """The raw CMU clip (its hand bones place synthetic fingers) and its smpl_22 joints."""
    asf, amc = mocap_dir / "test.asf", mocap_dir / "test.amc"
    return read_asf_amc(asf, amc), _smpl22(asf, amc)


@pytest.fixture(scope="session")
def real_clips(cmu_clip, mocap_dir) -> dict[str, np.ndarray]:
    return {"cmu_asf_amc": cmu_clip[1], "mocapbank_bvh": _smpl22(mocap_dir / "test_mocapbank.bvh")}


@pytest.fixture(scope="session")
def cmu_features(real_clips) -> np.ndarray:
    return h.joints_to_features(real_clips["cmu_asf_amc"])


def _mpjpe_mm(a, b) -> float:
    return float(np.linalg.norm(np.asarray(a) - np.asarray(b), axis=-1).mean() * 1000)


def _standing_pose() -> np.ndarray:
    """smpl_22 joints [22, 3]: every bone along its HumanML3D rest direction (arms hanging down)."""
    pose = np.zeros((22, 3))
    pose[0] = (0.0, 0.95, 0.0)
    for joint in range(1, 22):
        pose[joint] = pose[h.PARENTS[22][joint]] + h.REST_DIRECTIONS[22][joint] * h.UNIFORM_BONE_LENGTHS[joint - 1]
    return pose


def _yaw(points: np.ndarray, angle: float) -> np.ndarray:
    cos, sin = np.cos(angle), np.sin(angle)
    rotation = np.array([[cos, 0, sin], [0, 1, 0], [-sin, 0, cos]])
    return points @ rotation.T


# --------------------------------------------------------------------------------------------
# round trip and placement

@pytest.mark.parametrize("name", ["cmu_asf_amc", "mocapbank_bvh"])
def test_round_trip_on_real_mocap_is_below_a_millimetre(real_clips, name):
    joints = real_clips[name]
    features = h.joints_to_features(joints)
    assert features.shape == (joints.shape[0] - 1, 263) and features.dtype == np.float32
    recovered = h.features_to_joints(torch.from_numpy(features))
    # features row t describes frame t, so they recover frames 0..T-2 of the canonical clip
    target = h.canonicalize(joints)[:-1]
    error = _mpjpe_mm(recovered, target)
    print(f"{name}: {joints.shape[0]} frames at 20 fps, round-trip MPJPE {error:.6f} mm")
    assert error < 1.0
    # the canonical clip is the input moved rigidly (bone lengths and shape kept)
    assert _mpjpe_mm(target - target[:, :1], _yaw(joints[:-1] - joints[:-1, :1], _frame0_yaw(joints))) < 1e-3


def _frame0_yaw(joints: np.ndarray) -> float:
    across = joints[0, 2] - joints[0, 1] + joints[0, 17] - joints[0, 16]  # right minus left, hips + shoulders
    forward = np.cross([0.0, 1.0, 0.0], across)
    return -np.arctan2(forward[0], forward[2])


def test_canonical_placement(real_clips):
    for joints in real_clips.values():
        canonical = h.canonicalize(joints)
        assert abs(canonical[..., 1].min()) < 1e-6  # lowest point on the floor
        np.testing.assert_allclose(canonical[0, 0, [0, 2]], 0.0, atol=1e-6)  # pelvis xz at origin
        across = canonical[0, 2] - canonical[0, 1] + canonical[0, 17] - canonical[0, 16]
        assert across[0] < 0 and abs(across[2]) < 1e-5  # right side along -x: facing +z (x is the left)


def test_uniform_skeleton_keeps_directions_and_takes_humanml3d_lengths(real_clips):
    joints = real_clips["cmu_asf_amc"]
    uniform = h.to_uniform_skeleton(joints)
    np.testing.assert_allclose(h.bone_lengths(uniform), h.UNIFORM_BONE_LENGTHS, atol=1e-5)
    parents = list(h.PARENTS[22][1:])
    before, after = joints[:, 1:] - joints[:, parents], uniform[:, 1:] - uniform[:, parents]
    cosine = (before * after).sum(-1) / np.linalg.norm(before, axis=-1) / np.linalg.norm(after, axis=-1)
    assert cosine.min() > 1 - 1e-6
    features = h.joints_to_features(joints, uniform_skeleton=True)
    recovered = h.features_to_joints(torch.from_numpy(features))
    assert _mpjpe_mm(recovered, h.canonicalize(uniform)[:-1]) < 1.0


# --------------------------------------------------------------------------------------------
# layout

def test_feature_columns_hold_what_the_layout_says(real_clips, cmu_features):
    joints, features = real_clips["cmu_asf_amc"], cmu_features
    canonical = h.canonicalize(joints).astype(np.float64)
    s = h.FEATURE_SLICES
    np.testing.assert_allclose(features[:, s["root_height"]][:, 0], canonical[:-1, 0, 1], atol=1e-6)
    # frame 0 faces +z, so its rows need no turning
    relative = canonical[0, 1:] - canonical[0, 0] * np.array([1.0, 0.0, 1.0])
    np.testing.assert_allclose(features[0, s["ric"]].reshape(21, 3), relative, atol=1e-6)
    np.testing.assert_allclose(features[0, s["local_velocity"]].reshape(22, 3), canonical[1] - canonical[0], atol=1e-6)
    # later rows are turned about +y only: lengths and heights survive
    step = canonical[1:, 0] - canonical[:-1, 0]
    np.testing.assert_allclose(np.linalg.norm(features[:, s["root_xz_velocity"]], axis=1),
                               np.linalg.norm(step[:, [0, 2]], axis=1), atol=1e-6)
    ric = features[:, s["ric"]].reshape(-1, 21, 3)
    np.testing.assert_allclose(ric[..., 1], canonical[:-1, 1:, 1], atol=1e-6)
    velocity = features[:, s["local_velocity"]].reshape(-1, 22, 3)
    np.testing.assert_allclose(np.linalg.norm(velocity, axis=-1),
                               np.linalg.norm(canonical[1:] - canonical[:-1], axis=-1), atol=1e-6)
    contacts = features[:, s["foot_contacts"]]
    assert set(np.unique(contacts)) <= {0.0, 1.0} and 0 < contacts.mean() < 1  # the clip steps


def test_foot_contacts_on_a_standing_pose_and_a_lifted_foot():
    standing = np.repeat(_standing_pose()[None], 8, axis=0)
    standing += np.random.default_rng(0).normal(scale=1e-3, size=standing.shape)  # marker jitter
    contacts = h.joints_to_features(standing)[:, h.FEATURE_SLICES["foot_contacts"]]
    assert (contacts == 1).all()
    lifting = standing.copy()
    lifting[4:, [7, 10], 1] += 0.1 * np.arange(1, 5)[:, None]  # left ankle and foot rise 10 cm a frame
    contacts = h.joints_to_features(lifting)[:, h.FEATURE_SLICES["foot_contacts"]]
    np.testing.assert_array_equal(contacts[:3], 1)
    np.testing.assert_array_equal(contacts[3:, :2], 0)  # left ankle, left foot (rows 3..6 move)
    np.testing.assert_array_equal(contacts[3:, 2:], 1)  # right ankle, right foot


def test_rotations_are_orthonormal_and_rebuild_the_pose_by_forward_kinematics(real_clips, cmu_features):
    joints, features = real_clips["cmu_asf_amc"], torch.from_numpy(cmu_features).double()
    cont6d = features[:, h.FEATURE_SLICES["rotations"]].reshape(-1, 21, 6)
    first, second = cont6d[..., :3], cont6d[..., 3:]
    torch.testing.assert_close(first.norm(dim=-1), torch.ones(first.shape[:2], dtype=torch.float64), atol=1e-5, rtol=0)
    torch.testing.assert_close(second.norm(dim=-1), torch.ones(first.shape[:2], dtype=torch.float64), atol=1e-5, rtol=0)
    assert (first * second).sum(-1).abs().max() < 1e-5
    from_rotations = h.rotations_to_joints(features, h.bone_lengths(joints))
    from_positions = h.features_to_joints(features)
    error = _mpjpe_mm(from_rotations, from_positions)
    print(f"forward kinematics from the 6D rotations vs ric positions: {error:.6f} mm")
    assert error < 1.0
    identity = features.clone()
    identity[:, h.FEATURE_SLICES["rotations"]] = torch.tensor([1.0, 0, 0, 0, 1, 0], dtype=torch.float64).repeat(21)
    assert _mpjpe_mm(h.rotations_to_joints(identity, h.bone_lengths(joints)), from_positions) > 50  # they matter


def test_features_ignore_where_the_clip_stands_and_faces(real_clips, cmu_features):
    joints = real_clips["cmu_asf_amc"].astype(np.float64)
    moved = _yaw(joints - joints[0, 0], 2.1) + np.array([3.0, 0.4, -1.5])
    np.testing.assert_allclose(h.joints_to_features(moved), cmu_features, atol=2e-5)


def test_a_clip_turning_past_half_a_turn_round_trips():
    frames = 80
    angle = np.linspace(0, 3 * np.pi, frames)  # one and a half turns while walking a circle
    pose = _standing_pose() - _standing_pose()[0] * np.array([1.0, 0.0, 1.0])
    centre = np.stack([np.sin(angle / 2), np.zeros(frames), np.cos(angle / 2)], axis=-1) * 2.0
    joints = np.stack([_yaw(pose, a) for a in angle]) + centre[:, None]
    features = h.joints_to_features(joints)
    heading = np.cumsum(2 * features[:, 0])
    assert np.abs(heading).max() > np.pi  # the heading wraps past +-180 degrees
    assert _mpjpe_mm(h.features_to_joints(torch.from_numpy(features)), h.canonicalize(joints)[:-1]) < 1.0


# --------------------------------------------------------------------------------------------
# torch side

def test_features_to_joints_batches_and_is_differentiable(cmu_features):
    windows = np.stack([cmu_features[:64], cmu_features[100:164]])
    batched = h.features_to_joints(torch.from_numpy(windows))
    assert batched.shape == (2, 64, 22, 3)
    for k in range(2):
        torch.testing.assert_close(batched[k], h.features_to_joints(windows[k]))
    assert h.features_to_joints(torch.from_numpy(windows[None])).shape == (1, 2, 64, 22, 3)
    assert h.features_to_joints(torch.from_numpy(windows).double()).dtype == torch.float64
    features = torch.from_numpy(windows).requires_grad_()
    h.features_to_joints(features)[..., 1].sum().backward()  # e.g. a height loss
    assert torch.isfinite(features.grad).all() and features.grad[..., h.FEATURE_SLICES["ric"]].abs().sum() > 0


# --------------------------------------------------------------------------------------------
# hands (smpl_52)

def _with_hands(joints22: np.ndarray, clip) -> np.ndarray:
    """smpl_52: the real body plus five 3-joint fingers per hand that curl over time, laid out in a
    hand frame taken from the CMU hand bones (wrist -> hand end, wrist -> thumb end)."""
    index = {name: i for i, name in enumerate(clip.joint_names)}
    frames = joints22.shape[0]
    curl = 0.6 + 0.5 * np.sin(np.linspace(0, 6 * np.pi, frames))
    hands = []
    def bone_end(name: str) -> np.ndarray:
        return resample_frames(clip.positions[:, index[name]], clip.fps, h.FPS)[:frames]

    for side, wrist in (("l", 20), ("r", 21)):
        along = bone_end(side + "hand") - bone_end(side + "radius")
        along /= np.linalg.norm(along, axis=-1, keepdims=True)
        thumb = bone_end(side + "thumb") - bone_end(side + "radius")
        across = thumb - (thumb * along).sum(-1, keepdims=True) * along
        across /= np.linalg.norm(across, axis=-1, keepdims=True)
        normal = np.cross(along, across)
        for finger in range(5):  # index, middle, pinky, ring, thumb (SMPL-H order)
            spread = (0.02, 0.0, -0.04, -0.02, 0.035)[finger]
            point = joints22[:, wrist] + 0.08 * along + spread * across
            direction = along
            for k in range(3):
                hands.append(point)
                bend = curl[:, None] * (k + 1) / 3
                direction = np.cos(bend) * along + np.sin(bend) * normal
                point = point + 0.03 * direction
    return np.concatenate([joints22, np.stack(hands, axis=1)], axis=1)


def test_hand_features_round_trip_with_the_body(cmu_clip):
    clip, body = cmu_clip
    body = body[:200]
    joints = _with_hands(body, clip)
    assert joints.shape[1] == 52
    hands = h.hand_features(joints)
    assert hands.shape == (joints.shape[0] - 1, h.HAND_DIM) and h.HAND_DIM == 360 and h.BODY_DIM == 263
    holistic = h.holistic_features(joints)
    np.testing.assert_array_equal(holistic[:, 263:], hands)
    body_features = holistic[:, :263]
    assert joints[:, 22:, 1].min() > body[..., 1].min()  # hands above the feet: same floor, so the
    np.testing.assert_allclose(body_features, h.joints_to_features(body), atol=1e-6)  # body part is the 22-joint one
    recovered = h.hand_features_to_joints(torch.from_numpy(body_features), torch.from_numpy(hands))
    error = _mpjpe_mm(recovered, h.canonicalize(joints)[:-1])
    print(f"smpl_52 (real body, synthetic fingers) round-trip MPJPE {error:.6f} mm")
    assert recovered.shape == (joints.shape[0] - 1, 52, 3) and error < 1.0
    fk = h.rotations_to_joints(torch.from_numpy(holistic).double(), h.bone_lengths(joints))
    assert _mpjpe_mm(fk[:, 22:], recovered[:, 22:]) < 1.0


def test_motionx_order_is_humanml3d_layout_for_52_joints(cmu_clip):
    clip, body = cmu_clip
    joints = _with_hands(body[:40], clip)
    holistic = h.holistic_features(joints)
    motionx = h.to_motionx_order(holistic)
    np.testing.assert_array_equal(h.from_motionx_order(motionx), holistic)
    torch.testing.assert_close(h.to_motionx_order(torch.from_numpy(holistic)), torch.from_numpy(motionx))
    canonical = h.canonicalize(joints).astype(np.float64)
    ric = motionx[0, 4:4 + 51 * 3].reshape(51, 3)  # frame 0 faces +z
    np.testing.assert_allclose(ric, canonical[0, 1:] - canonical[0, 0] * np.array([1.0, 0.0, 1.0]), atol=1e-6)
    start = 4 + 51 * 9
    np.testing.assert_allclose(motionx[0, start:start + 52 * 3].reshape(52, 3), canonical[1] - canonical[0], atol=1e-6)
    np.testing.assert_array_equal(motionx[:, -4:], holistic[:, 259:263])


# --------------------------------------------------------------------------------------------
# bad input

def test_bad_input_raises_one_clear_error(real_clips):
    joints = real_clips["cmu_asf_amc"][:10]
    with pytest.raises(InputError, match=r"joints.*\[T, 22, 3\]"):
        h.joints_to_features(joints[:, :21])
    with pytest.raises(InputError, match="NaN"):
        h.joints_to_features(np.where(np.arange(22)[None, :, None] == 5, np.nan, joints))
    with pytest.raises(InputError, match="at least 2 frames"):
        h.joints_to_features(joints[:1])
    collapsed = joints.copy()
    collapsed[:, 4] = collapsed[:, 1]  # left knee on the left hip
    with pytest.raises(InputError, match="left_hip -> left_knee"):
        h.joints_to_features(collapsed)
    with pytest.raises(InputError, match=r"\[T, 52, 3\]"):
        h.hand_features(joints)
    with pytest.raises(InputError, match="features"):
        h.features_to_joints(torch.zeros(5, 262))
    with pytest.raises(InputError, match="hand_features"):
        h.hand_features_to_joints(torch.zeros(5, 263), torch.zeros(4, 360))


# --------------------------------------------------------------------------------------------
# statistics

def test_feature_stats_follow_humanml3d_and_round_trip_through_files(tmp_path, real_clips, cmu_features):
    other = h.joints_to_features(real_clips["mocapbank_bvh"])
    stats = h.FeatureStats.compute([cmu_features, other])
    data = np.concatenate([cmu_features, other]).astype(np.float64)
    np.testing.assert_allclose(stats.mean, data.mean(0), atol=1e-6)
    column_std = data.std(0)
    for group in h.feature_groups(263):  # one std per group: the mean of its columns' stds, floored
        np.testing.assert_allclose(stats.std[group], max(column_std[group].mean(), 0.01), rtol=1e-5)
    assert len(h.feature_groups(263)) == 7 and len(np.unique(stats.std)) <= 7
    plain = h.FeatureStats.compute([cmu_features, other], grouped=False, std_floor=0.05)
    np.testing.assert_allclose(plain.std, np.maximum(column_std, 0.05), rtol=1e-5)

    normalized = stats.normalize(data.astype(np.float32))
    np.testing.assert_allclose(normalized.mean(0), 0.0, atol=1e-4)
    np.testing.assert_allclose(stats.denormalize(normalized), data, atol=1e-5)
    tensor = torch.from_numpy(cmu_features).requires_grad_()
    stats.normalize(tensor).sum().backward()
    torch.testing.assert_close(tensor.grad[0], torch.from_numpy(1 / stats.std))

    mean_path, std_path = stats.save_npy(str(tmp_path / "stats"))
    assert mean_path.endswith("Mean.npy") and np.load(std_path).shape == (263,)
    loaded = h.FeatureStats.load_npy(str(tmp_path / "stats"), dim=263)
    np.testing.assert_array_equal(loaded.mean, stats.mean)
    np.testing.assert_array_equal(loaded.std, stats.std)

    save_file(stats.to_tensors("body_"), str(tmp_path / "stats.safetensors"))
    restored = h.FeatureStats.from_tensors(load_file(str(tmp_path / "stats.safetensors")), "body_")
    np.testing.assert_array_equal(restored.std, stats.std)

    with pytest.raises(InputError, match="263"):
        stats.normalize(np.zeros((3, 360), np.float32))
    with pytest.raises(InputError, match="features"):
        h.FeatureStats.compute([cmu_features, other[:, :100]])
    with pytest.raises(ModelFileError, match="Mean.npy"):
        h.FeatureStats.load_npy(str(tmp_path / "missing"))
    with pytest.raises(ModelFileError, match="360"):
        h.FeatureStats.load_npy(str(tmp_path / "stats"), dim=360)


# --------------------------------------------------------------------------------------------
# the released dataset, when the user has it (no package ships HumanML3D)

def test_features_match_humanml3d_release_when_available():
    """With ``HUMANML3D_DIR`` set to a HumanML3D folder (``new_joints/`` = recover_from_ric of
    ``new_joint_vecs/``), features recomputed from its joints match its own feature files.

    Only rows 0..99 are compared: the released files have one frame more than their joints, and the
    heading smoothing (sigma 20, 4 sigma wide) lets that frame reach rows after about T - 80.
    """

    folder = os.environ.get("HUMANML3D_DIR")
    if not folder:
        pytest.skip("HUMANML3D_DIR is not set")
    paths = sorted(glob.glob(os.path.join(folder, "new_joints", "*.npy")))[:3]
    assert paths, f"no new_joints/*.npy under {folder}"
    for path in paths:
        joints = np.load(path)
        released = np.load(path.replace("new_joints", "new_joint_vecs"))
        ours = h.joints_to_features(joints)
        rows = min(100, ours.shape[0])
        np.testing.assert_allclose(ours[:rows], released[:rows], atol=1e-4, err_msg=path)
        recovered = h.features_to_joints(torch.from_numpy(released))
        np.testing.assert_allclose(recovered.numpy(), joints, atol=1e-5, err_msg=path)


def test_smallest_rotation_between_directions_including_opposite_ones():

    u = torch.randn(64, 3, dtype=torch.float64)
    v = torch.cat([torch.randn(60, 3, dtype=torch.float64), -u[60:]])  # the last four point opposite ways
    v[61] = -u[61] * 3.0
    rotation = quat_to_matrix(quat_between(u, v))

    def unit(x: torch.Tensor) -> torch.Tensor:
        return x / x.norm(dim=-1, keepdim=True)

    torch.testing.assert_close((rotation @ unit(u)[..., None])[..., 0], unit(v))
    torch.testing.assert_close(rotation @ rotation.transpose(-1, -2), torch.eye(3, dtype=torch.float64).expand(64, 3, 3))
    assert torch.allclose(torch.linalg.det(rotation), torch.ones(64, dtype=torch.float64))
    # smallest: the turn is the angle between the directions, so the axis u x v stays fixed
    axis = unit(torch.linalg.cross(u[:60], v[:60], dim=-1))
    torch.testing.assert_close((rotation[:60] @ axis[..., None])[..., 0], axis)
    torch.testing.assert_close(cont6d_to_matrix(matrix_to_cont6d(rotation)), rotation)


def test_steady_bones_holds_each_bone_at_its_median_length_and_keeps_directions(real_clips):
    joints = torch.from_numpy(real_clips["cmu_asf_amc"]).float()
    generator = torch.Generator().manual_seed(0)
    jittered = joints + 0.03 * torch.randn(joints.shape, generator=generator)  # a decoder's position noise
    steady = torch.from_numpy(h.steady_bones(jittered))
    parents = list(h.PARENTS[22][1:])
    before = jittered[:, 1:] - jittered[:, parents]
    after = steady[:, 1:] - steady[:, parents]
    lengths = after.norm(dim=-1)
    assert (lengths.max(0).values - lengths.min(0).values).max() < 1e-5  # one length per bone
    assert torch.allclose(lengths[0], torch.from_numpy(h.bone_lengths(jittered)).float(), atol=1e-5)
    cosine = torch.nn.functional.cosine_similarity(before, after, dim=-1)
    assert cosine.min() > 1 - 1e-5  # every bone points where it pointed
    assert torch.equal(steady[:, 0, [0, 2]], jittered[:, 0, [0, 2]])  # the pelvis's horizontal path is untouched
    lowest = steady[..., 1].min(dim=1).values
    assert torch.allclose(lowest, jittered[..., 1].min(dim=1).values, atol=1e-5)  # feet stay on the floor
    clean = torch.from_numpy(h.steady_bones(joints))  # a real body's bones are already steady
    assert (clean - joints).abs().max() < 0.01
