"""GEM checkpoint key map: a tiny denoiser written in gem_smpl.ckpt's exact layout loads strictly."""

import os

import pytest
import torch
import torch.nn.functional as F
from posemotion.models.core.errors import ModelFileError
from posemotion.models.genmo.conditions import GenmoConditions, TextCondition
from posemotion.models.genmo.official import load_gem_denoiser, load_gem_state
from support.gem_layout import absent_modality_weights, save_gem_checkpoint
from support.gem_tiny import TINY_GEM, tiny_gem_denoiser


def _source():
    return tiny_gem_denoiser(TINY_GEM, seed=0)


def _inputs(length=20):
    generator = torch.Generator().manual_seed(1)
    keypoints = torch.rand(1, length, 17, 3, generator=generator)
    text = TextCondition(torch.randn(1, 1, 5, 24, generator=generator), torch.ones(1, 1, 5, dtype=torch.bool),
                         torch.ones(1, 1, length, dtype=torch.bool))
    conditions = GenmoConditions(1, length, text=text, keypoints=keypoints, bbox=torch.rand(1, length, 3),
                                 keypoints_mask=torch.ones(1, length, dtype=torch.bool),
                                 music=torch.randn(1, length, 35, generator=generator),
                                 music_mask=torch.ones(1, length, dtype=torch.bool))
    return torch.randn(1, length, 151, generator=generator), torch.tensor([400]), conditions


@torch.no_grad()
def test_gem_layout_loads_and_predicts_like_the_source(tmp_path):
    source = _source()
    path = str(tmp_path / "gem_smpl.ckpt")
    # GEM's own init: the absent modalities' exists embedders end in a zero layer -> no constant
    save_gem_checkpoint(source, path, absent_modality_weights(32, torch.Generator().manual_seed(2)))
    loaded = load_gem_denoiser(path, TINY_GEM)
    assert not loaded.training
    x_t, t, conditions = _inputs()
    for name, value in source.state_dict().items():
        assert torch.equal(loaded.state_dict()[name], value), name
    out, expected = loaded.forward_all(x_t, t, conditions), source.forward_all(x_t, t, conditions)
    for key in ("x0", "pred_cam", "static_conf_logits"):
        assert torch.equal(out[key], expected[key]), key


@torch.no_grad()
def test_absent_modalities_become_their_constant(tmp_path):
    source = _source()
    path = str(tmp_path / "gem_smpl.ckpt")
    absent = absent_modality_weights(32, torch.Generator().manual_seed(3), zero_last=False)  # trained: non-zero
    save_gem_checkpoint(source, path, absent, dual_write=True, model_prefix=True)
    loaded = load_gem_denoiser(path, TINY_GEM)
    expected = sum(F.linear(F.silu(F.linear(torch.zeros(33), absent[f"cond_exists_embedder.{m}.0.weight"],
                                            absent[f"cond_exists_embedder.{m}.0.bias"])),
                            absent[f"cond_exists_embedder.{m}.2.weight"], absent[f"cond_exists_embedder.{m}.2.bias"])
                   for m in ("f_imgseq", "f_cam_angvel", "encoded_audio"))
    assert expected.abs().sum() > 0
    assert torch.allclose(loaded.absent_condition_bias, expected, atol=1e-6)
    x_t, t, conditions = _inputs()
    source.absent_condition_bias.copy_(expected)
    assert torch.allclose(loaded(x_t, t, conditions), source(x_t, t, conditions), atol=1e-6)


def _rewrite(path, edit):
    checkpoint = torch.load(path, weights_only=True)
    edit(checkpoint["state_dict"])
    torch.save(checkpoint, path)


@pytest.mark.parametrize("edit, named", [
    (lambda s: s.pop("pipeline.denoiser3d.denoiser.blocks.1.gate_mlp"), "blocks.1.gate_mlp"),
    (lambda s: s.update({"pipeline.denoiser3d.denoiser.depth_head.weight": torch.zeros(3)}), "depth_head.weight"),
    (lambda s: s.update({"music_embedder.fc1.weight": torch.zeros(64, 30)}), "music_embedder.fc1.weight"),
])
def test_a_key_that_does_not_fit_is_named(tmp_path, edit, named):
    path = str(tmp_path / "gem_smpl.ckpt")
    save_gem_checkpoint(_source(), path)
    _rewrite(path, edit)
    with pytest.raises(ModelFileError, match=named.replace(".", r"\.")):
        load_gem_denoiser(path, TINY_GEM)


def test_files_that_are_not_gem_checkpoints(tmp_path):
    with pytest.raises(ModelFileError, match="not found"):
        load_gem_state(str(tmp_path / "missing.ckpt"))
    junk = str(tmp_path / "junk.ckpt")
    with open(junk, "wb") as handle:
        handle.write(b"not a checkpoint")
    with pytest.raises(ModelFileError, match="not a readable"):
        load_gem_state(junk)
    bare = str(tmp_path / "bare.pt")
    torch.save({"weights": {}}, bare)
    with pytest.raises(ModelFileError, match="state_dict"):
        load_gem_state(bare)
    other = str(tmp_path / "other.ckpt")
    torch.save({"state_dict": {"encoder.weight": torch.zeros(2)}}, other)
    with pytest.raises(ModelFileError, match="no GEM denoiser"):
        load_gem_denoiser(other, TINY_GEM)
    assert os.path.exists(other)


def test_the_default_config_is_gems_and_a_tiny_file_does_not_fit_it(tmp_path):
    path = str(tmp_path / "gem_smpl.ckpt")
    save_gem_checkpoint(_source(), path)
    with pytest.raises(ModelFileError, match="wrong shapes|missing keys"):
        load_gem_denoiser(path)  # GenmoConfig.gem(): 1024 wide, 16 layers
