"""Guo et al.'s official HumanML3D / KIT-ML evaluator (``text_mot_match/model/finest.tar``), rebuilt here
with its key layout so that numbers measured on real HumanML3D are comparable with published ones.

The ``.tar`` is a torch pickle dict (read with ``torch.load(weights_only=True)``: nothing in it runs)
holding the state dicts ``"movement_encoder"``, ``"text_encoder"`` and ``"motion_encoder"`` and the
training ``"epoch"``. The networks (sizes are read from the weights; the official HumanML3D ones in
brackets):

- movement encoder: ``main`` = Conv1d(D - 4 -> H, kernel 4, stride 2, pad 1), Dropout, LeakyReLU(0.2),
  Conv1d(H -> L, 4, 2, 1), Dropout, LeakyReLU(0.2) (weights at ``main.0`` and ``main.3``), then
  ``out_net`` = Linear(L -> L); input the normalised features without the last 4 (foot contact) dims,
  one output per ``UNIT_LENGTH`` = 4 frames [D 263, H 512, L 512];
- text encoder: ``pos_emb`` Linear(15 -> 300) added to the GloVe vectors, ``input_emb`` Linear(300 -> T),
  bidirectional GRU ``gru`` (T -> T) from the learnt initial state ``hidden`` [2, 1, T], its two last
  states concatenated through ``output_net`` = Linear(2T -> T), LayerNorm, LeakyReLU(0.2), Linear(T -> C)
  [T 512, C 512];
- motion encoder: ``input_emb`` Linear(L -> M), the same GRU/``hidden``/``output_net`` shape with M
  [M 1024, C 512].

Motion inputs follow the official evaluation loader: features normalised with the evaluator's own
mean/std (``t2m/Comp_v6_KLD01/meta/mean.npy``/``std.npy`` in the official release: pass them in),
motions of ``MIN_FRAMES``..199 frames (HumanML3D; 24.. for KIT-ML), cut to a multiple of
``UNIT_LENGTH`` from their first frame (the official loader picks a random start and, one time in
three, one unit less: we take the deterministic "single" case), zero-padded to ``MAX_FRAMES`` = 196.

The real released weights were not run here (they are not on this machine); the tests load a tiny
configuration written with this exact key layout and file structure.
"""

from __future__ import annotations

import os
import pickle

import numpy as np
import torch
from torch import nn
from torch.nn.utils.rnn import pack_padded_sequence

from ..core.checkpoint import check_state_dict
from ..core.errors import InputError, ModelFileError
from .eval_metrics import R_PRECISION_POOL, R_PRECISION_SHUFFLES, text_motion_metrics
from .evaluator_data import load_split, pick_lines, reference_features
from .official_glove import POS_CATEGORIES, GloveVectors

UNIT_LENGTH = 4
CONTACT_DIMS = 4
MAX_FRAMES = 196
MIN_FRAMES = {263: 40, 251: 24}  # HumanML3D, KIT-ML (the official loaders' min_motion_len)
MAX_FRAMES_EXCLUSIVE = 200
BATCH = 256  # items per forward pass (memory, not results: every item is encoded on its own)
PARTS = ("movement_encoder", "text_encoder", "motion_encoder")
CHECKPOINT_CANDIDATES = (("t2m", "text_mot_match", "model", "finest.tar"), ("text_mot_match", "model", "finest.tar"),
                         ("finest.tar",))
GLOVE_CANDIDATES = (("glove",), ())
STATS_CANDIDATES = (("t2m", "Comp_v6_KLD01", "meta"), ("Comp_v6_KLD01", "meta"), ("meta",), ())


class MovementConvEncoder(nn.Module):
    def __init__(self, input_size: int, hidden_size: int, output_size: int):
        super().__init__()
        self.main = nn.Sequential(nn.Conv1d(input_size, hidden_size, 4, 2, 1), nn.Dropout(0.2), nn.LeakyReLU(0.2),
                                  nn.Conv1d(hidden_size, output_size, 4, 2, 1), nn.Dropout(0.2), nn.LeakyReLU(0.2))
        self.out_net = nn.Linear(output_size, output_size)

    def forward(self, features: torch.Tensor) -> torch.Tensor:  # [B, T, D-4] -> [B, T/4, L]
        return self.out_net(self.main(features.transpose(1, 2)).transpose(1, 2))


class _BiGRUCoEncoder(nn.Module):
    """Shared tail of the text and motion co-embedding networks (module doc)."""

    def __init__(self, hidden_size: int, output_size: int):
        super().__init__()
        self.gru = nn.GRU(hidden_size, hidden_size, batch_first=True, bidirectional=True)
        self.output_net = nn.Sequential(nn.Linear(hidden_size * 2, hidden_size), nn.LayerNorm(hidden_size),
                                        nn.LeakyReLU(0.2), nn.Linear(hidden_size, output_size))
        self.hidden = nn.Parameter(torch.zeros(2, 1, hidden_size))

    def _encode(self, inputs: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        packed = pack_padded_sequence(inputs, lengths.cpu(), batch_first=True, enforce_sorted=False)
        _, last = self.gru(packed, self.hidden.repeat(1, inputs.shape[0], 1))
        return self.output_net(torch.cat([last[0], last[1]], dim=-1))


class TextEncoderBiGRUCo(_BiGRUCoEncoder):
    def __init__(self, word_size: int, pos_size: int, hidden_size: int, output_size: int):
        super().__init__(hidden_size, output_size)
        self.pos_emb = nn.Linear(pos_size, word_size)
        self.input_emb = nn.Linear(word_size, hidden_size)

    def forward(self, word_embs, pos_one_hots, lengths):
        return self._encode(self.input_emb(word_embs + self.pos_emb(pos_one_hots)), lengths)


class MotionEncoderBiGRUCo(_BiGRUCoEncoder):
    def __init__(self, input_size: int, hidden_size: int, output_size: int):
        super().__init__(hidden_size, output_size)
        self.input_emb = nn.Linear(input_size, hidden_size)

    def forward(self, movements, unit_lengths):
        return self._encode(self.input_emb(movements), unit_lengths)


def read_official_checkpoint(path: str) -> dict:
    """The ``finest.tar`` dict (weights only); ModelFileError when missing, unsafe or incomplete."""
    if not os.path.isfile(path):
        raise ModelFileError(f"official evaluator: file not found: {path!r} (expected text_mot_match/model/finest.tar)")
    try:
        checkpoint = torch.load(path, map_location="cpu", weights_only=True)
    except (pickle.UnpicklingError, RuntimeError, EOFError, OSError, ValueError) as error:
        raise ModelFileError(f"{path}: not a weights-only torch checkpoint ({str(error)[:300]})") from error
    missing = [part for part in PARTS if not isinstance(checkpoint, dict) or part not in checkpoint]
    if missing:
        raise ModelFileError(f"{path}: not Guo et al.'s text_mot_match checkpoint (missing {', '.join(missing)})")
    return checkpoint


def build_networks(checkpoint: dict, source: str) -> tuple[MovementConvEncoder, TextEncoderBiGRUCo,
                                                           MotionEncoderBiGRUCo]:
    """The three networks sized from the weights' shapes, loaded strictly (ModelFileError naming keys)."""
    try:
        movement, text, motion = (checkpoint[part] for part in PARTS)
        hidden, movement_in = movement["main.0.weight"].shape[:2]
        latent = movement["main.3.weight"].shape[0]
        word, pos = text["pos_emb.weight"].shape
        text_hidden, coemb = text["input_emb.weight"].shape[0], text["output_net.3.weight"].shape[0]
        motion_hidden = motion["input_emb.weight"].shape[0]
    except (KeyError, ValueError, AttributeError) as error:
        raise ModelFileError(f"{source}: weights do not have the official layout (no {error})") from error
    if pos != len(POS_CATEGORIES):
        raise ModelFileError(f"{source}: the text encoder takes {pos} POS categories, expected {len(POS_CATEGORIES)}")
    networks = (MovementConvEncoder(movement_in, hidden, latent),
                TextEncoderBiGRUCo(word, pos, text_hidden, coemb),
                MotionEncoderBiGRUCo(latent, motion_hidden, coemb))
    for part, network, state in zip(PARTS, networks, (movement, text, motion)):
        check_state_dict(network.state_dict(), state, source, f"the official {part}")
        network.load_state_dict(state, strict=True)
        network.eval()
    return networks


class OfficialEvaluator:
    """Guo et al.'s text and motion co-embeddings (module doc); ``feature_dim`` = D (263 or 251)."""

    def __init__(self, networks, glove: GloveVectors, mean, std, epoch=None, source: str = ""):
        self.movement_encoder, self.text_encoder, self.motion_encoder = networks
        self.glove, self.epoch, self.source = glove, epoch, source
        self.feature_dim = self.movement_encoder.main[0].in_channels + CONTACT_DIMS
        word_size = self.text_encoder.pos_emb.out_features
        if glove.dim != word_size:
            raise ModelFileError(f"GloVe vectors are {glove.dim}-d, the text encoder takes {word_size}-d")
        self.mean, self.std = (np.asarray(v, np.float32) for v in (mean, std))
        if self.mean.shape != (self.feature_dim,) or self.std.shape != (self.feature_dim,):
            raise InputError("mean", f"mean/std have {list(self.mean.shape)}/{list(self.std.shape)} values, the "
                                     f"official evaluator takes {self.feature_dim}-d features")

    @torch.no_grad()
    def embed_texts(self, token_lists) -> torch.Tensor:
        """``[N, C]`` from captions given as lists of ``word/POS`` tokens."""
        if not len(token_lists):
            raise InputError("tokens", "expected at least one caption")
        out = []
        for start in range(0, len(token_lists), BATCH):
            words, one_hots, lengths = zip(*(self.glove.caption(t) for t in token_lists[start:start + BATCH]))
            out.append(self.text_encoder(torch.from_numpy(np.stack(words)), torch.from_numpy(np.stack(one_hots)),
                                         torch.tensor(lengths)))
        return torch.cat(out)

    @torch.no_grad()
    def embed_motions(self, features) -> torch.Tensor:
        """``[N, C]`` from raw (not normalised) features ``[T_i, D]``, UNIT_LENGTH <= T_i (longer than
        MAX_FRAMES: the first MAX_FRAMES frames, which the official loader never has to do)."""
        if not len(features):
            raise InputError("features", "expected at least one motion")
        return torch.cat([self._embed_motion_batch(features[start:start + BATCH], start)
                          for start in range(0, len(features), BATCH)])

    def _embed_motion_batch(self, features, first: int) -> torch.Tensor:
        batch = np.zeros((len(features), MAX_FRAMES, self.feature_dim), np.float32)
        lengths = []
        for row, item in enumerate(features, first):
            item = np.asarray(item, np.float32)
            if item.ndim != 2 or item.shape[1] != self.feature_dim or len(item) < UNIT_LENGTH:
                raise InputError("features", f"motion {row}: expected [>= {UNIT_LENGTH} frames, {self.feature_dim}], "
                                             f"got {list(item.shape)}")
            length = min(len(item), MAX_FRAMES) // UNIT_LENGTH * UNIT_LENGTH
            batch[row - first, :length] = (item[:length] - self.mean) / self.std
            lengths.append(length)
        movements = self.movement_encoder(torch.from_numpy(batch[..., :-CONTACT_DIMS]))
        return self.motion_encoder(movements, torch.tensor(lengths) // UNIT_LENGTH)


def _first_existing(root: str, candidates, name: str) -> str | None:
    for parts in candidates:
        path = os.path.join(root, *parts, name)
        if os.path.isfile(path):
            return path
    return None


def load_official_evaluator(root: str, mean=None, std=None) -> OfficialEvaluator:
    """Guo et al.'s evaluator from ``root``: the checkpoints folder (``t2m/text_mot_match/model/finest.tar``,
    or ``text_mot_match/...``, or ``finest.tar`` itself), the GloVe files in ``root/glove`` or ``root``,
    and ``mean``/``std`` arrays or else ``t2m/Comp_v6_KLD01/meta/mean.npy``/``std.npy`` (also
    ``meta/`` or ``root``) as the official evaluation uses."""
    if not os.path.isdir(root):
        raise InputError("official", f"folder not found: {root!r} (expected Guo et al.'s checkpoints and glove files)")
    tar = next((os.path.join(root, *parts) for parts in CHECKPOINT_CANDIDATES
                if os.path.isfile(os.path.join(root, *parts))), None)
    if tar is None:
        raise ModelFileError(f"{root}: no text_mot_match/model/finest.tar (looked for "
                             + ", ".join(os.path.join(*p) for p in CHECKPOINT_CANDIDATES) + ")")
    glove_dir = next((os.path.join(root, *parts) for parts in GLOVE_CANDIDATES
                      if os.path.isfile(os.path.join(root, *parts, "our_vab_data.npy"))), root)
    if mean is None or std is None:
        mean_path = _first_existing(root, STATS_CANDIDATES, "mean.npy")
        std_path = mean_path and os.path.join(os.path.dirname(mean_path), "std.npy")
        if mean_path is None or not os.path.isfile(std_path):
            raise ModelFileError(f"{root}: no evaluator mean.npy/std.npy (t2m/Comp_v6_KLD01/meta/ in the official "
                                 "release); pass mean and std")
        mean, std = np.load(mean_path, allow_pickle=False), np.load(std_path, allow_pickle=False)
    checkpoint = read_official_checkpoint(tar)
    networks = build_networks(checkpoint, tar)
    return OfficialEvaluator(networks, GloveVectors.from_folder(glove_dir), mean, std,
                             epoch=checkpoint.get("epoch"), source=tar)


def evaluate_folder_official(evaluator: OfficialEvaluator, folder: str, split: str = "test",
                             reference_split: str = "train", seed: int = 0,
                             shuffles: int = R_PRECISION_SHUFFLES) -> dict:
    """The metrics (``eval_metrics.text_motion_metrics``) of ``split``'s ground truth in Guo et al.'s
    space, with the official length filter; captions come from each line's ``word/POS`` tokens."""
    low = MIN_FRAMES.get(evaluator.feature_dim, MIN_FRAMES[263])
    pairs = load_split(folder, split, min_frames=low, max_frames=MAX_FRAMES_EXCLUSIVE,
                       feature_dim=evaluator.feature_dim)
    tokens = [item[line] for item, line in zip(pairs.tokens, pick_lines(pairs, seed))]
    text_emb, motion_emb = evaluator.embed_texts(tokens), evaluator.embed_motions(pairs.features)
    reference_motions = reference_features(folder, reference_split, min_frames=low, max_frames=MAX_FRAMES_EXCLUSIVE,
                                           feature_dim=evaluator.feature_dim)
    reference = None if reference_motions is None else evaluator.embed_motions(reference_motions)
    result = text_motion_metrics(text_emb, motion_emb, reference, pool=R_PRECISION_POOL, shuffles=shuffles,
                                 seed=seed)
    result.setdefault("fid", None)
    result.update(split=split, fid_reference=reference_split if reference is not None else None,
                  evaluator="guo2022_text_mot_match", epoch=evaluator.epoch)
    return result
