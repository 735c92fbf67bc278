"""Text-motion pairs of one split of a HumanML3D-layout folder (``motion/dataset_folder.py``), for the
evaluators.

An item is one motion (raw features ``[T, D]``, not normalised) with its caption lines. A line whose
``start#end`` names a sub-span (HumanML3D has some) becomes an item of its own, the frames
``[int(start * fps), int(end * fps))``, named ``NAME@START-END``, as Guo et al.'s loader does; lines
of the whole motion stay with ``NAME``. Items without a feature file (2D-only estimated poses in our
corpus) are skipped.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field

import numpy as np
import torch

from ..core.errors import InputError
from ..motion.dataset_folder import has_features, read_item, read_split, read_texts

FPS = 20.0  # HumanML3D's frame rate: start/end seconds -> feature rows


@dataclass
class PairedSplit:
    split: str
    names: list[str] = field(default_factory=list)
    features: list[np.ndarray] = field(default_factory=list)  # raw [T, D] float32
    captions: list[list[str]] = field(default_factory=list)
    tokens: list[list[tuple[str, ...]]] = field(default_factory=list)  # "word/POS" per caption

    def __len__(self) -> int:
        return len(self.names)

    @property
    def feature_dim(self) -> int:
        return int(self.features[0].shape[1])

    def add(self, name: str, features: np.ndarray, lines) -> None:
        self.names.append(name)
        self.features.append(features)
        self.captions.append([line.caption for line in lines])
        self.tokens.append([tuple(line.tokens) for line in lines])


def _check_folder(folder: str) -> str:
    if not isinstance(folder, (str, os.PathLike)) or not os.path.isdir(folder):
        raise InputError("folder", f"folder not found: {folder!r} (expected a HumanML3D-layout folder with "
                                   "new_joint_vecs/, texts/ and SPLIT.txt files)")
    return str(folder)


def load_split(folder: str, split: str, min_frames: int = 1, max_frames: int | None = None,
               feature_dim: int | None = None) -> PairedSplit:
    """The items of ``SPLIT.txt`` with features, keeping those of ``min_frames`` <= T (< ``max_frames``).

    ``feature_dim``: the size the caller's model expects; another size is one InputError naming both.
    Raises InputError("split") when no item is left."""
    folder = _check_folder(folder)
    pairs = PairedSplit(split)
    for name in read_split(folder, split):
        if not has_features(folder, name):
            continue
        features = read_item(folder, name)
        if feature_dim is not None and features.shape[1] != feature_dim:
            raise InputError("folder", f"{name}: features are {features.shape[1]}-d, but the evaluator was "
                                       f"trained on {feature_dim}-d features")
        if not np.isfinite(features).all():
            raise InputError("folder", f"{name}: features contain NaN or infinite values")
        lines = read_texts(folder, name)
        whole = [line for line in lines if line.whole_motion]
        if whole and _fits(len(features), min_frames, max_frames):
            pairs.add(name, features, whole)
        for line in lines:
            if line.whole_motion:
                continue
            part = features[int(line.start * FPS):int(line.end * FPS)]
            if _fits(len(part), min_frames, max_frames):
                pairs.add(f"{name}@{line.start:g}-{line.end:g}", part, [line])
    if not pairs.names:
        raise InputError("split", f"{folder}: split {split!r} has no item with features"
                                  + (f" of {min_frames}..{max_frames - 1} frames" if max_frames else ""))
    return pairs


def reference_features(folder: str, split: str, **filters) -> list[np.ndarray] | None:
    """Features of ``split`` for FID's reference set (``load_split`` filters), or None when the folder has
    no such split or it has fewer than the 2 items a covariance needs."""
    try:
        pairs = load_split(folder, split, **filters)
    except (InputError, FileNotFoundError):
        return None
    return pairs.features if len(pairs) >= 2 else None


def pick_lines(pairs: PairedSplit, seed: int = 0) -> list[int]:
    """One caption line per item (its index), chosen at random (seeded), as Guo et al.'s evaluation does."""
    rng = np.random.default_rng(seed)
    return [int(rng.integers(len(item))) for item in pairs.captions]


def _fits(frames: int, min_frames: int, max_frames: int | None) -> bool:
    return frames >= min_frames and (max_frames is None or frames < max_frames)


def pad_batch(sequences: list[torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor]:
    """``[B, T_max, D]`` zero-padded (zeros = the mean after normalisation) and the lengths ``[B]``."""
    lengths = torch.tensor([len(s) for s in sequences])
    batch = sequences[0].new_zeros((len(sequences), int(lengths.max()), sequences[0].shape[1]))
    for row, sequence in enumerate(sequences):
        batch[row, :len(sequence)] = sequence
    return batch, lengths
