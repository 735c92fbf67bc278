"""Our text-motion evaluator: contrastive text and motion encoders (in the style of Guo et al.'s evaluator
and TMR) whose co-embedding space the text-to-motion metrics (``eval_metrics.py``) are measured in.

Motion side: HumanML3D-layout features ``[T, D]`` (D = 263, or 251 for KIT-ML) at 20 fps, normalised
with the training folder's ``Mean.npy`` / ``Std.npy`` (kept in the checkpoint as buffers), through two
stride-2 convolutions (a quarter of the frame rate, as Guo's movement encoder) and a residual one,
masked to each motion's length, mean-pooled over valid steps, projected. Variable lengths batch
exactly: padded positions are zeroed after every layer, so a motion embeds the same alone or in a
batch.

Text side: the embedded MiniLM sentence embedding (``forecasting.encoders.default_text_encoder()``,
all-MiniLM-L6-v2, 384-d, frozen, computed once per distinct caption) through a small MLP.

Both embeddings are L2-normalised. Training (``core.training.fit``) minimises the symmetric InfoNCE
loss with temperature ``temperature``; each step picks one caption line per item at random; a
motion and a text of the same item, or with the same caption string (many windows share a
caption), count as positives (so they are not pushed apart as negatives).

Checkpoints use the pack's format (``core.checkpoint``), family ``"text_motion_evaluator"``; the
header records the text encoder id and the feature dim, and loading refuses another text encoder.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from ..core import checkpoint
from ..core.errors import InputError, ModelFileError
from ..core.resources import ProgressCallback
from ..core.training import fit
from ..forecasting.encoders import MiniLMTextEncoder, default_text_encoder
from ..motion.dataset_folder import read_stats
from .eval_metrics import R_PRECISION_POOL, R_PRECISION_SHUFFLES, text_motion_metrics
from .evaluator_data import FPS, load_split, pad_batch, pick_lines, reference_features

FAMILY = "text_motion_evaluator"
TEXT_DIM = 384  # MiniLM sentence embedding
MIN_STD = 1e-5  # features with a smaller spread (constant in the training data) are not scaled
EMBED_BATCH = 64


class TextMotionEvaluator(nn.Module):
    """Motion features and MiniLM sentence embeddings -> one L2-normalised co-embedding space."""

    kind = "conv_infonce"

    def __init__(self, feature_dim: int = 263, hidden: int = 128, embed_dim: int = 128, text_dim: int = TEXT_DIM,
                 dropout: float = 0.1, temperature: float = 0.1, text_encoder: str = MiniLMTextEncoder.encoder_id):
        super().__init__()
        self.config = {"feature_dim": feature_dim, "hidden": hidden, "embed_dim": embed_dim, "text_dim": text_dim,
                       "dropout": dropout, "temperature": temperature, "text_encoder": text_encoder}
        self.feature_dim, self.temperature, self.text_encoder_id = feature_dim, temperature, text_encoder
        self.register_buffer("feature_mean", torch.zeros(feature_dim))
        self.register_buffer("feature_std", torch.ones(feature_dim))
        self.down = nn.ModuleList([nn.Conv1d(feature_dim, hidden, 4, 2, 1), nn.Conv1d(hidden, hidden, 4, 2, 1)])
        self.mix = nn.Conv1d(hidden, hidden, 3, 1, 1)
        self.motion_head = nn.Sequential(nn.LayerNorm(hidden), nn.Dropout(dropout), nn.Linear(hidden, embed_dim))
        self.text_head = nn.Sequential(nn.Linear(text_dim, hidden), nn.GELU(), nn.Dropout(dropout),
                                       nn.Linear(hidden, embed_dim))

    def set_feature_stats(self, mean, std) -> None:
        mean, std = torch.as_tensor(np.asarray(mean), dtype=torch.float32), torch.as_tensor(np.asarray(std),
                                                                                            dtype=torch.float32)
        if mean.shape != (self.feature_dim,) or std.shape != (self.feature_dim,):
            raise InputError("folder", f"Mean.npy/Std.npy have {list(mean.shape)}/{list(std.shape)} values, the "
                                       f"evaluator takes {self.feature_dim}-d features")
        self.feature_mean.copy_(mean)
        self.feature_std.copy_(torch.where(std < MIN_STD, torch.ones_like(std), std))

    def normalise(self, features: torch.Tensor) -> torch.Tensor:
        return (features - self.feature_mean) / self.feature_std

    def encode_motion(self, normalised: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        """``[B, T, D]`` normalised, zero-padded features and their lengths -> ``[B, E]`` unit vectors."""
        x = normalised.transpose(1, 2)
        x = F.pad(x, (0, -x.shape[2] % 4))  # a multiple of 4 frames: both stride-2 layers see whole pairs
        valid = lengths.to(x.device)
        x = x * _mask(valid, x.shape[2])
        for conv in self.down:
            valid = (valid + 1) // 2  # outputs whose centre pair (2t, 2t+1) holds a real frame
            x = F.gelu(conv(x))
            x = x * _mask(valid, x.shape[2])
        x = (x + F.gelu(self.mix(x))) * _mask(valid, x.shape[2])
        pooled = x.sum(2) / valid.clamp(min=1).unsqueeze(1).to(x.dtype)
        return F.normalize(self.motion_head(pooled), dim=-1)

    def encode_text(self, sentence_embeddings: torch.Tensor) -> torch.Tensor:
        """``[B, 384]`` MiniLM sentence embeddings -> ``[B, E]`` unit vectors."""
        return F.normalize(self.text_head(sentence_embeddings), dim=-1)

    def contrastive_loss(self, text: torch.Tensor, motion: torch.Tensor, positives: torch.Tensor) -> torch.Tensor:
        """Symmetric InfoNCE over a batch; ``positives[i, j]``: text i matches motion j (diagonal included)."""
        logits = text @ motion.T / self.temperature
        positives = positives.to(logits.device)

        def multi_positive(scores):
            return -(torch.logsumexp(scores.masked_fill(~positives, float("-inf")), 1) - torch.logsumexp(scores, 1))

        return 0.5 * (multi_positive(logits).mean() + multi_positive(logits.T).mean())


checkpoint.register(FAMILY, TextMotionEvaluator.kind, TextMotionEvaluator)


def _mask(lengths: torch.Tensor, steps: int) -> torch.Tensor:
    return (torch.arange(steps, device=lengths.device)[None, :] < lengths[:, None]).unsqueeze(1).float()


def _device(model: nn.Module) -> torch.device:
    return next(model.parameters()).device


# ----------------------------------------------------------------------------- embedding

def sentence_embeddings(texts: list[str], text_encoder=None, batch_size: int = 256) -> torch.Tensor:
    """MiniLM sentence embeddings ``[N, 384]`` of ``texts`` (frozen encoder, CPU)."""
    encoder = text_encoder or default_text_encoder()
    if not texts:
        return torch.zeros(0, TEXT_DIM)
    with torch.no_grad():
        return torch.cat([encoder.sentence_embedding(list(texts[i:i + batch_size]))
                          for i in range(0, len(texts), batch_size)]).float()


@torch.no_grad()
def embed_texts(model: TextMotionEvaluator, texts: list[str], text_encoder=None) -> torch.Tensor:
    """``[N, E]`` co-embeddings of ``texts`` (CPU)."""
    if isinstance(texts, str) or not texts or not all(isinstance(t, str) and t.strip() for t in texts):
        raise InputError("texts", "expected a non-empty list of non-empty strings")
    model.eval()
    return model.encode_text(sentence_embeddings(texts, text_encoder).to(_device(model))).cpu()


@torch.no_grad()
def embed_motions(model: TextMotionEvaluator, features: list) -> torch.Tensor:
    """``[N, E]`` co-embeddings of raw (not normalised) feature arrays ``[T_i, D]`` (CPU)."""
    if not len(features):
        raise InputError("features", "expected at least one motion")
    tensors = []
    for index, item in enumerate(features):
        item = torch.as_tensor(np.asarray(item), dtype=torch.float32)
        if item.ndim != 2 or item.shape[1] != model.feature_dim or len(item) < 1:
            raise InputError("features", f"motion {index}: expected [frames, {model.feature_dim}], "
                                         f"got {list(item.shape)}")
        tensors.append(item)
    model.eval()
    device, out = _device(model), []
    for start in range(0, len(tensors), EMBED_BATCH):
        batch, lengths = pad_batch([model.normalise(t.to(device)) for t in tensors[start:start + EMBED_BATCH]])
        out.append(model.encode_motion(batch, lengths).cpu())
    return torch.cat(out)


# ----------------------------------------------------------------------------- training

def train_evaluator(folder: str, steps: int, batch_size: int = 32, lr: float = 1e-3, seed: int = 0,
                    progress: ProgressCallback | None = None, log=None, split: str = "train", text_encoder=None,
                    keep: float = 1.0, **config) -> tuple[TextMotionEvaluator, dict]:
    """Train an evaluator on ``folder``'s ``split``; returns ``(model, history)`` (``core.training.fit``'s
    dict plus ``"items"`` and ``"captions"``). ``config``: TextMotionEvaluator arguments.

    ``keep`` < 1: each step shows a random contiguous crop of at least that fraction of each motion
    (augmentation; a caption of the whole window may then name a little more than the crop shows)."""
    if not 0.0 < keep <= 1.0:
        raise InputError("keep", f"the kept fraction of a motion must be in (0, 1], got {keep}")
    pairs = load_split(folder, split)  # checks the folder
    mean, std = read_stats(folder)
    torch.manual_seed(seed)
    model = TextMotionEvaluator(feature_dim=pairs.feature_dim, **config)
    model.set_feature_stats(mean, std)
    captions = sorted({caption for item in pairs.captions for caption in item})
    caption_ids = {caption: index for index, caption in enumerate(captions)}
    text_table = sentence_embeddings(captions, text_encoder)
    item_captions = [torch.tensor([caption_ids[c] for c in item]) for item in pairs.captions]
    motions = [model.normalise(torch.from_numpy(f)) for f in pairs.features]
    sampler = torch.Generator().manual_seed(seed + 1)  # which caption line each item shows this step

    def loss_fn(net: TextMotionEvaluator, indices: torch.Tensor):
        device = _device(net)
        chosen = torch.stack([item_captions[i][torch.randint(len(item_captions[i]), (1,), generator=sampler)][0]
                              for i in indices.tolist()])
        positives = (indices[:, None] == indices[None, :]) | (chosen[:, None] == chosen[None, :])
        batch, lengths = pad_batch([_crop(motions[i], keep, sampler) for i in indices.tolist()])
        text = net.encode_text(text_table[chosen].to(device))
        motion = net.encode_motion(batch.to(device), lengths)
        return net.contrastive_loss(text, motion, positives)

    history = fit(model, loss_fn, steps, len(pairs), batch_size, lr, weight_decay=1e-4, seed=seed,
                  progress=progress, log=log, name="text-motion evaluator")
    history.update(items=len(pairs), captions=len(captions))
    return model.cpu().eval(), history


def _crop(motion: torch.Tensor, keep: float, generator: torch.Generator) -> torch.Tensor:
    if keep >= 1.0:
        return motion
    length = int(torch.randint(max(1, int(len(motion) * keep)), len(motion) + 1, (1,), generator=generator))
    start = int(torch.randint(len(motion) - length + 1, (1,), generator=generator))
    return motion[start:start + length]


# ----------------------------------------------------------------------------- evaluation

def evaluate_folder(model: TextMotionEvaluator, folder: str, split: str = "test", reference_split: str = "train",
                    seed: int = 0, shuffles: int = R_PRECISION_SHUFFLES, text_encoder=None) -> dict:
    """Metrics of ``split``'s ground-truth pairs in the evaluator's space (``eval_metrics.text_motion_metrics``).

    FID compares ``split``'s motion embeddings with ``reference_split``'s: on ground truth it measures
    how far the held-out motions lie from the training motions (a floor for generated motions, not a
    quality score). A folder without that split gives ``fid`` None."""
    pairs = load_split(folder, split, feature_dim=model.feature_dim)
    texts = [item[line] for item, line in zip(pairs.captions, pick_lines(pairs, seed))]
    text_emb, motion_emb = embed_texts(model, texts, text_encoder), embed_motions(model, pairs.features)
    reference_motions = reference_features(folder, reference_split, feature_dim=model.feature_dim)
    reference = None if reference_motions is None else embed_motions(model, reference_motions)
    result = text_motion_metrics(text_emb, motion_emb, reference, pool=R_PRECISION_POOL, shuffles=shuffles,
                                 seed=seed)
    result.setdefault("fid", None)
    result.update(split=split, fid_reference=reference_split if reference is not None else None,
                  distinct_captions=len(set(texts)), evaluator=model.kind, text_encoder=model.text_encoder_id)
    return result


# ----------------------------------------------------------------------------- files

def save_evaluator(model: TextMotionEvaluator, path: str, record: dict | None = None) -> tuple[str, str]:
    """``path`` (.safetensors) and its .json; the header records the text encoder and the feature dim."""
    header = {"text_encoder": model.text_encoder_id, "feature_dim": model.feature_dim, "fps": FPS}
    return checkpoint.save_checkpoint(model, path, FAMILY, header=header, record={"training": record or {}})


def load_evaluator(path: str) -> TextMotionEvaluator:
    """A trained evaluator (eval mode, CPU); ModelFileError for another family or text encoder."""
    loaded = checkpoint.load_checkpoint(path, FAMILY)
    recorded = loaded.header.get("text_encoder")
    if recorded != MiniLMTextEncoder.encoder_id:
        raise ModelFileError(f"{path}: trained with text encoder {recorded!r}; this pack embeds "
                             f"{MiniLMTextEncoder.encoder_id!r}")
    return loaded.model
