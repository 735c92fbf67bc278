"""``genmo-train`` end to end on a tiny HumanML3D-layout folder of real mocap windows (``support.llm_tiny_parts``),
and ``genmo`` with a tiny checkpoint in GEM's layout and a synthetic SMPL file (``support.gem_tiny``)."""

from __future__ import annotations

import dataclasses
import json
from contextlib import redirect_stderr, redirect_stdout
from io import StringIO

import pytest
from posemotion.cli.main import main
from posemotion.models.genmo.denoiser import GenmoConfig
from posemotion.models.genmo.model import load_genmo
from support.gem_tiny import TINY_GEM, save_synthetic_smpl, save_tiny_gem
from support.llm_tiny_parts import write_tiny_corpus

pytestmark = pytest.mark.usefixtures("one_torch_thread")
TINY = ["--width", "32", "--layers", "1", "--batch-size", "2", "--cache", ""]


def run(argv: list[str]) -> tuple[int, str, str]:
    out, err = StringIO(), StringIO()
    with redirect_stdout(out), redirect_stderr(err):
        code = main(argv)
    return code, out.getvalue(), err.getvalue()


def test_genmo_train_writes_a_loadable_checkpoint_with_its_record(tmp_path):
    corpus = tmp_path / "corpus"
    write_tiny_corpus(str(corpus))
    target = tmp_path / "genmo.safetensors"
    code, out, _ = run(["genmo-train", "--corpus", str(corpus), "--steps", "2", *TINY, "--out", str(target)])
    assert code == 0, out
    assert "trained on 4 items" in out and "derived from the motion" in out and str(target) in out
    model = load_genmo(str(target))
    assert model.config.width == 32 and model.config.layers == 1
    record = json.loads((tmp_path / "genmo.json").read_text())["training"]
    assert record["steps"] == 2 and record["items"] == 4 and record["history"][-1]["step"] == 2


def test_genmo_train_refuses_another_file_type(tmp_path):
    code, _, err = run(["genmo-train", "--corpus", str(tmp_path), "--steps", "1", "--out", str(tmp_path / "m.pt")])
    assert code == 2 and "out:" in err


@pytest.fixture()
def tiny_gem(tmp_path, monkeypatch):
    """A GEM-layout checkpoint and the synthetic SMPL file; GEM's real sizes swapped for a tiny MiniLM config
    (as in tests/nodes/test_genmo_gem_nodes.py)."""
    node_gem = dataclasses.replace(TINY_GEM, text_dim=384, text_encoder="minilm-l6")
    monkeypatch.setattr(GenmoConfig, "gem", classmethod(lambda cls: node_gem))
    return save_tiny_gem(tmp_path / "gem_smpl.ckpt", node_gem), save_synthetic_smpl(tmp_path / "smpl")


def test_genmo_samples_gem_weights_through_the_smpl_file(tiny_gem, tmp_path):
    checkpoint, smpl = tiny_gem
    out_dir = tmp_path / "out"
    code, out, err = run(["genmo", "--model", str(checkpoint), "--smpl", str(smpl), "--text", "0-1:a person waves",
                          "--seconds", "1", "--steps", "2", "--window", "8", "--out", str(out_dir)])
    assert code == 0, err
    assert "sampled 30 frames (1.0 s at 30 fps)" in out and (out_dir / "motion.bvh").is_file()


def test_genmo_without_the_smpl_file_names_it_before_sampling(tiny_gem, tmp_path):
    checkpoint, _ = tiny_gem
    code, out, err = run(["genmo", "--model", str(checkpoint), "--text", "a person waves", "--seconds", "1",
                          "--out", str(tmp_path / "out")])
    assert code == 2 and "body_model:" in err and "SMPL_NEUTRAL" in err and "sampled" not in out
