"""Training the demo GENMO model on a HumanML3D-layout folder with GEM's dual-mode objective.

Per batch item (``data.Batch``: normalised 263-d crops, one or two prompts, projected 2D keypoints):

- estimation mode (probability ``ESTIMATION_P``; every 3D item has keypoints): the input is pure noise
  at t = T-1 and the keypoints are always given (GEM's regression mode: motion from video); its
  text is kept with probability ``ESTIMATION_TEXT_P`` (videos usually come without a caption);
- generation mode: x_t = q_sample(x0, t) at a uniform random t; keypoints kept with probability
  ``GENERATION_KEYPOINTS_P`` (2D-guided generation), else dropped, so text-only generation is the
  common case; text dropped with probability ``TEXT_DROP_P`` (classifier-free guidance).

Conditions are dropped through their masks (prompt tokens / keypoint frames off), exactly as the
sampler's unconditional pass removes them. Loss: mean squared x0 error over real frames
(``frame_mask``), plus ``JOINT_WEIGHT`` times the same error on the joint-position columns (root
height and pelvis-relative joints, 3:67): GEM's joint losses need its SMPL decoder, and the 263
features hold the joint positions directly.

2D-only items (``data.GenmoData.batch_2d``: detected poses, no 3D target), ``reprojection_loss``, added
with weight ``REPROJECTION_WEIGHT`` on ``batch_2d_size`` crops per step (the paper's sec. 3.2):

- estimation mode (probability ``ESTIMATION_P``): x̂0 = G(noise, T-1, C) with the keypoints given,
  text kept with probability ``ESTIMATION_TEXT_P``; loss = 2D reprojection error of x̂0;
- generation mode, estimation-guided (Eq. 6): a pseudo-clean x̂0 from the estimation mode (no
  gradient), x̂t = q_sample(x̂0, t) at a uniform t, loss = reprojection error of G(x̂t, t, C); C keeps
  the keypoints (the 2D skeleton is the condition that makes x̂0 meaningful) and drops the text with
  probability ``TEXT_DROP_P``.

The error is ``reprojection.reprojection_error`` of the decoded joints (``features_to_joints`` of the
de-normalised prediction) against the keypoints, in box units squared. The paper also regularises
these predictions with its geometric losses (SMPL vertices, contacts); we have none for 263-d
features beyond what the 3D items teach.
"""

from __future__ import annotations

import torch

from ..core.resources import ProgressCallback
from ..core.training import fit
from ..motion.humanml3d import features_to_joints
from .conditions import GenmoConditions, TextCondition
from .data import Batch, GenmoData
from .denoiser import GenmoConfig, GenmoDenoiser
from .diffusion import DEFAULT_SCHEDULE
from .model import GenmoModel
from .reprojection import reprojection_error

ESTIMATION_P = 0.5
ESTIMATION_TEXT_P = 0.5
GENERATION_KEYPOINTS_P = 0.3
TEXT_DROP_P = 0.1
JOINT_WEIGHT = 1.0
JOINT_COLUMNS = slice(3, 67)  # root height + ric positions of the 263-d layout
WARMUP_STEPS = 100
REPROJECTION_WEIGHT = 1.0  # of the 2D-only loss (box units squared) beside the 3D loss (normalised features)
TRAINED_CONDITIONS = ("text", "keypoints")  # GenmoData has no music: music-motion pairs ship nowhere we can reach


def drop_conditions(conditions: GenmoConditions, keep_text: torch.Tensor, keep_keypoints: torch.Tensor
                    ) -> GenmoConditions:
    """Per-item condition dropout through the masks; ``keep_*`` [B] bool."""
    text = conditions.text
    if text is not None:
        keep = keep_text[:, None, None]
        text = TextCondition(text.tokens, text.token_mask & keep, text.windows & keep)
    keypoints_mask = None if conditions.keypoints is None else conditions.keypoints_mask & keep_keypoints[:, None]
    return GenmoConditions(batch=conditions.batch, length=conditions.length, text=text,
                           keypoints=conditions.keypoints, bbox=conditions.bbox, keypoints_mask=keypoints_mask,
                           music=conditions.music, music_mask=conditions.music_mask, frame_mask=conditions.frame_mask)


def dual_mode_loss(denoiser: GenmoDenoiser, x0: torch.Tensor, conditions: GenmoConditions,
                   generator: torch.Generator) -> tuple[torch.Tensor, dict]:
    """The dual-mode loss of one batch (module docstring) and its parts for the log."""
    rows, device = x0.shape[0], x0.device
    def chance(p):
        return torch.rand(rows, generator=generator) < p
    estimation = chance(ESTIMATION_P)
    if conditions.keypoints is None:
        estimation[:] = False
    keep_text = torch.where(estimation, chance(ESTIMATION_TEXT_P), ~chance(TEXT_DROP_P))
    keep_keypoints = estimation | chance(GENERATION_KEYPOINTS_P)
    steps = DEFAULT_SCHEDULE.num_steps
    t = torch.where(estimation, torch.full((rows,), steps - 1), torch.randint(steps, (rows,), generator=generator))
    noise = torch.randn(x0.shape, generator=generator).to(device)
    x_t = torch.where(estimation.to(device)[:, None, None], noise, DEFAULT_SCHEDULE.q_sample(x0, t.to(device), noise))
    dropped = drop_conditions(conditions, keep_text, keep_keypoints).to(device)
    predicted = denoiser(x_t, t.to(device), dropped)
    weight = conditions.frame_mask.to(device, x0.dtype)[..., None] if conditions.frame_mask is not None \
        else torch.ones_like(x0[..., :1])
    error = (predicted - x0) ** 2 * weight
    frames = weight.sum().clamp_min(1)
    feature_loss = error.sum() / (frames * x0.shape[-1])
    joint_loss = error[..., JOINT_COLUMNS].sum() / (frames * (JOINT_COLUMNS.stop - JOINT_COLUMNS.start))
    loss = feature_loss + JOINT_WEIGHT * joint_loss
    return loss, {"features": feature_loss.detach(), "joints": joint_loss.detach()}


def reprojection_loss(model: GenmoModel, batch: Batch, generator: torch.Generator) -> tuple[torch.Tensor, dict]:
    """The 2D-only loss of one ``batch_2d`` batch (module docstring) and its parts for the log."""
    denoiser, conditions = model.denoiser, batch.conditions
    rows, device = conditions.batch, model.feature_mean.device
    shape = (rows, conditions.length, model.config.motion_dim)
    def chance(p):
        return torch.rand(rows, generator=generator) < p
    estimation = chance(ESTIMATION_P)
    keep_text = torch.where(estimation, chance(ESTIMATION_TEXT_P), ~chance(TEXT_DROP_P))
    given = drop_conditions(conditions, keep_text, torch.ones(rows, dtype=torch.bool)).to(device)
    last = torch.full((rows,), DEFAULT_SCHEDULE.num_steps - 1, device=device)
    noise = torch.randn(shape, generator=generator).to(device)
    with torch.no_grad():  # Eq. 6's pseudo-clean motion from the estimation mode
        pseudo = denoiser(noise, last, given)
    t = torch.randint(DEFAULT_SCHEDULE.num_steps, (rows,), generator=generator).to(device)
    renoised = DEFAULT_SCHEDULE.q_sample(pseudo, t, torch.randn(shape, generator=generator).to(device))
    chosen = estimation.to(device)[:, None, None]
    predicted = denoiser(torch.where(chosen, noise, renoised), torch.where(estimation.to(device), last, t), given)
    features = predicted * model.feature_std + model.feature_mean
    error, fitted = reprojection_error(features_to_joints(features), conditions.keypoints.to(device),
                                       conditions.keypoints_mask.to(device))
    loss = (error * fitted).sum() / fitted.sum().clamp_min(1)
    parts = {"reprojection": loss.detach()}
    for name, rows_of_mode in (("reprojection_estimation", estimation), ("reprojection_generation", ~estimation)):
        counted = (fitted & rows_of_mode.to(device))
        parts[name] = ((error * counted).sum() / counted.sum().clamp_min(1)).detach()
    return loss, parts


def train_genmo(folder: str, steps: int, config: GenmoConfig | None = None, batch_size: int = 16, lr: float = 2e-4,
                seed: int = 0, progress: ProgressCallback | None = None, data: GenmoData | None = None,
                cache_dir: str | None = None, log=None, accelerator=None, init: GenmoModel | None = None,
                batch_2d_size: int | None = None, reprojection_weight: float = REPROJECTION_WEIGHT
                ) -> tuple[GenmoModel, dict]:
    """Train a GENMO denoiser on ``folder``'s train split; returns the model and fit's history
    (plus ``items``, ``items_2d`` and ``captions``). ``data``: an already loaded ``GenmoData`` (tests,
    benchmarks). ``init``: a model to continue training (its config and feature statistics are kept;
    ``config`` is ignored; the optimiser starts afresh). ``batch_2d_size`` (default half of
    ``batch_size``) 2D-only crops per step join the loss with ``reprojection_weight`` when the split
    has 2D-only items; 0 for either leaves them out."""
    torch.manual_seed(seed)
    data = data or GenmoData.from_folder(folder, "train", seed=seed, cache_dir=cache_dir)
    if init is not None:
        model = init.train()
    else:
        model = GenmoModel(config or GenmoConfig.small(), data.stats)
    generator = torch.Generator().manual_seed(seed + 1)
    batch_2d_size = batch_size // 2 if batch_2d_size is None else batch_2d_size
    use_2d = bool(data.names_2d) and batch_2d_size > 0 and reprojection_weight > 0

    def loss_fn(wrapped: GenmoModel, indices: torch.Tensor):
        batch = data.batch(indices, generator)
        device = next(wrapped.parameters()).device
        loss, parts = dual_mode_loss(wrapped.denoiser, batch.x0.to(device), batch.conditions, generator)
        if use_2d:
            batch_2d = data.batch_2d(torch.randint(len(data.names_2d), (batch_2d_size,), generator=generator),
                                     generator)
            loss_2d, parts_2d = reprojection_loss(wrapped, batch_2d, generator)
            loss, parts = loss + reprojection_weight * loss_2d, {**parts, **parts_2d}
        return loss, parts

    history = fit(model, loss_fn, steps, len(data), batch_size, lr, warmup=min(WARMUP_STEPS, steps // 10),
                  seed=seed, progress=progress, log=log, accelerator=accelerator, name="genmo")
    # what the data let the model learn: conditions it never saw (music here) are embedded untrained
    history.update(items=len(data), items_2d=len(data.names_2d) if use_2d else 0, captions=len(data.captions),
                   conditions=list(TRAINED_CONDITIONS))
    return model, history
