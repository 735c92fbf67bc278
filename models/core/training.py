"""The one training loop of the pack, on Hugging Face Accelerate: one process, or several (``accelerate
launch`` / ``torchrun``) with the gradients averaged by DDP.

:func:`fit` minimises ``loss_fn(model, indices)`` with AdamW, gradient clipping, an optional linear
warm-up, and stops with FloatingPointError on a non-finite loss. Each step draws a **global batch**
of ``batch_size`` item indices from a generator seeded with ``seed`` (the same on every process);
process ``r`` of ``N`` takes the ``r``-th of ``N`` equal contiguous slices. With losses that are
means over the batch, ``N`` processes with ``batch_size / N`` items each therefore follow the loss
curve of one process with the whole batch (up to float summation order). Progress, log lines and
the history come from the main process only; the recorded losses are averaged over processes.

Buffers updated in ``forward`` (e.g. EMA codebooks) are not averaged: DDP broadcasts the main
process's buffers at every step, so with several processes they follow the main process's slice.
"""

from __future__ import annotations

import os
import time
from typing import Callable

import torch
from accelerate import Accelerator, DataLoaderConfiguration, DistributedDataParallelKwargs
from accelerate.state import AcceleratorState, PartialState

from .errors import InputError
from .resources import ProgressCallback

# loss_fn(model, indices of this process's slice) -> loss, or (loss, {name: tensor} logged with it)
LossFn = Callable[[torch.nn.Module, torch.Tensor], "torch.Tensor | tuple[torch.Tensor, dict]"]


def default_device() -> torch.device:
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


def is_main_process() -> bool:
    """True in a plain run and in the main process of ``accelerate launch`` / ``torchrun``: the one that
    prints and writes files."""
    # without CUDA, accelerate finds the launcher's processes only when told to use the CPU
    return PartialState(cpu=default_device().type == "cpu").is_main_process


def make_accelerator(device=None) -> Accelerator:
    """An Accelerator on the CPU when ``device`` is a CPU device or no CUDA is present, else on the
    accelerator that ``accelerate launch`` (or the default device) assigns to this process.

    Global batches are split across processes (``split_batches``: a scheduler steps once per step);
    DDP tolerates parameters that a step does not use."""
    cpu = torch.device(device).type == "cpu" if device is not None else default_device().type == "cpu"
    shared = AcceleratorState._shared_state or PartialState._shared_state  # one state per process
    launched = int(os.environ.get("WORLD_SIZE", "1"))
    if shared and shared.get("num_processes", 1) == 1 and (
            (shared["device"].type == "cpu") != cpu or launched > 1):
        # A single-process state on another device than asked (e.g. tests on CPU on a GPU machine),
        # or one made without cpu=True under a CPU launcher (it missed the other processes):
        # accelerate would refuse or ignore the request, so start its state afresh.
        AcceleratorState._reset_state(reset_partial_state=True)
    return Accelerator(cpu=cpu, dataloader_config=DataLoaderConfiguration(split_batches=True),
                       kwargs_handlers=[DistributedDataParallelKwargs(find_unused_parameters=True)])


class _Objective(torch.nn.Module):
    """The model with ``loss_fn`` as its forward, so that DDP sees every loss computation (models
    train through methods other than ``forward``, e.g. ``model.loss``)."""

    def __init__(self, model: torch.nn.Module, loss_fn: LossFn):
        super().__init__()
        self.model = model
        self.loss_fn = loss_fn

    def forward(self, indices: torch.Tensor):
        out = self.loss_fn(self.model, indices)
        return out if isinstance(out, tuple) else (out, {})


def fit(model: torch.nn.Module, loss_fn: LossFn, steps: int, num_items: int, batch_size: int, lr: float,
        weight_decay: float = 0.0, clip: float | None = 1.0, warmup: int = 0, seed: int = 0, every: int | None = None,
        record_first: bool = False, progress: ProgressCallback | None = None, log: Callable[[str], None] | None = None,
        accelerator: Accelerator | None = None, name: str | None = None) -> dict:
    """Train ``model`` for ``steps`` steps on global batches of ``batch_size`` indices in ``range(num_items)``.

    ``warmup`` > 0: the learning rate rises linearly over that many steps (``LambdaLR``). The history
    records steps that are multiples of ``every`` (default: 20 records), the last step and, with
    ``record_first``, step 1; ``log`` receives one line per record. Global RNG state is left to the
    caller (seed torch before building data-dependent state); ``seed`` seeds the batch sampler only.

    The model is trained where ``accelerator`` (default :func:`make_accelerator`) places it, left
    there unwrapped, in eval mode. Returns ``{"history": [{"step", "loss", **logs}], "seconds",
    "device", "num_processes"}`` (the history is empty on processes other than the main one)."""
    if steps < 1 or num_items < 1:
        raise InputError("steps", f"need at least one item and one step, got {num_items} items, {steps} steps")
    accelerator = accelerator or make_accelerator()
    processes, rank = accelerator.num_processes, accelerator.process_index
    if batch_size < processes or batch_size % processes:
        raise InputError("batch_size", f"the global batch {batch_size} must split evenly over {processes} processes")
    name = name or getattr(model, "kind", None) or getattr(model, "name", None) or type(model).__name__
    every = every or max(steps // 20, 1)
    start = time.perf_counter()
    objective = _Objective(model, loss_fn).to(accelerator.device)
    optimizer = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=weight_decay)
    if warmup > 0:
        scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda done: min(1.0, (done + 1) / warmup))
        objective, optimizer, scheduler = accelerator.prepare(objective, optimizer, scheduler)
    else:
        scheduler = None
        objective, optimizer = accelerator.prepare(objective, optimizer)
    objective.train()
    generator = torch.Generator().manual_seed(seed)
    history = []
    for step in range(1, steps + 1):
        indices = torch.randint(num_items, (batch_size,), generator=generator).tensor_split(processes)[rank]
        loss, logs = objective(indices)
        _check_finite(accelerator, loss, name, step)
        optimizer.zero_grad(set_to_none=True)
        accelerator.backward(loss)
        if clip is not None:
            accelerator.clip_grad_norm_(objective.parameters(), clip)
        optimizer.step()
        if scheduler is not None:
            scheduler.step()
        if step % every == 0 or step == steps or (record_first and step == 1):
            values = torch.stack([loss.detach(), *(v.detach() for v in logs.values())]).float()
            values = accelerator.reduce(values, "mean") if processes > 1 else values
            entry = {"step": step, **dict(zip(["loss", *logs], values.tolist()))}
            if accelerator.is_main_process:
                history.append(entry)
                if log is not None:
                    log(f"  step {step}/{steps}: " + ", ".join(f"{k} {v:.4f}" for k, v in entry.items() if k != "step"))
        if progress is not None and accelerator.is_main_process:
            progress(step, steps)
    accelerator.wait_for_everyone()
    trained = accelerator.unwrap_model(objective).model
    accelerator.free_memory()
    trained.eval()
    return {"history": history, "seconds": time.perf_counter() - start, "device": accelerator.device.type,
            "num_processes": processes}


def _check_finite(accelerator: Accelerator, loss: torch.Tensor, name: str, step: int) -> None:
    """FloatingPointError on every process when any process's loss is not finite (none waits forever)."""
    bad = (~torch.isfinite(loss.detach())).float()
    if accelerator.num_processes > 1:
        bad = accelerator.reduce(bad, "sum")
    if bad.item():
        raise FloatingPointError(f"{name}: loss became {loss.item()} at step {step}"
                                 + (f" (on {int(bad.item())} of {accelerator.num_processes} processes)"
                                    if accelerator.num_processes > 1 else ""))
