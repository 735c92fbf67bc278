"""Forecasting metrics of Li, Bellos, Corso (sec. 3.2): ADE, FDE, PCK and RMSE.

Inputs are ``pred`` and ``target`` [S, k, J, 2] in normalised image coordinates and ``visible``
[S, k, J] bool, the visibility of the *target* keypoints; invisible keypoints never count.
Every metric is first computed per sample over that sample's visible keypoints, then averaged
over the samples that have at least one visible keypoint in the frames the metric looks at
(samples with none are excluded, not counted as zero). With ``d[s,t,j] = ||pred - target||_2``:

- **ADE** = mean_s ( mean over visible (t, j) of d[s,t,j] );
- **FDE** = mean_s ( mean over visible j of d[s,k-1,j] ), the last frame only; samples whose last
  frame has no visible keypoint are excluded (FDE is NaN if that leaves none);
- **PCK** = mean_s ( fraction of visible (t, j) with d[s,t,j] <= threshold ); the threshold is in
  normalised coordinates, ``PCK_THRESHOLDS`` holds the paper's (0.05 body, 0.15 hand);
- **RMSE** = mean_s sqrt( sum over visible (t, j) of d[s,t,j]^2 / (2 * n_s) ), n_s the number of
  visible keypoints of sample s: the root of the mean squared error per *coordinate* (x and y each
  count once), so a uniform error of (e, e) on every keypoint gives RMSE = e and ADE = e * sqrt(2).

``per_timestep_ade`` is ADE restricted to each frame (its last entry equals FDE). Sums run in
float64; results are Python floats.

Bone-length consistency (issue 10's Table 1 columns): ``bone_length_ratios`` gives, per (sample,
frame, bone of the layout's tree), the predicted 2D bone length over the bone's length at P0, both
measured with x multiplied by the canvas aspect (width / height) so x and y count alike; bones not
visible at both ends in P0 (or of zero length there) are NaN and never count. ``bone_length_summary``
reports the share of counted bone-frames above ``BONE_RATIO_HIGH`` (1.1: a 2D projection cannot
lengthen a bone, 10 % slack for P0's own foreshortening) and below ``BONE_RATIO_LOW`` (0.3: a bone
collapsing).
"""

from __future__ import annotations

import math

import torch

from ..core.errors import InputError
from .bones import TREE_EDGES, aspect_tensor, bone_tree, to_metric

PCK_THRESHOLDS: dict[str, float] = {"openpose_18": 0.05, "hand_21": 0.15}
BONE_RATIO_HIGH = 1.1
BONE_RATIO_LOW = 0.3
MIN_BONE_LENGTH = 1e-6  # a P0 bone shorter than this (both ends on one point) has no ratio


def _as_tensor(value, name: str) -> torch.Tensor:
    if isinstance(value, torch.Tensor):
        return value.detach().cpu()
    try:
        return torch.as_tensor(value)
    except (TypeError, ValueError, RuntimeError) as exc:
        raise InputError(name, f"expected a tensor, got {type(value).__name__}") from exc


def _validated(pred, target, visible) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """float64 pred/target [S,k,J,2] and a bool visible [S,k,J], or an InputError naming the input."""
    pred, target, visible = _as_tensor(pred, "pred"), _as_tensor(target, "target"), _as_tensor(visible, "visible")
    if pred.ndim != 4 or pred.shape[-1] != 2 or 0 in pred.shape:
        raise InputError("pred", f"expected a non-empty [S, k, J, 2] tensor, got {list(pred.shape)}")
    if target.shape != pred.shape:
        raise InputError("pred", f"shape {list(pred.shape)} does not match target {list(target.shape)}")
    if visible.shape != pred.shape[:3]:
        raise InputError("visible", f"expected [S, k, J] = {list(pred.shape[:3])}, got {list(visible.shape)}")
    if visible.dtype != torch.bool:
        raise InputError("visible", f"expected a bool mask, got {visible.dtype}")
    if not pred.is_floating_point() or not torch.isfinite(pred).all():
        raise InputError("pred", "expected finite floating-point coordinates (found NaN/inf or integers)")
    if not target.is_floating_point():
        raise InputError("target", f"expected floating-point coordinates, got {target.dtype}")
    if not torch.isfinite(target[visible]).all():
        raise InputError("target", "visible keypoints must have finite coordinates")
    # Invisible target keypoints may hold anything (NaN included): zero them so they cannot leak.
    target = torch.where(visible[..., None], target, torch.zeros((), dtype=target.dtype))
    return pred.double(), target.double(), visible


def _per_sample_mean(values: torch.Tensor, weights: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Mean of ``values`` over the trailing dims with 0/1 ``weights``; returns (means, has_any)."""
    dims = tuple(range(1, values.ndim))
    count = weights.sum(dim=dims)
    total = (values * weights).sum(dim=dims)
    has_any = count > 0
    return total / count.clamp_min(1), has_any


def forecast_metrics(pred, target, visible, pck_threshold: float) -> dict:
    """ADE, FDE, PCK, RMSE (see the module docstring) and ``num_samples``, the samples counted.

    Raises InputError on mismatched shapes, a non-bool mask, NaN/inf predictions, a non-positive
    threshold, or when no keypoint is visible at all.
    """
    pred, target, visible = _validated(pred, target, visible)
    if not isinstance(pck_threshold, (int, float)) or not math.isfinite(pck_threshold) or pck_threshold <= 0:
        raise InputError("pck_threshold", f"expected a positive number, got {pck_threshold!r}")
    if not visible.any():
        raise InputError("visible", "no keypoint is visible: the metrics are undefined")
    dist = (pred - target).norm(dim=-1)  # [S, k, J]
    weights = visible.double()

    ade, has_any = _per_sample_mean(dist, weights)
    pck, _ = _per_sample_mean((dist <= pck_threshold).double(), weights)
    mse, _ = _per_sample_mean(dist.square() / 2, weights)
    fde, has_last = _per_sample_mean(dist[:, -1], weights[:, -1])
    return {
        "ADE": float(ade[has_any].mean()),
        "FDE": float(fde[has_last].mean()) if has_last.any() else float("nan"),
        "PCK": float(pck[has_any].mean()),
        "RMSE": float(mse[has_any].sqrt().mean()),
        "num_samples": int(has_any.sum()),
    }


def per_timestep_ade(pred, target, visible) -> torch.Tensor:
    """[k] float64: for each frame t, the mean over samples (with a visible keypoint at t) of the
    mean distance over that frame's visible keypoints; NaN for a frame where nothing is visible."""
    pred, target, visible = _validated(pred, target, visible)
    dist = (pred - target).norm(dim=-1)  # [S, k, J]
    weights = visible.double()
    count = weights.sum(dim=2)  # [S, k]
    per_sample = (dist * weights).sum(dim=2) / count.clamp_min(1)
    has = (count > 0).double()
    frames = has.sum(dim=0)  # [k]
    out = (per_sample * has).sum(dim=0) / frames.clamp_min(1)
    return torch.where(frames > 0, out, torch.full_like(out, float("nan")))


def bone_length_ratios(pred, initial, visible_initial, layout: str, aspect=None, visible=None) -> torch.Tensor:
    """[S, k, nb] float64: each bone's length in ``pred`` [S, k, J, 2] over its length in ``initial``
    [S, J, 2] (P0), NaN where the bone is not visible at both ends in P0 (``visible_initial`` [S, J]
    bool) or has no length there. Bones follow ``bones.bone_tree(layout)``; ``aspect`` (a number or
    [S], default 1) is the canvas width / height of each sample. ``visible`` [S, k, J] bool (optional,
    for real frames such as the ground truth) also drops bones not seen at both ends in that frame."""
    if layout not in TREE_EDGES:
        raise InputError("layout", f"no bones for layout {layout!r}; expected one of {sorted(TREE_EDGES)}")
    pred, initial = _as_tensor(pred, "pred"), _as_tensor(initial, "initial")
    visible_initial = _as_tensor(visible_initial, "visible_initial")
    tree = bone_tree(layout)
    joints = tree.paths.shape[0]
    if pred.ndim != 4 or pred.shape[2:] != (joints, 2) or 0 in pred.shape:
        raise InputError("pred", f"expected [S, k, {joints}, 2] for {layout}, got {list(pred.shape)}")
    if initial.shape != (pred.shape[0], joints, 2):
        raise InputError("initial", f"expected [S, J, 2] = {[pred.shape[0], joints, 2]}, got {list(initial.shape)}")
    if visible_initial.dtype != torch.bool or visible_initial.shape != initial.shape[:2]:
        raise InputError("visible_initial", f"expected a bool [S, J] = {list(initial.shape[:2])} mask")
    if not pred.is_floating_point() or not torch.isfinite(pred).all():
        raise InputError("pred", "expected finite floating-point coordinates (found NaN/inf or integers)")
    if not initial.is_floating_point() or not torch.isfinite(initial[visible_initial]).all():
        raise InputError("initial", "visible keypoints must have finite floating-point coordinates")
    pred, initial = pred.double(), torch.where(visible_initial[..., None], initial.double(), 0.0)
    ratio = aspect_tensor(aspect, pred.shape[0], pred)
    pred, initial = to_metric(pred, ratio), to_metric(initial, ratio)
    parents = [p for p, _ in tree.bones]
    children = [c for _, c in tree.bones]
    reference = (initial[:, children] - initial[:, parents]).norm(dim=-1)  # [S, nb]
    lengths = (pred[:, :, children] - pred[:, :, parents]).norm(dim=-1)  # [S, k, nb]
    counted = visible_initial[:, parents] & visible_initial[:, children] & (reference > MIN_BONE_LENGTH)
    ratios = lengths / reference.clamp_min(MIN_BONE_LENGTH)[:, None]
    counted = counted[:, None]
    if visible is not None:
        visible = _as_tensor(visible, "visible")
        if visible.dtype != torch.bool or visible.shape != pred.shape[:3]:
            raise InputError("visible", f"expected a bool [S, k, J] = {list(pred.shape[:3])} mask")
        counted = counted & visible[:, :, parents] & visible[:, :, children]
    return torch.where(counted, ratios, torch.full_like(ratios, float("nan")))


def bone_length_summary(ratios: torch.Tensor) -> dict:
    """Shares of the counted (non-NaN) bone-frames of ``bone_length_ratios`` above ``BONE_RATIO_HIGH``
    and below ``BONE_RATIO_LOW``, the largest ratio, and how many bone-frames counted (shares are NaN
    when none did)."""
    values = ratios[~torch.isnan(ratios)]
    if values.numel() == 0:
        return {"above_1.1": float("nan"), "below_0.3": float("nan"), "max_ratio": float("nan"), "bone_frames": 0}
    return {"above_1.1": float((values > BONE_RATIO_HIGH).double().mean()),
            "below_0.3": float((values < BONE_RATIO_LOW).double().mean()),
            "max_ratio": float(values.max()), "bone_frames": int(values.numel())}
