"""GEM's 151-d SMPL representation: layout, GEM's 6D convention, root rollout and a real smplx decode."""

import pickle

import numpy as np
import pytest
import torch
from posemotion.models.core.errors import InputError, ModelFileError
from posemotion.models.core.layouts import SMPL_22_PARENTS
from posemotion.models.genmo.smpl151 import (
    FEATURE_DIM,
    SLICES,
    decode_151,
    encode_151,
    join_151,
    load_smpl_body_model,
    matrix_to_rot6d,
    rollout_translation,
    rot6d_to_matrix,
    split_151,
)
from posemotion.models.motion.rotations import yaw_matrix

from tests.support.synthetic_smpl import synthetic_smpl_arrays

ATOL = 1e-5  # float32 forward kinematics over a few joints


def random_rotations(shape, scale: float, generator: torch.Generator) -> torch.Tensor:
    """Rotation matrices exp([w]x) of random axis-angles w with components ~ N(0, scale)."""
    w = torch.randn(*shape, 3, generator=generator) * scale
    skew = torch.zeros(*shape, 3, 3)
    skew[..., 0, 1], skew[..., 0, 2], skew[..., 1, 2] = -w[..., 2], w[..., 1], -w[..., 0]
    return torch.linalg.matrix_exp(skew - skew.transpose(-1, -2))


@pytest.fixture(scope="module")
def model_file(tmp_path_factory):
    path = tmp_path_factory.mktemp("smpl") / "SMPL_NEUTRAL.npz"
    np.savez(path, **synthetic_smpl_arrays())
    return path


@pytest.fixture(scope="module")
def body_model(model_file):
    return load_smpl_body_model(str(model_file))


def test_slices_cover_the_151_features():
    spans = list(SLICES.values())
    assert spans[0].start == 0 and spans[-1].stop == FEATURE_DIM
    assert all(a.stop == b.start for a, b in zip(spans, spans[1:]))
    assert [s.stop - s.start for s in spans] == [126, 10, 6, 6, 3]
    x = torch.randn(2, 7, FEATURE_DIM)
    parts = split_151(x)
    assert parts["local_transl_vel"].shape == (2, 7, 3) and torch.equal(join_151(parts), x)
    with pytest.raises(InputError, match="missing"):
        join_151({k: v for k, v in parts.items() if k != "betas"})
    with pytest.raises(InputError, match="width"):
        join_151({**parts, "betas": parts["betas"][..., :9]})
    with pytest.raises(InputError, match="leading"):
        join_151({**parts, "betas": parts["betas"][:, :3]})
    with pytest.raises(InputError) as error:
        split_151(torch.zeros(5, 150))
    assert error.value.input_name == "features"


def test_rot6d_is_gem_first_two_rows():
    generator = torch.Generator().manual_seed(0)
    rotations = random_rotations((50,), 1.5, generator)
    rot6d = matrix_to_rot6d(rotations)
    assert torch.equal(rot6d, rotations[:, :2, :].reshape(50, 6))
    assert torch.allclose(rot6d_to_matrix(rot6d), rotations, atol=1e-6)
    # any 6 numbers: Gram-Schmidt keeps the first row's direction and gives a proper rotation
    raw = torch.randn(50, 6, generator=generator)
    matrix = rot6d_to_matrix(raw)
    assert torch.allclose(matrix @ matrix.transpose(-1, -2), torch.eye(3).expand(50, 3, 3), atol=1e-5)
    assert torch.allclose(torch.linalg.det(matrix), torch.ones(50), atol=1e-5)
    assert torch.allclose(matrix[:, 0], raw[:, :3] / raw[:, :3].norm(dim=-1, keepdim=True), atol=1e-6)


def test_root_velocity_is_expressed_in_the_body_frame():
    frames = 6
    facing_x = yaw_matrix(torch.full((frames,), torch.pi / 2))  # the body's forward (+z) turned to +x
    step = torch.tensor([0.0, 0.0, 0.05]).expand(frames, 3)  # 5 cm forward per frame
    transl = rollout_translation(step, facing_x)
    assert torch.allclose(transl[:, 0], 0.05 * torch.arange(frames, dtype=torch.float32), atol=1e-6)
    assert torch.allclose(transl[:, 1:], torch.zeros(frames, 2), atol=1e-6)


def test_decode_matches_a_direct_smplx_forward(body_model):
    generator = torch.Generator().manual_seed(1)
    frames = 12
    body_pose = random_rotations((frames, 21), 0.3, generator)
    yaw = yaw_matrix(torch.linspace(0, 2.0, frames))
    orient = yaw @ random_rotations((frames,), 0.1, generator)
    transl = torch.cumsum(torch.randn(frames, 3, generator=generator) * 0.03, dim=0) + torch.tensor([1.0, 0.3, -2.0])
    betas = torch.randn(10, generator=generator)
    x = encode_151(body_pose, betas, orient, transl)
    assert x.shape == (frames, FEATURE_DIM)
    motion = decode_151(x, body_model, fps=30)
    assert motion.layout == "smpl_22" and motion.fps == 30.0 and motion.joints.shape == (frames, 22, 3)

    hands = torch.eye(3).expand(frames, 2, 3, 3)
    direct = body_model(betas=betas.expand(frames, 10), global_orient=orient.reshape(frames, 1, 9),
                        body_pose=torch.cat([body_pose, hands], 1).reshape(frames, 23, 9), transl=transl,
                        pose2rot=False).joints[:, :22].detach()
    floor_and_start = torch.stack([direct[0, 0, 0], direct[..., 1].min(), direct[0, 0, 2]])
    assert torch.allclose(motion.joints, direct - floor_and_start, atol=ATOL)
    assert motion.joints[..., 1].min().abs() < ATOL and motion.joints[0, 0, [0, 2]].abs().max() < ATOL
    assert torch.allclose(motion.params["smpl_transl"], transl - floor_and_start, atol=ATOL)
    assert torch.allclose(motion.params["smpl_global_orient"], orient, atol=1e-5)


def test_one_body_shape_for_the_whole_motion(body_model):
    generator = torch.Generator().manual_seed(2)
    frames = 8
    x = encode_151(random_rotations((frames, 21), 0.3, generator), torch.zeros(10),
                   random_rotations((frames,), 0.5, generator), torch.zeros(frames, 3))
    x[:, SLICES["betas"]] = torch.randn(frames, 10, generator=generator) * 2  # betas differ per frame
    joints = decode_151(x, body_model, fps=20).joints
    children = torch.arange(1, 22)
    bones = (joints[:, children] - joints[:, torch.tensor(SMPL_22_PARENTS[1:])]).norm(dim=-1)
    assert torch.allclose(bones, bones[:1].expand_as(bones), atol=ATOL)
    shaped = decode_151(x[:1].expand(frames, FEATURE_DIM).clone(), body_model, fps=20).joints
    other_bones = (shaped[:, children] - shaped[:, torch.tensor(SMPL_22_PARENTS[1:])]).norm(dim=-1)
    assert (other_bones[0] - bones[0]).abs().max() > 1e-3  # betas do change the bones


def test_decode_errors_name_the_input(body_model):
    x = torch.zeros(4, FEATURE_DIM)
    x[:, SLICES["body_pose"]] = matrix_to_rot6d(torch.eye(3).expand(4, 21, 3, 3)).reshape(4, -1)
    x[:, SLICES["global_orient_gv"]] = matrix_to_rot6d(torch.eye(3)).expand(4, 6)
    assert decode_151(x, body_model, 20).num_frames == 4
    for bad, name in ((x[:, :150], "features"), (x.clone().fill_(float("nan")), "features"),
                      (x[None], "features")):
        with pytest.raises(InputError) as error:
            decode_151(bad, body_model, 20)
        assert error.value.input_name == name
    with pytest.raises(InputError) as error:
        decode_151(x, body_model, 0)
    assert error.value.input_name == "fps"


def test_loader_reads_npz_pkl_and_folders_and_names_bad_files(model_file, tmp_path):
    assert load_smpl_body_model(str(model_file.parent)).num_betas == 10
    arrays = synthetic_smpl_arrays()
    with open(tmp_path / "model.pkl", "wb") as file:
        pickle.dump(arrays, file)
    assert load_smpl_body_model(str(tmp_path / "model.pkl")).faces.shape == arrays["f"].shape
    with pytest.raises(ModelFileError, match="not found"):
        load_smpl_body_model(str(tmp_path / "absent.npz"))
    (tmp_path / "empty_dir").mkdir()
    with pytest.raises(ModelFileError, match="holds none"):
        load_smpl_body_model(str(tmp_path / "empty_dir"))
    np.savez(tmp_path / "no_weights.npz", **{k: v for k, v in arrays.items() if k != "weights"})
    with pytest.raises(ModelFileError, match="weights"):
        load_smpl_body_model(str(tmp_path / "no_weights.npz"))
    (tmp_path / "broken.npz").write_bytes(b"not a zip file")
    with pytest.raises(ModelFileError, match="cannot read"):
        load_smpl_body_model(str(tmp_path / "broken.npz"))
