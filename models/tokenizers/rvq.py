"""MoMask's residual VQ-VAE (kind ``rvq``): features [B, T, D] <-> ids [B, T // 4, Q].

The encoder and decoder are the VQ-VAE's (same key names); the quantizer is a stack of Q EMA
codebooks (``quantizer.layers.{q}.codebook``), each quantising the residual left by the ones before.
The decoder sees the sum of the codes, so ids [B, N, q] for any prefix q = 1..Q decode (coarser for
smaller q); quantiser dropout at training time teaches the decoder to do so. Defaults are the
published MoMask tokenizer (``rvq_nq6_dc512_nc512_noshare_qdp0.2``): 6 quantisers x 512 codes x 512
dimensions, dropout probability 0.2, residual-block dropout 0.2, Gumbel code sampling at
temperature 0.5 while training.
"""

from __future__ import annotations

import torch

from .base import MotionTokenizer
from .quantizers import ResidualQuantizer
from .vqvae import MotionDecoder, MotionEncoder, reconstruction_losses


class ResidualVQVAE(MotionTokenizer):
    kind = "rvq"

    def __init__(self, input_dim: int = 263, num_quantizers: int = 6, num_codes: int = 512, code_dim: int = 512,
                 width: int = 512, down_t: int = 2, stride_t: int = 2, depth: int = 3, dilation_growth: int = 3,
                 activation: str = "relu", decay: float = 0.99, quantizer_dropout: float = 0.2,
                 block_dropout: float = 0.2, sample_temperature: float = 0.5, commit_weight: float = 0.02,
                 velocity_weight: float = 0.5, recon_loss: str = "smooth_l1", fps: float = 20.0):
        super().__init__()
        if not 1 <= num_quantizers:
            raise ValueError(f"num_quantizers must be >= 1, got {num_quantizers}")
        self.config = dict(input_dim=input_dim, num_quantizers=num_quantizers, num_codes=num_codes,
                           code_dim=code_dim, width=width, down_t=down_t, stride_t=stride_t, depth=depth,
                           dilation_growth=dilation_growth, activation=activation, decay=decay,
                           quantizer_dropout=quantizer_dropout, block_dropout=block_dropout,
                           sample_temperature=sample_temperature, commit_weight=commit_weight,
                           velocity_weight=velocity_weight, recon_loss=recon_loss, fps=fps)
        self.downsample = stride_t ** down_t
        shape = dict(down_t=down_t, stride_t=stride_t, width=width, depth=depth,
                     dilation_growth=dilation_growth, activation=activation, dropout=block_dropout)
        self.encoder = MotionEncoder(input_dim, code_dim, **shape)
        self.decoder = MotionDecoder(input_dim, code_dim, **shape)
        self.quantizer = ResidualQuantizer(num_quantizers, num_codes, code_dim, decay, quantizer_dropout,
                                           sample_temperature)

    @property
    def feature_dim(self) -> int:
        return self.config["input_dim"]

    def codebook_sizes(self) -> tuple[int, ...]:
        return (self.config["num_codes"],) * self.config["num_quantizers"]

    def latents(self, features: torch.Tensor) -> torch.Tensor:
        hidden = self.encoder(features.transpose(1, 2))
        return hidden.transpose(1, 2).reshape(-1, hidden.shape[1])

    def encode(self, features: torch.Tensor) -> torch.Tensor:
        features = self.check_features(features)
        ids = self.quantizer.nearest(self.latents(features))
        return ids.view(features.shape[0], -1, self.config["num_quantizers"])

    def decode_latents(self, latents: torch.Tensor) -> torch.Tensor:
        return self.decoder(latents.transpose(1, 2)).transpose(1, 2)

    def decode(self, ids: torch.Tensor) -> torch.Tensor:
        """ids [B, N, q], q = 1..Q: the first q residual streams."""
        ids = self.check_ids(ids, min_streams=1)
        return self.decode_latents(self.quantizer.lookup(ids))

    def forward(self, features: torch.Tensor, active_quantizers: int | None = None
                ) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        """Training pass; ``active_quantizers`` fixes the prefix length (else quantiser dropout picks it)."""
        features = self.check_features(features)
        out = self.quantizer(self.latents(features), active_quantizers)
        recon = self.decode_latents(out.vectors.view(features.shape[0], -1, out.vectors.shape[1]))
        return recon, reconstruction_losses(recon, features, out.commit_loss, self.config)
