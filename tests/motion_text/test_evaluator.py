"""Our contrastive text-motion evaluator, trained on a small SYNTHETIC folder in the real HumanML3D
layout (tests/support/synthetic_motion_text.py: features whose captions depend on them)."""

import json

import numpy as np
import pytest
import torch
from posemotion.cli.main import main
from posemotion.models.core.errors import InputError, ModelFileError
from posemotion.models.motion.dataset_folder import write_split
from posemotion.models.motion_text.evaluator import (
    FAMILY,
    TextMotionEvaluator,
    embed_motions,
    embed_texts,
    evaluate_folder,
    load_evaluator,
    save_evaluator,
    train_evaluator,
)
from support.synthetic_motion_text import write_synthetic_folder

SMALL = {"hidden": 64, "embed_dim": 64}


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    path = tmp_path_factory.mktemp("synthetic_humanml3d")
    write_synthetic_folder(path, train_per_label=8, test_per_label=4)
    return str(path)


@pytest.fixture(scope="module")
def trained(folder):
    torch.set_num_threads(2)
    return train_evaluator(folder, steps=150, batch_size=32, lr=2e-3, seed=0, **SMALL)


def test_training_beats_chance_and_an_untrained_evaluator(folder, trained):
    model, history = trained
    losses = [entry["loss"] for entry in history["history"]]
    assert losses[-1] < 0.5 * losses[0]
    assert history["items"] == 96 and history["captions"] == 24
    metrics = evaluate_folder(model, folder)
    assert metrics["items"] == 48 and metrics["pool"] == 32
    assert metrics["chance_top3"] == pytest.approx(3 / 32)
    # 12 labels: a pool of 32 holds ~2.7 items per caption, so top-1 is capped near 0.37 and top-3 near 1
    assert metrics["r_precision_top1"] > 4 * metrics["chance_top1"]
    assert metrics["r_precision_top3"] > 0.7
    torch.manual_seed(0)
    untrained = evaluate_folder(TextMotionEvaluator(**SMALL).eval(), folder)
    assert untrained["r_precision_top3"] < metrics["r_precision_top3"] - 0.4
    assert metrics["fid"] is not None and metrics["fid_reference"] == "train" and metrics["fid"] >= 0
    assert 0 < metrics["mm_dist"] < metrics["diversity"]  # matched pairs are closer than random motions


def test_motion_embedding_does_not_depend_on_batch_padding(trained):
    model, _ = trained
    rng = np.random.default_rng(0)
    motions = [rng.normal(size=(n, 263)).astype(np.float32) for n in (1, 5, 13, 60)]
    together = embed_motions(model, motions)
    alone = torch.cat([embed_motions(model, [m]) for m in motions])
    assert torch.allclose(together, alone, atol=1e-5)
    assert torch.allclose(together.norm(dim=1), torch.ones(4), atol=1e-5)


def test_save_and_load_round_trip(tmp_path, trained):
    model, _ = trained
    path = str(tmp_path / "evaluator.safetensors")
    save_evaluator(model, path, record={"steps": 150})
    header = json.loads((tmp_path / "evaluator.json").read_text())
    assert header["family"] == FAMILY and header["text_encoder"] == "minilm-l6" and header["feature_dim"] == 263
    loaded = load_evaluator(path)
    texts = ["a person walks forward slowly", "someone kick the ball quickly"]
    assert torch.allclose(embed_texts(loaded, texts), embed_texts(model, texts), atol=1e-6)
    assert torch.equal(loaded.feature_std, model.feature_std)


def test_load_refuses_another_text_encoder(tmp_path):
    path = str(tmp_path / "other.safetensors")
    save_evaluator(TextMotionEvaluator(text_encoder="blip-itm", **SMALL), path)
    with pytest.raises(ModelFileError, match="blip-itm"):
        load_evaluator(path)


def test_bad_folders_give_clear_errors(tmp_path, trained):
    model, _ = trained
    with pytest.raises(InputError, match="folder"):
        evaluate_folder(model, str(tmp_path / "missing"))
    kit = tmp_path / "kit"
    write_synthetic_folder(kit, train_per_label=1, test_per_label=1, dim=251)
    with pytest.raises(InputError, match="251-d.*263-d"):
        evaluate_folder(model, str(kit))
    write_split(str(kit), "empty", [])
    with pytest.raises(InputError, match="split"):
        evaluate_folder(model, str(kit), split="empty")
    with pytest.raises(InputError, match="texts"):
        embed_texts(model, [""])
    with pytest.raises(InputError, match="keep"):
        train_evaluator(str(kit), steps=1, keep=0.0)


def test_training_with_crops_runs_and_is_seeded(folder):
    first = train_evaluator(folder, steps=3, batch_size=8, keep=0.7, seed=3, **SMALL)
    again = train_evaluator(folder, steps=3, batch_size=8, keep=0.7, seed=3, **SMALL)
    assert first[1]["history"][-1]["loss"] == pytest.approx(again[1]["history"][-1]["loss"], rel=1e-5)


def test_command_line_trains_and_prints_the_table_with_chance_and_the_note(folder, tmp_path, capsys):
    out = str(tmp_path / "evaluator.safetensors")
    assert main(["motion-evaluator", "train", "--data", folder, "--steps", "20", "--batch-size", "16",
                 "--hidden", "32", "--embed-dim", "32", "--out", out]) == 0
    printed = capsys.readouterr().out
    assert "R-precision top-3" in printed and "0.094" in printed and "NOT comparable" in printed
    record = json.loads((tmp_path / "evaluator.json").read_text())["training"]
    assert record["steps"] == 20 and record["test_metrics"]["chance_top3"] == pytest.approx(3 / 32)
    figures = str(tmp_path / "figures.json")
    assert main(["motion-evaluator", "eval", "--data", folder, "--checkpoint", out, "--json", figures]) == 0
    assert "FID (test vs train)" in capsys.readouterr().out
    assert json.loads(open(figures).read())["items"] == 48
    assert main(["motion-evaluator", "eval", "--data", str(tmp_path / "absent"), "--checkpoint", out]) == 2
    assert "folder not found" in capsys.readouterr().err
