"""Motion nodes and the motion <-> tokens codec on the real MocapBank clip, with tiny tokenizers."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from posemotion.models.core.errors import InputError
from posemotion.models.core.layouts import OPENPOSE_18
from posemotion.models.core.motion import Motion
from posemotion.models.core.pose_keypoint import person_arrays, validate_pose_keypoint
from posemotion.models.motion.gltf import read_glb
from posemotion.models.motion.io import read_motion
from posemotion.models.motion.resample import resample
from posemotion.models.render.camera import facing_yaw_degrees
from posemotion.models.render.motion_view import project_motion, render_motion
from posemotion.models.tokenizers.base import MotionTokens
from posemotion.models.tokenizers.checkpoints import save_tokenizer
from posemotion.models.tokenizers.codec import decode_motion, edit_token_pose_codes, encode_motion, motion_features
from posemotion.models.tokenizers.posecodes import SLOT_OF_CATEGORY, SLOTS, category_index
from posemotion.models.tokenizers.training import make_tokenizer
from posemotion.nodes import NODE_CLASS_MAPPINGS as NODES

TINY = dict(num_codes=32, code_dim=16, width=16, depth=1)


@pytest.fixture(scope="module")
def walk(mocap_dir) -> Motion:
    return resample(read_motion(mocap_dir / "test_mocapbank.bvh"), 20.0)


@pytest.fixture(scope="module")
def mixamo(mocap_dir) -> Motion:
    return resample(read_motion(mocap_dir / "test_freebvh.bvh"), 20.0)


def _tokenizer(kind: str, walk: Motion | None = None):
    torch.manual_seed(0)
    extra = {"attention_dim": 16} if kind == "pgr2m" else {}
    model = make_tokenizer(kind, small=False, **TINY, **extra).eval()
    for name, buffer in model.named_buffers():  # untrained EMA codebooks start at zero: spread them
        if name.endswith("codebook"):
            buffer.normal_()
    if walk is not None:  # statistics from the clip itself, as training would compute them
        features, _ = motion_features(model, walk)
        model.set_feature_stats(features.mean(0), features.std(0).clamp_min(0.01))
    return model


@pytest.mark.parametrize("kind", ["vqvae", "rvq", "pgr2m"])
def test_codec_round_trip_shapes(walk, kind):
    model = _tokenizer(kind, walk)
    tokens = encode_motion(model, walk)
    steps = (walk.num_frames - 1) // 4
    assert tokens.ids.shape == (steps, len(model.codebook_sizes())) and tokens.tokenizer == kind
    assert tokens.num_frames == steps * 4 and tokens.fps == 20.0
    assert (tokens.pose_codes is not None) == (kind == "pgr2m")
    motion = decode_motion(model, tokens)
    assert motion.layout == "smpl_22" and motion.joints.shape == (steps * 4, 22, 3) and motion.fps == 20.0
    assert torch.isfinite(motion.joints).all()


def test_codec_resamples_to_the_tokenizer_rate(mocap_dir):
    source = read_motion(mocap_dir / "test_mocapbank.bvh")  # 30 fps
    model = _tokenizer("vqvae")
    tokens = encode_motion(model, source)
    assert tokens.num_steps == (resample(source, 20.0).num_frames - 1) // 4


def test_part_aware_tokenizer_needs_hands(walk, mixamo):
    model = _tokenizer("part_vq")
    with pytest.raises(InputError, match="smpl_52"):
        encode_motion(model, walk)
    tokens = encode_motion(model, mixamo)
    assert tokens.ids.shape[1] == 2
    assert decode_motion(model, tokens).layout == "smpl_52"


def test_residual_streams_can_be_limited(walk):
    model = _tokenizer("rvq", walk)
    tokens = encode_motion(model, walk)
    full, coarse = decode_motion(model, tokens), decode_motion(model, tokens, residual_stages=1)
    assert not torch.allclose(full.joints, coarse.joints)
    with pytest.raises(InputError, match="residual_stages"):
        decode_motion(model, tokens, residual_stages=0)


def test_pose_code_edit_changes_only_the_range(walk):
    model = _tokenizer("pgr2m", walk)
    tokens = encode_motion(model, walk)
    category = category_index("left elbow angle 80-90 degrees")
    edited = edit_token_pose_codes(tokens, category, 10, 30)  # frames 10..29 -> token steps 2..7
    changed = (edited.pose_codes != tokens.pose_codes).any(dim=1).nonzero().flatten().tolist()
    assert set(changed) <= set(range(2, 8))
    assert edited.pose_codes[2:8, category].all()
    others = [c for c in SLOTS[SLOT_OF_CATEGORY[category]].categories if c != category]
    assert not edited.pose_codes[2:8][:, others].any()
    assert torch.equal(edited.ids, tokens.ids) and torch.equal(tokens.pose_codes, encode_motion(model, walk).pose_codes)
    # pose codes alone decode, and the edit reaches the decoded motion
    before = decode_motion(model, tokens, residual_stages=0).joints
    after = decode_motion(model, edited, residual_stages=0).joints
    assert not torch.allclose(before[8:32], after[8:32])


def test_codec_bad_input(walk):
    vq, rvq = _tokenizer("vqvae"), _tokenizer("rvq")
    with pytest.raises(InputError, match="at least 5"):
        encode_motion(vq, Motion(walk.joints[:4].clone(), 20.0, "smpl_22"))
    with pytest.raises(InputError, match="'rvq' tokenizer"):
        decode_motion(vq, encode_motion(rvq, walk))
    with pytest.raises(InputError, match="outside the codebook"):
        MotionTokens(torch.full((3, 1), 32), (32,), "vqvae", 12, 20.0)
    with pytest.raises(InputError, match="smpl_22 or smpl_52"):
        encode_motion(vq, Motion(torch.zeros(10, 18, 3), 20.0, "openpose_18"))
    with pytest.raises(InputError, match="no pose codes"):
        edit_token_pose_codes(encode_motion(vq, walk), 0, 0, 4)


def test_projection_is_a_front_view(walk):
    frames = validate_pose_keypoint(project_motion(walk, width=320, height=480))
    assert len(frames) == walk.num_frames and frames[0]["canvas_width"] == 320
    body = np.stack([person_arrays(f["people"][0])["body"] for f in frames])
    index = {name: k for k, name in enumerate(OPENPOSE_18)}
    # seen from the front, the body's left side is on the image's right
    assert (body[:, index["left_hip"], 0] > body[:, index["right_hip"], 0]).mean() > 0.9
    assert (body[:, index["nose"], 1] < body[:, index["left_ankle"], 1]).all()  # head above feet (y down)
    assert (body[:, index["left_eye"], 2] == 0).all()  # SMPL has no eyes
    behind = np.stack([person_arrays(f["people"][0])["body"] for f in project_motion(walk, yaw_degrees=180)])
    assert (behind[:, index["left_hip"], 0] < behind[:, index["right_hip"], 0]).mean() > 0.9


def test_facing_follows_a_rotation(walk):
    j = walk.joints
    turned = Motion(torch.stack([j[..., 2], j[..., 1], -j[..., 0]], -1).contiguous(), walk.fps, walk.layout)
    assert facing_yaw_degrees(turned.joints, turned.layout) == pytest.approx(facing_yaw_degrees(walk.joints, walk.layout) + 90.0, abs=1e-6)


def test_projection_includes_hands_for_smpl_52(mixamo):
    person = project_motion(mixamo)[0]["people"][0]
    hand = np.asarray(person["hand_left_keypoints_2d"]).reshape(21, 3)
    assert (hand[[1, 2, 3, 5, 6, 7], 2] == 1).all() and (hand[[4, 8, 12, 16, 20], 2] == 0).all()  # no finger tips


def test_render_motion_draws_the_skeleton(walk):
    frames = render_motion(walk, width=128, height=160)
    assert frames.shape == (walk.num_frames, 160, 128, 3) and frames.dtype == np.uint8
    lit = (frames.max(axis=-1) > 0).mean(axis=(1, 2))
    assert (lit > 0.005).all() and (lit < 0.2).all()
    with pytest.raises(InputError, match="world-space SMPL"):
        render_motion(Motion(torch.zeros(2, 18, 3), 20.0, "openpose_18"))


def test_nodes_load_tokenize_save(comfy_dirs, walk):
    models = comfy_dirs["models"] / "motion"
    models.mkdir()
    save_tokenizer(_tokenizer("vqvae", walk), str(models / "tiny_vq.safetensors"))
    loader = NODES["PoseMotionLoadMotion"]
    assert "posemotion_mocap.bvh" in loader.INPUT_TYPES()["required"]["file"][0]
    motion = loader().load("posemotion_mocap.bvh", 20.0, "auto")["result"][0]
    assert motion.num_frames == walk.num_frames and torch.allclose(motion.joints, walk.joints)
    assert "tiny_vq.safetensors" in NODES["PoseMotionLoadMotionTokenizer"].INPUT_TYPES()["required"]["checkpoint"][0]
    (tokenizer,) = NODES["PoseMotionLoadMotionTokenizer"]().load("tiny_vq.safetensors")
    tokens = NODES["PoseMotionEncodeMotion"]().encode(tokenizer, motion)["result"][0]
    decoded, fps = NODES["PoseMotionDecodeTokens"]().decode(tokenizer, tokens, -1)
    assert fps == 20.0 and decoded.num_frames == tokens.num_frames
    saved = NODES["PoseMotionSaveMotion"]().save(decoded, "npz", "posemotion/out")
    assert saved["ui"]["text"] == [f"{decoded.num_frames} frames -> posemotion/out_00001.npz"]
    path = comfy_dirs["output"] / "posemotion" / saved["ui"]["files"][0]["filename"]
    assert torch.equal(read_motion(path).joints, decoded.joints)
    with pytest.raises(InputError, match="PGR2M"):
        NODES["PoseMotionPoseCodesToMotion"]().decode(tokenizer, tokens, 0)
    for escape in ("[bundled] ../forecast/one_stage_minilm.safetensors", "../motion/tiny_vq.safetensors"):
        with pytest.raises(InputError, match="checkpoint: .* must be a name inside the folder"):
            NODES["PoseMotionLoadMotionTokenizer"]().load(escape)


def test_save_motion_glb_returns_the_file_for_preview_3d(comfy_dirs, walk):
    saver = NODES["PoseMotionSaveMotion"]
    assert "glb" in saver.INPUT_TYPES()["required"]["format"][0]
    assert (saver.RETURN_TYPES, saver.RETURN_NAMES, saver.OUTPUT_NODE) == (("STRING",), ("model_file",), True)
    saved = saver().save(walk, "glb", "posemotion/walk")
    # Preview3DAnimation's model_file: relative to the output folder, forward slashes
    assert saved["result"] == ("posemotion/walk_00001.glb",)
    assert saved["ui"]["files"] == [{"filename": "walk_00001.glb", "subfolder": "posemotion", "type": "output"}]
    back = read_glb(comfy_dirs["output"] / "posemotion" / "walk_00001.glb")
    assert back.num_frames == walk.num_frames and (back.joints - walk.joints).norm(dim=-1).mean() < 0.005
    assert saver().save(walk, "glb", "flat")["result"] == ("flat_00001.glb",)  # no subfolder
    with pytest.raises(InputError, match="glTF export needs an smpl_22 or smpl_52 motion"):
        saver().save(Motion(torch.zeros(2, 18, 3), 20.0, "openpose_18"), "glb", "posemotion/bad")
