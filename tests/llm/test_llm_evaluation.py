"""The motion LLM evaluation (models/llm/evaluation.py, caption_metrics.py, cli/llm_eval_commands.py).

BLEU-4 and ROUGE-L are checked on hand-computed examples. The whole evaluation runs on a tiny
HumanML3D-layout folder written here from the real CMU clip (data/mocap/test.asf + .amc: 2-s windows
at 20 fps, features and placement as the corpus builder makes them, captions from the captioner), with
a randomly initialised tiny LM on the real SmolLM2 tokenizer, an untrained tiny vqvae motion tokenizer
and an untrained text-motion evaluator (the real classes; the numbers are meaningless, the table's
shape, finiteness and the feature path are what is checked).
"""

from __future__ import annotations

import json
import math
import os

import numpy as np
import pytest
import torch
from posemotion.cli.llm_eval_commands import M2T_LABELS, ROW_LABELS, format_table
from posemotion.models.captioning.describe import describe_motion
from posemotion.models.core.errors import InputError
from posemotion.models.core.motion import Motion
from posemotion.models.llm.base import tiny_base
from posemotion.models.llm.caption_metrics import bleu, lcs_length, rouge_l, words
from posemotion.models.llm.evaluation import (
    M2T_ROWS,
    T2M_ROWS,
    evaluate_motion_llm,
    load_eval_items,
    motion_features,
    random_token_motion,
)
from posemotion.models.llm.model import build_motion_llm
from posemotion.models.motion.dataset_folder import format_text_line, read_stats, write_item, write_split, write_stats
from posemotion.models.motion.humanml3d import canonicalize, joints_to_features, to_uniform_skeleton
from posemotion.models.motion.io import read_motion
from posemotion.models.motion.resample import resample
from posemotion.models.motion_text.evaluator import TextMotionEvaluator
from posemotion.models.tokenizers.training import make_tokenizer

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
WINDOW = 41  # frames: 2 s at 20 fps (40 feature rows), the corpus's shortest window
TRAIN_WINDOWS, TEST_WINDOWS = 6, 4
TINY_MOTION_TOKENIZER = dict(num_codes=16, code_dim=8, width=8, depth=1)


# ----------------------------------------------------------------------------- BLEU / ROUGE-L

def test_words_drop_case_and_punctuation():
    assert words("A person walks, then SITS down.") == ["a", "person", "walks", "then", "sits", "down"]


def test_bleu_identical_is_one_and_disjoint_is_zero():
    assert bleu(["a person walks forward slowly"], [["a person walks forward slowly."]]) == pytest.approx(1.0)
    assert bleu(["a person walks forward"], [["someone jumps up high"]]) == 0.0


def test_bleu_hand_computed():
    # hyp "the person walks forward quickly" (5 words) vs ref "the person walks forward slowly now" (6):
    # p1 = 4/5, p2 = 3/4, p3 = 2/3, p4 = 1/2; geometric mean = (0.2)^(1/4); BP = exp(1 - 6/5)
    expected = math.exp(1 - 6 / 5) * (0.8 * 0.75 * (2 / 3) * 0.5) ** 0.25
    assert bleu(["the person walks forward quickly"], [["the person walks forward slowly now"]]) == \
        pytest.approx(expected, rel=1e-12)


def test_bleu_is_corpus_level_with_clipping_and_closest_reference():
    # item 1: "the the the the" vs refs ("the cat", "the the cat"): unigrams clipped to 2 (the largest count in
    # one ref) -> 2/4, no bigram "the the" beyond 1 -> 1/3, no trigram -> corpus sums decide.
    # item 2 matches exactly "a person jumps up high" (5 words) -> 5/5, 4/4, 3/3, 2/2.
    # corpus: p1 = 7/9, p2 = 5/7, p3 = 3/5, p4 = 2/3; closest ref lengths 3 (for 4 words) and 5 -> r = 8 < c = 9.
    hyps = ["the the the the", "a person jumps up high"]
    refs = [["the cat", "the the cat"], ["a person jumps up high"]]
    expected = ((7 / 9) * (5 / 7) * (3 / 5) * (2 / 3)) ** 0.25
    assert bleu(hyps, refs) == pytest.approx(expected, rel=1e-12)


def test_lcs_and_rouge_l_hand_computed():
    assert lcs_length("a b c d e".split(), "a x c y e".split()) == 3
    # hyp "a person walks to the left" (6) vs ref "a person quickly walks left" (5): LCS "a person walks left" = 4
    # P = 4/6, R = 4/5, F1 = 2PR/(P+R) = 8/11; second item: no reference shares a word -> 0; mean 4/11
    score = rouge_l(["a person walks to the left", "jump"],
                    [["a person quickly walks left", "zzz"], ["someone sits"]])
    assert score == pytest.approx((8 / 11 + 0.0) / 2, rel=1e-12)


def test_caption_metrics_refuse_mismatched_input():
    with pytest.raises(InputError, match="references"):
        bleu(["a", "b"], [["a"]])
    with pytest.raises(InputError, match="hypotheses"):
        rouge_l([], [])
    with pytest.raises(InputError, match="references"):
        rouge_l(["a"], ["a"])  # a string, not a list of references


# ----------------------------------------------------------------------------- the evaluation

@pytest.fixture(scope="module")
def tiny_folder(tmp_path_factory):
    """Train: 6 windows, test: 4 windows + one line of a 1-s time window (an ``NAME@0-1`` item)."""
    folder = str(tmp_path_factory.mktemp("tiny_corpus"))
    clip = resample(read_motion(os.path.join(REPO, "data", "mocap", "test.asf"),
                                os.path.join(REPO, "data", "mocap", "test.amc")), 20.0)
    names, train_features = {"train": [], "test": []}, []
    for index in range(TRAIN_WINDOWS + TEST_WINDOWS):
        joints = clip.joints[index * (WINDOW - 1): index * (WINDOW - 1) + WINDOW].contiguous()
        lines = describe_motion(Motion(joints, 20.0, "smpl_22"), seed=index).text_lines
        split = "train" if index < TRAIN_WINDOWS else "test"
        if index == TRAIN_WINDOWS:  # a caption of the first second only
            lines = [*lines, format_text_line("a person hops", ["a/DET", "person/NOUN", "hop/VERB"], 0.0, 1.0)]
        features = joints_to_features(joints, uniform_skeleton=True)
        write_item(folder, f"w{index:02d}", features, canonicalize(to_uniform_skeleton(joints)), lines)
        names[split].append(f"w{index:02d}")
        if split == "train":
            train_features.append(features)
    for split, listed in names.items():
        write_split(folder, split, listed)
    stacked = np.concatenate(train_features)
    write_stats(folder, stacked.mean(0), stacked.std(0) + 1e-3)
    with open(os.path.join(folder, "sources.json"), "w") as handle:  # marks the captions as derived
        json.dump({"items": {}}, handle)
    return folder


@pytest.fixture()
def tiny_llm(smol_tokenizer):
    torch.manual_seed(0)
    return build_motion_llm(tiny_base(smol_tokenizer), make_tokenizer("vqvae", small=True, **TINY_MOTION_TOKENIZER))


@pytest.fixture()
def tiny_evaluator(tiny_folder):
    torch.manual_seed(0)
    evaluator = TextMotionEvaluator(hidden=16, embed_dim=8)
    evaluator.set_feature_stats(*read_stats(tiny_folder))
    return evaluator.eval()


def test_items_and_the_feature_path_match_the_folder(tiny_folder):
    items = load_eval_items(tiny_folder, "test")
    assert [item.name for item in items] == ["w06", "w06@0-1", "w07", "w08", "w09"]
    for item in items:
        assert item.motion.num_frames == len(item.features) + 1 and item.text in item.references
        if "@" not in item.name:  # whole items: the joints' features are the folder's features
            np.testing.assert_allclose(motion_features(item.motion), item.features, atol=1e-4)
    assert item.seconds == pytest.approx(WINDOW / 20.0)
    subset = load_eval_items(tiny_folder, "test", limit=3, seed=1)
    assert len(subset) == 3 and {i.name for i in subset} <= {i.name for i in items}
    with pytest.raises(InputError, match="limit"):
        load_eval_items(tiny_folder, "test", limit=2)
    with pytest.raises(InputError, match="folder"):
        load_eval_items(os.path.join(tiny_folder, "missing"), "test")


def test_random_tokens_give_a_motion_of_the_requested_length(tiny_llm):
    motion = random_token_motion(tiny_llm, 2.0, torch.Generator().manual_seed(0))
    steps = tiny_llm.vocabulary.steps_for_seconds(2.0)
    assert motion.layout == "smpl_22" and torch.isfinite(motion.joints).all()
    assert motion.num_frames >= steps * tiny_llm.vocabulary.downsample - 1


def test_evaluation_table_has_every_row_and_finite_metrics(tiny_llm, tiny_evaluator, tiny_folder):
    calls, threads = [], torch.get_num_threads()
    torch.set_num_threads(1)  # the tiny LM is dominated by per-step overhead
    try:
        result = evaluate_motion_llm(tiny_llm, tiny_evaluator, tiny_folder, shuffles=2,
                                     progress=lambda done, total: calls.append((done, total)))
    finally:
        torch.set_num_threads(threads)
    print(format_table(result))
    assert result["items"] == 5 and calls[-1] == (10, 10) and result["derived_captions"]
    assert set(result["t2m"]) == set(T2M_ROWS) and set(result["m2t"]) == set(M2T_ROWS)
    for row in T2M_ROWS:
        metrics = result["t2m"][row]
        for name in ("r_precision_top1", "r_precision_top2", "r_precision_top3", "fid", "mm_dist", "diversity"):
            assert math.isfinite(metrics[name]), (row, name)
        assert metrics["pool"] == 5 and 0 <= metrics["predicate_checked"] <= metrics["predicate_texts"] == 5
        assert metrics["predicate"] is None or 0.0 <= metrics["predicate"] <= 1.0
    # the ground truth's texts were written by the captioner from these very motions
    assert result["t2m"]["ground_truth"]["predicate_checked"] == 5
    assert result["t2m"]["ground_truth"]["predicate"] > 0.5
    for row in M2T_ROWS:
        metrics = result["m2t"][row]
        assert 0.0 <= metrics["bleu4"] <= 1.0 and 0.0 <= metrics["rouge_l"] <= 1.0, row
    assert result["m2t"]["ground_truth"]["items"] == 4  # the 1-line window item has no other reference
    # the captioner wrote the references: it agrees with them far more than a random training caption
    assert result["m2t"]["captioner"]["rouge_l"] > result["m2t"]["random_caption"]["rouge_l"]
    table = format_table(result)
    for label in (*ROW_LABELS.values(), *M2T_LABELS.values()):
        assert label in table
    assert "derived from the motion itself" in table
    assert table.splitlines()[-1].startswith("verdict: text-to-motion [r_precision_top3, fid, mm_dist, predicate]: "
                                             "ours beats random_tokens on ")
    json.dumps(result)  # the --out file
