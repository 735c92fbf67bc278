"""Forecast metrics that read the body and the text (Table 1's extra columns), for any forecaster.

Inputs: ``poses`` [S, k+1, 18, 2] OpenPose-18 sequences in normalised image coordinates, frame 0
being P0 (a forecast is P0 + its predicted frames; ground truth is P0 + the real future);
``visible`` [S, k+1, 18] bool (a forecast is visible where P0 is); ``aspect`` [S] canvas width /
height; ``fps`` the frame rate; ``captions`` [S] the windows' captions (derived from the motion by
the captioner: ``window_captions.py``).

- **Bone-length consistency**: for every frame t >= 1 and every bone of the OpenPose-18 tree seen
  in P0 and in frame t, ratio = length_t / length_P0 with x scaled by the aspect
  (``metrics.bone_length_ratios``).
  A 2D bone never exceeds its 3D length, but it can exceed its length in P0 when P0 saw it
  foreshortened (the real future frames do on about 15 % of held-out bone-frames); ``LONG_RATIO``
  (1.1) is the issue's line for a body that stays whole; ``SHORT_RATIO`` (0.3) flags a collapsed bone. Reported: the share of such
  bone-frames above / below, in percent.
- **Predicate satisfaction**: ``captioning.facts2d.find_facts_2d`` finds facts on each sequence
  (P0 included, as the captions were made); the window's TRUE caption's checkable facts
  (``text_facts.facts_in_text``, as far as one view can judge them: ``queries_2d`` drops turns,
  sitting and pose facts and clears walk/run directions, which ``find_facts_2d`` never reports)
  are scored with ``check.satisfied``: per window the fraction satisfied, then the mean over the
  scored windows, in percent. The MISMATCHED caption of a window is a deterministic pick of another
  window's caption whose facts share nothing with the true one, or failing that a different set of
  fact kinds (``mismatched_captions``). Only windows whose true caption has a checkable fact and
  that have a mismatched caption are scored; both columns use the same windows, so their gap is fair.
"""

from __future__ import annotations

import numpy as np
import torch

from ..captioning.check import satisfied
from ..captioning.facts import FactQuery, in_one_view
from ..captioning.facts2d import find_facts_2d
from ..captioning.phrasing import stable_seed
from ..captioning.text_facts import facts_in_text
from ..core.errors import InputError
from ..core.pose_keypoint import person_arrays, validate_pose_keypoint
from .bones import bone_tree
from .metrics import BONE_RATIO_HIGH, BONE_RATIO_LOW, bone_length_ratios, bone_length_summary

LONG_RATIO = BONE_RATIO_HIGH  # 1.1: a 2D bone may foreshorten, never grow; above this is a broken body
SHORT_RATIO = BONE_RATIO_LOW  # 0.3: a collapsed limb (or a limb turned end-on)


def queries_2d(text: str) -> list[FactQuery]:
    """The text's checkable facts as far as one 2D view can judge them (``captioning.facts.in_one_view``)."""
    return [judged for judged in map(in_one_view, facts_in_text(text)) if judged is not None]


def _check(poses, visible, aspect) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    poses = np.asarray(poses.detach().cpu() if isinstance(poses, torch.Tensor) else poses, np.float32)
    visible = np.asarray(visible.detach().cpu() if isinstance(visible, torch.Tensor) else visible, bool)
    if poses.ndim != 4 or poses.shape[2:] != (18, 2) or poses.shape[1] < 2:
        raise InputError("poses", f"expected [S, k+1 >= 2, 18, 2] OpenPose-18 sequences, got {list(poses.shape)}")
    if visible.shape != poses.shape[:3]:
        raise InputError("visible", f"expected {list(poses.shape[:3])}, got {list(visible.shape)}")
    aspect = np.broadcast_to(np.asarray(aspect, np.float32), (poses.shape[0],))
    if not np.isfinite(poses[visible]).all():
        raise InputError("poses", "visible keypoints must be finite")
    return poses, visible, aspect


def bone_consistency(poses, visible, aspect) -> dict:
    """Percent of bone-frames (t >= 1) longer than LONG_RATIO / shorter than SHORT_RATIO x P0's."""
    poses, visible, aspect = _check(poses, visible, aspect)
    ratios = bone_length_ratios(torch.from_numpy(poses[:, 1:]), torch.from_numpy(poses[:, 0]),
                                torch.from_numpy(visible[:, 0]), "openpose_18", torch.from_numpy(aspect.copy()))
    # a bone unseen in a later frame (ground truth) is not judged there
    parents, children = (list(side) for side in zip(*bone_tree("openpose_18").bones))
    seen = torch.from_numpy(visible[:, 1:][:, :, parents] & visible[:, 1:][:, :, children])
    ratios = torch.where(seen, ratios, torch.full_like(ratios, float("nan")))
    summary = bone_length_summary(ratios)
    if summary["bone_frames"] == 0:
        raise InputError("visible", "no bone is seen in P0 and a later frame")
    return {"bones_above_pct": 100.0 * summary["above_1.1"], "bones_below_pct": 100.0 * summary["below_0.3"],
            "worst_ratio": summary["max_ratio"], "bone_frames": summary["bone_frames"]}


def sequence_facts(poses, visible, aspect, fps: float) -> list[list]:
    """Facts found by ``find_facts_2d`` on each sequence."""
    poses, visible, aspect = _check(poses, visible, aspect)
    return [find_facts_2d(poses[s], visible[s], fps, float(aspect[s])) for s in range(len(poses))]


def mismatched_captions(captions: list[str]) -> list[str | None]:
    """For each caption, another one of the list whose checkable facts share no kind with it (else
    whose kinds differ; None if there is none, or if the caption has no checkable fact). Deterministic: the search
    starts at a position given by a stable hash of the caption and walks the list in order."""
    queries = [frozenset(queries_2d(c)) for c in captions]
    kinds = [frozenset(q.kind for q in qs) for qs in queries]
    out: list[str | None] = []
    for i, caption in enumerate(captions):
        pick = None
        if queries[i]:
            start = stable_seed(f"{i}|{caption}") % len(captions)
            order = [(start + step) % len(captions) for step in range(len(captions))]
            # first choice: no fact kind in common; else at least a different set of kinds
            pick = next((captions[j] for j in order if queries[j] and not kinds[j] & kinds[i]), None)
            if pick is None:
                pick = next((captions[j] for j in order if queries[j] and kinds[j] != kinds[i]), None)
        out.append(pick)
    return out


def predicate_satisfaction(found: list[list], captions: list[str], mismatched: list[str | None]) -> dict:
    """Mean fraction (percent) of checkable facts satisfied: true caption, mismatched caption, gap."""
    if len(found) != len(captions) or len(mismatched) != len(captions):
        raise InputError("captions", f"{len(captions)} captions for {len(found)} sequences")
    true_scores, other_scores = [], []
    for facts, caption, other in zip(found, captions, mismatched):
        if other is None:
            continue
        for text, scores in ((caption, true_scores), (other, other_scores)):
            checks = satisfied(facts, queries_2d(text))
            scores.append(sum(checks) / len(checks))
    if not true_scores:
        return {"true_pct": float("nan"), "mismatched_pct": float("nan"), "gap": float("nan"), "scored": 0}
    true_pct, other_pct = 100.0 * float(np.mean(true_scores)), 100.0 * float(np.mean(other_scores))
    return {"true_pct": true_pct, "mismatched_pct": other_pct, "gap": true_pct - other_pct,
            "scored": len(true_scores)}


def text_metrics(poses, visible, aspect, fps: float, captions: list[str],
                 mismatched: list[str | None] | None = None) -> dict:
    """Both column groups for one model's sequences (or the ground truth)."""
    mismatched = mismatched_captions(captions) if mismatched is None else mismatched
    found = sequence_facts(poses, visible, aspect, fps)
    return {**bone_consistency(poses, visible, aspect), **predicate_satisfaction(found, captions, mismatched)}


def check_forecast_frames(frames: list[dict], text: str, fps: float) -> dict:
    """Judge one forecast given as POSE_KEYPOINT frames (P0 first, first person): the text's checkable
    facts found by ``find_facts_2d`` (``satisfied`` per fact, with the facts found) and the largest
    bone length over its P0 length (``worst_ratio``; <= LONG_RATIO keeps the body whole)."""
    frames = validate_pose_keypoint(frames, "frames")
    bodies = []
    for frame in frames:
        if not frame["people"] or person_arrays(frame["people"][0])["body"] is None:
            raise InputError("frames", "every frame needs a person with a body")
        bodies.append(person_arrays(frame["people"][0])["body"])
    body = np.stack(bodies)
    aspect = frames[0]["canvas_width"] / frames[0]["canvas_height"]
    poses, visible = body[None, ..., :2], body[None, ..., 2] > 0
    queries = queries_2d(text)
    found = sequence_facts(poses, visible, aspect, fps)[0]
    bones = bone_consistency(poses, visible, aspect)
    return {"text": text, "queries": queries, "satisfied": satisfied(found, queries) if queries else [],
            "found": found, "worst_ratio": bones["worst_ratio"], "bones_above_pct": bones["bones_above_pct"]}
