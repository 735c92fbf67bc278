"""The neural next-pose baselines of Table 1: LSTM, causal Transformer and k-means pose codes +
Transformer, each predicting one frame at a time (see ``baselines.py``)."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from ..core.errors import InputError
from ..core.layouts import LAYOUTS
from .baseline_common import check_train, displacements, eval_no_grad, fill_invisible
from .checks import check_conditioning, check_horizon, check_initial_pose
from .kmeans import kmeans_codebook, masked_sq_dist  # noqa: F401 - kmeans_codebook re-exported for baselines.py
from .kv_cache import DecoderCache
from .losses import masked_mse
from .types import Conditioning, PoseWindows


class _NeuralForecaster(nn.Module):
    name = ""
    label = ""

    def __init__(self, layout: str, num_joints: int, cond_dim: int, encoder: str):
        super().__init__()
        if layout not in LAYOUTS:
            raise InputError("layout", f"unknown layout {layout!r}; expected one of {sorted(LAYOUTS)}")
        if num_joints != len(LAYOUTS[layout]):
            raise InputError("num_joints", f"layout {layout!r} has {len(LAYOUTS[layout])} joints, got {num_joints}")
        if isinstance(cond_dim, bool) or not isinstance(cond_dim, int) or cond_dim < 1:
            raise InputError("cond_dim", f"expected a positive int, got {cond_dim!r}")
        if not isinstance(encoder, str) or not encoder:
            raise InputError("encoder", f"expected the encoder's id, got {encoder!r}")
        self.layout, self.num_joints, self.cond_dim, self.encoder = layout, num_joints, cond_dim, encoder

    @property
    def device(self) -> torch.device:
        return next(self.parameters()).device

    def _check_conditioning(self, conditioning: Conditioning) -> Conditioning:
        return check_conditioning(conditioning, self.encoder, self.cond_dim).to(self.device)

    def _check_windows(self, windows: PoseWindows, max_len: int | None = None) -> PoseWindows:
        if not isinstance(windows, PoseWindows):
            raise InputError("windows", f"expected PoseWindows, got {type(windows).__name__}")
        if windows.layout != self.layout or windows.num_joints != self.num_joints:
            raise InputError("windows", f"layout {windows.layout!r} with {windows.num_joints} joints, but this "
                             f"model is for {self.layout!r} with {self.num_joints}")
        if windows.horizon < 1 or len(windows) == 0:
            raise InputError("windows", "expected at least one window with a future frame")
        if max_len is not None and windows.horizon > max_len:
            raise InputError("windows", f"horizon {windows.horizon} exceeds this model's max_len {max_len}")
        self._check_conditioning(windows.conditioning)
        return windows

    def _query(self, initial_pose, conditioning, horizon, max_len=None):
        check_horizon(horizon, max_len)
        check_initial_pose(initial_pose, conditioning, self.num_joints, self.layout)
        return initial_pose.to(self.device, torch.float32), self._check_conditioning(conditioning)


def _decoder(d_model, num_layers, num_heads, ffn_dim, dropout, norm_first, activation) -> nn.TransformerDecoder:
    layer = nn.TransformerDecoderLayer(d_model, num_heads, dim_feedforward=ffn_dim, dropout=dropout,
                                       activation=activation, batch_first=True, norm_first=norm_first)
    return nn.TransformerDecoder(layer, num_layers, norm=nn.LayerNorm(d_model) if norm_first else None)


def _causal_mask(length: int, device) -> torch.Tensor:
    """[T, T] bool, True where attention is forbidden (to later positions)."""
    return torch.ones(length, length, dtype=torch.bool, device=device).triu(1)


class LSTMForecaster(_NeuralForecaster):
    """LSTM next-pose prediction. Each step's input is the flattened pose (2J) concatenated with a
    linear projection (``cond_proj_dim``) of the mask-pooled conditioning; the output is the
    displacement to the next pose. Training is teacher-forced (predict P_{t+1} from P_0..P_t, MSE
    on visible keypoints); inference rolls out on its own predictions, carrying the LSTM state."""

    name = "lstm"
    label = "LSTM"

    def __init__(self, layout: str, num_joints: int, cond_dim: int, encoder: str, hidden_size: int = 256,
                 num_layers: int = 2, cond_proj_dim: int = 64, dropout: float = 0.0):
        super().__init__(layout, num_joints, cond_dim, encoder)
        self.config = dict(layout=layout, num_joints=num_joints, cond_dim=cond_dim, encoder=encoder,
                           hidden_size=hidden_size, num_layers=num_layers, cond_proj_dim=cond_proj_dim,
                           dropout=dropout)
        self.cond_proj = nn.Linear(cond_dim, cond_proj_dim)
        self.lstm = nn.LSTM(2 * num_joints + cond_proj_dim, hidden_size, num_layers, batch_first=True,
                            dropout=dropout if num_layers > 1 else 0.0)
        self.head = nn.Linear(hidden_size, 2 * num_joints)
        nn.init.zeros_(self.head.weight)
        nn.init.zeros_(self.head.bias)

    def _run(self, poses: torch.Tensor, cond: torch.Tensor, state=None):
        """poses [B, T, J, 2], cond [B, P] -> next poses [B, T, J, 2] and the LSTM state."""
        b, t = poses.shape[:2]
        x = torch.cat([poses.reshape(b, t, -1), cond[:, None].expand(-1, t, -1)], dim=-1)
        h, state = self.lstm(x, state)
        return poses + self.head(h).view_as(poses), state

    def teacher_forced(self, poses_in: torch.Tensor, conditioning: Conditioning) -> torch.Tensor:
        """[B, T, J, 2]: the prediction of frame t+1 from the given frames 0..t, for each t."""
        conditioning = self._check_conditioning(conditioning)
        return self._run(poses_in.to(self.device, torch.float32), self.cond_proj(conditioning.pooled()))[0]

    def loss(self, windows: PoseWindows) -> torch.Tensor:
        self._check_windows(windows)
        poses = windows.poses.to(self.device, torch.float32)
        visible = windows.visible.to(self.device)
        pred = self.teacher_forced(fill_invisible(poses, visible)[:, :-1], windows.conditioning)
        return masked_mse(pred, poses[:, 1:], visible[:, 1:])

    def forecast(self, initial_pose, conditioning, horizon: int, initial_visible=None,
                 aspect=None) -> torch.Tensor:
        pose, conditioning = self._query(initial_pose, conditioning, horizon)
        with eval_no_grad(self):
            cond = self.cond_proj(conditioning.pooled())
            state, frames = None, []
            for _ in range(horizon):
                nxt, state = self._run(pose[:, None], cond, state)
                pose = nxt[:, 0]
                frames.append(pose)
        return torch.stack(frames, dim=1).to(initial_pose.device)


class CausalTransformerForecaster(_NeuralForecaster):
    """Transformer NTP: a ``nn.TransformerDecoder`` over the pose sequence with a causal mask and
    cross-attention to the projected conditioning tokens (``memory_key_padding_mask = ~mask``);
    learned positional embeddings up to ``max_len`` (the longest horizon). ``d_model``,
    ``num_layers``, ``num_heads``, ``ffn_dim``, ``dropout``, ``norm_first`` and ``activation`` mean
    what they do in ``nn.TransformerDecoderLayer`` (``nhead``, ``dim_feedforward``).

    Training is teacher-forced next-pose prediction. Inference is autoregressive, ``horizon`` steps;
    by default with a key/value cache (``kv_cache.DecoderCache``: each step runs only the new
    position against the cached keys/values of every layer, the memory's projected once), as one
    would ship it; ``forecast(..., use_cache=False)`` reruns the whole decoder over the growing
    prefix P0..P_t at every step instead (the same numbers, slower).
    """

    name = "transformer_ntp"
    label = "Transformer (NTP)"

    def __init__(self, layout: str, num_joints: int, cond_dim: int, encoder: str, d_model: int = 256,
                 num_layers: int = 4, num_heads: int = 8, ffn_dim: int = 1024, dropout: float = 0.1,
                 max_len: int = 64, norm_first: bool = True, activation: str = "gelu"):
        super().__init__(layout, num_joints, cond_dim, encoder)
        self.config = dict(layout=layout, num_joints=num_joints, cond_dim=cond_dim, encoder=encoder,
                           d_model=d_model, num_layers=num_layers, num_heads=num_heads, ffn_dim=ffn_dim,
                           dropout=dropout, max_len=max_len, norm_first=norm_first, activation=activation)
        self.max_len = max_len
        self.pose_in = nn.Linear(2 * num_joints, d_model)
        self.pos_emb = nn.Embedding(max_len, d_model)
        self.cond_proj = nn.Linear(cond_dim, d_model)
        self.decoder = _decoder(d_model, num_layers, num_heads, ffn_dim, dropout, norm_first, activation)
        self.head = nn.Linear(d_model, 2 * num_joints)
        nn.init.normal_(self.pos_emb.weight, std=0.02)
        nn.init.zeros_(self.head.weight)
        nn.init.zeros_(self.head.bias)

    def _memory(self, conditioning: Conditioning):
        return self.cond_proj(conditioning.tokens.float()), ~conditioning.mask

    def _next_poses(self, poses: torch.Tensor, memory, memory_pad) -> torch.Tensor:
        b, t = poses.shape[:2]
        x = self.pose_in(poses.reshape(b, t, -1)) + self.pos_emb(torch.arange(t, device=poses.device))
        h = self.decoder(x, memory, tgt_mask=_causal_mask(t, poses.device), tgt_is_causal=True,
                         memory_key_padding_mask=memory_pad)
        return poses + self.head(h).view_as(poses)

    def teacher_forced(self, poses_in: torch.Tensor, conditioning: Conditioning) -> torch.Tensor:
        """[B, T, J, 2]: the prediction of frame t+1 from the given frames 0..t, for each t."""
        if poses_in.shape[1] > self.max_len:
            raise InputError("poses_in", f"{poses_in.shape[1]} frames exceed max_len {self.max_len}")
        conditioning = self._check_conditioning(conditioning)
        return self._next_poses(poses_in.to(self.device, torch.float32), *self._memory(conditioning))

    def loss(self, windows: PoseWindows) -> torch.Tensor:
        self._check_windows(windows, self.max_len)
        poses = windows.poses.to(self.device, torch.float32)
        visible = windows.visible.to(self.device)
        pred = self.teacher_forced(fill_invisible(poses, visible)[:, :-1], windows.conditioning)
        return masked_mse(pred, poses[:, 1:], visible[:, 1:])

    def forecast(self, initial_pose, conditioning, horizon: int, initial_visible=None, aspect=None,
                 use_cache: bool = True) -> torch.Tensor:
        pose, conditioning = self._query(initial_pose, conditioning, horizon, self.max_len)
        with eval_no_grad(self):
            memory, pad = self._memory(conditioning)
            if use_cache:
                return self._forecast_cached(pose, memory, pad, horizon).to(initial_pose.device)
            seq = pose[:, None]
            for _ in range(horizon):
                seq = torch.cat([seq, self._next_poses(seq, memory, pad)[:, -1:]], dim=1)
        return seq[:, 1:].to(initial_pose.device)

    def _forecast_cached(self, pose: torch.Tensor, memory, memory_pad, horizon: int) -> torch.Tensor:
        """One new position per step: pose P_t at position t -> P_{t+1} = P_t + head(h_t)."""
        cache = DecoderCache(self.decoder, memory, memory_pad, horizon)
        frames = []
        for t in range(horizon):
            token = self.pose_in(pose.flatten(1)) + self.pos_emb.weight[t]
            pose = pose + self.head(cache.step(token[:, None])[:, 0]).view_as(pose)
            frames.append(pose)
        return torch.stack(frames, dim=1)


class QuantizedTransformerForecaster(_NeuralForecaster):
    """Quant.+TF, two stages.

    (a) ``prepare(train)`` (called by the generic loop before training) fits a k-means codebook of
    ``num_codes`` per-frame poses relative to P0 (displacements P_t - P0 over the keypoints visible
    in both frames) on the training windows; it is a buffer, saved in the state dict.
    (b) A causal Transformer decoder over code indices: the first token is a learned start token
    plus a projection of P0, the others code embeddings; cross-attention to the projected
    conditioning tokens; learned positions; cross-entropy next-code prediction (frames with no
    keypoint visible in both it and P0 are not targets, and their input token repeats the previous
    code). Inference decodes ``horizon`` codes greedily (full prefix each step, no KV cache) and
    returns P0 + codebook[codes].
    """

    name = "quant_tf"
    label = "Quant.+TF"

    def __init__(self, layout: str, num_joints: int, cond_dim: int, encoder: str, num_codes: int = 256,
                 d_model: int = 256, num_layers: int = 4, num_heads: int = 8, ffn_dim: int = 1024,
                 dropout: float = 0.1, max_len: int = 64, norm_first: bool = True, activation: str = "gelu",
                 kmeans_iters: int = 50, kmeans_max_points: int = 200_000, seed: int = 0):
        super().__init__(layout, num_joints, cond_dim, encoder)
        if isinstance(num_codes, bool) or not isinstance(num_codes, int) or num_codes < 1:
            raise InputError("num_codes", f"expected a positive int, got {num_codes!r}")
        self.config = dict(layout=layout, num_joints=num_joints, cond_dim=cond_dim, encoder=encoder,
                           num_codes=num_codes, d_model=d_model, num_layers=num_layers, num_heads=num_heads,
                           ffn_dim=ffn_dim, dropout=dropout, max_len=max_len, norm_first=norm_first,
                           activation=activation, kmeans_iters=kmeans_iters,
                           kmeans_max_points=kmeans_max_points, seed=seed)
        self.max_len, self.num_codes = max_len, num_codes
        self.register_buffer("codebook", torch.zeros(num_codes, num_joints, 2))
        self.register_buffer("codebook_ready", torch.tensor(False))
        self.code_emb = nn.Embedding(num_codes, d_model)
        self.start = nn.Parameter(torch.randn(d_model) * 0.02)
        self.p0_proj = nn.Linear(2 * num_joints, d_model)
        self.pos_emb = nn.Embedding(max_len, d_model)
        self.cond_proj = nn.Linear(cond_dim, d_model)
        self.decoder = _decoder(d_model, num_layers, num_heads, ffn_dim, dropout, norm_first, activation)
        self.head = nn.Linear(d_model, num_codes)
        nn.init.normal_(self.pos_emb.weight, std=0.02)
        nn.init.normal_(self.code_emb.weight, std=0.02)

    # --- stage (a): the codebook

    def prepare(self, train: PoseWindows) -> None:
        """Fit the codebook on the training windows (k-means, deterministic for ``seed``)."""
        self._check_windows(check_train(train), self.max_len)
        disp, valid = displacements(train)
        codes = kmeans_codebook(disp.flatten(0, 1), valid.flatten(0, 1), self.num_codes, self.config["kmeans_iters"],
                                self.config["seed"], self.config["kmeans_max_points"], device=self.device)
        self.codebook.copy_(codes)
        self.codebook_ready.fill_(True)

    def _require_codebook(self):
        if not bool(self.codebook_ready):
            raise RuntimeError("QuantizedTransformerForecaster: call prepare(train) to build the codebook first")

    def encode(self, windows: PoseWindows) -> tuple[torch.Tensor, torch.Tensor]:
        """Code indices [S, k] of each frame's displacement (an undefined frame repeats the previous
        code; the first, the code nearest to zero motion) and which frames are defined, [S, k]."""
        self._require_codebook()
        disp, valid = displacements(windows)
        disp, valid = disp.to(self.device), valid.to(self.device)
        s, k = valid.shape[:2]
        dist = masked_sq_dist(disp.flatten(0, 1), valid.flatten(0, 1).float(), self.codebook)  # disp is 0 where invalid
        codes = dist.argmin(dim=1).view(s, k)
        defined = valid.any(dim=2)
        prev = torch.full((s,), int(self.codebook.flatten(1).norm(dim=1).argmin()), device=codes.device)
        for t in range(k):
            codes[:, t] = torch.where(defined[:, t], codes[:, t], prev)
            prev = codes[:, t]
        return codes, defined

    def codebook_error(self, windows: PoseWindows) -> float:
        """Mean L2 distance between each defined displacement keypoint and its code's."""
        codes, _ = self.encode(windows)
        disp, valid = displacements(windows)
        err = (self.codebook[codes].cpu() - disp).norm(dim=-1)
        return float(err[valid].mean())

    # --- stage (b): the code Transformer

    def _logits(self, p0: torch.Tensor, prefix: torch.Tensor, memory, memory_pad) -> torch.Tensor:
        """p0 [B, J, 2], prefix codes [B, T] -> next-code logits [B, T + 1, K]."""
        first = self.start + self.p0_proj(p0.flatten(1))
        x = torch.cat([first[:, None], self.code_emb(prefix)], dim=1)
        t = x.shape[1]
        x = x + self.pos_emb(torch.arange(t, device=x.device))
        h = self.decoder(x, memory, tgt_mask=_causal_mask(t, x.device), tgt_is_causal=True,
                         memory_key_padding_mask=memory_pad)
        return self.head(h)

    def _memory(self, conditioning: Conditioning):
        return self.cond_proj(conditioning.tokens.float()), ~conditioning.mask

    def loss(self, windows: PoseWindows) -> torch.Tensor:
        self._check_windows(windows, self.max_len)
        self._require_codebook()
        codes, defined = self.encode(windows)
        conditioning = self._check_conditioning(windows.conditioning)
        p0 = windows.poses[:, 0].to(self.device, torch.float32)
        logits = self._logits(p0, codes[:, :-1], *self._memory(conditioning))
        target = torch.where(defined, codes, torch.full_like(codes, -100))
        if not defined.any():
            return logits.sum() * 0
        return F.cross_entropy(logits.flatten(0, 1), target.flatten(), ignore_index=-100)

    def forecast(self, initial_pose, conditioning, horizon: int, initial_visible=None,
                 aspect=None) -> torch.Tensor:
        pose, conditioning = self._query(initial_pose, conditioning, horizon, self.max_len)
        self._require_codebook()
        with eval_no_grad(self):
            memory, pad = self._memory(conditioning)
            prefix = torch.zeros(pose.shape[0], 0, dtype=torch.long, device=pose.device)
            for _ in range(horizon):
                nxt = self._logits(pose, prefix, memory, pad)[:, -1].argmax(dim=-1)
                prefix = torch.cat([prefix, nxt[:, None]], dim=1)
            out = pose[:, None] + self.codebook[prefix]
        return out.to(initial_pose.device)
