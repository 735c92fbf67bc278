"""Captions of what happens in a forecasting window's future, derived from the motion itself.

Every caption here is made by the motion captioner (``captioning``), never written by a person:
- mocap windows: ``facts3d.find_facts_3d`` on the 3D ``smpl_22`` clip (before any projection) over
  the window's frames P0..P_k, so the facts do not depend on the virtual camera;
- video windows: ``facts2d.find_facts_2d`` on the detected 2D poses (normalised image coordinates,
  the track's fps and aspect) over the same frames.
P0 is included: a fact is judged from where the future starts, as the checker judges a forecast
(P0 + predicted frames). ``caption_sentences`` phrases the facts; the phrasing is chosen by a
seed derived from the window's id (a stable hash), so builds are deterministic. A window with no
fact gets ``NO_FACT_CAPTION``, which names no checkable fact.

Mirroring: ``mirror_joints_3d`` flips a world-space ``smpl_22`` clip left/right (x negated, left and
right joints swapped); ``mirror_openpose_2d`` flips OpenPose-18 image points (x -> 1 - x, left and
right points swapped). The facts of a mirrored 3D clip are the original's through
``facts.mirrored`` (the finders are judged on one side only once); 2D facts are recomputed.
"""

from __future__ import annotations

import hashlib

import numpy as np

from ..captioning.facts import Fact, mirrored
from ..captioning.facts2d import find_facts_2d
from ..captioning.facts3d import find_facts_3d
from ..captioning.phrasing import caption_sentences
from ..core.layouts import OPENPOSE_18, SMPL_22

NO_FACT_CAPTION = "a person shifts slightly in place"  # no checkable fact (see captioning/text_facts.py)
PHRASINGS = 3  # phrasings made per window; one is kept, chosen by the window's seed
CAPTION_SOURCE = "derived from the motion (captioning fact finders), not written by people"


def _swap_order(names: tuple[str, ...]) -> list[int]:
    """Index of each joint's left/right counterpart (itself for centre joints)."""
    def other(name: str) -> str:
        if name.startswith("left_"):
            return "right_" + name[5:]
        if name.startswith("right_"):
            return "left_" + name[6:]
        return name
    return [names.index(other(name)) for name in names]


SMPL_22_SWAP = _swap_order(SMPL_22)
OPENPOSE_18_SWAP = _swap_order(OPENPOSE_18)


def window_seed(key: str) -> int:
    """A stable 31-bit seed from a window id (independent of Python's hash randomisation)."""
    return int(hashlib.sha256(key.encode()).hexdigest()[:8], 16) & 0x7FFFFFFF


def mirror_joints_3d(joints: np.ndarray) -> np.ndarray:
    """[T, 22, 3] smpl_22 world joints -> their left/right mirror image (x negated, sides swapped)."""
    out = np.asarray(joints, np.float32)[:, SMPL_22_SWAP].copy()
    out[..., 0] *= -1
    return out


def mirror_openpose_2d(xy: np.ndarray, visible: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """OpenPose-18 image points [T, 18, 2] (0..1) and visibility [T, 18] -> the mirrored view."""
    out = np.asarray(xy, np.float32)[:, OPENPOSE_18_SWAP].copy()
    seen = np.asarray(visible, bool)[:, OPENPOSE_18_SWAP].copy()
    out[..., 0] = np.where(seen, 1.0 - out[..., 0], 0.0)
    out[..., 1] = np.where(seen, out[..., 1], 0.0)
    return out, seen


def facts_3d(joints: np.ndarray, fps: float, mirror: bool) -> list[Fact]:
    """Facts of a 3D window [T, 22, 3] (unmirrored joints), mapped through the mirror if asked."""
    found = find_facts_3d(np.asarray(joints, np.float32), fps)
    return [mirrored(fact) for fact in found] if mirror else list(found)


def facts_2d(xy: np.ndarray, visible: np.ndarray, fps: float, aspect: float) -> list[Fact]:
    return list(find_facts_2d(np.asarray(xy, np.float32), np.asarray(visible, bool), fps, aspect))


def caption_of(facts: list[Fact], key: str) -> str:
    """One caption for a window's facts: a seeded choice among ``PHRASINGS`` phrasings."""
    if not facts:
        return NO_FACT_CAPTION
    seed = window_seed(key)
    options = caption_sentences(facts, seed=seed, count=PHRASINGS)
    return options[seed % len(options)]
