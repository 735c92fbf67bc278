"""Vector quantisers shared by the motion tokenizers.

Quantisers work on flat latent vectors ``x`` [N, D] (callers flatten [B, D, T] latents to
[B * T, D]) and return a ``Quantized``: the straight-through quantised vectors [N, D], the code ids
(int64 [N] for one codebook, [N, Q] for residual VQ), the commitment loss and the codebook
perplexity.

``EMACodebook`` is the T2M-GPT / MotionGPT / MoMask "EMA + reset" quantiser: the codebook is not
trained by gradients but moved towards the mean of the vectors assigned to each code with an
exponential moving average; a code whose moving count falls below ``reset_threshold`` is dead and is
replaced by a random latent of the current batch. Only ``codebook`` is saved in a state dict (as in
the official checkpoints); the moving sums and counts are rebuilt from it when training resumes.

Trained by several processes (``core/training.py``), each process holds a slice of one global batch:
the EMA step and the dead-code reset gather every process's latents first, so each process makes
the same update a single process makes on the whole batch (DDP then keeps the buffers in step).

``ResidualQuantizer`` is MoMask's residual VQ: quantiser q encodes what quantisers 0..q-1 left over;
at training time, with probability ``dropout_prob`` only a random prefix of the quantisers is used,
so any prefix of the id streams decodes to a coarser motion.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

import torch
import torch.distributed as dist
import torch.nn.functional as F
from torch import nn


@dataclass(frozen=True)
class Quantized:
    vectors: torch.Tensor
    ids: torch.Tensor
    commit_loss: torch.Tensor
    perplexity: torch.Tensor
    active_quantizers: int = 1


def perplexity_of(ids: torch.Tensor, num_codes: int) -> torch.Tensor:
    """exp(entropy) of the code histogram: 1 when one code is used, num_codes when all are used equally."""
    counts = torch.bincount(ids.reshape(-1), minlength=num_codes).float()
    prob = counts / counts.sum().clamp(min=1.0)
    return torch.exp(-(prob * torch.log(prob + 1e-7)).sum())


def gather_batch(x: torch.Tensor) -> torch.Tensor:
    """Every process's rows of ``x`` in rank order (the whole global batch), or ``x`` itself when
    training in one process. Processes hold equal slices (``core.training.fit`` splits evenly)."""
    if not (dist.is_available() and dist.is_initialized()) or dist.get_world_size() == 1:
        return x
    parts = [torch.empty_like(x) for _ in range(dist.get_world_size())]
    dist.all_gather(parts, x.contiguous())
    return torch.cat(parts)


def random_rows(x: torch.Tensor, count: int) -> torch.Tensor:
    """``count`` rows drawn from x; when x has fewer rows, they are repeated with a little noise so
    that the reset codes stay distinct."""
    if x.shape[0] >= count:
        return x[torch.randperm(x.shape[0], device=x.device)[:count]]
    repeats = -(-count // x.shape[0])
    tiled = x.repeat(repeats, 1)[:count]
    return tiled + torch.randn_like(tiled) * (0.01 / x.shape[1] ** 0.5)


class EMACodebook(nn.Module):
    def __init__(self, num_codes: int = 512, code_dim: int = 512, decay: float = 0.99,
                 reset_threshold: float = 1.0, sample_temperature: float = 0.0):
        super().__init__()
        self.num_codes = num_codes
        self.code_dim = code_dim
        self.decay = decay
        self.reset_threshold = reset_threshold
        # MoMask picks training codes by Gumbel sampling at temperature 0.5; 0 = nearest code always.
        self.sample_temperature = sample_temperature
        self.register_buffer("codebook", torch.zeros(num_codes, code_dim))
        self.register_buffer("code_sum", torch.zeros(num_codes, code_dim), persistent=False)
        self.register_buffer("code_count", torch.zeros(num_codes), persistent=False)
        self.register_buffer("statistics_ready", torch.zeros((), dtype=torch.bool), persistent=False)

    def distances(self, x: torch.Tensor) -> torch.Tensor:
        codebook = self.codebook.to(x.dtype)
        return (x.pow(2).sum(1, keepdim=True) - 2 * x @ codebook.t() + codebook.pow(2).sum(1)[None])

    def nearest(self, x: torch.Tensor) -> torch.Tensor:
        return self.distances(x).argmin(dim=1)

    def lookup(self, ids: torch.Tensor) -> torch.Tensor:
        return F.embedding(ids, self.codebook)

    @torch.no_grad()
    def _prepare_statistics(self, x: torch.Tensor) -> None:
        """First training step: an all-zero codebook starts from batch latents (as the official
        code does); a loaded codebook keeps its codes, each counted once."""
        if not bool(self.codebook.abs().sum() > 0):
            self.codebook.copy_(random_rows(x.float(), self.num_codes))
        self.code_sum.copy_(self.codebook)
        self.code_count.fill_(1.0)
        self.statistics_ready.fill_(True)

    @torch.no_grad()
    def update(self, x: torch.Tensor, ids: torch.Tensor) -> None:
        """One EMA step towards the batch assignment, then reset of dead codes."""
        x = x.float()
        one_hot = F.one_hot(ids, self.num_codes).to(x.dtype)  # [N, K]
        self.code_sum.mul_(self.decay).add_(one_hot.t() @ x, alpha=1 - self.decay)
        self.code_count.mul_(self.decay).add_(one_hot.sum(0), alpha=1 - self.decay)
        alive = self.code_count >= self.reset_threshold
        centres = self.code_sum / self.code_count.clamp(min=1e-12)[:, None]
        replacements = random_rows(x, self.num_codes)
        self.codebook.copy_(torch.where(alive[:, None], centres, replacements))

    def choose(self, x: torch.Tensor) -> torch.Tensor:
        if self.training and self.sample_temperature > 0:
            logits = -self.distances(x) / self.sample_temperature
            gumbel = -torch.log(-torch.log(torch.rand_like(logits).clamp(min=1e-20)).clamp(min=1e-20))
            return (logits + gumbel).argmax(dim=1)
        return self.nearest(x)

    def forward(self, x: torch.Tensor) -> Quantized:
        if self.training and not bool(self.statistics_ready):
            self._prepare_statistics(gather_batch(x.detach()))
        ids = self.choose(x.detach())
        codes = self.lookup(ids).to(x.dtype)
        if self.training:
            self.update(gather_batch(x.detach()), gather_batch(ids))
        commit_loss = F.mse_loss(x, codes.detach())
        straight_through = x + (codes - x).detach()
        return Quantized(straight_through, ids, commit_loss, perplexity_of(ids, self.num_codes))


class ResidualQuantizer(nn.Module):
    def __init__(self, num_quantizers: int = 6, num_codes: int = 512, code_dim: int = 512,
                 decay: float = 0.99, dropout_prob: float = 0.2, sample_temperature: float = 0.0):
        super().__init__()
        self.num_quantizers = num_quantizers
        self.dropout_prob = dropout_prob
        self.layers = nn.ModuleList(EMACodebook(num_codes, code_dim, decay, sample_temperature=sample_temperature)
                                    for _ in range(num_quantizers))

    def active_count(self) -> int:
        """At training time, with probability dropout_prob, keep a random prefix of 1..Q quantisers."""
        if self.training and self.num_quantizers > 1 and random.random() < self.dropout_prob:
            return random.randint(1, self.num_quantizers)
        return self.num_quantizers

    def forward(self, x: torch.Tensor, active: int | None = None) -> Quantized:
        """Quantise x [N, D]; ids [N, Q] hold -1 in the streams dropped this step."""
        active = self.active_count() if active is None else active
        residual = x
        total = torch.zeros_like(x)
        ids = torch.full((x.shape[0], self.num_quantizers), -1, dtype=torch.long, device=x.device)
        losses, perplexities = [], []
        for q, layer in enumerate(self.layers[:active]):
            out = layer(residual)
            # Each stage sees the previous residual as a constant: gradients reach the encoder
            # through the straight-through sum, not through the chain of residuals.
            residual = residual - out.vectors.detach()
            total = total + out.vectors
            ids[:, q] = out.ids
            losses.append(out.commit_loss)
            perplexities.append(out.perplexity)
        return Quantized(total, ids, torch.stack(losses).mean(), torch.stack(perplexities).mean(), active)

    def nearest(self, x: torch.Tensor) -> torch.Tensor:
        residual = x
        ids = []
        for layer in self.layers:
            stage = layer.nearest(residual)
            residual = residual - layer.lookup(stage).to(x.dtype)
            ids.append(stage)
        return torch.stack(ids, dim=1)

    def lookup(self, ids: torch.Tensor) -> torch.Tensor:
        """Sum of the codes of the first ids.shape[-1] streams; ids [..., q] with q <= Q."""
        total = 0
        for q in range(ids.shape[-1]):
            total = total + self.layers[q].lookup(ids[..., q])
        return total
