"""The motion tokenizers read a HumanML3D-layout folder (``motion/dataset_folder.py``) as their dataset:
the motion-text corpus or a user's HumanML3D folder, through the same ``load_motion_dataset``."""

import numpy as np
import pytest
import torch
from posemotion.models.core.errors import InputError
from posemotion.models.motion import dataset_folder as df
from posemotion.models.motion.humanml3d import FeatureStats, joints_to_features
from posemotion.models.tokenizers.dataset import load_motion_dataset, recording_joints
from posemotion.models.tokenizers.training import feature_stats, make_tokenizer, train_tokenizer

LINE = "a person moves.#a/DET person/NOUN move/VERB#0.0#0.0"


@pytest.fixture(scope="module")
def folder(mocap_dir, tmp_path_factory):
    """Four 3 s clips of the real MocapBank recording in the HumanML3D layout, plus one item without
    features (as the corpus's 2D-only items) listed in no HumanML3D split."""
    out = tmp_path_factory.mktemp("humanml3d")
    joints = recording_joints(str(mocap_dir), "test_mocapbank.bvh").numpy()
    names, features = [], []
    for k in range(4):
        clip = joints[k * 61: (k + 1) * 61]
        names.append(f"clip{k}")
        features.append(joints_to_features(clip))
        df.write_item(str(out), names[-1], features[-1], clip, [LINE])
    df.write_split(str(out), "train", names[:3])
    df.write_split(str(out), "test", names[3:])
    stats = FeatureStats.compute(features[:3])
    df.write_stats(str(out), stats.mean, stats.std)
    return out, features


def test_reads_the_splits_and_statistics(folder):
    out, features = folder
    train, test, summary = load_motion_dataset(str(out))
    assert train.clip_ids == ["clip0", "clip1", "clip2"] and test.clip_ids == ["clip3"]
    np.testing.assert_array_equal(train.clip(1).numpy(), features[1])
    assert train.hands.shape == (180, 360) and not any(train.has_hands)
    np.testing.assert_allclose(train.stats.mean.numpy(), df.read_stats(str(out))[0])
    assert summary["train_frames"] == 180 and summary["test_frames"] == 60 and summary["mirror"] is False


def test_a_tokenizer_trains_on_it(folder):
    train, _, _ = load_motion_dataset(str(folder[0]))
    torch.manual_seed(0)
    model = make_tokenizer("vqvae", small=False, num_codes=32, code_dim=16, width=16, depth=1)
    model.set_feature_stats(*feature_stats(model, train.stats))
    before = [p.detach().clone() for p in model.parameters()]
    result = train_tokenizer(model, train, steps=3, batch_size=4, window=16, seed=0, device="cpu")
    assert result["steps"] == 3 and result["history"]
    assert any(not torch.equal(a, b.detach()) for a, b in zip(before, model.parameters()))  # it learned from the folder


def test_kit_ml_features_are_refused_by_name(tmp_path):
    df.write_stats(str(tmp_path), np.zeros(251), np.ones(251))
    df.write_split(str(tmp_path), "train", [])
    with pytest.raises(InputError, match="251-d features"):
        load_motion_dataset(str(tmp_path))
