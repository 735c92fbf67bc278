"""Load GENMO -> GENMO Sample with a GEM-layout checkpoint in models/genmo and the synthetic SMPL model in
models/smpl (support/gem_tiny.py), through the bridge's no-ComfyUI fallback. GEM's real size (1024 wide,
16 layers) is what Load GENMO builds for a .ckpt, so GenmoConfig.gem() is swapped for a tiny config that
reads the embedded MiniLM text (the real one needs a T5-3B folder)."""

from __future__ import annotations

import dataclasses

import pytest
import torch
from posemotion.models.core.errors import InputError, ModelFileError
from posemotion.models.genmo.denoiser import GenmoConfig
from posemotion.nodes import NODE_CLASS_MAPPINGS as NODES
from posemotion.nodes.genmo_nodes import EMBEDDED_TEXT
from support.gem_tiny import TINY_GEM, save_synthetic_smpl, save_tiny_gem

pytestmark = pytest.mark.usefixtures("one_torch_thread")
NODE_GEM = dataclasses.replace(TINY_GEM, text_dim=384, text_encoder="minilm-l6")
FAST = {"steps": 2, "cfg": 2.5, "seed": 0, "window": 8}


@pytest.fixture(scope="module")
def roots(tmp_path_factory):
    """Three models folders: with SMPL_NEUTRAL.npz, without any SMPL file, and with a broken one."""
    folders = {}
    for kind in ("with_smpl", "without_smpl", "broken_smpl"):
        root = tmp_path_factory.mktemp(kind)
        save_tiny_gem(root / "genmo" / "gem_smpl.ckpt", NODE_GEM)
        folders[kind] = root
    save_synthetic_smpl(folders["with_smpl"] / "smpl" / "neutral")  # found at any depth
    (folders["broken_smpl"] / "smpl").mkdir()
    (folders["broken_smpl"] / "smpl" / "SMPL_NEUTRAL.npz").write_bytes(b"not a zip file")
    return folders


@pytest.fixture()
def load(roots, monkeypatch):
    monkeypatch.setattr(GenmoConfig, "gem", classmethod(lambda cls: NODE_GEM))

    def loaded(kind: str):
        monkeypatch.setenv("POSEMOTION_MODELS_DIR", str(roots[kind]))
        return NODES["PoseMotionLoadGenmo"]().load(checkpoint="gem_smpl.ckpt", text_encoder=EMBEDDED_TEXT)
    return loaded


def test_a_gem_checkpoint_samples_a_motion_at_30_fps(load):
    out = load("with_smpl")
    genmo = out["result"][0]
    assert "30 fps" in out["ui"]["text"][0] and "body model neutral/SMPL_NEUTRAL.npz" in out["ui"]["text"][0]
    timeline = NODES["PoseMotionGenmoTimeline"]().build(text="0-1: a person waves")["result"][0]
    sampled = NODES["PoseMotionGenmoSample"]().sample(genmo, seconds=1.0, timeline=timeline, **FAST)
    motion, fps = sampled["result"]
    assert motion.layout == "smpl_22" and motion.joints.shape == (30, 22, 3) and fps == motion.fps == 30.0
    assert torch.isfinite(motion.joints).all()
    assert sampled["ui"]["text"] == ["30 frames at 30 fps"]


def test_keyframes_are_refused_by_name(load):
    genmo = load("with_smpl")["result"][0]
    walk = NODES["PoseMotionGenmoSample"]().sample(genmo, seconds=1.0, **FAST)["result"][0]
    keyframes = NODES["PoseMotionGenmoKeyframes"]().build(motion=walk, frames="0, 20")["result"][0]
    with pytest.raises(InputError) as error:
        NODES["PoseMotionGenmoSample"]().sample(genmo, seconds=1.0, keyframes=keyframes, **FAST)
    assert error.value.input_name == "keyframes"


def test_without_an_smpl_file_sample_names_the_body_model(load):
    out = load("without_smpl")
    assert "no SMPL_NEUTRAL.npz or SMPL_NEUTRAL.pkl in models/smpl" in out["ui"]["text"][0]
    with pytest.raises(InputError) as error:
        NODES["PoseMotionGenmoSample"]().sample(out["result"][0], seconds=1.0, **FAST)
    assert error.value.input_name == "body_model" and "models/smpl" in str(error.value)


def test_a_broken_smpl_file_is_named_at_load(load):
    with pytest.raises(ModelFileError, match=r"^body_model: SMPL model: cannot read .*SMPL_NEUTRAL\.npz"):
        load("broken_smpl")
