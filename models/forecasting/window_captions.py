"""Captions of what happens in a forecasting window's future, derived from the motion itself.

Every caption here is made by the motion captioner (``captioning``), never written by a person:
- mocap windows: ``facts3d.find_facts_3d`` on the 3D ``smpl_22`` clip (before any projection) over
  the window's frames P0..P_k, so the facts do not depend on the virtual camera;
- video windows: ``facts2d.find_facts_2d`` on the detected 2D poses (normalised image coordinates,
  the track's fps and aspect) over the same frames.
P0 is included: a fact is judged from where the future starts, as the checker judges a forecast
(P0 + predicted frames). ``caption_sentences`` phrases the facts; the phrasing is chosen by a
seed derived from the window's id (``phrasing.stable_seed``: a stable hash), so builds are deterministic. A
window with no fact gets ``NO_FACT_CAPTION``, which names no checkable fact.

Mirroring (``motion.mirror``): the facts of a mirrored 3D clip are the original's through
``facts.mirrored`` (the finders are judged on one side only once); 2D facts are recomputed.
"""

from __future__ import annotations

import numpy as np

from ..captioning.facts import Fact, mirrored
from ..captioning.facts2d import find_facts_2d
from ..captioning.facts3d import find_facts_3d
from ..captioning.phrasing import caption_sentences, stable_seed

NO_FACT_CAPTION = "a person shifts slightly in place"  # no checkable fact (see captioning/text_facts.py)
PHRASINGS = 3  # phrasings made per window; one is kept, chosen by the window's seed
CAPTION_SOURCE = "derived from the motion (captioning fact finders), not written by people"


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
    seed = stable_seed(key)
    options = caption_sentences(facts, seed=seed, count=PHRASINGS)
    return options[seed % len(options)]
