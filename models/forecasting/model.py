"""The one-stage forecaster: all k future poses in one forward pass (Li, Bellos, Corso, Sec. 2).

Decoder input rows (Eq. 1): the initial pose P0, then k copies of a learned [PRD] placeholder row,
each embedded with a learned position. Self-attention is NOT masked, so training and inference
see the same input distribution; cross-attention reads the conditioning tokens (F_M).

Two heads (config ``output``):

- ``"displacements"`` (the paper): each future frame's free per-joint displacement from P0;
- ``"bones"`` (default for new models): per frame, the root's displacement and, per bone of the
  layout's tree (``bones.py``), a rotation angle of P0's bone vector and a foreshortening factor in
  (0, F_MAX]; joints are accumulated down the tree. Every bone's 2D length is at most F_MAX (1.08)
  times its length at P0, so "no bone exceeds 1.1x its frame-0 length" holds by design -- in image
  units when ``aspect`` (canvas width / height) is given, since the rotation and lengths are computed
  with x multiplied by it.

Both heads start at zero, so an untrained model predicts "stay still" exactly. Checkpoints written
before the ``output`` option existed load as ``"displacements"`` (``legacy_config``).
"""

from __future__ import annotations

import torch
from torch import nn

from ..core.errors import InputError
from .bones import aspect_tensor, bone_factor, bone_tree, from_metric, pose_from_bones, rest_pose, to_metric
from .checks import check_conditioning, check_horizon, check_initial_pose
from .losses import bone_direction_loss, forecasting_loss
from .types import Conditioning, PoseWindows

OUTPUTS = ("bones", "displacements")


class OneStageForecaster(nn.Module):
    name = "one_stage"
    label = "Ours (one-stage)"

    def __init__(self, num_joints: int, cond_dim: int, layout: str, encoder: str, max_horizon: int = 45,
                 d_model: int = 128, num_layers: int = 3, num_heads: int = 4, ffn_dim: int = 256,
                 dropout: float = 0.1, alpha: float = 1.0, beta: float = 1.0, theta: float = 0.1,
                 loss_unit: float = 100.0, output: str = "bones", direction_weight: float = 0.0):
        super().__init__()
        if output not in OUTPUTS:
            raise InputError("output", f"expected one of {OUTPUTS}, got {output!r}")
        self.config = dict(num_joints=num_joints, cond_dim=cond_dim, layout=layout, encoder=encoder,
                           max_horizon=max_horizon, d_model=d_model, num_layers=num_layers, num_heads=num_heads,
                           ffn_dim=ffn_dim, dropout=dropout, alpha=alpha, beta=beta, theta=theta,
                           loss_unit=loss_unit, output=output, direction_weight=direction_weight)
        # bones mode: the layout's tree (refuses layouts without one); the direction term needs it too
        self.tree = bone_tree(layout) if output == "bones" or direction_weight > 0 else None
        if self.tree is not None and self.tree.paths.shape[0] != num_joints:
            raise InputError("num_joints", f"layout {layout!r} has {self.tree.paths.shape[0]} joints, got {num_joints}")
        width = 2 * num_joints
        head_width = width if output == "displacements" else 2 + 2 * self.tree.num_bones
        self.pose_in = nn.Linear(width, d_model)
        self.placeholder = nn.Parameter(torch.zeros(width))  # the [PRD] row of Eq. 1
        self.positions = nn.Parameter(torch.randn(max_horizon + 1, d_model) * 0.02)
        self.cond_in = nn.Linear(cond_dim, d_model)
        layer = nn.TransformerDecoderLayer(d_model, num_heads, ffn_dim, dropout, batch_first=True, norm_first=True)
        self.decoder = nn.TransformerDecoder(layer, num_layers)
        self.head = nn.Linear(d_model, head_width)
        nn.init.zeros_(self.head.weight)  # start from "stay still": zero displacement / rotation, factor 1
        nn.init.zeros_(self.head.bias)

    @staticmethod
    def legacy_config(config: dict) -> dict:
        """A checkpoint config from before the ``output`` option: the paper's displacement head."""
        return config if "output" in config else {**config, "output": "displacements"}

    def _head(self, rows0: torch.Tensor, conditioning: Conditioning, horizon: int) -> torch.Tensor:
        """P0 row [B, 2J] -> head outputs [B, horizon, head width], in one decoder pass."""
        batch = rows0.shape[0]
        rows = torch.cat([rows0[:, None], self.placeholder.expand(batch, horizon, -1)], dim=1)
        tokens = self.pose_in(rows) + self.positions[: horizon + 1]
        memory = self.cond_in(conditioning.tokens)
        hidden = self.decoder(tokens, memory, memory_key_padding_mask=~conditioning.mask)
        return self.head(hidden[:, 1:])

    def displacements(self, initial_pose: torch.Tensor, conditioning: Conditioning, horizon: int,
                      initial_visible: torch.Tensor | None = None, aspect=None) -> torch.Tensor:
        """[B, J, 2] P0 -> [B, horizon, J, 2] displacements from P0, in one decoder pass."""
        return self._predict(initial_pose, conditioning, horizon, initial_visible, aspect) - initial_pose[:, None]

    def _predict(self, initial_pose, conditioning, horizon, initial_visible, aspect) -> torch.Tensor:
        batch, joints = initial_pose.shape[:2]
        if self.config["output"] == "displacements":
            out = self._head(initial_pose.reshape(batch, -1), conditioning, horizon)
            return initial_pose[:, None] + out.reshape(batch, horizon, joints, 2)
        if initial_visible is None:
            initial_visible = torch.ones(batch, joints, dtype=torch.bool, device=initial_pose.device)
        ratio = aspect_tensor(aspect, batch, initial_pose)
        p0 = to_metric(initial_pose, ratio)  # lengths and rotations where x and y measure alike
        out = self._head(p0.reshape(batch, -1), conditioning, horizon)
        nb = self.tree.num_bones
        rest, v0 = rest_pose(p0, initial_visible, self.tree)
        poses = pose_from_bones(rest, v0, out[..., :2], out[..., 2:2 + nb], bone_factor(out[..., 2 + nb:]), self.tree)
        return initial_pose[:, None] + from_metric(poses - p0[:, None], ratio)  # P0 exactly where nothing moved

    def forecast(self, initial_pose: torch.Tensor, conditioning: Conditioning, horizon: int,
                 initial_visible: torch.Tensor | None = None, aspect=None) -> torch.Tensor:
        """[B, J, 2] -> [B, horizon, J, 2]. Unseen keypoints enter as (0, 0), as in training.

        ``initial_visible`` [B, J] bool (default: all seen) tells the bone head which of P0's bones
        are real (unseen ones take canonical proportions); ``aspect`` (a number or [B]; default 1)
        is the canvas width / height, the unit in which bone lengths are kept. The displacement head
        ignores both."""
        config = self.config
        visible = check_initial_pose(initial_pose, conditioning, config["num_joints"], config["layout"],
                                     initial_visible)
        check_horizon(horizon, config["max_horizon"])
        check_conditioning(conditioning, config["encoder"], config["cond_dim"])
        return self._predict(initial_pose, conditioning, horizon, visible, aspect)

    def loss(self, windows: PoseWindows) -> torch.Tensor:
        """The paper's loss on the predicted positions (Eq. 10), plus ``direction_weight`` times the
        bone-direction term when set. Uses ``windows.aspect`` ([S], canvas width / height) when the
        windows carry one."""
        aspect = getattr(windows, "aspect", None)
        config = self.config
        pred = self.forecast(windows.poses[:, 0], windows.conditioning, windows.horizon,
                             initial_visible=windows.visible[:, 0], aspect=aspect)
        target, visible = windows.poses[:, 1:], windows.visible[:, 1:]
        loss = forecasting_loss(pred, target, visible, config["alpha"], config["beta"], config["theta"],
                                config["loss_unit"])
        if config["direction_weight"] > 0:
            ratio = aspect_tensor(aspect, len(windows), pred)
            loss = loss + config["direction_weight"] * bone_direction_loss(
                to_metric(pred, ratio), to_metric(target, ratio), visible, self.tree.bones)
        return loss

