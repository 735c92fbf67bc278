"""Peak live tensor memory of a block of code, on CUDA and on the CPU.

``with PeakMemory(device) as meter: ...`` then ``meter.peak_bytes``: the highest number of tensor
bytes live at any moment inside the block, above what was live when it began (model weights and
inputs made before the block do not count; a tensor made and freed inside it does). ``end_bytes``
is what was still live at the end (results, leaks), above the same baseline.

- CUDA: ``torch.cuda.max_memory_allocated`` after ``reset_peak_memory_stats``, minus
  ``memory_allocated`` at the start (the caching allocator's exact count of tensor bytes; cached
  but free blocks do not count).
- CPU: torch keeps no allocator statistics, and process RSS is dominated by allocator slack and
  lazy initialisation. The profiler with ``profile_memory=True`` reports every allocation and free of
  torch's CPU allocator (oneDNN's buffers included, it allocates through it) with its address, size
  and time; the running sum of the sizes in time order is the live-bytes curve, its maximum the
  peak. Frees of tensors allocated before the block are not reported (the allocator only tracks
  sizes it saw while profiling), so the baseline is exactly "what was live at the start". Memory not
  allocated through torch (BLAS/OpenMP internals, Python objects) is not seen. The profiler slows
  every op: time a run without the meter.

CPU scopes: ``PeakMemory("cpu", scopes=("dit",))`` and ``with torch.profiler.record_function("dit")``
around some code inside the block; then ``meter.scope_peak_bytes["dit"]`` is the peak of the tensors
*allocated inside* such a range, each counted until it is freed wherever that happens (so a cache a
model fills and keeps counts, the inputs handed to it do not).
"""

from __future__ import annotations

import bisect

import torch
from torch._C._profiler import _EventType  # the profiler's event tree: allocations with address and size

DEFAULT_CHECK_BYTES = 8 << 20


class PeakMemory:
    """Context manager measuring peak live tensor bytes on ``device`` (see the module docstring)."""

    def __init__(self, device: torch.device | str, scopes: tuple[str, ...] = ()):
        self.device = torch.device(device)
        if scopes and self.device.type != "cpu":
            raise ValueError("PeakMemory: scopes are measured on the CPU only")
        self.scopes = tuple(scopes)
        self.peak_bytes = 0
        self.end_bytes = 0
        self.scope_peak_bytes: dict[str, int] = {}
        self._profiler = None
        self._baseline = 0

    def __enter__(self) -> "PeakMemory":
        if self.device.type == "cuda":
            torch.cuda.synchronize(self.device)
            self._baseline = torch.cuda.memory_allocated(self.device)
            torch.cuda.reset_peak_memory_stats(self.device)
        elif self.device.type == "cpu":
            self._profiler = torch.profiler.profile(activities=[torch.profiler.ProfilerActivity.CPU],
                                                    profile_memory=True)
            self._profiler.__enter__()
        else:
            raise ValueError(f"PeakMemory: no method for device {self.device}")
        return self

    def __exit__(self, *exc) -> None:
        if self.device.type == "cuda":
            torch.cuda.synchronize(self.device)
            self.peak_bytes = torch.cuda.max_memory_allocated(self.device) - self._baseline
            self.end_bytes = torch.cuda.memory_allocated(self.device) - self._baseline
            return
        self._profiler.__exit__(*exc)
        allocations, ranges = _allocations_and_ranges(self._profiler, self.scopes)
        self._profiler = None
        live = peak = 0
        for _, _, size in allocations:
            live += size
            peak = max(peak, live)
        self.peak_bytes, self.end_bytes = peak, live
        for scope in self.scopes:
            self.scope_peak_bytes[scope] = _scoped_peak(allocations, ranges.get(scope, []))


def _allocations_and_ranges(profiler, scopes: tuple[str, ...]):
    """CPU allocator events [(time_ns, address, signed bytes)] in time order, and the [start, end]
    intervals of the named record_function ranges."""
    allocations: list[tuple[int, int, int]] = []
    ranges: dict[str, list[tuple[int, int]]] = {}
    pending = list(profiler.profiler.kineto_results.experimental_event_tree())
    while pending:
        event = pending.pop()
        pending.extend(event.children)
        if event.tag == _EventType.Allocation:
            fields = event.extra_fields
            if fields.device.type == "cpu":
                allocations.append((event.start_time_ns, fields.ptr, fields.alloc_size))
        elif event.name in scopes:
            ranges.setdefault(event.name, []).append((event.start_time_ns, event.end_time_ns))
    allocations.sort(key=lambda a: a[0])
    return allocations, ranges


def _scoped_peak(allocations: list[tuple[int, int, int]], intervals: list[tuple[int, int]]) -> int:
    """Peak live bytes of the allocations made inside any interval, each counted until its free."""
    intervals = sorted(intervals)
    starts = [start for start, _ in intervals]

    def inside(time_ns: int) -> bool:
        index = bisect.bisect_right(starts, time_ns) - 1
        return index >= 0 and time_ns <= intervals[index][1]

    owned: dict[int, int] = {}
    live = peak = 0
    for time_ns, address, size in allocations:
        if size > 0:
            if inside(time_ns):
                owned[address] = size
                live += size
                peak = max(peak, live)
        else:
            live -= owned.pop(address, 0)
    return peak


def self_check(extra_bytes: int = DEFAULT_CHECK_BYTES, tolerance: float = 0.01) -> tuple[int, int]:
    """Validate the CPU method: the same workload measured twice, the second time holding one more
    tensor of ``extra_bytes`` inside the block, must differ in peak by that size (within ``tolerance``).
    Returns (peak without, peak with); raises AssertionError otherwise."""
    weight = torch.randn(256, 256)

    def workload(extra: int) -> None:
        held = torch.empty(extra, dtype=torch.uint8) if extra else None
        x = torch.randn(512, 256)
        for _ in range(3):
            x = torch.relu(x @ weight) / 2
        del held

    peaks = []
    for extra in (0, extra_bytes):
        with PeakMemory("cpu") as meter:
            workload(extra)
        peaks.append(meter.peak_bytes)
    difference = peaks[1] - peaks[0]
    if abs(difference - extra_bytes) > tolerance * extra_bytes:
        raise AssertionError(f"peak memory self-check: holding {extra_bytes} B more raised the peak by {difference} B")
    return peaks[0], peaks[1]
