"""Training data of the demo GENMO model: a HumanML3D-layout folder (``motion/dataset_folder.py``) as
crops with text prompts and projected 2D keypoints.

Item (one motion of the split with features): ``features`` [T, 263] normalised by the folder's
``Mean.npy`` / ``Std.npy``; its caption lines, all taken as describing the whole motion (our corpus
has only whole-motion lines; a HumanML3D sub-span line is not cut out here); ``PROJECTIONS_PER_ITEM``
projections of its joints (``new_joints``, first T rows, aligned with the feature rows) to COCO-17
keypoints at random camera yaws and elevations (``keypoints2d.project_joints_to_coco``: the same path
as detections), computed once at load.

2D-only items (our corpus's ``SPLIT_2d.txt``: poses a detector found in a video, with captions
derived from them, no 3D target): their OpenPose-18 poses become the same (keypoints, bbox, present)
triple as a detection (``keypoints2d.coco_from_openpose`` on the canvas aspect ``sources.json``
records, eyes and ears zeroed by ``keep_training_joints``); :meth:`GenmoData.batch_2d` crops them for
the reprojection loss (``training.reprojection_loss``). A folder without ``SPLIT_2d.txt`` (e.g. a real
HumanML3D folder) simply has none.

Crop (:meth:`GenmoData.batch`): a random span of ``MIN_CROP``..``MAX_CROP`` frames (all of a shorter
motion); with probability ``TWO_PROMPT_P`` two crops of two items are joined (each at least
``MIN_PART`` frames, together at most ``MAX_CROP``) and each keeps its own prompt over its own frames,
so the multi-text windows are trained; otherwise one prompt over the whole crop. Crops are padded to
the longest in the batch; ``frame_mask`` marks real frames.

Text: every distinct caption is encoded once (MiniLM tokens, cut to the real tokens) and cached on
disk when ``cache_dir`` is given (keyed by the encoder and a hash of the captions).

Captions of our corpus were derived from the motion (``sources.json``): a model trained on them learns
those captions' vocabulary, not free text.
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass, field

import numpy as np
import torch

from ..core.errors import InputError
from ..motion.dataset_folder import has_features, read_item, read_joints, read_split, read_texts
from ..motion.humanml3d import FeatureStats
from ..motion_text.corpus import SPLITS_2D, read_aspects_2d, read_poses_2d
from .conditions import GenmoConditions, TextCondition
from .keypoints2d import coco_from_openpose, keep_training_joints, project_joints_to_coco
from .text_encoders import MINILM_ID, open_text_encoder

FPS = 20.0  # HumanML3D's frame rate
MIN_CROP, MAX_CROP = 40, 120  # frames (2 to 6 s); GEM trains on 120-frame windows
MIN_PART = 20  # frames of each half of a two-prompt crop
TWO_PROMPT_P = 0.3
PROJECTIONS_PER_ITEM = 4
ELEVATION_RANGE = (-10.0, 30.0)  # degrees of the virtual camera above the subject
TEXT_BATCH = 64  # captions per text encoder call


@dataclass
class Batch:
    x0: torch.Tensor | None  # [B, L, D] normalised features, zero in padding; None for 2D-only items
    conditions: GenmoConditions  # text (K <= 2 prompts), keypoints, frame_mask


@dataclass
class GenmoData:
    names: list[str]
    features: list[torch.Tensor]  # [T, D] normalised
    caption_ids: list[list[int]]  # per item: indices into captions
    captions: list[str]
    caption_tokens: list[torch.Tensor]  # [M, Dt] per caption (real tokens only)
    projections: list[list[tuple[torch.Tensor, torch.Tensor, torch.Tensor]]]  # per item: (keypoints, bbox, present)
    stats: FeatureStats
    text_encoder_id: str
    names_2d: list[str] = field(default_factory=list)  # 2D-only items
    detections_2d: list[tuple[torch.Tensor, torch.Tensor, torch.Tensor]] = field(default_factory=list)
    caption_ids_2d: list[list[int]] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.names)

    @property
    def feature_dim(self) -> int:
        return int(self.features[0].shape[1])

    @classmethod
    def from_folder(cls, folder: str, split: str = "train", text_encoder=None, seed: int = 0,
                    cache_dir: str | None = None, max_items: int | None = None) -> "GenmoData":
        """Load ``split`` of ``folder``; ``text_encoder`` defaults to the embedded MiniLM."""
        if not isinstance(folder, (str, os.PathLike)) or not os.path.isdir(folder):
            raise InputError("corpus", f"folder not found: {folder!r} (a HumanML3D-layout folder)")
        text_encoder = text_encoder or open_text_encoder(MINILM_ID)
        stats = FeatureStats.load_npy(str(folder))
        rng = np.random.default_rng(seed)
        names, features, caption_ids, projections, captions = [], [], [], [], {}
        for name in read_split(folder, split):
            if not has_features(folder, name):
                continue  # 2D-only item: no 3D target
            rows = read_item(folder, name)
            if len(rows) < 2 or not np.isfinite(rows).all():
                continue
            joints = read_joints(folder, name)[:len(rows)]
            names.append(name)
            features.append(torch.from_numpy(stats.normalize(rows).astype(np.float32)))
            caption_ids.append([captions.setdefault(line.caption, len(captions)) for line in read_texts(folder, name)])
            projections.append([project_joints_to_coco(joints, float(rng.uniform(0, 360)),
                                                       float(rng.uniform(*ELEVATION_RANGE)))
                                for _ in range(PROJECTIONS_PER_ITEM)])
            if max_items is not None and len(names) >= max_items:
                break
        if not names:
            raise InputError("split", f"{folder}: split {split!r} has no item with features")
        names_2d, detections_2d, caption_ids_2d = [], [], []
        split_2d = SPLITS_2D.get(split)
        if split_2d and os.path.isfile(os.path.join(folder, split_2d + ".txt")):
            aspects = read_aspects_2d(folder)
            for name in read_split(folder, split_2d):
                poses = read_poses_2d(folder, name).astype(np.float64)
                canvas = np.tile([aspects[name], 1.0], (len(poses), 1))
                keypoints, bbox, present = coco_from_openpose(poses, canvas)
                if len(poses) < MIN_CROP or not present.any():
                    continue
                names_2d.append(name)
                detections_2d.append((keep_training_joints(keypoints), bbox, present))
                caption_ids_2d.append([captions.setdefault(line.caption, len(captions))
                                       for line in read_texts(folder, name)])
                if max_items is not None and len(names_2d) >= max_items:
                    break
        texts = list(captions)
        encoder_id = getattr(text_encoder, "encoder_id", type(text_encoder).__name__)
        tokens = _caption_tokens(texts, text_encoder, encoder_id, cache_dir)
        return cls(names, features, caption_ids, texts, tokens, projections, stats, encoder_id, names_2d,
                   detections_2d, caption_ids_2d)

    def batch(self, indices, generator: torch.Generator) -> Batch:
        """Crops of the items ``indices`` (see the module docstring); ``generator`` draws every choice."""
        def draw(high: int) -> int:
            return int(torch.randint(high, (), generator=generator))

        parts_per_row = []
        for index in (int(i) for i in indices):
            if float(torch.rand((), generator=generator)) < TWO_PROMPT_P:
                other = draw(len(self))
                first = draw(MAX_CROP - 2 * MIN_PART + 1) + MIN_PART  # MIN_PART .. MAX_CROP - MIN_PART
                parts = [self._crop(index, first, first, draw), self._crop(other, MIN_PART, MAX_CROP - first, draw)]
            else:
                parts = [self._crop(index, MIN_CROP, MAX_CROP, draw)]
            parts_per_row.append(parts)
        return self._assemble(parts_per_row, self.features)

    def batch_2d(self, indices, generator: torch.Generator) -> Batch:
        """Crops of the 2D-only items ``indices`` (``MIN_CROP``..``MAX_CROP`` frames, one prompt each, never
        two clips joined: the reprojection fits one camera per crop); ``x0`` is None."""
        if not self.names_2d:
            raise InputError("split", "this data has no 2D-only items")
        def draw(high: int) -> int:
            return int(torch.randint(high, (), generator=generator))
        parts_per_row = []
        for index in (int(i) for i in indices):
            total = len(self.detections_2d[index][2])
            size = min(total, MIN_CROP + draw(MAX_CROP - MIN_CROP + 1))
            start = draw(total - size + 1)
            caption = self.caption_ids_2d[index][draw(len(self.caption_ids_2d[index]))]
            parts_per_row.append([(index, torch.arange(start, start + size), caption, self.detections_2d[index])])
        return self._assemble(parts_per_row, None)

    def _assemble(self, parts_per_row, features: list[torch.Tensor] | None) -> Batch:
        """Rows of (item, frames, caption, (keypoints, bbox, present)) parts, padded into one batch; the
        features of ``features[item]`` (None: no x0)."""
        length = max(sum(len(p[1]) for p in parts) for parts in parts_per_row)
        rows = len(parts_per_row)
        width = self.caption_tokens[0].shape[1]
        words = max(len(self.caption_tokens[p[2]]) for parts in parts_per_row for p in parts)
        x0 = torch.zeros(rows, length, self.feature_dim) if features is not None else None
        keypoints, bbox = torch.zeros(rows, length, 17, 3), torch.zeros(rows, length, 3)
        seen, frame_mask = torch.zeros(rows, length, dtype=torch.bool), torch.zeros(rows, length, dtype=torch.bool)
        tokens, token_mask = torch.zeros(rows, 2, words, width), torch.zeros(rows, 2, words, dtype=torch.bool)
        windows = torch.zeros(rows, 2, length, dtype=torch.bool)
        for row, parts in enumerate(parts_per_row):
            at = 0
            for slot, (item, frames, caption, projection) in enumerate(parts):
                span = slice(at, at + len(frames))
                if x0 is not None:
                    x0[row, span] = features[item][frames]
                keypoints[row, span], bbox[row, span], seen[row, span] = (p[frames] for p in projection)
                text = self.caption_tokens[caption]
                tokens[row, slot, :len(text)], token_mask[row, slot, :len(text)] = text, True
                windows[row, slot, span] = True
                frame_mask[row, span] = True
                at += len(frames)
        text = TextCondition(tokens, token_mask, windows)
        conditions = GenmoConditions(batch=rows, length=length, text=text, keypoints=keypoints, bbox=bbox,
                                     keypoints_mask=seen & frame_mask, frame_mask=frame_mask)
        return Batch(x0, conditions)

    def _crop(self, item: int, shortest: int, longest: int, draw):
        """(item, frame indices, caption id, projection) of a random crop of ``shortest..longest`` frames."""
        total = len(self.features[item])
        size = min(total, shortest + draw(longest - shortest + 1))
        start = draw(total - size + 1)
        caption = self.caption_ids[item][draw(len(self.caption_ids[item]))]
        projection = self.projections[item][draw(len(self.projections[item]))]
        return item, torch.arange(start, start + size), caption, projection


def _caption_tokens(texts: list[str], text_encoder, encoder_id: str, cache_dir: str | None) -> list[torch.Tensor]:
    """Each caption's tokens [M, Dt] (real tokens only), from the disk cache when it has them."""
    digest = hashlib.sha256("\n".join([encoder_id, *texts]).encode()).hexdigest()[:16]
    path = os.path.join(cache_dir, f"genmo_text_{encoder_id.replace(':', '_').replace('/', '_')}_{digest}.pt") \
        if cache_dir else None
    if path and os.path.isfile(path):
        return torch.load(path, weights_only=True)
    tokens = []
    for start in range(0, len(texts), TEXT_BATCH):
        encoded = text_encoder.encode(texts[start:start + TEXT_BATCH])
        tokens += [t[m].float().clone() for t, m in zip(encoded.tokens, encoded.mask)]
    if path:
        os.makedirs(cache_dir, exist_ok=True)
        torch.save(tokens, path)
    return tokens
