"""Training every forecaster (the pack's one loop, ``core/training.py``) and its checkpoints.

A checkpoint is the pack's one format (``core/checkpoint.py``, family ``"forecaster"``):
``NAME.safetensors`` (weights; the header is repeated in its metadata) beside ``NAME.json``
(``{"format": "posemotion", "family": "forecaster", "kind": ..., "config": {...}, "pose_frame": ...,
"training": {...}}``). ``config["encoder"]`` records which conditioning encoder produced the
training features. Files written before (no "format"/"family") load unchanged.
"""

from __future__ import annotations

import time

import torch

from ..core import checkpoint
from ..core.errors import InputError
from ..core.resources import ProgressCallback
from ..core.training import fit, make_accelerator
from .baselines import BASELINES
from .model import OneStageForecaster
from .pose_frame import from_pose_frame
from .types import PoseWindows

FAMILY = "forecaster"
# The registry key is the class's ``name`` (stored as "kind" in checkpoints); neural models only.
for _cls in (OneStageForecaster, *(c for c in BASELINES.values() if issubclass(c, torch.nn.Module))):
    checkpoint.register(FAMILY, _cls.name, _cls)


def model_kinds() -> dict[str, type]:
    """Every neural forecaster class by its checkpoint ``kind`` (the class's ``name``)."""
    return checkpoint.registry(FAMILY)


def train_model(model, train: PoseWindows, steps: int, batch_size: int = 64, lr: float = 1e-4,
                weight_decay: float = 0.01, seed: int = 0, progress: ProgressCallback | None = None,
                device=None) -> dict:
    """Fit a forecaster: ``fit`` for non-neural ones, else AdamW on ``model.loss`` over random batches.

    Neural models train with ``core.training.fit`` on ``device`` (default: CUDA when available, or
    the device ``accelerate launch`` gives this process) and are left there; ``batch_size`` is the
    global batch, split over the processes. Models with a ``prepare(train)`` step (the quantised
    baseline's codebook) run it first. Returns a small history: losses every ~5 % of the steps
    (main process) and the wall time.
    """
    start = time.perf_counter()
    if not isinstance(model, torch.nn.Module):
        model.fit(train)
        return {"steps": 0, "seconds": time.perf_counter() - start, "losses": []}
    if len(train) == 0 or steps < 1:
        raise InputError("train", f"need at least one window and one step, got {len(train)} windows, {steps} steps")
    accelerator = make_accelerator(device)
    model.to(accelerator.device)
    train = train.to(accelerator.device)
    torch.manual_seed(seed)
    if hasattr(model, "prepare"):
        model.prepare(train)
    result = fit(model, lambda net, indices: net.loss(train.select(indices.to(accelerator.device))), steps,
                 num_items=len(train), batch_size=min(batch_size, len(train)), lr=lr, weight_decay=weight_decay,
                 clip=1.0, seed=seed, every=max(steps // 20, 1), progress=progress, accelerator=accelerator,
                 name=model.name)
    losses = [(entry["step"], entry["loss"]) for entry in result["history"]]
    return {"steps": steps, "seconds": time.perf_counter() - start, "losses": losses}


@torch.no_grad()
def forecast_windows(model, windows: PoseWindows, horizon: int | None = None, batch_size: int = 256) -> torch.Tensor:
    """Forecast every window from its P0 -> [S, horizon, J, 2] in image coordinates."""
    horizon = horizon or windows.horizon
    device = torch.device("cpu")
    if isinstance(model, torch.nn.Module):
        model.eval()
        device = next(model.parameters()).device
    parts = []
    for begin in range(0, len(windows), batch_size):
        batch = windows.select(slice(begin, begin + batch_size)).to(device)
        # the bone-consistent head keeps lengths in canvas units, so it needs each window's aspect
        parts.append(model.forecast(batch.poses[:, 0], batch.conditioning, horizon,
                                    initial_visible=batch.visible[:, 0], aspect=batch.aspect).cpu())
    pred = torch.cat(parts)
    return pred if windows.box is None else from_pose_frame(pred, windows.box)


def save_forecaster(model: torch.nn.Module, path: str, training: dict | None = None,
                    pose_frame: str | None = None) -> tuple[str, str]:
    """Write ``path`` (.safetensors) and its .json config; returns both paths.

    ``pose_frame`` records the coordinates the model was trained in (``pose_frame.POSE_FRAME`` or
    None for image coordinates); inference follows it."""
    return checkpoint.save_checkpoint(model, path, FAMILY, header={"pose_frame": pose_frame},
                                      record={"training": training or {}})


def load_forecaster(path: str) -> torch.nn.Module:
    """Rebuild a forecaster from its checkpoint; one clear error when the files do not match."""
    model, header, _ = checkpoint.load_checkpoint(path, FAMILY)
    model.pose_frame = header.get("pose_frame")
    return model
