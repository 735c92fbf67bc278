"""The non-neural references of Table 1: constant pose, and nearest neighbours by P0 or by
conditioning, transferring the neighbour's motion relatively (see ``baselines.py``)."""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from ..core.errors import InputError
from .baseline_common import check_train, displacements, fit_horizon
from .checks import check_conditioning, check_horizon, check_initial_pose
from .types import Conditioning, PoseWindows


class ConstantPose:
    """Reference: every future frame is P0 (zero motion)."""

    name = "const"
    label = "Constant pose"

    def fit(self, train: PoseWindows) -> None:
        check_train(train)

    def forecast(self, initial_pose, conditioning, horizon: int, initial_visible=None,
                 aspect=None) -> torch.Tensor:
        check_horizon(horizon)
        if not isinstance(initial_pose, torch.Tensor) or initial_pose.ndim != 3 or initial_pose.shape[-1] != 2:
            raise InputError("initial_pose", "expected a [B, J, 2] tensor")
        return initial_pose[:, None].expand(-1, horizon, -1, -1).clone()


class _NearestNeighbour:
    """Shared storage and relative motion transfer of the two nearest-neighbour baselines.

    ``fit`` keeps each training window's P0, its P0 visibility, its pooled conditioning and its
    motion as displacements from P0; a displacement that is undefined (keypoint invisible in P0 or
    in that frame) is carried forward from the keypoint's last defined one (zero before any).
    """

    name = ""
    label = ""
    _BLOCK = 1 << 22  # elements of a [queries, train, J] distance block

    def __init__(self):
        self.config: dict = {}
        self._p0 = None

    def fit(self, train: PoseWindows) -> None:
        train = check_train(train)
        disp, valid = displacements(train)
        filled = disp.clone()
        for t in range(disp.shape[1]):
            prev = filled[:, t - 1] if t else torch.zeros_like(disp[:, 0])
            filled[:, t] = torch.where(valid[:, t, :, None], disp[:, t], prev)
        self._p0 = train.poses[:, 0].float().clone()
        self._v0 = train.visible[:, 0].clone()
        self._motion = filled
        self._cond = F.normalize(train.conditioning.pooled(), dim=-1)
        self.layout, self.num_joints, self.horizon = train.layout, train.num_joints, train.horizon
        self.encoder, self.cond_dim = train.conditioning.encoder, train.conditioning.dim

    def _require_fit(self):
        if self._p0 is None:
            raise RuntimeError(f"{type(self).__name__}: call fit(train) before forecasting")

    def _pose_distance(self, query: torch.Tensor, query_visible: torch.Tensor) -> torch.Tensor:
        """[b, S]: mean L2 over keypoints visible in both P0s; inf where none is."""
        common = query_visible[:, None, :] & self._v0[None]
        dist = (query[:, None] - self._p0[None]).norm(dim=-1)
        count = common.sum(-1)
        total = torch.where(common, dist, torch.zeros(())).sum(-1)
        return torch.where(count > 0, total / count.clamp_min(1), torch.full_like(total, math.inf))

    def _pick(self, query, query_visible, query_cond) -> torch.Tensor:
        raise NotImplementedError

    def neighbours(self, initial_pose, conditioning, initial_visible=None) -> torch.Tensor:
        """[B] long: index of each query's neighbour in the training windows (-1: none usable)."""
        self._require_fit()
        visible = check_initial_pose(initial_pose, conditioning, self.num_joints, self.layout, initial_visible).cpu()
        query = initial_pose.detach().float().cpu()
        cond = self._query_conditioning(conditioning)
        if query.shape[0] == 0:
            return torch.zeros(0, dtype=torch.long)
        rows = max(1, self._BLOCK // (self._p0.shape[0] * self.num_joints))
        return torch.cat([self._pick(query[i:i + rows], visible[i:i + rows], None if cond is None else cond[i:i + rows])
                          for i in range(0, query.shape[0], rows)])

    def _query_conditioning(self, conditioning):
        return None

    def forecast(self, initial_pose, conditioning, horizon: int, initial_visible=None,
                 aspect=None) -> torch.Tensor:
        check_horizon(horizon)
        index = self.neighbours(initial_pose, conditioning, initial_visible)
        motion = fit_horizon(self._motion[index.clamp_min(0)], horizon)
        motion = torch.where((index >= 0)[:, None, None, None], motion, torch.zeros(()))
        return initial_pose.detach().float()[:, None] + motion.to(initial_pose.device)


class NearestNeighbourPose(_NearestNeighbour):
    """NN_P: nearest training P0 by mean L2 over the keypoints visible in both P0s (the query's
    visibility is ``initial_visible``). A query sharing no visible keypoint with any training P0
    gets zero motion."""

    name = "nn_p"
    label = "NN_P"

    def _pick(self, query, query_visible, query_cond):
        dist = self._pose_distance(query, query_visible)
        best = dist.min(dim=1)
        return torch.where(torch.isfinite(best.values), best.indices, torch.full_like(best.indices, -1))


class NearestNeighbourConditioning(_NearestNeighbour):
    """NN_VL: most similar training conditioning, cosine similarity of the tokens mean-pooled over
    the mask; similarities within ``tie_tolerance`` of the best count as ties, broken by the
    smallest P0 distance (as NN_P; the first tied window when no P0 keypoint is shared)."""

    name = "nn_vl"
    label = "NN_VL"

    def __init__(self, tie_tolerance: float = 1e-5):
        super().__init__()
        self.tie_tolerance = float(tie_tolerance)
        self.config = {"tie_tolerance": self.tie_tolerance}

    def _query_conditioning(self, conditioning: Conditioning) -> torch.Tensor:
        check_conditioning(conditioning, self.encoder, self.cond_dim)
        return F.normalize(conditioning.to("cpu").pooled(), dim=-1)

    def _pick(self, query, query_visible, query_cond):
        sim = query_cond @ self._cond.T  # [b, S]
        tied = sim >= sim.max(dim=1, keepdim=True).values - self.tie_tolerance
        dist = self._pose_distance(query, query_visible)
        key = torch.where(tied, torch.nan_to_num(dist, posinf=1e30), torch.full_like(dist, math.inf))
        return key.argmin(dim=1)
