"""Captions of each window's future (window_captions.py) and the mirrored, many-camera mocap views."""

import numpy as np
import pytest
from posemotion.models.captioning.facts import mirrored
from posemotion.models.captioning.text_facts import facts_in_text
from posemotion.models.core.errors import InputError
from posemotion.models.core.resources import DEFAULT_MOCAP
from posemotion.models.forecasting.dataset import (
    FPS,
    HORIZON,
    Track,
    balanced_rows,
    cut_windows,
    read_mocap_joints,
    window_facts,
)
from posemotion.models.forecasting.window_captions import NO_FACT_CAPTION, caption_of


@pytest.fixture(scope="module")
def cmu():
    return read_mocap_joints(DEFAULT_MOCAP, "test.amc")[:120]


def test_mirrored_window_has_the_mirrored_facts_and_views_share_them(cmu):
    xy, visible = np.zeros((len(cmu), 18, 2), np.float32), np.ones((len(cmu), 18), bool)
    plain = Track(xy, visible, None, "mocap:test.amc", joints3d=cmu)
    mirror = Track(xy, visible, None, "mocap:test.amc", joints3d=cmu, mirror=True)
    cache = {}
    facts = window_facts(plain, 0, HORIZON, cache)
    assert facts and window_facts(mirror, 0, HORIZON, cache) == [mirrored(f) for f in facts]
    assert window_facts(plain, 0, HORIZON, cache) is facts  # another view reuses the 3D facts


def test_captions_are_derived_deterministic_and_checkable(cmu):
    tracks = [Track(np.full((len(cmu), 18, 2), 0.5, np.float32), np.ones((len(cmu), 18), bool), None,
                    "mocap:test.amc", fps=FPS, joints3d=cmu, mirror=m) for m in (False, True)]
    first, second = cut_windows(tracks, HORIZON, 15), cut_windows(tracks, HORIZON, 15)
    assert first["texts"] == second["texts"] and len(first["texts"]) >= 4
    assert all(facts_in_text(text) for text in first["texts"] if text != NO_FACT_CAPTION)
    assert sum(first["fact_windows"].values()) >= len(first["texts"])


def test_no_fact_caption_names_no_checkable_fact():
    assert caption_of([], "any window") == NO_FACT_CAPTION
    assert facts_in_text(NO_FACT_CAPTION) == []


def test_balanced_rows_repeat_windows_of_rare_kinds_only():
    kinds = ["jump"] * 90 + ["wave"] * 2 + ["pose"] * 7 + ["jump,wave"]
    rows = balanced_rows(kinds, 0.1)
    counts = np.bincount(rows, minlength=len(kinds))
    assert (counts[:90] == 1).all() and (counts[90:92] == 4).all()  # wave: ceil(0.1 * 100 / 3) = 4
    assert (counts[92:99] == 1).all() and counts[99] == 4  # static pose facts are not balanced
    assert list(rows) == sorted(rows)  # deterministic, in window order
    assert (balanced_rows(kinds, 0.0) == np.arange(len(kinds))).all()
    assert np.bincount(balanced_rows(["a"] + ["b"] * 999, 0.5, max_repeats=20))[0] == 20
    with pytest.raises(InputError, match="balance"):
        balanced_rows(kinds, 1.0)
