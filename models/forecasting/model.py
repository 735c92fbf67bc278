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

Several guesses (config ``hypotheses`` = K > 1; 1, the paper's single guess, by default): the head
gives K futures and a score for each (read from P0's output row). A single regressed future is the
mean of the futures the data allows: two waves that differ only in when the hand turns average to a
hand that hardly moves. So training takes, per window, the loss of the guess closest to the truth
(plus ``RELAXED`` of the others' mean, so that no guess is left untrained), and teaches the scores
which guess that was (cross-entropy, weight ``CHOICE_WEIGHT``); ``forecast`` returns the guess with
the highest score, ``hypotheses_of`` all of them. Each guess is a whole future of the chosen head.

Phase-free spectrum term (config ``spectrum_weight``, 0 by default and in older checkpoints): the
guesses alone still left waves flat (a guess that waves out of phase costs more position loss than
one that does not wave at all), so this term compares the magnitudes of the bone vectors' temporal
spectra up to 4 Hz (``losses.spectrum_loss``): it asks for the truth's oscillation, not for when it turns.
"""

from __future__ import annotations

import torch
from torch import nn

from ..core.errors import InputError
from .bones import aspect_tensor, bone_factor, bone_tree, from_metric, pose_from_bones, rest_pose, to_metric
from .checks import check_conditioning, check_horizon, check_initial_pose
from .losses import bone_direction_loss, forecasting_loss, spectrum_loss
from .types import Conditioning, PoseWindows

OUTPUTS = ("bones", "displacements")
RELAXED = 0.05  # weight of the other guesses' mean loss (several guesses)
CHOICE_WEIGHT = 0.1  # weight of the score's cross-entropy (several guesses)
# The spectrum term looks at bins up to 4 Hz of the training data's 30 fps: waves, swings and steps
# (1-3 Hz) are in, detector jitter is out.
SPECTRUM_CYCLES_PER_FRAME = 4 / 30


class OneStageForecaster(nn.Module):
    name = "one_stage"
    label = "Ours (one-stage)"

    def __init__(self, num_joints: int, cond_dim: int, layout: str, encoder: str, max_horizon: int = 45,
                 d_model: int = 128, num_layers: int = 3, num_heads: int = 4, ffn_dim: int = 256,
                 dropout: float = 0.1, alpha: float = 1.0, beta: float = 1.0, theta: float = 0.1,
                 loss_unit: float = 100.0, output: str = "bones", direction_weight: float = 0.0,
                 hypotheses: int = 1, spectrum_weight: float = 0.0):
        super().__init__()
        if output not in OUTPUTS:
            raise InputError("output", f"expected one of {OUTPUTS}, got {output!r}")
        if not isinstance(hypotheses, int) or hypotheses < 1:
            raise InputError("hypotheses", f"expected a whole number of guesses >= 1, got {hypotheses!r}")
        for name, weight in (("direction_weight", direction_weight), ("spectrum_weight", spectrum_weight)):
            if not isinstance(weight, (int, float)) or not 0 <= weight < float("inf"):
                raise InputError(name, f"expected a finite weight >= 0, got {weight!r}")
        self.label = "Ours (one-stage)" if hypotheses == 1 else f"Ours ({hypotheses} guesses)"
        self.config = dict(num_joints=num_joints, cond_dim=cond_dim, layout=layout, encoder=encoder,
                           max_horizon=max_horizon, d_model=d_model, num_layers=num_layers, num_heads=num_heads,
                           ffn_dim=ffn_dim, dropout=dropout, alpha=alpha, beta=beta, theta=theta,
                           loss_unit=loss_unit, output=output, direction_weight=direction_weight,
                           hypotheses=hypotheses, spectrum_weight=spectrum_weight)
        # bones mode: the layout's tree (refuses layouts without one); the direction and spectrum terms need it too
        self.tree = bone_tree(layout) if output == "bones" or direction_weight > 0 or spectrum_weight > 0 else None
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
        self.head = nn.Linear(d_model, hypotheses * head_width)
        nn.init.zeros_(self.head.weight)  # start from "stay still": zero displacement / rotation, factor 1
        nn.init.zeros_(self.head.bias)
        if hypotheses > 1:
            nn.init.normal_(self.head.weight, std=1e-3)  # near "stay still", but guesses must differ to specialise
            self.choose = nn.Linear(d_model, hypotheses)

    @staticmethod
    def legacy_config(config: dict) -> dict:
        """A checkpoint config from before the ``output`` option: the paper's displacement head."""
        return config if "output" in config else {**config, "output": "displacements"}

    def _head(self, rows0: torch.Tensor, conditioning: Conditioning, horizon: int) -> tuple[torch.Tensor, torch.Tensor]:
        """P0 row [B, 2J] -> head outputs [B, K, horizon, head width] and guess scores [B, K], in one
        decoder pass."""
        batch, guesses = rows0.shape[0], self.config["hypotheses"]
        rows = torch.cat([rows0[:, None], self.placeholder.expand(batch, horizon, -1)], dim=1)
        tokens = self.pose_in(rows) + self.positions[: horizon + 1]
        memory = self.cond_in(conditioning.tokens)
        hidden = self.decoder(tokens, memory, memory_key_padding_mask=~conditioning.mask)
        out = self.head(hidden[:, 1:]).reshape(batch, horizon, guesses, -1).transpose(1, 2)
        scores = self.choose(hidden[:, 0]) if guesses > 1 else hidden.new_zeros(batch, 1)
        return out, scores

    def displacements(self, initial_pose: torch.Tensor, conditioning: Conditioning, horizon: int,
                      initial_visible: torch.Tensor | None = None, aspect=None) -> torch.Tensor:
        """[B, J, 2] P0 -> [B, horizon, J, 2] displacements from P0, in one decoder pass."""
        return self.forecast(initial_pose, conditioning, horizon, initial_visible, aspect) - initial_pose[:, None]

    def _predict(self, initial_pose, conditioning, horizon, initial_visible, aspect) -> tuple[torch.Tensor, torch.Tensor]:
        """Every guess [B, K, horizon, J, 2] and its score [B, K]."""
        batch, joints = initial_pose.shape[:2]
        if self.config["output"] == "displacements":
            out, scores = self._head(initial_pose.reshape(batch, -1), conditioning, horizon)
            return initial_pose[:, None, None] + out.reshape(batch, -1, horizon, joints, 2), scores
        if initial_visible is None:
            initial_visible = torch.ones(batch, joints, dtype=torch.bool, device=initial_pose.device)
        ratio = aspect_tensor(aspect, batch, initial_pose)
        p0 = to_metric(initial_pose, ratio)  # lengths and rotations where x and y measure alike
        out, scores = self._head(p0.reshape(batch, -1), conditioning, horizon)
        guesses, nb = out.shape[1], self.tree.num_bones
        out = out.flatten(0, 1)  # [B * K, horizon, width]: every guess from its window's P0
        rest, v0 = (value.repeat_interleave(guesses, 0) for value in rest_pose(p0, initial_visible, self.tree))
        poses = pose_from_bones(rest, v0, out[..., :2], out[..., 2:2 + nb], bone_factor(out[..., 2 + nb:]), self.tree)
        moved = poses.reshape(batch, guesses, horizon, joints, 2) - p0[:, None, None]
        return initial_pose[:, None, None] + from_metric(moved, ratio), scores  # P0 exactly where nothing moved

    def hypotheses_of(self, initial_pose: torch.Tensor, conditioning: Conditioning, horizon: int,
                      initial_visible: torch.Tensor | None = None, aspect=None) -> tuple[torch.Tensor, torch.Tensor]:
        """Every guess [B, K, horizon, J, 2] and its score [B, K] (arguments as ``forecast``)."""
        config = self.config
        visible = check_initial_pose(initial_pose, conditioning, config["num_joints"], config["layout"],
                                     initial_visible)
        check_horizon(horizon, config["max_horizon"])
        check_conditioning(conditioning, config["encoder"], config["cond_dim"])
        return self._predict(initial_pose, conditioning, horizon, visible, aspect)

    def forecast(self, initial_pose: torch.Tensor, conditioning: Conditioning, horizon: int,
                 initial_visible: torch.Tensor | None = None, aspect=None) -> torch.Tensor:
        """[B, J, 2] -> [B, horizon, J, 2]: the best-scored guess. Unseen keypoints enter as (0, 0), as
        in training.

        ``initial_visible`` [B, J] bool (default: all seen) tells the bone head which of P0's bones
        are real (unseen ones take canonical proportions); ``aspect`` (a number or [B]; default 1)
        is the canvas width / height, the unit in which bone lengths are kept. The displacement head
        ignores both."""
        guesses, scores = self.hypotheses_of(initial_pose, conditioning, horizon, initial_visible, aspect)
        return guesses[torch.arange(len(guesses), device=guesses.device), scores.argmax(1)]

    def loss(self, windows: PoseWindows) -> torch.Tensor:
        """The paper's loss on the predicted positions (Eq. 10), plus ``direction_weight`` times the
        bone-direction term when set; with several guesses, the best guess's loss per window (see the
        module docstring). Uses ``windows.aspect`` ([S], canvas width / height) when the windows
        carry one."""
        aspect = getattr(windows, "aspect", None)
        config = self.config
        guesses, scores = self.hypotheses_of(windows.poses[:, 0], windows.conditioning, windows.horizon,
                                             initial_visible=windows.visible[:, 0], aspect=aspect)
        target, visible = windows.poses[:, 1:], windows.visible[:, 1:]
        if config["hypotheses"] == 1:
            return self._window_loss(guesses[:, 0], target, visible, aspect, per_sample=False)
        count = guesses.shape[1]
        per_guess = self._window_loss(guesses.flatten(0, 1), target.repeat_interleave(count, 0),
                                      visible.repeat_interleave(count, 0),
                                      None if aspect is None else aspect.repeat_interleave(count, 0),
                                      per_sample=True).reshape(-1, count)
        best = per_guess.detach().argmin(1)
        closest = per_guess.gather(1, best[:, None]).squeeze(1)
        others = (per_guess.sum(1) - closest) / (count - 1)
        choice = nn.functional.cross_entropy(scores, best)
        return (closest + RELAXED * others).mean() + CHOICE_WEIGHT * choice

    def _window_loss(self, pred, target, visible, aspect, per_sample: bool) -> torch.Tensor:
        config = self.config
        loss = forecasting_loss(pred, target, visible, config["alpha"], config["beta"], config["theta"],
                                config["loss_unit"], per_sample=per_sample)
        if config["direction_weight"] == 0 and config["spectrum_weight"] == 0:
            return loss
        ratio = aspect_tensor(aspect, len(pred), pred)
        pred, target = to_metric(pred, ratio), to_metric(target, ratio)  # where x and y measure alike
        if config["direction_weight"] > 0:
            loss = loss + config["direction_weight"] * bone_direction_loss(
                pred, target, visible, self.tree.bones, per_sample=per_sample)
        if config["spectrum_weight"] > 0:
            bins = max(1, round(pred.shape[1] * SPECTRUM_CYCLES_PER_FRAME))
            unit = config["loss_unit"]
            loss = loss + config["spectrum_weight"] * spectrum_loss(
                pred * unit, target * unit, visible, self.tree.bones, bins, per_sample=per_sample)
        return loss
