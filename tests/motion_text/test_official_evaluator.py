"""Guo et al.'s official evaluator loader on a TINY configuration written in the official file structure.

The real released weights are not on this machine and were not run. The tiny ``finest.tar`` is
built from a hand-written list of the official key names and shapes (not from our modules), saved
with torch.save as a dict with the three state dicts and an epoch; the GloVe files are written with
numpy and pickle as Guo et al. ship them."""

import os
import pickle

import numpy as np
import pytest
import torch
from posemotion.cli.main import main
from posemotion.models.core.errors import InputError, ModelFileError
from posemotion.models.motion_text.official_evaluator import (
    evaluate_folder_official,
    load_official_evaluator,
    read_official_checkpoint,
)
from posemotion.models.motion_text.official_glove import POS_CATEGORIES, GloveVectors, load_plain_pickle
from support.synthetic_motion_text import write_synthetic_folder

WORD, POS, TEXT_H, COEMB, MOTION_H, MOVE_H, LATENT, DIM = 6, 15, 8, 5, 7, 9, 4, 263
WORDS = ["unk", "sos", "eos", "a", "person", "someone", "walk", "forward", "wave", "the", "hand", "jump", "up",
         "sit", "down", "kick", "ball", "turn", "left", "slowly", "quickly"]


def gru_shapes(prefix, size):
    shapes = {}
    for suffix in ("l0", "l0_reverse"):
        shapes[f"{prefix}weight_ih_{suffix}"] = (3 * size, size)
        shapes[f"{prefix}weight_hh_{suffix}"] = (3 * size, size)
        shapes[f"{prefix}bias_ih_{suffix}"] = (3 * size,)
        shapes[f"{prefix}bias_hh_{suffix}"] = (3 * size,)
    return shapes


def co_tail_shapes(hidden):
    return {**gru_shapes("gru.", hidden), "output_net.0.weight": (hidden, 2 * hidden), "output_net.0.bias": (hidden,),
            "output_net.1.weight": (hidden,), "output_net.1.bias": (hidden,),
            "output_net.3.weight": (COEMB, hidden), "output_net.3.bias": (COEMB,), "hidden": (2, 1, hidden)}


OFFICIAL_SHAPES = {
    "movement_encoder": {"main.0.weight": (MOVE_H, DIM - 4, 4), "main.0.bias": (MOVE_H,),
                         "main.3.weight": (LATENT, MOVE_H, 4), "main.3.bias": (LATENT,),
                         "out_net.weight": (LATENT, LATENT), "out_net.bias": (LATENT,)},
    "text_encoder": {"pos_emb.weight": (WORD, POS), "pos_emb.bias": (WORD,), "input_emb.weight": (TEXT_H, WORD),
                     "input_emb.bias": (TEXT_H,), **co_tail_shapes(TEXT_H)},
    "motion_encoder": {"input_emb.weight": (MOTION_H, LATENT), "input_emb.bias": (MOTION_H,),
                       **co_tail_shapes(MOTION_H)},
}


def write_official(root, drop_key=None, seed=0):
    generator = torch.Generator().manual_seed(seed)
    tar = {part: {key: torch.randn(shape, generator=generator) * 0.3 for key, shape in shapes.items()
                  if key != drop_key} for part, shapes in OFFICIAL_SHAPES.items()}
    tar["epoch"] = 7
    os.makedirs(os.path.join(root, "t2m", "text_mot_match", "model"), exist_ok=True)
    torch.save(tar, os.path.join(root, "t2m", "text_mot_match", "model", "finest.tar"))
    glove = os.path.join(root, "glove")
    os.makedirs(glove, exist_ok=True)
    np.save(os.path.join(glove, "our_vab_data.npy"),
            np.random.default_rng(seed).normal(size=(len(WORDS), WORD)).astype(np.float32))
    with open(os.path.join(glove, "our_vab_words.pkl"), "wb") as f:
        pickle.dump(WORDS, f)
    with open(os.path.join(glove, "our_vab_idx.pkl"), "wb") as f:
        pickle.dump({w: i for i, w in enumerate(WORDS)}, f)
    meta = os.path.join(root, "t2m", "Comp_v6_KLD01", "meta")
    os.makedirs(meta, exist_ok=True)
    np.save(os.path.join(meta, "mean.npy"), np.zeros(DIM, np.float32))
    np.save(os.path.join(meta, "std.npy"), np.ones(DIM, np.float32))
    return root


@pytest.fixture(scope="module")
def official(tmp_path_factory):
    return load_official_evaluator(write_official(str(tmp_path_factory.mktemp("official"))))


def test_loads_the_official_layout_strictly(official, tmp_path):
    assert official.epoch == 7 and official.feature_dim == DIM
    text = official.embed_texts([["a/DET", "person/NOUN", "walk/VERB", "forward/ADV"], ["jump/VERB"]])
    motion = official.embed_motions([np.random.default_rng(0).normal(size=(50, DIM))])
    assert text.shape == (2, COEMB) and motion.shape == (1, COEMB) and torch.isfinite(text).all()
    write_official(str(tmp_path), drop_key="output_net.1.bias")
    with pytest.raises(ModelFileError, match="missing keys: output_net.1.bias"):
        load_official_evaluator(str(tmp_path))


def test_batches_and_padding_do_not_change_embeddings(official):
    rng = np.random.default_rng(1)
    motions = [rng.normal(size=(n, DIM)).astype(np.float32) for n in (40, 199, 97)]
    together = official.embed_motions(motions)
    alone = torch.cat([official.embed_motions([m]) for m in motions])
    assert torch.allclose(together, alone, atol=1e-5)
    # 97 frames are cut to 96 (a multiple of the unit length 4): the 97th frame does not count
    changed = motions[2].copy()
    changed[96] += 100
    assert torch.allclose(official.embed_motions([changed]), alone[2:], atol=1e-6)
    captions = [["a/DET", "person/NOUN", "kick/VERB", "the/DET", "ball/NOUN"], ["turn/VERB"] * 30]
    assert torch.allclose(official.embed_texts(captions),
                          torch.cat([official.embed_texts([c]) for c in captions]), atol=1e-5)


def test_tokens_follow_the_official_vectorizer(official):
    glove = official.glove
    vector, one_hot = glove.token("walk/NOUN")  # a VIP action word takes Act_VIP whatever its POS
    assert POS_CATEGORIES[int(one_hot.argmax())] == "Act_VIP" and np.allclose(vector, glove.vectors[6])
    vector, one_hot = glove.token("zebra/NOUN")  # unknown: the unk vector and OTHER
    assert POS_CATEGORIES[int(one_hot.argmax())] == "OTHER" and np.allclose(vector, glove.vectors[0])
    assert POS_CATEGORIES[int(glove.token("person/NOUN")[1].argmax())] == "NOUN"
    words, one_hots, length = glove.caption(["a/DET", "person/NOUN"])
    assert words.shape == (22, WORD) and one_hots.shape == (22, 15) and length == 4
    assert np.allclose(words[0], glove.vectors[1]) and np.allclose(words[3], glove.vectors[2])  # sos ... eos
    assert glove.caption(["a/DET"] * 25)[2] == 22  # cut to 20 tokens, then sos/eos


def test_refuses_pickles_with_code_and_unsafe_tar(tmp_path):
    evil = tmp_path / "our_vab_words.pkl"
    evil.write_bytes(b"cos\nsystem\n(S'echo hi'\ntR.")  # a pickle calling os.system
    with pytest.raises(ModelFileError, match="os.system"):
        load_plain_pickle(str(evil))
    torch.save({"movement_encoder": GloveVectors}, tmp_path / "finest.tar")  # a class: not weights
    with pytest.raises(ModelFileError, match="weights-only"):
        read_official_checkpoint(str(tmp_path / "finest.tar"))
    with pytest.raises(InputError, match="official"):
        load_official_evaluator(str(tmp_path / "missing"))


def test_evaluates_a_folder_with_the_official_length_filter(official, tmp_path):
    write_synthetic_folder(tmp_path, train_per_label=2, test_per_label=3, min_frames=30, max_frames=80)
    result = evaluate_folder_official(official, str(tmp_path))
    assert result["evaluator"] == "guo2022_text_mot_match" and result["epoch"] == 7
    assert result["items"] < 36  # items of fewer than 40 frames are left out, as the official loader does
    assert result["fid"] is not None and np.isfinite(result["mm_dist"])


def test_command_line_eval_official(tmp_path, capsys):
    root = write_official(str(tmp_path / "official"))
    data = tmp_path / "data"
    write_synthetic_folder(data, train_per_label=2, test_per_label=3)
    assert main(["motion-evaluator", "eval", "--data", str(data), "--official", root]) == 0
    printed = capsys.readouterr().out
    assert "guo2022_text_mot_match" in printed and "R-precision top-1" in printed and "published" in printed
