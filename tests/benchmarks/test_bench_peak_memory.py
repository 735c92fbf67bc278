"""The benchmarks' CPU peak-memory meter counts tensor bytes exactly (sizes chosen here, not measured)."""

import os
import sys

import pytest
import torch

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "benchmarks"))

from peak_memory import PeakMemory, self_check  # noqa: E402

MiB = 1 << 20


def test_holding_a_known_tensor_raises_the_peak_by_its_size():
    without, with_extra = self_check(extra_bytes=4 * MiB, tolerance=0.01)
    assert without > 0
    assert abs((with_extra - without) - 4 * MiB) <= 0.01 * 4 * MiB


def test_transients_count_and_tensors_from_before_do_not():
    before = torch.ones(MiB)  # 4 MiB live before the block: not part of its peak, even when freed inside
    with PeakMemory("cpu") as meter:
        total = (before * 2).sum()  # a 4 MiB temporary, freed inside the block
        del before
        kept = torch.zeros(MiB // 4)  # 1 MiB still live at the end
    assert 4 * MiB <= meter.peak_bytes <= 4 * MiB + 1024  # the temporary (+ scalars)
    assert MiB <= meter.end_bytes <= MiB + 1024
    assert total.item() == 2 * MiB and kept.numel() == MiB // 4


def test_scope_counts_what_was_allocated_inside_until_it_is_freed():
    outside = None
    with PeakMemory("cpu", scopes=("model",)) as meter:
        inputs = torch.zeros(MiB // 4)  # 1 MiB made outside the scope
        with torch.profiler.record_function("model"):
            cache = torch.zeros(MiB // 2)  # 2 MiB made inside and kept after it
            scratch = torch.zeros(MiB)  # 4 MiB made and freed inside
            del scratch
        outside = torch.zeros(2 * MiB)  # 8 MiB made outside: not the scope's
        del cache  # freed outside the scope: the scope's live bytes drop
        with torch.profiler.record_function("model"):
            again = torch.zeros(MiB // 4)  # 1 MiB
    assert meter.scope_peak_bytes["model"] == 6 * MiB  # cache + scratch at once
    assert meter.peak_bytes == 1 * MiB + 2 * MiB + 8 * MiB  # inputs + cache + outside
    assert inputs.numel() and outside.numel() and again.numel()


def test_scopes_are_cpu_only():
    with pytest.raises(ValueError, match="CPU only"):
        PeakMemory("cuda", scopes=("model",))
