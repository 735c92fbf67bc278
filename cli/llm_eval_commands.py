"""``python -m posemotion llm-eval`` (options in llm.py): the motion LLM against the ground truth and the
baselines on a held-out split, one table (``models/llm/evaluation.py`` computes it)."""

from __future__ import annotations

import json
import os
import sys

import torch

from ..models.core.errors import InputError
from ..models.core.resources import console_progress
from ..models.llm.adapter import open_motion_llm
from ..models.llm.evaluation import M2T_ROWS, T2M_ROWS, evaluate_motion_llm, verdict
from ..models.motion_text.evaluator import load_evaluator
from .evaluator_commands import DERIVED_NOTE, OURS_NOTE

ROW_LABELS = {
    "ground_truth": "ground truth (real test motion)",
    "ours": "ours (motion LLM)",
    "retrieval": "(a) retrieval (nearest train caption)",
    "random_tokens": "(b) random valid tokens",
}
M2T_LABELS = {
    "ground_truth": "ground truth (1 ref vs other refs)",
    "ours": "ours (motion LLM, greedy)",
    "retrieval": "(a) retrieval (nearest train motion)",
    "random_caption": "(b) random train caption",
    "captioner": "(c) captioner (wrote the refs)",
}


def run_command(args) -> int:
    if args.threads:
        torch.set_num_threads(args.threads)
    if args.out and not str(args.out).endswith(".json"):
        raise InputError("out", f"the figures are written as JSON, got {args.out!r}")
    if not os.path.isfile(args.adapter):
        raise InputError("adapter", f"adapter file not found: {args.adapter!r} (train one with python -m posemotion "
                                    "llm-train)")
    evaluator = load_evaluator(args.evaluator)
    llm = open_motion_llm(args.adapter, base=args.base, merge=True)  # merged: equal within rounding, twice as fast
    result = evaluate_motion_llm(llm, evaluator, args.data, split=args.split, limit=args.limit, seed=args.seed,
                                 progress=console_progress("llm-eval: generate motions, then captions"))
    result["adapter"] = args.adapter
    print(format_table(result))
    if args.out:
        os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
        with open(args.out, "w") as handle:
            json.dump(result, handle, indent=1)
        print(f"wrote {args.out}", file=sys.stderr)
    return 0


def _value(value, digits: int = 3) -> str:
    return "n/a" if value is None else f"{value:.{digits}f}"


def _predicate(metrics: dict) -> str:
    return f"{_value(metrics['predicate'])} ({metrics['predicate_checked']}/{metrics['predicate_texts']})"


def format_table(result: dict) -> str:
    """Both tables, their notes and the verdict line."""
    t2m, m2t = result["t2m"], result["m2t"]
    first = t2m["ground_truth"]
    lines = [f"motion LLM evaluation: {result['folder']} split {result['split']!r}, {result['items']} items, "
             f"seed {result['seed']}; evaluator {result['evaluator']} (R-precision pools of {first['pool']}, "
             f"chance top-1/2/3 {first['chance_top1']:.3f}/{first['chance_top2']:.3f}/{first['chance_top3']:.3f}; "
             f"FID vs the {result['reference_split']} split)", "", "text-to-motion"]
    width = max(len(label) for label in (*ROW_LABELS.values(), *M2T_LABELS.values())) + 2
    lines.append(f"{'row':<{width}}{'R@1':>7}{'R@2':>7}{'R@3':>7}{'FID':>9}{'MM-Dist':>9}{'Divers.':>9}"
                 f"  predicate (checked/texts)")
    for row in T2M_ROWS:
        m = t2m[row]
        lines.append(f"{ROW_LABELS[row]:<{width}}{m['r_precision_top1']:>7.3f}{m['r_precision_top2']:>7.3f}"
                     f"{m['r_precision_top3']:>7.3f}{_value(m['fid']):>9}{m['mm_dist']:>9.3f}{m['diversity']:>9.3f}"
                     f"  {_predicate(m)}")
    lines += ["", "motion-to-text (captions of the test motions)",
              f"{'row':<{width}}{'BLEU-4':>8}{'ROUGE-L':>9}  predicate (checked/captions)"]
    for row in M2T_ROWS:
        m = m2t[row]
        lines.append(f"{M2T_LABELS[row]:<{width}}{_value(m['bleu4']):>8}{_value(m['rouge_l']):>9}  {_predicate(m)}")
    lines.append("")
    if result["derived_captions"]:
        lines.append("LABEL: " + DERIVED_NOTE.format(folder=result["folder"])
                     + ": every figure measures agreement with the captioner, not with human descriptions")
    lines.append(OURS_NOTE)
    lines.append(f"retrieval: nearest by {result['retrieval_by']}; it uses the training set and, for text-to-motion, "
                 "the evaluator's own text space, so it is favoured in that space. Predicate: mean checker score "
                 "over the texts with a checkable fact (captioning.check: rules, not a person).")
    if result["items"] <= result["embed_dim"]:
        lines.append(f"FID: {result['items']} items per row in a {result['embed_dim']}-d space give rank-deficient "
                     "covariances (noisy, biased upwards): compare rows of this table only, not other runs.")
    for example in result["examples"][:3]:
        lines.append(f"caption example: reference {example['text']!r} -> ours {example['ours']!r}")
    lines.append(verdict(result))
    return "\n".join(lines)
