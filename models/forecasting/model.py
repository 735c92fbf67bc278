"""The one-stage forecaster: all k future poses in one forward pass (Li, Bellos, Corso, Sec. 2).

Decoder input rows (Eq. 1): the initial pose P0, then k copies of a learned [PRD] placeholder row,
each embedded with a learned position. Self-attention is NOT masked, so training and inference
see the same input distribution; cross-attention reads the conditioning tokens (F_M). The head
predicts each future frame's displacement from P0 (relative pose forecasting).
"""

from __future__ import annotations

import torch
from torch import nn

from .checks import check_conditioning, check_horizon, check_initial_pose
from .losses import forecasting_loss
from .types import Conditioning, PoseWindows


class OneStageForecaster(nn.Module):
    name = "one_stage"
    label = "Ours (one-stage)"

    def __init__(self, num_joints: int, cond_dim: int, layout: str, encoder: str, max_horizon: int = 45,
                 d_model: int = 128, num_layers: int = 3, num_heads: int = 4, ffn_dim: int = 256,
                 dropout: float = 0.1, alpha: float = 1.0, beta: float = 1.0, theta: float = 0.1,
                 loss_unit: float = 100.0):
        super().__init__()
        self.config = dict(num_joints=num_joints, cond_dim=cond_dim, layout=layout, encoder=encoder,
                           max_horizon=max_horizon, d_model=d_model, num_layers=num_layers, num_heads=num_heads,
                           ffn_dim=ffn_dim, dropout=dropout, alpha=alpha, beta=beta, theta=theta,
                           loss_unit=loss_unit)
        width = 2 * num_joints
        self.pose_in = nn.Linear(width, d_model)
        self.placeholder = nn.Parameter(torch.zeros(width))  # the [PRD] row of Eq. 1
        self.positions = nn.Parameter(torch.randn(max_horizon + 1, d_model) * 0.02)
        self.cond_in = nn.Linear(cond_dim, d_model)
        layer = nn.TransformerDecoderLayer(d_model, num_heads, ffn_dim, dropout, batch_first=True, norm_first=True)
        self.decoder = nn.TransformerDecoder(layer, num_layers)
        self.head = nn.Linear(d_model, width)
        nn.init.zeros_(self.head.weight)  # start from "stay still", a good prior for displacements
        nn.init.zeros_(self.head.bias)

    def displacements(self, initial_pose: torch.Tensor, conditioning: Conditioning, horizon: int) -> torch.Tensor:
        """[B, J, 2] P0 -> [B, horizon, J, 2] displacements from P0, in one decoder pass."""
        batch, joints = initial_pose.shape[:2]
        rows = torch.cat([initial_pose.reshape(batch, 1, -1),
                          self.placeholder.expand(batch, horizon, -1)], dim=1)
        tokens = self.pose_in(rows) + self.positions[: horizon + 1]
        memory = self.cond_in(conditioning.tokens)
        hidden = self.decoder(tokens, memory, memory_key_padding_mask=~conditioning.mask)
        return self.head(hidden[:, 1:]).reshape(batch, horizon, joints, 2)

    def forecast(self, initial_pose: torch.Tensor, conditioning: Conditioning, horizon: int,
                 initial_visible: torch.Tensor | None = None) -> torch.Tensor:
        """[B, J, 2] -> [B, horizon, J, 2]. Unseen keypoints enter as (0, 0), as in training, so
        ``initial_visible`` (accepted for a common interface with the baselines) is not needed."""
        config = self.config
        check_initial_pose(initial_pose, conditioning, config["num_joints"], config["layout"])
        check_horizon(horizon, config["max_horizon"])
        check_conditioning(conditioning, config["encoder"], config["cond_dim"])
        return initial_pose[:, None] + self.displacements(initial_pose, conditioning, horizon)

    def loss(self, windows: PoseWindows) -> torch.Tensor:
        initial = windows.poses[:, 0]
        pred = self.forecast(initial, windows.conditioning, windows.horizon)
        return forecasting_loss(pred, windows.poses[:, 1:], windows.visible[:, 1:],
                                self.config["alpha"], self.config["beta"], self.config["theta"], self.config["loss_unit"])

