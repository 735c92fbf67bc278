"""Training loop shared by every forecaster, and the checkpoint format (safetensors + JSON config).

A checkpoint is ``NAME.safetensors`` (weights; the config is repeated in its metadata) beside
``NAME.json`` (``{"kind": ..., "config": {...}, "training": {...}}``). ``config["encoder"]``
records which conditioning encoder produced the training features.
"""

from __future__ import annotations

import json
import os
import time

import torch
from safetensors.torch import load_file, save_file

from ..core.errors import InputError, ModelFileError
from ..core.resources import ProgressCallback
from .pose_frame import from_pose_frame
from .types import PoseWindows


def model_kinds() -> dict[str, type]:
    """Every forecaster class by its ``name`` (checkpoint ``kind``)."""
    from .baselines import BASELINES
    from .model import OneStageForecaster

    neural = [cls for cls in BASELINES.values() if issubclass(cls, torch.nn.Module)]
    return {cls.name: cls for cls in [OneStageForecaster, *neural]}


def default_device() -> torch.device:
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


def train_model(model, train: PoseWindows, steps: int, batch_size: int = 64, lr: float = 1e-4,
                weight_decay: float = 0.01, seed: int = 0, progress: ProgressCallback | None = None,
                device=None) -> dict:
    """Fit a forecaster: ``fit`` for non-neural ones, else AdamW on ``model.loss`` over random batches.

    Neural models train on ``device`` (default: CUDA when available) and are left there.
    Models with a ``prepare(train)`` step (the quantised baseline's codebook) run it first.
    Returns a small history: losses every ~5 % of the steps and the wall time.
    """
    start = time.perf_counter()
    if not isinstance(model, torch.nn.Module):
        model.fit(train)
        return {"steps": 0, "seconds": time.perf_counter() - start, "losses": []}
    if len(train) == 0 or steps < 1:
        raise InputError("train", f"need at least one window and one step, got {len(train)} windows, {steps} steps")
    device = torch.device(device) if device is not None else default_device()
    model.to(device)
    train = train.to(device)
    generator = torch.Generator().manual_seed(seed)
    torch.manual_seed(seed)
    if hasattr(model, "prepare"):
        model.prepare(train)
    model.train()
    optimizer = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=weight_decay)
    losses, every = [], max(steps // 20, 1)
    for step in range(1, steps + 1):
        batch = train.select(torch.randint(len(train), (min(batch_size, len(train)),), generator=generator))
        loss = model.loss(batch)
        if not torch.isfinite(loss):
            raise FloatingPointError(f"{model.name}: loss became {loss.item()} at step {step}")
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
        if step % every == 0 or step == steps:
            losses.append((step, loss.item()))
        if progress is not None:
            progress(step, steps)
    model.eval()
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
        parts.append(model.forecast(batch.poses[:, 0], batch.conditioning, horizon,
                                    initial_visible=batch.visible[:, 0]).cpu())
    pred = torch.cat(parts)
    return pred if windows.box is None else from_pose_frame(pred, windows.box)


def save_checkpoint(model: torch.nn.Module, path: str, training: dict | None = None,
                    pose_frame: str | None = None) -> tuple[str, str]:
    """Write ``path`` (.safetensors) and its .json config; returns both paths.

    ``pose_frame`` records the coordinates the model was trained in (``pose_frame.POSE_FRAME`` or
    None for image coordinates); inference follows it."""
    if not path.endswith(".safetensors"):
        raise InputError("path", f"checkpoints are .safetensors files, got {path!r}")
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    header = {"kind": model.name, "config": model.config, "pose_frame": pose_frame}
    record = {**header, "training": training or {}}
    tensors = {name: t.detach().cpu().contiguous() for name, t in model.state_dict().items()}
    save_file(tensors, path, metadata={"posemotion": json.dumps(header)})
    config_path = path[: -len(".safetensors")] + ".json"
    with open(config_path, "w") as handle:
        json.dump(record, handle, indent=1)
    return path, config_path


def load_checkpoint(path: str) -> torch.nn.Module:
    """Rebuild a forecaster from its checkpoint; one clear error when the files do not match."""
    if not os.path.isfile(path):
        raise ModelFileError(f"forecaster checkpoint not found: {path}")
    config_path = path[: -len(".safetensors")] + ".json"
    try:
        from safetensors import safe_open

        with safe_open(path, "pt") as handle:
            meta = json.loads((handle.metadata() or {}).get("posemotion", "null"))
        if meta is None and os.path.isfile(config_path):
            with open(config_path) as handle:
                meta = json.load(handle)
    except Exception as error:  # noqa: BLE001 - any unreadable file gets the same message
        raise ModelFileError(f"{path} is not a PoseMotion forecaster checkpoint: {error}") from error
    kinds = model_kinds()
    if not meta or meta.get("kind") not in kinds:
        raise ModelFileError(f"{path} is not a PoseMotion forecaster checkpoint (expected kind in {sorted(kinds)})")
    model = kinds[meta["kind"]](**meta["config"])
    try:
        model.load_state_dict(load_file(path), strict=True)
    except RuntimeError as error:
        raise ModelFileError(f"{path}: weights do not match its config ({meta['kind']}): {str(error)[:300]}") from error
    model.pose_frame = meta.get("pose_frame")
    return model.eval()

