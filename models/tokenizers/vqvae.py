"""The motion VQ-VAE of T2M-GPT / MotionGPT (kind ``vqvae``) and the convolutional pieces every
tokenizer here shares.

Latents are channels-first: [B, C, T] inside the networks, [B, T, D] features outside. With the
official configuration (263 HumanML3D features, width 512, two stride-2 stages, three dilated
residual blocks per stage, 512 codes of 512 dimensions) ``VQVAE().state_dict()`` has exactly the
keys and shapes of the published checkpoints after their wrapper prefix is removed:
``encoder.model.{i}...``, ``decoder.model.{i}...``, ``quantizer.codebook``.

Encoder ``model``: 0 conv3 (D -> width), 1 activation, then per stage ``.0`` conv (kernel 2s,
stride s) and ``.1`` dilated residual stack, then a conv3 to the code width.
Decoder ``model``: 0 conv3, 1 activation, per stage ``.0`` residual stack, ``.1`` nearest upsampling
by s, ``.2`` conv3, then conv3, activation, conv3 to D.
Residual stacks use dilations growth**k for k = depth-1 .. 0 (largest first, in the encoder too,
as the official code does).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from .base import MotionTokenizer
from .quantizers import EMACodebook

ACTIVATIONS = {"relu": nn.ReLU, "silu": nn.SiLU, "gelu": nn.GELU}


def make_activation(name: str) -> nn.Module:
    if name not in ACTIVATIONS:
        raise ValueError(f"activation must be one of {sorted(ACTIVATIONS)}, got {name!r}")
    return ACTIVATIONS[name]()


class ResidualConvBlock(nn.Module):
    """x + conv1x1(act(conv3_dilated(act(x)))), with optional dropout before the sum (MoMask)."""

    def __init__(self, width: int, dilation: int, activation: str = "relu", dropout: float = 0.0):
        super().__init__()
        self.activation1 = make_activation(activation)
        self.conv1 = nn.Conv1d(width, width, 3, 1, dilation, dilation)
        self.activation2 = make_activation(activation)
        self.conv2 = nn.Conv1d(width, width, 1)
        self.dropout = nn.Dropout(dropout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        hidden = self.conv2(self.activation2(self.conv1(self.activation1(x))))
        return x + self.dropout(hidden)


class DilatedResnet1D(nn.Module):
    def __init__(self, width: int, depth: int, growth: int, activation: str = "relu", dropout: float = 0.0):
        super().__init__()
        dilations = [growth ** k for k in reversed(range(depth))]
        self.model = nn.Sequential(*(ResidualConvBlock(width, d, activation, dropout) for d in dilations))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.model(x)


class MotionEncoder(nn.Module):
    """[B, input_dim, T] -> [B, latent_dim, T / stride**down_t]."""

    def __init__(self, input_dim: int, latent_dim: int, down_t: int = 2, stride_t: int = 2, width: int = 512,
                 depth: int = 3, dilation_growth: int = 3, activation: str = "relu", dropout: float = 0.0):
        super().__init__()
        layers: list[nn.Module] = [nn.Conv1d(input_dim, width, 3, 1, 1), make_activation(activation)]
        for _ in range(down_t):
            layers.append(nn.Sequential(
                nn.Conv1d(width, width, 2 * stride_t, stride_t, stride_t // 2),
                DilatedResnet1D(width, depth, dilation_growth, activation, dropout)))
        layers.append(nn.Conv1d(width, latent_dim, 3, 1, 1))
        self.model = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.model(x)


class MotionDecoder(nn.Module):
    """[B, latent_dim, N] -> [B, output_dim, N * stride**down_t]."""

    def __init__(self, output_dim: int, latent_dim: int, down_t: int = 2, stride_t: int = 2, width: int = 512,
                 depth: int = 3, dilation_growth: int = 3, activation: str = "relu", dropout: float = 0.0):
        super().__init__()
        layers: list[nn.Module] = [nn.Conv1d(latent_dim, width, 3, 1, 1), make_activation(activation)]
        for _ in range(down_t):
            layers.append(nn.Sequential(
                DilatedResnet1D(width, depth, dilation_growth, activation, dropout),
                nn.Upsample(scale_factor=stride_t, mode="nearest"),
                nn.Conv1d(width, width, 3, 1, 1)))
        layers += [nn.Conv1d(width, width, 3, 1, 1), make_activation(activation), nn.Conv1d(width, output_dim, 3, 1, 1)]
        self.model = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.model(x)


def reconstruction_losses(recon: torch.Tensor, target: torch.Tensor, commit_loss: torch.Tensor,
                          config: dict) -> dict[str, torch.Tensor]:
    """Weighted training terms: smooth-L1 (or L2) reconstruction, the same on frame-to-frame
    differences (velocity regularisation, as MotionGPT-2 describes) and the commitment loss."""
    distance = F.mse_loss if config.get("recon_loss", "smooth_l1") == "l2" else F.smooth_l1_loss
    losses = {"reconstruction": distance(recon, target)}
    if config.get("velocity_weight", 0) > 0 and target.shape[1] > 1:
        losses["velocity"] = config["velocity_weight"] * distance(recon.diff(dim=1), target.diff(dim=1))
    losses["commitment"] = config.get("commit_weight", 0.02) * commit_loss
    return losses


class VQVAE(MotionTokenizer):
    """One codebook: features [B, T, D] <-> ids [B, T // 4, 1] (defaults = the official model)."""

    kind = "vqvae"

    def __init__(self, input_dim: int = 263, num_codes: int = 512, code_dim: int = 512, width: int = 512,
                 down_t: int = 2, stride_t: int = 2, depth: int = 3, dilation_growth: int = 3,
                 activation: str = "relu", decay: float = 0.99, commit_weight: float = 0.02,
                 velocity_weight: float = 0.5, recon_loss: str = "smooth_l1", fps: float = 20.0):
        super().__init__()
        self.config = dict(input_dim=input_dim, num_codes=num_codes, code_dim=code_dim, width=width,
                           down_t=down_t, stride_t=stride_t, depth=depth, dilation_growth=dilation_growth,
                           activation=activation, decay=decay, commit_weight=commit_weight,
                           velocity_weight=velocity_weight, recon_loss=recon_loss, fps=fps)
        self.downsample = stride_t ** down_t
        shape = dict(down_t=down_t, stride_t=stride_t, width=width, depth=depth,
                     dilation_growth=dilation_growth, activation=activation)
        self.encoder = MotionEncoder(input_dim, code_dim, **shape)
        self.decoder = MotionDecoder(input_dim, code_dim, **shape)
        self.quantizer = EMACodebook(num_codes, code_dim, decay)

    @property
    def feature_dim(self) -> int:
        return self.config["input_dim"]

    def codebook_sizes(self) -> tuple[int, ...]:
        return (self.config["num_codes"],)

    def latents(self, features: torch.Tensor) -> torch.Tensor:
        """Encoder output flattened to [B * N, code_dim]."""
        hidden = self.encoder(features.transpose(1, 2))  # [B, C, N]
        return hidden.transpose(1, 2).reshape(-1, hidden.shape[1])

    def encode(self, features: torch.Tensor) -> torch.Tensor:
        features = self.check_features(features)
        ids = self.quantizer.nearest(self.latents(features))
        return ids.view(features.shape[0], -1, 1)

    def decode_latents(self, latents: torch.Tensor) -> torch.Tensor:
        """[B, N, code_dim] -> features [B, N * downsample, D]."""
        return self.decoder(latents.transpose(1, 2)).transpose(1, 2)

    def decode(self, ids: torch.Tensor) -> torch.Tensor:
        ids = self.check_ids(ids)
        return self.decode_latents(self.quantizer.lookup(ids[..., 0]))

    def forward(self, features: torch.Tensor) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        features = self.check_features(features)
        out = self.quantizer(self.latents(features))
        recon = self.decode_latents(out.vectors.view(features.shape[0], -1, out.vectors.shape[1]))
        return recon, reconstruction_losses(recon, features, out.commit_loss, self.config)
