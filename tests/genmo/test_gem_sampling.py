"""NVIDIA's gem_smpl.ckpt path on a tiny checkpoint in its exact layout (support/gem_tiny.py): GEM's
feature statistics and frame rate, sampling and estimation decoded through a (synthetic) SMPL model,
and the inputs this path refuses. The tiny model's motions are meaningless: only shapes, frame rate,
constant bones, finiteness, the statistics and the errors are checked."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from posemotion.models.core.errors import InputError
from posemotion.models.core.layouts import SMPL_22_PARENTS
from posemotion.models.genmo.gem_stats import GEM_FPS, MEAN, STD, gem_feature_stats
from posemotion.models.genmo.model import estimate_motion, generate_motion, load_genmo
from posemotion.models.genmo.pipeline import KeyframeInput, MusicInput, estimate_from_poses, sample_from_inputs
from posemotion.models.genmo.smpl151 import FEATURE_DIM, SLICES, decode_151, load_smpl_body_model
from support.gem_tiny import TINY_GEM, TinyTextEncoder, save_synthetic_smpl, save_tiny_gem

ATOL = 1e-5
BETA_COLUMNS_ABOVE_ONE = (128, 129, 130, 131, 133, 135)  # betas 2, 3, 4, 5, 7, 9: std 1.0899 ... 1.2128


@pytest.fixture(scope="module")
def body_model(tmp_path_factory):
    return load_smpl_body_model(str(save_synthetic_smpl(tmp_path_factory.mktemp("smpl"))))


@pytest.fixture(scope="module")
def gem(tmp_path_factory):
    return load_genmo(str(save_tiny_gem(tmp_path_factory.mktemp("gem") / "gem_smpl.ckpt")), gem_config=TINY_GEM)


@pytest.fixture(scope="module")
def mean_predictor(tmp_path_factory):
    path = save_tiny_gem(tmp_path_factory.mktemp("gem_zero") / "gem_smpl.ckpt", zero_output=True)
    return load_genmo(str(path), gem_config=TINY_GEM)


def bone_lengths(joints: torch.Tensor) -> torch.Tensor:
    return (joints[:, 1:] - joints[:, list(SMPL_22_PARENTS[1:])]).norm(dim=-1)


def keypoint_triple(length: int, seed: int = 0):
    generator = torch.Generator().manual_seed(seed)
    return (torch.rand(1, length, 17, 3, generator=generator), torch.tensor([[0.5, 0.5, 0.8]]).expand(1, length, 3),
            torch.ones(1, length, dtype=torch.bool))


def test_gem_statistics_have_the_documented_layout_and_clip_rule():
    for name, part in SLICES.items():
        assert len(MEAN[name]) == len(STD[name]) == part.stop - part.start, name
    raw, clipped = gem_feature_stats(clip_std=False), gem_feature_stats()
    assert raw.dim == clipped.dim == FEATURE_DIM
    assert np.array_equal(raw.mean, clipped.mean)
    above_one = np.flatnonzero(raw.std > 1)
    assert tuple(above_one) == BETA_COLUMNS_ABOVE_ONE  # only betas spread more than 1
    assert np.array_equal(clipped.std[above_one], raw.std[above_one])
    others = np.setdiff1d(np.arange(FEATURE_DIM), above_one)
    assert (clipped.std[others] == 1).all() and (raw.std[others] < 1).all()
    # each joint's mean 6D is the mean of two orthonormal rows: both rows a little shorter than 1
    rows = raw.mean[SLICES["body_pose"]].reshape(21, 2, 3)
    norms = np.linalg.norm(rows, axis=-1)
    assert (norms > 0.75).all() and (norms <= 1.0).all(), norms
    x = torch.randn(4, FEATURE_DIM)
    assert torch.allclose(clipped.denormalize(clipped.normalize(x)), x, atol=1e-5)


def test_a_gem_checkpoint_loads_with_gems_statistics_and_frame_rate(gem):
    expected = gem_feature_stats()
    assert gem.fps == GEM_FPS == 30.0
    assert np.array_equal(gem.stats.mean, expected.mean) and np.array_equal(gem.stats.std, expected.std)
    assert "MM_V1_AMASS_LOCAL_BEDLAM_CAM" in gem.record["statistics"] and gem.record["fps"] == 30.0


def test_sampling_decodes_through_the_smpl_model(gem, body_model):
    options = {"text_encoder": TinyTextEncoder(), "body_model": body_model, "steps": 3, "window": 8}
    motion, prompts = sample_from_inputs(gem, ["0-1: a person walks forward"], 1.0, seed=1, **options)
    assert [p.text for p in prompts] == ["a person walks forward"]
    assert motion.layout == "smpl_22" and motion.fps == 30.0 and motion.joints.shape == (30, 22, 3)
    assert torch.isfinite(motion.joints).all()
    bones = bone_lengths(motion.joints)
    assert torch.allclose(bones, bones[:1].expand_as(bones), atol=ATOL)  # one body shape for the clip
    assert motion.params["smpl_body_pose"].shape == (30, 21, 3, 3)
    again, _ = sample_from_inputs(gem, ["0-1: a person walks forward"], 1.0, seed=1, **options)
    assert torch.equal(again.joints, motion.joints)
    other_text, _ = sample_from_inputs(gem, ["0-1: a person sits down"], 1.0, seed=1, **options)
    assert not torch.allclose(other_text.joints, motion.joints, atol=1e-4)  # the prompt reaches the denoiser


def test_estimation_decodes_through_the_smpl_model(gem, body_model):
    motion = estimate_motion(gem, keypoint_triple(12), body_model=body_model)
    assert motion.layout == "smpl_22" and motion.fps == 30.0 and motion.num_frames == 12
    assert torch.isfinite(motion.joints).all()


def test_the_statistics_are_applied_a_zero_prediction_is_gems_mean(mean_predictor, body_model):
    mean = torch.from_numpy(gem_feature_stats().mean)
    expected = decode_151(mean.expand(15, FEATURE_DIM), body_model, GEM_FPS).joints
    sampled = generate_motion(mean_predictor, [], 0.5, steps=2, body_model=body_model)
    estimated = estimate_motion(mean_predictor, keypoint_triple(15), body_model=body_model)
    assert torch.allclose(sampled.joints, expected, atol=ATOL)
    assert torch.allclose(estimated.joints, expected, atol=ATOL)
    betas = torch.tensor(MEAN["betas"]).expand(15, 10)  # identity statistics would give zero betas
    assert torch.allclose(sampled.params["smpl_betas"], betas, atol=1e-6)


def test_a_missing_body_model_is_named_with_the_file_to_provide(gem):
    for call in (lambda: generate_motion(gem, [], 0.5, steps=1), lambda: estimate_motion(gem, keypoint_triple(8)),
                 lambda: sample_from_inputs(gem, [], 0.5, steps=1),
                 lambda: estimate_from_poses(gem, [], 30.0)):  # refused before the poses are read
        with pytest.raises(InputError) as error:
            call()
        assert error.value.input_name == "body_model"
        assert "SMPL_NEUTRAL.npz" in str(error.value) and "models/smpl" in str(error.value)


def test_keyframes_are_refused_for_gems_representation(gem, body_model):
    motion = decode_151(torch.from_numpy(gem_feature_stats().mean).expand(20, FEATURE_DIM), body_model, GEM_FPS)
    with pytest.raises(InputError) as error:
        sample_from_inputs(gem, [], 1.0, keyframes=KeyframeInput(motion, "0, 10"), body_model=body_model, steps=1)
    assert error.value.input_name == "keyframes" and "151-d" in str(error.value)


def test_music_features_at_another_rate_are_computed_anew_from_their_audio(gem, body_model):
    generator = torch.Generator().manual_seed(0)
    audio = {"waveform": torch.randn(1, 1, 22050, generator=generator) * 0.1, "sample_rate": 22050}
    from posemotion.models.genmo.music import audio_to_music

    features, _ = audio_to_music(audio, fps=20.0)
    motion, _ = sample_from_inputs(gem, [], 1.0, music=MusicInput(features, 20.0, audio), body_model=body_model,
                                   steps=1)
    assert motion.num_frames == 30
    with pytest.raises(InputError) as error:  # without the audio they cannot be
        sample_from_inputs(gem, [], 1.0, music=MusicInput(features, 20.0), body_model=body_model, steps=1)
    assert error.value.input_name == "music"
