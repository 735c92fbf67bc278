"""The motion-text corpus: real motion from the registry packages, cut into windows, mirrored, captioned
from the motion itself, written as a HumanML3D-layout folder (``motion/dataset_folder.py``).

Every caption is DERIVED FROM THE MOTION by the captioner (``captioning.facts3d`` / ``facts2d`` ->
``captioning.phrasing.humanml3d_lines``); no person wrote any of them. A model trained or scored on
this corpus learns or measures agreement with the captioner, not with human descriptions.

Pipeline (sources: ``sources.py``; windows, segments and split: ``windows.py``; mirrors: ``motion/mirror.py``):

1. recordings at 20 fps: the mocap clips (captured, ``smpl_22``) and, unless ``include_video`` is
   False, MediaPipe's estimate from the shipped videos (3D world landmarks as ``smpl_22`` and 2D
   OpenPose-18 poses);
2. every window of every segment, and its mirror;
3. facts: ``find_facts_3d`` on the window's joints (the source skeleton), ``find_facts_2d`` on 2D
   windows; for estimated 3D windows the kinds in ``UNTRUSTED_ESTIMATED_KINDS`` are dropped (world
   landmarks are hip-centred: no translation, no vertical root motion, so "stands still" would
   always hold and walking or jumping never could). A mirrored window's facts are the window's facts
   through ``facts.mirrored``; the finder is also run on the mirrored joints to count how often it
   agrees (``CorpusStats.mirror_agreement``). Windows with no fact get no caption and are left out;
4. captions: ``CAPTIONS_PER_ITEM`` HumanML3D lines per item, seeded by a stable hash of the item name;
5. features: ``humanml3d.joints_to_features(..., uniform_skeleton=True)`` (HumanML3D retargets every
   clip onto one skeleton), ``new_joints``: the same window on that skeleton in HumanML3D's canonical
   placement (T frames; ``features_to_joints`` of the features gives its first T-1);
6. ``Mean.npy`` / ``Std.npy``: ``humanml3d.FeatureStats.compute`` over the training items (mirrors
   included), HumanML3D's grouped std with a floor.

Folder (besides the HumanML3D layout: ``new_joint_vecs/``, ``new_joints/``, ``texts/``, ``train.txt``,
``test.txt``, ``Mean.npy``, ``Std.npy``; there is no ``val.txt``: with minutes of motion every
segment is needed for training or testing):

- ``poses_2d/NAME.npy``: 2D-only items (OpenPose-18 ``[T, 18, 3]``, ``sources.Recording``), with
  their captions in ``texts/NAME.txt`` and their names in ``train_2d.txt`` / ``test_2d.txt`` only, so
  a HumanML3D reader of ``train.txt`` never meets an item without features;
- ``sources.json``: per item its source, origin file, window (start frame and rows at 20 fps, seconds),
  split, ``mirrored``, ``estimated`` (poses MediaPipe estimated from a video: 3D without global
  translation, or 2D) and ``kind`` (``3d`` / ``2d``) and its facts; plus the skipped sources and why.

Building twice from the same inputs gives byte-identical files.
"""

from __future__ import annotations

import json
import os
import shutil
from dataclasses import asdict

import numpy as np

from ..captioning.facts import Fact, mirrored
from ..captioning.facts2d import find_facts_2d
from ..captioning.facts3d import find_facts_3d
from ..captioning.phrasing import humanml3d_lines, stable_seed
from ..core.errors import InputError, ModelFileError
from ..core.resources import DEFAULT_MOCAP, ProgressCallback
from ..motion import dataset_folder
from ..motion.humanml3d import FeatureStats, canonicalize, joints_to_features, to_uniform_skeleton
from ..motion.mirror import mirror_image_points, mirror_joints
from .corpus_stats import CorpusStats, fact_agreement, vocabulary
from .sources import Recording, Skipped, mocap_recordings, video_recordings
from .windows import FPS, MIN_WINDOW, MIRROR_PREFIX, Window, held_out_segments, segments, windows

CAPTIONS_PER_ITEM = 3
UNTRUSTED_ESTIMATED_KINDS = ("walk", "run", "stand_still", "jump")  # need the root's path: absent in world landmarks
SPLITS_3D = {"train": "train", "test": "test"}
SPLITS_2D = {"train": "train_2d", "test": "test_2d"}
POSES_2D_DIR = "poses_2d"
SOURCES_FILE = "sources.json"
DEFAULT_OUT = os.path.join("data", "motion_corpus")
_OWN_ENTRIES = (dataset_folder.FEATURES_DIR, dataset_folder.JOINTS_DIR, dataset_folder.TEXTS_DIR, POSES_2D_DIR,
                dataset_folder.MEAN_FILE, dataset_folder.STD_FILE, SOURCES_FILE,
                *(f"{s}.txt" for s in (*SPLITS_3D.values(), *SPLITS_2D.values())))


def _window_of(recording: Recording, window: Window, array: np.ndarray) -> np.ndarray:
    begin = window.start - recording.first
    return array[begin: begin + window.rows + 1]


def _fact_record(fact: Fact) -> dict:
    return {key: (round(value, 4) if isinstance(value, float) else value)
            for key, value in asdict(fact).items() if value is not None}


def _clean(out_dir: str) -> None:
    """Remove what a previous build wrote (only the corpus's own entries), so no stale item survives."""
    for entry in _OWN_ENTRIES:
        path = os.path.join(out_dir, entry)
        if os.path.isdir(path):
            shutil.rmtree(path)
        elif os.path.isfile(path):
            os.remove(path)


def _plan(recordings: list[Recording]) -> tuple[list[tuple[Recording, Window]], set[str]]:
    """Every (recording, window), and the test segments."""
    planned = []
    numbered: dict[str, int] = {}  # source -> segments its earlier runs took
    for recording in recordings:
        cut = segments(recording.source, recording.num_frames, recording.first, numbered.get(recording.source, 0))
        numbered[recording.source] = numbered.get(recording.source, 0) + len(cut)
        for segment, start, stop in cut:
            planned += [(recording, window) for window in windows(segment, start, stop)]
    counts: dict[str, int] = {}
    for _, window in planned:
        counts[window.segment] = counts.get(window.segment, 0) + 1
    return planned, held_out_segments(counts) if counts else set()


def build_corpus(out_dir: str = DEFAULT_OUT, mocap_dir: str = DEFAULT_MOCAP, seed: int = 0,
                 progress: ProgressCallback | None = None, include_video: bool = True,
                 detect_progress: ProgressCallback | None = None,
                 mocap_clips: tuple[str, ...] | None = None) -> CorpusStats:
    """Build the corpus folder (module docstring) and return its statistics.

    ``seed`` is mixed into every item's caption seed (0: the shipped corpus); ``mocap_clips`` limits
    the mocap sources (``sources.MOCAP_CLIPS`` ids; default all, as the shipped corpus).
    """
    recordings = mocap_recordings(mocap_dir, mocap_clips)
    skipped: list[Skipped] = []
    if include_video:
        video, skipped = video_recordings(detect_progress)
        recordings += video
    return write_corpus(out_dir, recordings, skipped, seed, progress)


def write_corpus(out_dir: str, recordings: list[Recording], skipped: list[Skipped] = (), seed: int = 0,
                 progress: ProgressCallback | None = None) -> CorpusStats:
    """Steps 2-6 of the module docstring on given recordings (``build_corpus`` passes the real sources)."""
    planned, test = _plan(recordings)
    if not planned:
        raise InputError("mocap", f"no recording is long enough for one {MIN_WINDOW / FPS:g} s window")
    os.makedirs(out_dir, exist_ok=True)
    _clean(out_dir)
    stats = CorpusStats(out_dir=out_dir, skipped=[f"{s.source} ({s.origin}): {s.reason}" for s in skipped])
    for recording in recordings:
        stats.add_recording(recording.source, recording.estimated, recording.num_frames)
    items: dict[str, dict] = {}
    names = {kind: {split: [] for split in SPLITS_3D} for kind in ("3d", "2d")}
    train_features: list[np.ndarray] = []
    for done, (recording, window) in enumerate(planned, 1):
        split = "test" if window.segment in test else "train"
        if recording.joints is not None:
            _add_3d(out_dir, recording, window, split, seed, items, names["3d"][split], train_features, stats)
        if recording.points_2d is not None:
            _add_2d(out_dir, recording, window, split, seed, items, names["2d"][split], stats)
        if progress is not None:
            progress(done, len(planned))
    if not train_features:
        raise InputError("mocap", "no training window has a caption; cannot compute the feature statistics")
    for kind, files in (("3d", SPLITS_3D), ("2d", SPLITS_2D)):
        for split, file in files.items():
            dataset_folder.write_split(out_dir, file, names[kind][split])
    feature_stats = FeatureStats.compute(train_features)
    dataset_folder.write_stats(out_dir, feature_stats.mean, feature_stats.std)
    manifest = {
        "captions": "derived from the motion by the captioner (captioning.facts3d / facts2d, phrasing); "
                    "no person wrote them",
        "estimated": "poses MediaPipe estimated from a video: 3D world landmarks (hip-centred, so no global "
                     "translation; walk/run/stand_still/jump facts dropped) or 2D image poses",
        "fields": "start_frame: the window's first frame in its source at 20 fps; rows: feature rows (joint frames "
                  "- 1); segment: the split unit (SOURCE/sNN, 10 s); kind: 3d (features) or 2d (poses_2d/ only); "
                  "facts: what the captioner found (mirrored items: the window's facts through facts.mirrored)",
        "fps": FPS, "seed": seed, "test_segments": sorted(test),
        "skipped": stats.skipped, "items": items,
    }
    with open(os.path.join(out_dir, SOURCES_FILE), "w", encoding="utf-8", newline="\n") as handle:
        json.dump(manifest, handle, indent=1, sort_keys=True)
        handle.write("\n")
    stats.vocabulary = vocabulary(out_dir, [n for kind in names.values() for side in kind.values() for n in side])
    return stats


def _record(items: dict, name: str, recording: Recording, window: Window, split: str, kind: str, mirror: bool,
            facts: list[Fact]) -> None:
    items[name] = {"source": recording.source, "origin": recording.origin, "segment": window.segment,
                   "start_frame": window.start, "rows": window.rows, "seconds": window.seconds, "split": split,
                   "kind": kind, "mirrored": mirror, "estimated": recording.estimated,
                   "facts": [_fact_record(f) for f in facts]}


def _captions(facts: list[Fact], name: str, seed: int) -> list[str]:
    return humanml3d_lines(facts, seed=stable_seed(name) ^ seed, count=CAPTIONS_PER_ITEM)


def _add_3d(out_dir, recording, window, split, seed, items, split_names, train_features, stats) -> None:
    joints = _window_of(recording, window, recording.joints)
    facts = find_facts_3d(joints, FPS)
    if recording.estimated:
        facts = [f for f in facts if f.kind not in UNTRUSTED_ESTIMATED_KINDS]
    flipped = mirror_joints(joints, "smpl_22")
    expected = [mirrored(f) for f in facts]
    found = find_facts_3d(flipped, FPS)
    if recording.estimated:
        found = [f for f in found if f.kind not in UNTRUSTED_ESTIMATED_KINDS]
    stats.add_mirror_check("3d", *fact_agreement(expected, found))
    if not facts:
        stats.add_uncaptioned("3d", split)
        return
    name = window.name()
    for item_name, item_joints, item_facts, mirror in ((name, joints, facts, False),
                                                        (MIRROR_PREFIX + name, flipped, expected, True)):
        features = joints_to_features(item_joints, uniform_skeleton=True)
        placed = canonicalize(to_uniform_skeleton(item_joints))
        dataset_folder.write_item(out_dir, item_name, features, placed, _captions(item_facts, item_name, seed))
        _record(items, item_name, recording, window, split, "3d", mirror, item_facts)
        split_names.append(item_name)
        stats.add_item("3d", split, mirror, recording.estimated, item_facts)
        if split == "train":
            train_features.append(features)


def _add_2d(out_dir, recording, window, split, seed, items, split_names, stats) -> None:
    points = _window_of(recording, window, recording.points_2d)
    facts = find_facts_2d(points[..., :2], points[..., 2] > 0, FPS, recording.aspect)
    flipped = mirror_image_points(points, "openpose_18", visible=points[..., 2] > 0)
    expected = [mirrored(f) for f in facts]
    stats.add_mirror_check("2d", *fact_agreement(expected, find_facts_2d(flipped[..., :2], flipped[..., 2] > 0, FPS,
                                                                         recording.aspect)))
    if not facts:
        stats.add_uncaptioned("2d", split)
        return
    name = window.name("_2d")
    os.makedirs(os.path.join(out_dir, POSES_2D_DIR), exist_ok=True)
    for item_name, item_points, item_facts, mirror in ((name, points, facts, False),
                                                        (MIRROR_PREFIX + name, flipped, expected, True)):
        np.save(os.path.join(out_dir, POSES_2D_DIR, item_name + ".npy"), np.ascontiguousarray(item_points, np.float32))
        dataset_folder.write_texts(out_dir, item_name, _captions(item_facts, item_name, seed))
        _record(items, item_name, recording, window, split, "2d", mirror, item_facts)
        items[item_name]["aspect"] = round(float(recording.aspect), 6)
        split_names.append(item_name)
        stats.add_item("2d", split, mirror, recording.estimated, item_facts)


def read_poses_2d(folder: str, name: str) -> np.ndarray:
    """A 2D-only item's OpenPose-18 poses ``[T, 18, 3]`` (x, y normalised, seen 1/0)."""
    path = os.path.join(folder, POSES_2D_DIR, name + ".npy")
    if not os.path.isfile(path):
        raise FileNotFoundError(f"2D poses of {name!r}: file not found: {path!r}")
    return np.load(path, allow_pickle=False)


def read_aspects_2d(folder: str) -> dict[str, float]:
    """Canvas width / height of each 2D-only item (``sources.json``): the poses' x and y are fractions
    of their canvas, so this is what turns them back into square pixels."""
    path = os.path.join(folder, SOURCES_FILE)
    if not os.path.isfile(path):
        raise ModelFileError(f"sources: file not found: {path!r} (it records the 2D items' canvas aspect)")
    with open(path, encoding="utf-8") as handle:
        items = json.load(handle).get("items", {})
    return {name: float(item["aspect"]) for name, item in items.items() if item.get("kind") == "2d"}
