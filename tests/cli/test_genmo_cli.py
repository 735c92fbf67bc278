"""``genmo-train`` end to end on a tiny HumanML3D-layout folder of real mocap windows (``support.llm_tiny_parts``)."""

from __future__ import annotations

import json
from contextlib import redirect_stderr, redirect_stdout
from io import StringIO

import pytest
from posemotion.cli.main import main
from posemotion.models.genmo.model import load_genmo
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
