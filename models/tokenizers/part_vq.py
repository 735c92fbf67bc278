"""MotionGPT-2's Part-Aware VQ-VAE (kind ``part_vq``): holistic features [B, T, body_dim + hand_dim]
<-> ids [B, T // 4, 2] with stream 0 = body tokens, stream 1 = hand tokens.

As the paper describes (hand-first fusion): body and hand features have their own encoders and
codebooks; the hand latent is quantised first, then the body latent is concatenated with the
quantised hand latent and projected back to the code width (``body_fuse``, a 1x1 convolution) before
the body codebook quantises it, so body tokens are chosen knowing the hands. One body-hand decoder
reconstructs the holistic features from the concatenated body and hand codes.

No official weights exist; the defaults follow the paper (two 512 x 512 codebooks, temporal
downsampling 4) and reuse the VQ-VAE's encoder, decoder and EMA codebook. The feature layout (the
first ``body_dim`` features are the body, the rest the hands) and the default widths (263 + 360)
come from ``models/humanml3d.py``.
"""

from __future__ import annotations

import torch
from torch import nn

from ..motion import humanml3d
from .base import MotionTokenizer
from .quantizers import EMACodebook
from .vqvae import MotionDecoder, MotionEncoder, reconstruction_losses


class PartAwareVQVAE(MotionTokenizer):
    kind = "part_vq"

    def __init__(self, body_dim: int | None = None, hand_dim: int | None = None, num_codes: int = 512,
                 code_dim: int = 512, width: int = 512, down_t: int = 2, stride_t: int = 2, depth: int = 3,
                 dilation_growth: int = 3, activation: str = "relu", decay: float = 0.99,
                 commit_weight: float = 0.02, velocity_weight: float = 0.5, recon_loss: str = "smooth_l1",
                 fps: float = 20.0):
        super().__init__()
        body_dim = humanml3d.BODY_DIM if body_dim is None else body_dim
        hand_dim = humanml3d.HAND_DIM if hand_dim is None else hand_dim
        self.config = dict(body_dim=body_dim, hand_dim=int(hand_dim), num_codes=num_codes, code_dim=code_dim,
                           width=width, down_t=down_t, stride_t=stride_t, depth=depth,
                           dilation_growth=dilation_growth, activation=activation, decay=decay,
                           commit_weight=commit_weight, velocity_weight=velocity_weight,
                           recon_loss=recon_loss, fps=fps)
        self.downsample = stride_t ** down_t
        shape = dict(down_t=down_t, stride_t=stride_t, width=width, depth=depth,
                     dilation_growth=dilation_growth, activation=activation)
        self.body_encoder = MotionEncoder(body_dim, code_dim, **shape)
        self.hand_encoder = MotionEncoder(int(hand_dim), code_dim, **shape)
        self.body_fuse = nn.Conv1d(2 * code_dim, code_dim, 1)
        self.body_quantizer = EMACodebook(num_codes, code_dim, decay)
        self.hand_quantizer = EMACodebook(num_codes, code_dim, decay)
        self.decoder = MotionDecoder(body_dim + int(hand_dim), 2 * code_dim, **shape)

    @property
    def feature_dim(self) -> int:
        return self.config["body_dim"] + self.config["hand_dim"]

    def codebook_sizes(self) -> tuple[int, ...]:
        return (self.config["num_codes"],) * 2

    def split(self, features: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        body_dim = self.config["body_dim"]
        return features[..., :body_dim], features[..., body_dim:]

    def _body_latent(self, body: torch.Tensor, hand_codes: torch.Tensor) -> torch.Tensor:
        """Body encoder output fused with the quantised hand latent; both [B, C, N]."""
        return self.body_fuse(torch.cat([self.body_encoder(body.transpose(1, 2)), hand_codes], dim=1))

    @staticmethod
    def _flat(latent: torch.Tensor) -> torch.Tensor:
        return latent.transpose(1, 2).reshape(-1, latent.shape[1])

    def _quantize(self, features: torch.Tensor):
        """Training pass through both codebooks: hand first, then the fused body latent."""
        body, hand = self.split(features)
        hand_latent = self.hand_encoder(hand.transpose(1, 2))  # [B, C, N]
        batch, channels, steps = hand_latent.shape
        hand_out = self.hand_quantizer(self._flat(hand_latent))
        hand_codes = hand_out.vectors.view(batch, steps, channels).transpose(1, 2)
        body_out = self.body_quantizer(self._flat(self._body_latent(body, hand_codes)))
        return body_out, hand_out, (batch, steps, channels)

    def encode(self, features: torch.Tensor) -> torch.Tensor:
        features = self.check_features(features)
        body, hand = self.split(features)
        hand_latent = self.hand_encoder(hand.transpose(1, 2))
        batch, channels, steps = hand_latent.shape
        hand_ids = self.hand_quantizer.nearest(self._flat(hand_latent))
        hand_codes = self.hand_quantizer.lookup(hand_ids).to(hand_latent.dtype).view(batch, steps, channels)
        body_ids = self.body_quantizer.nearest(self._flat(self._body_latent(body, hand_codes.transpose(1, 2))))
        return torch.stack([body_ids, hand_ids], dim=1).view(batch, steps, 2)

    def decode_latents(self, body_codes: torch.Tensor, hand_codes: torch.Tensor) -> torch.Tensor:
        """Codes [B, N, code_dim] each -> holistic features [B, N * downsample, body_dim + hand_dim]."""
        return self.decoder(torch.cat([body_codes, hand_codes], dim=2).transpose(1, 2)).transpose(1, 2)

    def decode(self, ids: torch.Tensor) -> torch.Tensor:
        ids = self.check_ids(ids)
        return self.decode_latents(self.body_quantizer.lookup(ids[..., 0]), self.hand_quantizer.lookup(ids[..., 1]))

    def forward(self, features: torch.Tensor) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        features = self.check_features(features)
        body_out, hand_out, (batch, steps, channels) = self._quantize(features)
        recon = self.decode_latents(body_out.vectors.view(batch, steps, channels),
                                    hand_out.vectors.view(batch, steps, channels))
        commit = (body_out.commit_loss + hand_out.commit_loss) / 2
        return recon, reconstruction_losses(recon, features, commit, self.config)
