"""The GENMO model: data crops, a few training steps, save/load, generation and estimation.

The corpus is a tiny HumanML3D-layout folder cut from the real mocap clips (data/mocap) with the real
layout writer; its captions are fixed labels per clip (not derived from the motion)."""

import math

import numpy as np
import pytest
import torch
from posemotion.models.core.errors import InputError
from posemotion.models.genmo.data import MAX_CROP, GenmoData
from posemotion.models.genmo.denoiser import GenmoConfig, GenmoDenoiser
from posemotion.models.genmo.keyframes import make_keyframes
from posemotion.models.genmo.keypoints2d import project_joints_to_coco
from posemotion.models.genmo.model import GenmoModel, estimate_motion, generate_motion, load_genmo, save_genmo
from posemotion.models.genmo.text_encoders import MINILM_ID, open_text_encoder
from posemotion.models.genmo.timeline import Prompt
from posemotion.models.genmo.training import train_genmo
from posemotion.models.motion.dataset_folder import format_text_line, write_item, write_split, write_stats
from posemotion.models.motion.humanml3d import FeatureStats, joints_to_features
from posemotion.models.motion.io import read_motion
from posemotion.models.motion.resample import resample
from support.gem_layout import save_gem_checkpoint
from support.genmo_tiny import TINY_CONFIG

pytestmark = pytest.mark.usefixtures("one_torch_thread")
ITEM_FRAMES = 61  # -> 60 feature rows per item
CLIPS = {"cmu": ("test.asf", "test.amc", "a person walks around"),
         "mocapbank": ("test_mocapbank.bvh", None, "someone moves the arms")}


@pytest.fixture(scope="module")
def corpus(mocap_dir, tmp_path_factory):
    folder = tmp_path_factory.mktemp("genmo_corpus")
    names, features = [], []
    for clip, (path, amc, caption) in CLIPS.items():
        motion = resample(read_motion(str(mocap_dir / path), str(mocap_dir / amc) if amc else None), 20.0)
        joints = motion.joints.numpy()
        for start in range(0, len(joints) - ITEM_FRAMES + 1, ITEM_FRAMES)[:4]:
            part = joints[start:start + ITEM_FRAMES]
            rows = joints_to_features(part)
            name = f"{clip}_{start:04d}"
            write_item(str(folder), name, rows, part, [format_text_line(caption, [])])
            names.append(name)
            features.append(rows)
    write_split(str(folder), "train", names)
    stats = FeatureStats.compute(features)
    write_stats(str(folder), stats.mean, stats.std)
    return folder


@pytest.fixture(scope="module")
def encoder():
    return open_text_encoder(MINILM_ID)


@pytest.fixture(scope="module")
def data(corpus, encoder):
    return GenmoData.from_folder(str(corpus), "train", text_encoder=encoder)


@pytest.fixture(scope="module")
def trained(corpus, data):
    return train_genmo(str(corpus), 3, config=TINY_CONFIG, batch_size=4, data=data)


def test_data_items_are_normalised_crops_with_prompts_and_keypoints(data):
    assert len(data) == 8 and data.feature_dim == 263 and len(data.captions) == 2
    assert abs(float(torch.cat(data.features).mean())) < 0.2
    batch = data.batch(torch.arange(8), torch.Generator().manual_seed(0))
    conditions = batch.conditions
    length = conditions.length
    assert batch.x0.shape == (8, length, 263) and length <= MAX_CROP
    assert conditions.text.tokens.shape[:2] == (8, 2) and conditions.text.tokens.shape[-1] == 384
    real = conditions.frame_mask
    assert bool((batch.x0[~real] == 0).all()) and bool(conditions.keypoints_mask[~real].eq(False).all())
    # every real frame is inside exactly the windows of the prompts it has, and no window covers padding
    covered = (conditions.text.windows & conditions.text.present[..., None]).sum(1)
    assert bool((covered[real] == 1).all()) and bool((covered[~real] == 0).all())
    prompts = conditions.text.present.sum(1)
    assert set(prompts.tolist()) == {1, 2}  # joined two-prompt crops and plain ones


def test_three_training_steps_change_the_weights(trained):
    model, history = trained
    assert isinstance(model, GenmoModel) and not model.training
    assert [entry["step"] for entry in history["history"]][-1] == 3
    assert all(math.isfinite(entry["loss"]) for entry in history["history"])
    assert history["items"] == 8
    fresh = GenmoModel(TINY_CONFIG)
    changed = [name for name, p in model.state_dict().items()
               if p.shape == fresh.state_dict()[name].shape and not torch.equal(p, fresh.state_dict()[name])]
    assert "feature_mean" in changed and any(name.startswith("denoiser.blocks.0") for name in changed)


def test_save_load_round_trip_generates_identical_motion(trained, encoder, tmp_path):
    model, _ = trained
    paths = save_genmo(model, str(tmp_path / "genmo.safetensors"), record={"steps": 3})
    loaded = load_genmo(paths[0])
    assert loaded.config == model.config and loaded.record == {"steps": 3}
    prompts = [Prompt("a person walks around", 0.0, 1.0), Prompt("someone moves the arms", 1.0, 2.0)]
    first = generate_motion(model, prompts, 2.0, steps=4, seed=3, text_encoder=encoder)
    second = generate_motion(loaded, prompts, 2.0, steps=4, seed=3, text_encoder=encoder)
    assert torch.equal(first.joints, second.joints)
    assert first.layout == "smpl_22" and first.fps == 20.0 and first.joints.shape == (40, 22, 3)
    other_seed = generate_motion(model, prompts, 2.0, steps=4, seed=4, text_encoder=encoder)
    assert not torch.equal(first.joints, other_seed.joints)


def test_generation_without_text_and_with_keypoints(trained, data):
    model, _ = trained
    reports = []
    plain = generate_motion(model, [], 1.5, steps=3, progress=lambda done, total: reports.append(done))
    assert plain.joints.shape == (30, 22, 3) and reports == [1, 2, 3]
    keypoints, bbox, present = project_joints_to_coco(np.zeros((30, 22, 3), np.float32) + _standing(), 0.0)
    triple = (keypoints[None], bbox[None], present[None])
    guided = generate_motion(model, [], 1.5, keypoints=triple, steps=3)
    assert torch.isfinite(guided.joints).all()
    with pytest.raises(InputError, match="keypoints"):
        generate_motion(model, [], 2.0, keypoints=triple, steps=3)


def _standing() -> np.ndarray:
    """A rough standing smpl_22 pose (metres): joints spread over the body's height."""
    heights = np.linspace(0.05, 1.7, 22, dtype=np.float32)
    pose = np.zeros((22, 3), np.float32)
    pose[:, 1] = heights
    pose[1::2, 0] = 0.15  # left side
    pose[2::2, 0] = -0.15
    return pose


def test_keyframes_move_the_root_path_through_their_roots(trained, mocap_dir):
    model, _ = trained
    clip = resample(read_motion(str(mocap_dir / "test_mocapbank.bvh")), 20.0)
    frames = (0, 39)
    keyframes = make_keyframes(clip, frames, 40, model.stats)
    motion = generate_motion(model, [], 2.0, keyframes=keyframes, steps=3)
    pelvis = motion.joints[:, 0]
    expected = float(torch.linalg.vector_norm((keyframes.root[39] - keyframes.root[0])[[0, 2]]))
    reached = float(torch.linalg.vector_norm((pelvis[39] - pelvis[0])[[0, 2]]))
    assert reached == pytest.approx(expected, abs=1e-3)


def test_estimation_modes(trained):
    model, _ = trained
    keypoints, bbox, present = project_joints_to_coco(np.zeros((25, 22, 3), np.float32) + _standing(), 45.0)
    triple = (keypoints[None], bbox[None], present[None])
    once = estimate_motion(model, triple, seed=1)
    again = estimate_motion(model, triple, seed=1)
    assert once.joints.shape == (25, 22, 3) and torch.equal(once.joints, again.joints)
    sampled = estimate_motion(model, triple, mode="generation", steps=3)
    assert sampled.joints.shape == (25, 22, 3)
    with pytest.raises(InputError, match="mode"):
        estimate_motion(model, triple, mode="regression")


@pytest.mark.parametrize("seconds", [0, -1.0, float("nan"), 61.0, True])
def test_bad_lengths_name_seconds(trained, seconds):
    with pytest.raises(InputError, match="seconds"):
        generate_motion(trained[0], [], seconds, steps=2)


def test_a_gem_lightning_checkpoint_loads_as_a_model_that_needs_a_body_model(tmp_path):
    config = GenmoConfig(motion_dim=151, width=32, layers=1, heads=2, text_dim=24, window=8, pred_cam_dim=3,
                         static_conf_dim=6, representation="gem_smpl_151", text_encoder="t5-3b")
    torch.manual_seed(0)
    source = GenmoDenoiser(config)
    path = str(tmp_path / "gem_smpl.ckpt")
    save_gem_checkpoint(source, path)
    model = load_genmo(path, gem_config=config)
    assert isinstance(model, GenmoModel) and model.config == config and not model.training
    for name, value in source.state_dict().items():
        assert torch.equal(model.denoiser.state_dict()[name], value), name
    assert model.fps == 30.0  # GEM's statistics and fps: tests/genmo/test_gem_sampling.py
    with pytest.raises(InputError) as error:
        generate_motion(model, [], 1.0, steps=2)
    assert error.value.input_name == "body_model"


def test_inputs_the_training_never_showed_are_named(trained):
    from posemotion.models.genmo.pipeline import MusicInput, sample_from_inputs, untrained_inputs

    model = trained[0]
    music = MusicInput(torch.zeros(20, 35), model.fps)
    model.record = {"conditions": ["text", "keypoints"]}
    assert untrained_inputs(model, timeline=["walks"], music=music) == ["music"]
    with pytest.warns(UserWarning, match="music: this model was trained without it"):
        sample_from_inputs(model, [], 1.0, music=music, steps=1)
    model.record = {}  # GEM's weights record no conditions: nothing to say
    assert untrained_inputs(model, music=music) == []
