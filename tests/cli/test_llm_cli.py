"""``llm-train``, ``text-to-motion`` and ``motion-to-text`` end to end on a tiny base folder.

The base is a random 2-layer LLaMA on the real SmolLM2 tokenizer saved as a transformers model folder
(``save_pretrained``), the motion tokenizer an untrained tiny vqvae saved as our .safetensors, the data
a tiny HumanML3D-layout folder of real mocap windows (``support.llm_tiny_parts``).
"""

from __future__ import annotations

import json
import os
import sys
from contextlib import redirect_stdout
from io import StringIO

import pytest
import torch
from posemotion.cli.main import main
from posemotion.models.llm.adapter import read_adapter_header
from posemotion.models.llm.base import embedded_base_path, tiny_base
from posemotion.models.media.video import read_video
from posemotion.models.motion.io import read_motion
from posemotion.models.tokenizers.checkpoints import save_tokenizer
from safetensors.torch import load_file
from support.llm_tiny_parts import MOCAP_CLIP, tiny_motion_tokenizer, write_tiny_corpus
from transformers import AutoTokenizer

pytestmark = pytest.mark.usefixtures("one_torch_thread")  # tiny models: per-op overhead, one thread is faster


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    """{base, tokenizer, data} paths: what llm-train reads."""
    root = tmp_path_factory.mktemp("llm_cli")
    folder, name = os.path.split(embedded_base_path())
    base = tiny_base(AutoTokenizer.from_pretrained(folder, gguf_file=name, local_files_only=True))
    base.model.save_pretrained(root / "tiny-base")
    base.tokenizer.save_pretrained(root / "tiny-base")
    tokenizer, _ = save_tokenizer(tiny_motion_tokenizer("vqvae"), str(root / "tiny_vq.safetensors"))
    write_tiny_corpus(str(root / "corpus"))
    return {"base": str(root / "tiny-base"), "tokenizer": tokenizer, "data": str(root / "corpus"), "root": root}


TRAIN_ARGS = ["--align-steps", "2", "--instruct-steps", "2", "--batch-size", "1", "--limit-items", "1"]


@pytest.fixture(scope="module")
def trained(setup):
    """llm-train run as from a shell (sys.argv as `python -m posemotion` sets it); returns (adapter, output)."""
    adapter = str(setup["root"] / "out" / "adapter.safetensors")
    argv = ["llm-train", "--data", setup["data"], "--tokenizer", setup["tokenizer"], "--base", setup["base"],
            *TRAIN_ARGS, "--out", adapter]
    monkeypatch = pytest.MonkeyPatch()
    monkeypatch.setattr(sys, "argv", ["posemotion", *argv])
    try:
        printed = StringIO()
        with redirect_stdout(printed):
            assert main(argv) == 0
    finally:
        monkeypatch.undo()
    return adapter, argv, printed.getvalue()


def test_llm_train_writes_an_adapter_and_its_record(trained, setup):
    adapter, argv, printed = trained
    record = json.loads(open(adapter.replace(".safetensors", ".json")).read())
    assert record["training"]["command"] == "python -m posemotion " + " ".join(argv)
    assert [stage["steps"] for stage in record["training"]["stages"]] == [2, 2]
    assert record["training"]["items"] == 2  # clip00: whole, and a time window with its own caption
    assert record["base"]["name"] == "tiny-base" and record["motion_tokenizer"]["file"] == "tiny_vq.safetensors"
    assert read_adapter_header(adapter)["vocabulary"] == record["vocabulary"]
    # only the LoRA matrices and the added rows: never the whole resized embedding of a folder base
    assert os.path.getsize(adapter) < 200_000 and not any(key.endswith("embed_tokens.weight") for key in load_file(adapter))
    assert "2 training items" in printed and f"wrote {adapter}" in printed


def test_command_is_not_recorded_when_called_in_process(setup, tmp_path, capsys):
    """main() from Python (a notebook, a test): the caller's argv is not the training command."""
    out = str(tmp_path / "a.safetensors")
    assert main(["llm-train", "--data", setup["data"], "--tokenizer", setup["tokenizer"], "--base", setup["base"],
                 "--align-steps", "1", "--instruct-steps", "0", "--batch-size", "1", "--limit-items", "1",
                 "--out", out]) == 0
    assert json.loads(open(out.replace(".safetensors", ".json")).read())["training"]["command"] == ""


def test_llm_train_continues_an_adapter_and_records_what_made_it(trained, setup, tmp_path):
    adapter, argv, _ = trained
    out = str(tmp_path / "continued.safetensors")
    assert main(["llm-train", "--data", setup["data"], "--tokenizer", setup["tokenizer"], "--base", setup["base"],
                 "--init-adapter", adapter, "--align-steps", "1", "--instruct-steps", "0", "--batch-size", "1",
                 "--out", out]) == 0
    before, after = load_file(adapter), load_file(out)
    assert before.keys() == after.keys() and any(not torch.equal(before[k], after[k]) for k in before)
    record = json.loads(open(out.replace(".safetensors", ".json")).read())["training"]
    assert record["continued_from"]["file"] == os.path.basename(adapter)
    assert record["continued_from"]["training"]["command"] == "python -m posemotion " + " ".join(argv)


def bvh_frames(path: str) -> int:
    with open(path) as handle:
        return next(int(line.split(":")[1]) for line in handle if line.startswith("Frames:"))


@pytest.mark.parametrize("seconds, frames", [("1.2", 24)])  # round(1.2 s * 20 fps / 4) = 6 steps of 4 frames
def test_text_to_motion_writes_the_three_files(trained, setup, tmp_path, capsys, seconds, frames):
    adapter, _, _ = trained
    out = tmp_path / "t2m"
    assert main(["text-to-motion", "a person walks forward", "--seconds", seconds, "--out", str(out),
                 "--adapter", adapter, "--base", setup["base"], "--tokenizer", setup["tokenizer"]]) == 0
    printed = capsys.readouterr().out
    assert f"generated {frames} frames" in printed
    assert bvh_frames(str(out / "motion.bvh")) == frames
    assert read_motion(str(out / "motion.npz")).num_frames == frames
    video, fps = read_video(str(out / "motion.mp4"))
    assert video.shape[0] == frames and fps == pytest.approx(20.0)
    summary = json.loads((out / "motion.json").read_text())
    assert summary["text"] == "a person walks forward" and summary["seconds"] == float(seconds)


def test_motion_to_text_prints_a_caption(trained, setup, capsys):
    adapter, _, _ = trained
    assert main(["motion-to-text", MOCAP_CLIP, "--adapter", adapter, "--base", setup["base"],
                 "--tokenizer", setup["tokenizer"]]) == 0
    caption = capsys.readouterr().out.strip()
    assert caption and "_id_" not in caption


@pytest.mark.parametrize("change, named", [({"--seconds": "0"}, "seconds"), ({"--seconds": "nan"}, "seconds"),
                                           ({"text": "   "}, "text"), ({"--base": "MISSING"}, "not found")])
def test_bad_inputs_are_one_error_line(trained, setup, tmp_path, capsys, change, named):
    adapter, _, _ = trained
    options = {"text": "a person walks", "--seconds": "2", "--adapter": adapter, "--base": setup["base"],
               "--tokenizer": setup["tokenizer"], "--out": str(tmp_path / "out"), **change}
    if options["--base"] == "MISSING":
        options["--base"] = str(tmp_path / "no_base")
    argv = ["text-to-motion", options.pop("text")] + [item for pair in options.items() for item in pair]
    assert main(argv) == 2
    # the last line (in-process, transformers was imported before console_output could hide its loading bar)
    lines = capsys.readouterr().err.strip().splitlines()
    assert lines[-1].startswith("error: ") and named in lines[-1]
    assert sum(line.startswith("error") for line in lines) == 1
    assert not (tmp_path / "out" / "motion.bvh").exists()
