"""Memory helpers for the 14B PoseGen DiT: block swap and VAE tiling.

Block swap keeps the last N transformer blocks on an offload device (the CPU) and moves each one to
the compute device just before it runs (forward pre-hook) and back right after (forward hook), so
only one swapped block's weights are resident at a time. The deep blocks are swapped because KV-
sharing works there and the shallow ones are needed for subject masks: both kinds still run, only
where their weights live changes. :func:`block_swapped` is the whole lifecycle around one sampling
run: room asked for, swap attached, and the device given back when sampling stops, interrupted or not.
"""

from __future__ import annotations

from contextlib import contextmanager
from typing import Callable, Iterator

import torch

from ..core.errors import InputError


class BlockSwap:
    """Context manager: ``with BlockSwap(transformer, n, compute, offload): ...``.

    On entry the swapped blocks go to ``offload_device`` and everything else to ``compute_device``;
    on exit the hooks are removed and the swapped blocks stay offloaded (the caller's memory manager
    owns the model afterwards). ``num_blocks`` 0 makes this a no-op.
    """

    def __init__(self, transformer: torch.nn.Module, num_blocks: int, compute_device: torch.device | str,
                 offload_device: torch.device | str = "cpu"):
        blocks = transformer.blocks
        if not 0 <= num_blocks <= len(blocks):
            raise InputError("block_swap", f"{num_blocks}: the model has {len(blocks)} blocks (0 = no swap)")
        self.transformer = transformer
        self.swapped = list(blocks)[len(blocks) - num_blocks:] if num_blocks else []
        self.compute = torch.device(compute_device)
        self.offload = torch.device(offload_device)
        self._handles: list = []

    def _to_compute(self, module, args):
        module.to(self.compute)

    def _to_offload(self, module, args, output):
        module.to(self.offload)

    def __enter__(self) -> "BlockSwap":
        if not self.swapped:
            return self
        swapped = {id(b) for b in self.swapped}
        for block in self.swapped:
            block.to(self.offload)
        for name, child in self.transformer.named_children():
            if name != "blocks":
                child.to(self.compute)
        for block in self.transformer.blocks:
            if id(block) not in swapped:
                block.to(self.compute)
        # Parameters registered directly on the model (scale_shift_table) follow the compute device.
        for name, param in self.transformer.named_parameters(recurse=False):
            param.data = param.data.to(self.compute)
        for block in self.swapped:
            self._handles.append(block.register_forward_pre_hook(self._to_compute))
            self._handles.append(block.register_forward_hook(self._to_offload))
        return self

    def __exit__(self, *exc) -> None:
        for handle in self._handles:
            handle.remove()
        self._handles.clear()
        for block in self.swapped:
            block.to(self.offload)


def resident_bytes(transformer: torch.nn.Module, num_blocks: int) -> int:
    """Bytes of weights that stay on the compute device with ``num_blocks`` swapped (plus one block in flight)."""
    blocks = list(transformer.blocks)
    size = lambda m: sum(p.numel() * p.element_size() for p in m.parameters())  # noqa: E731
    total = size(transformer)
    swapped = sum(size(b) for b in blocks[len(blocks) - num_blocks:]) if num_blocks else 0
    return total - swapped + (size(blocks[-1]) if num_blocks else 0)


@contextmanager
def block_swapped(transformer: torch.nn.Module, num_blocks: int, compute_device: torch.device | str,
                  offload_device: torch.device | str = "cpu",
                  make_room: Callable[[int], None] | None = None) -> Iterator[None]:
    """``with block_swapped(transformer, n, compute): sample(...)``: the last ``n`` blocks swapped in
    and out while the body runs (0: nothing happens). ``make_room(bytes)`` is asked first for the
    memory the swap keeps resident (a memory manager may evict other models). The swap places the
    model itself, so on leaving, normally or by an exception, the whole transformer goes back to
    ``offload_device`` and the compute device is free again."""
    if not num_blocks:
        yield
        return
    if make_room is not None:
        make_room(resident_bytes(transformer, num_blocks))
    swap = BlockSwap(transformer, num_blocks, compute_device, offload_device)
    try:
        with swap:
            yield
    finally:
        transformer.to(offload_device)


def enable_vae_tiling(vae: torch.nn.Module, enabled: bool = True) -> None:
    """Spatial tiling of the Wan VAE (diffusers' own); cuts encode/decode memory at 720p."""
    if enabled and hasattr(vae, "enable_tiling"):
        vae.enable_tiling()
    elif not enabled and hasattr(vae, "disable_tiling"):
        vae.disable_tiling()
