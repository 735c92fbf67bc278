"""One training loop for every motion tokenizer kind, held-out evaluation, and the small configs.

Training samples random windows of ``window`` frames lying inside one training clip (uniform over
all such windows), normalises them with the training statistics (which the tokenizer keeps:
``set_feature_stats``), and minimises the sum of the losses the tokenizer's ``forward`` returns
plus, when ``joint_weight`` > 0, an L1 loss on joint positions recovered from the features
(``humanml3d.features_to_joints``), which weighs the root channels by what they do to the pose.
PGR2M's pose codes are measured once per training clip (:func:`frame_pose_codes`) and sliced per
window. The pack's one loop (``core.training.fit``, on Accelerate): AdamW, gradient clipping at 1, a
linear warm-up over the first 5 % of the steps; ``batch_size`` is the global batch, split over the
processes of ``accelerate launch``. Seeding covers torch, Python's ``random`` (residual-VQ quantiser
dropout) and the window sampler.

``evaluate_tokenizer`` encodes and decodes whole held-out clips and reports joint-space errors in
millimetres (both sides recovered from features with ``features_to_joints``), codebook usage and
perplexity over all test tokens, and the decode -> encode token agreement.
"""

from __future__ import annotations

import random
import time

import torch

from ..core.errors import InputError
from ..core.resources import ProgressCallback
from ..core.training import fit, make_accelerator
from ..motion.humanml3d import features_to_joints
from .checkpoints import TOKENIZER_KINDS
from .dataset import MotionClips
from .metrics import codebook_summary, reconstruction_metrics_mm, token_agreement
from .pgr2m import PGR2MTokenizer
from .posecodes import pose_codes

WINDOW = 40  # 2 s at 20 fps: 10 token steps; fits every clip the dataset keeps

# Small configurations that train in minutes on 2 CPU cores; the defaults of each class remain the
# official sizes (for loading published weights). The small residual VQ picks nearest codes and
# has no block dropout: with MoMask's Gumbel sampling (temperature 0.5) and dropout 0.2 it stayed
# at a reconstruction loss of 0.41 after 1000 steps on our 1290 training frames, against 0.06
# after 300 steps without.
SMALL_CONFIGS: dict[str, dict] = {
    "vqvae": dict(num_codes=256, code_dim=128, width=128, depth=2),
    "rvq": dict(num_codes=256, code_dim=128, width=128, depth=2, sample_temperature=0.0, block_dropout=0.0),
    "part_vq": dict(num_codes=256, code_dim=128, width=128, depth=2),
    "pgr2m": dict(num_codes=256, code_dim=128, width=128, depth=2, attention_dim=128),
}


def tokenizer_kinds() -> dict[str, type]:

    return {PGR2MTokenizer.kind: PGR2MTokenizer, **TOKENIZER_KINDS}


def make_tokenizer(kind: str, small: bool = True, **overrides):
    """A fresh tokenizer of ``kind``: the small config (``small``) or the class defaults, plus overrides."""
    kinds = tokenizer_kinds()
    if kind not in kinds:
        raise InputError("kind", f"expected one of {sorted(kinds)}, got {kind!r}")
    config = {**(SMALL_CONFIGS.get(kind, {}) if small else {}), **overrides}
    return kinds[kind](**config)


def _window_starts(clips: MotionClips, window: int) -> torch.Tensor:
    """Row index of the first frame of every window lying wholly inside one clip."""
    starts = [torch.arange(offset, offset + length - window + 1)
              for offset, length in zip(clips.offsets, clips.lengths) if length >= window]
    if not starts:
        raise InputError("train", f"no clip has {window} frames (longest: {max(clips.lengths, default=0)})")
    return torch.cat(starts)


def uses_hands(model) -> bool:
    """The part-aware tokenizer reads body features followed by hand features."""
    return model.kind == "part_vq"


def encode_tokens(model, features: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor | None]:
    """(ids [B, N, Q], pose codes [B, N, C] for PGR2M else None) of normalised features."""
    out = model.encode(features)
    return out if isinstance(out, tuple) else (out, None)


def decode_tokens(model, ids: torch.Tensor, pose_codes: torch.Tensor | None) -> torch.Tensor:
    """Normalised features from ids (and PGR2M's pose codes; ids with 0 streams = pose codes alone)."""
    return model.decode(ids) if pose_codes is None else model.decode(ids, pose_codes)


def raw_inputs(model, body: torch.Tensor, hands: torch.Tensor) -> torch.Tensor:
    """Raw (not normalised) tokenizer input [B, T, feature_dim] from body and hand features."""
    return torch.cat([body, hands], dim=-1) if uses_hands(model) else body


def feature_stats(model, stats) -> tuple[torch.Tensor, torch.Tensor]:
    if uses_hands(model):
        return torch.cat([stats.mean, stats.hand_mean]), torch.cat([stats.std, stats.hand_std])
    return stats.mean, stats.std


def train_tokenizer(model, train: MotionClips, steps: int, batch_size: int = 32, window: int = WINDOW,
                    lr: float = 2e-4, weight_decay: float = 0.0, joint_weight: float = 0.0, seed: int = 0,
                    progress: ProgressCallback | None = None, log=None, device=None) -> dict:
    """Fit ``model`` on random training windows; returns the loss history and the wall time.

    The tokenizer takes the training statistics unless it already has its own. It trains on
    ``device`` (default: CUDA when available, or the device ``accelerate launch`` gives this
    process) and is returned to the CPU in eval mode. The history comes from the main process.
    """
    if steps < 1:
        raise InputError("steps", f"expected at least 1, got {steps}")
    if window % model.downsample:
        raise InputError("window", f"must be a multiple of the tokenizer's downsampling {model.downsample}")
    start_time = time.perf_counter()
    torch.manual_seed(seed)
    random.seed(seed)
    if model.feature_mean is None:
        model.set_feature_stats(*feature_stats(model, train.stats))
    starts = _window_starts(train, window)
    accelerator = make_accelerator(device)
    device = accelerator.device
    model.to(device)
    features = raw_inputs(model, train.features, train.hands).to(device)
    body_dim = train.features.shape[1]
    codes = frame_pose_codes(train).to(device) if model.kind == "pgr2m" else None
    offsets = torch.arange(window)

    def window_loss(net, indices: torch.Tensor):
        rows = (starts[indices][:, None] + offsets).to(device)
        batch = features[rows]
        if codes is None:
            recon, losses = net(net.normalise(batch))
        else:
            recon, losses = net(net.normalise(batch), pose_codes=codes[rows])
        if joint_weight > 0:
            losses = {**losses, "joints": joint_weight * joint_loss(net, recon, batch[..., :body_dim])}
        return sum(losses.values()), losses

    result = fit(model, window_loss, steps, num_items=len(starts), batch_size=batch_size, lr=lr,
                 weight_decay=weight_decay, clip=1.0, warmup=max(steps // 20, 1), seed=seed,
                 every=max(steps // 10, 1), record_first=True, progress=progress, log=log, accelerator=accelerator,
                 name=model.kind)
    model.cpu().eval()
    return {"steps": steps, "seconds": time.perf_counter() - start_time, "history": result["history"],
            "batch_size": batch_size, "window": window, "lr": lr, "joint_weight": joint_weight, "seed": seed,
            "device": device.type, "num_processes": result["num_processes"]}


def frame_pose_codes(clips: MotionClips) -> torch.Tensor:
    """PGR2M pose codes of every frame [F, 392], measured once per clip on the joints recovered from
    the clip's features (the clip's canonical frame, as the official data preparation does and as
    encoding a whole clip does); windows then take their rows instead of re-measuring every step."""

    return torch.cat([pose_codes(_joints(clips.clip(k))) for k in range(len(clips))])


def joint_loss(model, recon: torch.Tensor, raw_target: torch.Tensor) -> torch.Tensor:
    """L1 between joints recovered from the reconstruction and from the raw target features (metres)."""

    pred = features_to_joints(model.denormalise(recon)[..., : raw_target.shape[-1]])
    with torch.no_grad():
        target = features_to_joints(raw_target[:, : recon.shape[1]])
    return (pred - target).abs().mean()


def _joints(features: torch.Tensor) -> torch.Tensor:

    return features_to_joints(features)


@torch.inference_mode()
def evaluate_tokenizer(model, clips: MotionClips, decode=None) -> dict[str, float]:
    """Reconstruction and token metrics over whole clips (each cropped to a multiple of the downsampling).

    ``decode(model, ids, pose_codes) -> normalised features`` replaces :func:`decode_tokens` (e.g.
    PGR2M from pose codes alone). Joint errors are frame-weighted over clips; the round trip
    re-encodes the decoded features and compares ids (and, for PGR2M, pose codes).
    """
    model.eval()
    decode = decode or decode_tokens
    totals: dict[str, float] = {}
    frames_total, all_ids, agree, agree_count, code_agree, code_count = 0, [], 0.0, 0, 0.0, 0
    body_dim = clips.features.shape[1]
    for index in range(len(clips)):
        raw = raw_inputs(model, clips.clip(index), clips.clip_hands(index))
        raw = raw[: raw.shape[0] - raw.shape[0] % model.downsample][None]
        ids, codes = encode_tokens(model, model.normalise(raw))
        decoded = decode(model, ids, codes)
        recon = model.denormalise(decoded)[..., :body_dim]
        frames = min(recon.shape[1], raw.shape[1])
        metrics = reconstruction_metrics_mm(_joints(recon[:, :frames])[0], _joints(raw[:, :frames, :body_dim])[0])
        for key, value in metrics.items():
            totals[key] = totals.get(key, 0.0) + value * frames
        frames_total += frames
        all_ids.append(ids[0])
        again, codes_again = encode_tokens(model, decoded)
        agree += token_agreement(again, ids) * ids.numel()
        agree_count += ids.numel()
        if codes is not None:
            code_agree += token_agreement(codes_again, codes) * codes.numel()
            code_count += codes.numel()
    result = {key: value / frames_total for key, value in totals.items()}
    result.update(codebook_summary(torch.cat(all_ids), model.codebook_sizes()))
    result["token_agreement"] = agree / agree_count
    if code_count:
        result["pose_code_agreement"] = code_agree / code_count
    return result
