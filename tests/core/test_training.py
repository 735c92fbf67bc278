"""The one training loop (``core.training.fit``): two CPU processes (gloo, launched by torchrun) on
per-process batches of B/2 follow the loss curve of one process on the global batch B.

Run as a script (``python -m torch.distributed.run --nproc_per_node 2 test_training.py OUT``) this
file is the worker: it trains the tiny regression MLP below and the main process writes the
history to OUT.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

REPO = Path(__file__).resolve().parents[2]
STEPS, BATCH, ITEMS = 20, 8, 64
# Measured (torch 2.13 CPU, accelerate 1.15): max relative difference 3.5e-7 (absolute 1.2e-7) between
# the 2-process and the 1-process curves (float summation order of the averaged gradients); one
# process on the per-process batch B/2 differs by up to 4.4x. The test takes ~20 s on 2 cores.
RTOL = 1e-4


def _problem(seen: list | None = None):
    """A tiny MLP and a fixed regression data set, identical in every process; ``seen`` collects
    the item indices of every step."""
    data = torch.Generator().manual_seed(1)
    inputs = torch.randn(ITEMS, 6, generator=data)
    targets = inputs @ torch.randn(6, 2, generator=data) / 2
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Linear(6, 32), torch.nn.Tanh(), torch.nn.Linear(32, 2))

    def loss_fn(net, indices):
        if seen is not None:
            seen.append(indices.tolist())
        error = (net(inputs[indices]) - targets[indices]).pow(2).mean()
        return error, {"abs": (net(inputs[indices]) - targets[indices]).abs().mean()}
    return model, loss_fn


def _train(fit, batch_size: int, seen: list | None = None) -> tuple[list[dict], int]:
    model, loss_fn = _problem(seen)
    result = fit(model, loss_fn, STEPS, num_items=ITEMS, batch_size=batch_size, lr=3e-2, weight_decay=0.01,
                 warmup=4, seed=3, every=1)
    return result["history"], result["num_processes"]


def _worker(out: str) -> None:
    # The worker imports the core package on its own (core imports nothing else from the pack), which
    # skips the pack's node imports: a few seconds less per process.
    sys.path.insert(0, str(REPO / "models"))
    from core.training import fit  # noqa: E402 - path set just above

    seen = []
    history, processes = _train(fit, BATCH, seen)
    rank = int(os.environ.get("RANK", "0"))
    with open(f"{out}.{rank}", "w") as handle:
        json.dump({"history": history, "num_processes": processes, "seen": seen}, handle)


def test_two_processes_follow_the_one_process_curve(tmp_path):
    from posemotion.models.core.training import fit

    out = tmp_path / "two.json"
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": ""}
    command = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2",
               str(Path(__file__).resolve()), str(out)]
    start = time.perf_counter()
    done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=120, cwd=tmp_path)
    seconds = time.perf_counter() - start
    assert done.returncode == 0, done.stderr[-3000:]
    two, other = (json.loads(Path(f"{out}.{rank}").read_text()) for rank in (0, 1))
    assert two["num_processes"] == other["num_processes"] == 2
    assert other["history"] == []  # the history comes from the main process only

    torch.set_num_threads(1)
    seen = []
    one, processes = _train(fit, BATCH, seen)
    assert processes == 1
    # each process takes its half of the same global batch
    assert [a + b for a, b in zip(two["seen"], other["seen"])] == seen
    assert {len(a) for a in two["seen"] + other["seen"]} == {BATCH // 2}
    assert [e["step"] for e in two["history"]] == [e["step"] for e in one] == list(range(1, STEPS + 1))
    losses = [e["loss"] for e in one]
    assert sum(losses[-5:]) < 0.5 * sum(losses[:5])  # it trains
    for key in ("loss", "abs"):
        torch.testing.assert_close(torch.tensor([e[key] for e in two["history"]]),
                                   torch.tensor([e[key] for e in one]), rtol=RTOL, atol=0.0)
    # the comparison can fail: one process on the per-process batch B/2 is a different curve
    half, _ = _train(fit, BATCH // 2)
    assert max(abs(a["loss"] - b["loss"]) / b["loss"] for a, b in zip(half, one)) > 100 * RTOL
    assert seconds < 60, f"two-process run took {seconds:.0f} s"


def test_non_finite_loss_names_model_and_step():
    from posemotion.models.core.training import fit

    model, loss_fn = _problem()
    calls = []

    def exploding(net, indices):
        calls.append(1)
        loss, logs = loss_fn(net, indices)
        return (loss * float("nan") if len(calls) == 3 else loss), logs

    with pytest.raises(FloatingPointError, match=r"Sequential: loss became nan at step 3"):
        fit(model, exploding, STEPS, num_items=ITEMS, batch_size=BATCH, lr=1e-2)


def test_no_steps_is_an_input_error():
    from posemotion.models.core.errors import InputError
    from posemotion.models.core.training import fit

    model, loss_fn = _problem()
    with pytest.raises(InputError, match="need at least one item and one step"):
        fit(model, loss_fn, 0, num_items=ITEMS, batch_size=BATCH, lr=1e-2)


if __name__ == "__main__":
    _worker(sys.argv[1])
