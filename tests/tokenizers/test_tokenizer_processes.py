"""EMA codebooks under several processes: two gloo processes training a tiny VQ-VAE on halves of one
global batch make the codebook updates (and so the loss curve) of one process on the whole batch.

Run as a script (``python -m torch.distributed.run --nproc_per_node 2 THIS OUT``) this file is the
worker; the main process writes the history and the final codebook to OUT.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import torch
from posemotion.models.core.training import fit
from posemotion.models.tokenizers.vqvae import VQVAE

STEPS, BATCH, ITEMS, FRAMES, DIM = 12, 8, 32, 16, 12
# Measured (torch 2.13 CPU): the loss curves agree to 1.1e-7 relative; without gathering the batch in
# the quantiser (each process updating its codebook from its own half) they differ by 8.2e-3.
RTOL = 1e-4


def _train() -> tuple[list[float], list[float]]:
    data = torch.Generator().manual_seed(1)
    features = torch.randn(ITEMS, FRAMES, DIM, generator=data).cumsum(1) / 4
    torch.manual_seed(0)
    model = VQVAE(input_dim=DIM, num_codes=32, code_dim=16, width=16, depth=1, down_t=1)

    def loss_fn(net, indices):
        _, losses = net(features[indices])
        return sum(losses.values()), {}
    result = fit(model, loss_fn, STEPS, num_items=ITEMS, batch_size=BATCH, lr=3e-3, seed=3, every=1)
    return [e["loss"] for e in result["history"]], model.quantizer.codebook.flatten()[:64].tolist()


def test_two_processes_update_the_codebook_as_one(tmp_path):
    out = tmp_path / "two.json"
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    command = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2",
               str(Path(__file__).resolve()), str(out)]
    done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=180, cwd=tmp_path)
    assert done.returncode == 0, done.stderr[-3000:]
    two = json.loads(out.read_text())
    torch.set_num_threads(1)
    losses, codebook = _train()
    torch.testing.assert_close(torch.tensor(two["losses"]), torch.tensor(losses), rtol=RTOL, atol=0.0)
    torch.testing.assert_close(torch.tensor(two["codebook"]), torch.tensor(codebook), rtol=RTOL, atol=1e-6)


if __name__ == "__main__":
    torch.set_num_threads(1)
    history, book = _train()
    if int(os.environ.get("RANK", "0")) == 0:
        Path(sys.argv[1]).write_text(json.dumps({"losses": history, "codebook": book}))
