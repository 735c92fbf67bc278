"""Evaluation of the motion LLM on a held-out split of a HumanML3D-layout folder, with the text-motion
evaluator (``motion_text.evaluator``) and the captioner's checker (``captioning.check``).

Items: the split's text-motion pairs as the evaluator reads them (``evaluator_data.load_split``: raw
features ``[T-1, D]``, a line with a time window is an item of its own), one caption line per item
chosen as ``evaluate_folder`` chooses it (``pick_lines``, seeded), the joints of ``new_joints/``
(20 fps) and the duration ``frames / 20`` s. ``limit`` keeps a seeded random subset of the items.

Every motion is measured through the same path as the folder's own features: ``smpl_22`` joints at
20 fps -> ``humanml3d.joints_to_features(joints, uniform_skeleton=True)`` (the corpus builder's call;
on the corpus's ``new_joints`` it reproduces ``new_joint_vecs`` to ~1e-5) -> ``embed_motions``.

Text-to-motion rows (each: R-precision top-1/2/3 with chance, FID against the reference split's
motions, MM-Dist, Diversity from ``eval_metrics.text_motion_metrics``; predicate satisfaction: mean
``check_motion_against_text(motion, text).score`` over the texts that have a checkable fact):
  ``ground_truth`` (the real test motions), ``ours`` (``text_to_motion`` at the test motion's duration,
  one fixed sampling seed), ``retrieval`` (the training motion whose caption is nearest to the test
  caption by the EVALUATOR's text embedding: it favours this row in the evaluator's own space),
  ``random_tokens`` (uniform random codes of the motion tokenizer, as many token steps, decoded).
Motion-to-text rows (corpus BLEU-4 and ROUGE-L against the item's reference captions,
``caption_metrics``; predicate satisfaction of the caption checked on the test motion):
  ``ground_truth`` (the chosen reference line scored against the item's OTHER lines), ``ours``
  (``motion_to_text``, greedy), ``retrieval`` (the first caption of the training motion nearest to
  the test motion by the evaluator's motion embedding), ``random_caption`` (the first caption of a
  random training item), ``captioner`` (``describe_motion``'s first caption: on our corpus the
  references were written by this same captioner, so it is not an independent baseline).
Our corpus's captions are derived from the motion by the captioner: every number here measures
agreement with the captioner, not with human descriptions (``derived_captions`` in the result).
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass

import numpy as np
import torch

from ..captioning.check import check_motion_against_text
from ..captioning.describe import describe_motion
from ..core.errors import InputError
from ..core.motion import Motion
from ..core.resources import ProgressCallback
from ..motion.dataset_folder import read_joints
from ..motion.humanml3d import joints_to_features
from ..motion.resample import resample
from ..motion_text.corpus import SOURCES_FILE
from ..motion_text.eval_metrics import R_PRECISION_POOL, R_PRECISION_SHUFFLES, text_motion_metrics
from ..motion_text.evaluator import TextMotionEvaluator, embed_motions, embed_texts
from ..motion_text.evaluator_data import FPS, load_split, pick_lines, reference_features
from .caption_metrics import bleu, rouge_l
from .generate import Sampling, motion_to_text, text_to_motion, tokens_to_motion
from .model import MotionLLM

T2M_ROWS = ("ground_truth", "ours", "retrieval", "random_tokens")
M2T_ROWS = ("ground_truth", "ours", "retrieval", "random_caption", "captioner")
MIN_ITEMS = 3  # R-precision top-3 needs 3 items in a pool


@dataclass(frozen=True)
class EvalItem:
    name: str
    text: str  # the chosen reference line
    references: tuple[str, ...]  # all of the item's lines
    features: np.ndarray  # [T-1, D] from the folder
    motion: Motion  # its joints, smpl_22 at 20 fps

    @property
    def seconds(self) -> float:
        return self.motion.num_frames / self.motion.fps


def _joints_of(folder: str, name: str) -> np.ndarray:
    """Joints of an item; ``NAME@START-END`` (a line's time window) cuts NAME's joints like its features."""
    base, _, window = name.partition("@")
    joints = read_joints(folder, base)
    if window:
        start, end = (float(v) for v in window.split("-"))
        joints = joints[int(start * FPS):int(end * FPS) + 1]  # T frames for the T-1 feature rows
    return joints


def _motion(joints: np.ndarray) -> Motion:
    return Motion(torch.from_numpy(np.ascontiguousarray(joints[:, :22], dtype=np.float32)), FPS, "smpl_22")


def load_eval_items(folder: str, split: str = "test", limit: int | None = None, seed: int = 0,
                    feature_dim: int | None = None) -> list[EvalItem]:
    """The split's items (module docstring); ``limit``: a seeded random subset, in folder order."""
    pairs = load_split(folder, split, feature_dim=feature_dim)
    lines = pick_lines(pairs, seed)
    order = range(len(pairs))
    if limit is not None:
        if not isinstance(limit, int) or limit < MIN_ITEMS:
            raise InputError("limit", f"expected at least {MIN_ITEMS} items, got {limit!r}")
        if limit < len(pairs):
            order = sorted(np.random.default_rng(seed).choice(len(pairs), limit, replace=False).tolist())
    return [EvalItem(pairs.names[i], pairs.captions[i][lines[i]], tuple(pairs.captions[i]), pairs.features[i],
                     _motion(_joints_of(folder, pairs.names[i]))) for i in order]


def motion_features(motion: Motion) -> np.ndarray:
    """``[T-1, 263]`` evaluator features of a 3D MOTION (the corpus's path; module docstring)."""
    motion = resample(motion, FPS)
    if motion.num_frames < 2:
        raise InputError("motion", f"features need at least 2 frames, got {motion.num_frames}")
    return joints_to_features(motion.joints[:, :22], uniform_skeleton=True)


def predicate_satisfaction(motions: list[Motion], texts: list[str]) -> dict:
    """Mean checker score over the texts with a checkable fact, and how many had one."""
    scores = []
    for motion, text in zip(motions, texts):
        if not text.strip():  # an empty caption names nothing to check
            continue
        score = check_motion_against_text(motion, text).score
        if score is not None:
            scores.append(score)
    return {"predicate": float(np.mean(scores)) if scores else None, "predicate_checked": len(scores),
            "predicate_texts": len(texts)}


def random_token_motion(llm: MotionLLM, seconds: float, generator: torch.Generator) -> Motion:
    """A motion decoded from uniform random codes, as many token steps as ``seconds`` gives (every block)."""
    vocabulary, steps = llm.vocabulary, llm.vocabulary.steps_for_seconds(min(seconds, llm.max_seconds))
    ids = []
    for index in range(len(vocabulary.blocks)):
        codes = vocabulary.code_range(index)
        random = torch.randint(codes.start, codes.stop, (steps,), generator=generator).tolist()
        ids += [vocabulary.special_id(index, "start"), *random, vocabulary.special_id(index, "end")]
    tokens = vocabulary.decode(ids, tuple(llm.motion_tokenizer.codebook_sizes()))
    return tokens_to_motion(llm, tokens)  # decoded exactly as the LLM's answers are


def _nearest(queries: torch.Tensor, keys: torch.Tensor) -> list[int]:
    return torch.cdist(queries.double(), keys.double()).argmin(1).tolist()  # first on a tie


class _Timer:
    def __init__(self):
        self.seconds: dict[str, float] = {}

    def run(self, row: str, work):
        start = time.perf_counter()
        result = work()
        self.seconds[row] = round(self.seconds.get(row, 0.0) + time.perf_counter() - start, 2)
        return result


def evaluate_motion_llm(llm: MotionLLM, evaluator: TextMotionEvaluator, folder: str, split: str = "test",
                        limit: int | None = None, seed: int = 0, reference_split: str = "train",
                        shuffles: int = R_PRECISION_SHUFFLES, progress: ProgressCallback | None = None,
                        text_encoder=None) -> dict:
    """Both tables (module docstring) as ``{"t2m": {row: metrics}, "m2t": {row: metrics}, ...}``.

    ``progress(done, total)`` after each item's generation (text-to-motion, then captions)."""
    items = load_eval_items(folder, split, limit, seed, feature_dim=evaluator.feature_dim)
    train = load_split(folder, reference_split, feature_dim=evaluator.feature_dim)
    train_motions = {}  # training item -> Motion, read when retrieved

    def train_motion(index: int) -> Motion:
        if index not in train_motions:
            train_motions[index] = _motion(_joints_of(folder, train.names[index]))
        return train_motions[index]

    texts, real = [item.text for item in items], [item.motion for item in items]
    timer, total = _Timer(), 2 * len(items)
    sampling = Sampling(seed=seed)
    ours = []
    for index, item in enumerate(items):
        ours.append(timer.run("t2m_ours", lambda: text_to_motion(llm, item.text, min(item.seconds, llm.max_seconds),
                                                                 sampling=sampling).motion))
        if progress:
            progress(index + 1, total)
    generator = torch.Generator().manual_seed(seed)
    randoms = timer.run("t2m_random_tokens", lambda: [random_token_motion(llm, i.seconds, generator) for i in items])
    # retrieval by caption: every training line embedded once; a line's item is the first that has it
    lines, owners = [], []
    for owner, captions in enumerate(train.captions):
        for caption in captions:
            lines.append(caption)
            owners.append(owner)
    text_emb = embed_texts(evaluator, texts, text_encoder)
    retrieved = [owners[i] for i in _nearest(text_emb, embed_texts(evaluator, lines, text_encoder))]
    reference = reference_features(folder, reference_split, feature_dim=evaluator.feature_dim)
    reference_emb = None if reference is None else embed_motions(evaluator, reference)

    t2m_motions = {"ground_truth": real, "ours": ours, "random_tokens": randoms,
                   "retrieval": [train_motion(i) for i in retrieved]}
    t2m_features = {"ground_truth": [item.features for item in items],
                    "retrieval": [train.features[i] for i in retrieved],
                    **{row: [motion_features(m) for m in t2m_motions[row]] for row in ("ours", "random_tokens")}}
    t2m = {}
    for row in T2M_ROWS:
        metrics = text_motion_metrics(text_emb, embed_motions(evaluator, t2m_features[row]), reference_emb,
                                      pool=R_PRECISION_POOL, shuffles=shuffles, seed=seed)
        metrics.setdefault("fid", None)
        t2m[row] = {**metrics, **predicate_satisfaction(t2m_motions[row], texts)}

    captions = {"ours": []}
    for index, item in enumerate(items):
        captions["ours"].append(timer.run("m2t_ours", lambda: motion_to_text(llm, item.motion)))
        if progress:
            progress(len(items) + index + 1, total)
    nearest_motion = _nearest(embed_motions(evaluator, [item.features for item in items]),
                              embed_motions(evaluator, train.features))
    rng = np.random.default_rng(seed)
    captions["retrieval"] = [train.captions[i][0] for i in nearest_motion]
    captions["random_caption"] = [train.captions[int(rng.integers(len(train)))][0] for _ in items]
    captions["captioner"] = timer.run("m2t_captioner", lambda: [_captioner(m, seed) for m in real])
    m2t = {"ground_truth": _leave_one_out(items, real)}
    references = [list(item.references) for item in items]
    for row in M2T_ROWS[1:]:
        m2t[row] = {"bleu4": bleu(captions[row], references), "rouge_l": rouge_l(captions[row], references),
                    "items": len(items), **predicate_satisfaction(real, captions[row])}
    return {"folder": str(folder), "split": split, "reference_split": reference_split, "items": len(items),
            "names": [item.name for item in items], "seed": seed, "t2m": t2m, "m2t": m2t,
            "examples": [{"text": t, "ours": o} for t, o in zip(texts[:5], captions["ours"][:5])],
            "retrieval_by": "the evaluator's text embedding (t2m) / motion embedding (m2t)",
            "derived_captions": os.path.isfile(os.path.join(str(folder), SOURCES_FILE)),
            "seconds": timer.seconds, "evaluator": evaluator.kind, "embed_dim": evaluator.config["embed_dim"],
            "llm": _llm_record(llm)}


def _captioner(motion: Motion, seed: int) -> str:
    try:
        return describe_motion(motion, seed=seed, count=1).captions[0]
    except InputError:  # no fact found in the motion: the captioner says nothing
        return ""


def _leave_one_out(items: list[EvalItem], motions: list[Motion]) -> dict:
    """The chosen reference line against the item's other lines (items with one line are left out)."""
    kept = [(i, item) for i, item in enumerate(items) if len(item.references) > 1]
    if not kept:
        return {"bleu4": None, "rouge_l": None, "items": 0, "predicate": None, "predicate_checked": 0,
                "predicate_texts": 0}
    hyps = [item.text for _, item in kept]
    others = [[r for j, r in enumerate(item.references) if j != item.references.index(item.text)] for _, item in kept]
    return {"bleu4": bleu(hyps, others), "rouge_l": rouge_l(hyps, others), "items": len(kept),
            **predicate_satisfaction([motions[i] for i, _ in kept], hyps)}


def _llm_record(llm: MotionLLM) -> dict:
    return {"base": llm.base.name, "tokenizer": llm.vocabulary.tokenizer_kind, "max_seconds": llm.max_seconds}


def _better(value, other, lower: bool) -> bool:
    return value is not None and other is not None and (value < other if lower else value > other)


def verdict(result: dict) -> str:
    """One honest line: on which metrics ours beats each baseline (ground truth is the reference, not a rival)."""
    tables = (("text-to-motion", result["t2m"], ("random_tokens", "retrieval"),
               (("r_precision_top3", False), ("fid", True), ("mm_dist", True), ("predicate", False))),
              ("motion-to-text", result["m2t"], ("random_caption", "retrieval", "captioner"),
               (("bleu4", False), ("rouge_l", False), ("predicate", False))))
    parts = []
    for label, table, rows, metrics in tables:
        beaten = []
        for row in rows:
            wins = [name for name, lower in metrics if _better(table["ours"].get(name), table[row].get(name), lower)]
            beaten.append(f"{row} on {len(wins)}/{len(metrics)}" + (f" ({', '.join(wins)})" if wins else ""))
        names = ", ".join(name for name, _ in metrics)
        parts.append(f"{label} [{names}]: ours beats " + ", ".join(beaten))
    return "verdict: " + "; ".join(parts)
