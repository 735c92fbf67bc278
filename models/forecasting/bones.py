"""The skeleton trees of the forecasting layouts and the bone-consistent pose construction.

Data contract. Poses are [..., J, 2] keypoints in normalised image coordinates or in the P0-box frame
(``pose_frame.py``): in both, x is in units of the canvas width and y of the canvas height (the box
frame divides both by the same size), so a length is only a length after ``to_metric`` multiplies x
by the canvas aspect (width / height). Every bone computation here runs in those metric units.

A tree walks a layout's bones from a root outwards: OpenPose-18 from the neck (neck -> shoulders ->
elbows -> wrists, neck -> hips -> knees -> ankles, neck -> nose -> eyes -> ears), HAND-21 from the
wrist. ``rest_pose`` gives every joint a position at P0 and every bone a reference vector
``v0 = rest[child] - rest[parent]``:

- a joint visible at P0 rests at P0 (so "no rotation, factor 1, no root motion" is P0 exactly);
- an invisible joint rests at its parent plus the canonical bone vector (``CANONICAL``, a documented
  constant table for a person or hand facing the camera) times P0's body scale (visible bones'
  summed length / their summed canonical length; when P0 has no visible bone, the extent of its
  visible joints / the canonical template's extent);
- the root rests at P0's root, or at the mean of P0's visible joints when the root is unseen.

So a bone visible at both ends in P0 has P0's own length as reference; a bone with an end unseen at
P0 has the canonical length (or, when only its parent is unseen, the distance from the parent's
rest position to the child's P0 position; such a bone is not a bone of P0 and metrics skip it).

``pose_from_bones`` turns per-frame root displacements, per-bone rotations of ``v0`` and per-bone
factors f in (0, F_MAX] into joint positions by accumulating the bone vectors ``f R(angle) v0`` down
the tree; every bone's length is ``f |v0| <= F_MAX |v0|`` by construction.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from ..core.errors import InputError
from ..core.layouts import HAND_EDGES, OPENPOSE_LIMBS

# A 2D projection can shorten a bone, never lengthen it beyond its true length; P0's own length may
# already be foreshortened, so a factor slightly above 1 lets a bone recover. The acceptance bound is
# 1.1 x the frame-0 length; 1.08 keeps every bone below it by design with room for float32 rounding
# and the round trip through image coordinates.
F_MAX = 1.08

# Canonical bone vectors (parent -> child) in image axes (x right, y down), in units of a reference
# length: OpenPose-18, a person standing, facing the camera (their right on the image's left), arms
# hanging, in torso lengths (neck -> mid-hip = 1); HAND-21, an open hand, fingers up, in palm lengths
# (wrist -> middle-finger MCP = 1). Rough anthropometric proportions; only joints unseen at P0 use them.
CANONICAL: dict[str, dict[tuple[int, int], tuple[float, float]]] = {
    "openpose_18": {
        (1, 2): (-0.38, 0.0), (1, 5): (0.38, 0.0),  # neck -> shoulders
        (2, 3): (0.0, 0.6), (3, 4): (0.0, 0.5), (5, 6): (0.0, 0.6), (6, 7): (0.0, 0.5),  # arms
        (1, 8): (-0.18, 1.0), (8, 9): (0.0, 0.9), (9, 10): (0.0, 0.85),  # right leg
        (1, 11): (0.18, 1.0), (11, 12): (0.0, 0.9), (12, 13): (0.0, 0.85),  # left leg
        (1, 0): (0.0, -0.45), (0, 14): (-0.07, -0.08), (14, 16): (-0.12, 0.05),  # head
        (0, 15): (0.07, -0.08), (15, 17): (0.12, 0.05),
    },
}
_HAND_FINGERS = {  # base joint -> (angle from vertical in degrees, wrist->base length, phalanx lengths)
    1: (50.0, 0.35, (0.35, 0.30, 0.25)), 5: (15.0, 0.95, (0.40, 0.25, 0.20)), 9: (0.0, 1.0, (0.45, 0.30, 0.20)),
    13: (-12.0, 0.95, (0.42, 0.28, 0.20)), 17: (-25.0, 0.85, (0.33, 0.20, 0.18)),
}


def _hand_table() -> dict[tuple[int, int], tuple[float, float]]:
    table = {}
    for base, (degrees, palm, phalanges) in _HAND_FINGERS.items():
        angle = torch.deg2rad(torch.tensor(degrees))
        direction = (float(torch.sin(angle)), -float(torch.cos(angle)))
        table[(0, base)] = (direction[0] * palm, direction[1] * palm)
        for i, length in enumerate(phalanges):
            table[(base + i, base + i + 1)] = (direction[0] * length, direction[1] * length)
    return table


CANONICAL["hand_21"] = _hand_table()
TREE_EDGES = {"openpose_18": (1, OPENPOSE_LIMBS), "hand_21": (0, HAND_EDGES)}  # layout -> (root, bones)


@dataclass(frozen=True)
class BoneTree:
    """``bones`` (parent, child) in root-outwards order; ``canonical`` [nb, 2]; ``paths`` [J, nb], 1 where
    bone b lies on the path from the root to joint j; ``levels``: the bone indices at each depth (a
    level's parents are all placed by the levels before it)."""

    layout: str
    root: int
    bones: tuple[tuple[int, int], ...]
    canonical: torch.Tensor
    paths: torch.Tensor
    levels: tuple[tuple[int, ...], ...]

    @property
    def num_bones(self) -> int:
        return len(self.bones)


def bone_tree(layout: str) -> BoneTree:
    if layout not in TREE_EDGES:
        raise InputError("layout", f"no skeleton tree for layout {layout!r}; bone output needs one of "
                         f"{sorted(TREE_EDGES)} (use output='displacements' for other layouts)")
    root, edges = TREE_EDGES[layout]
    order, levels, reached, pending = [], [], {root}, list(edges)
    while pending:  # breadth-first from the root, so a parent is always placed before its child
        ready = [edge for edge in pending if edge[0] in reached]
        levels.append(tuple(range(len(order), len(order) + len(ready))))
        order += ready
        reached |= {child for _, child in ready}
        pending = [edge for edge in pending if edge not in ready]
    num_joints = max(max(edge) for edge in edges) + 1
    paths = torch.zeros(num_joints, len(order))
    for b, (parent, child) in enumerate(order):
        paths[child] = paths[parent]
        paths[child, b] = 1.0
    canonical = torch.tensor([CANONICAL[layout][edge] for edge in order])
    return BoneTree(layout, root, tuple(order), canonical, paths, tuple(levels))


def aspect_tensor(aspect, batch: int, like: torch.Tensor) -> torch.Tensor:
    """``aspect`` (None = 1, a number, or [B]) as a positive [B] tensor on ``like``'s device."""
    if aspect is None:
        return torch.ones(batch, dtype=like.dtype, device=like.device)
    value = torch.as_tensor(aspect, dtype=like.dtype, device=like.device).reshape(-1).expand(batch)
    if not torch.isfinite(value).all() or (value <= 0).any():
        raise InputError("aspect", "expected a positive canvas width / height")
    return value


def to_metric(points: torch.Tensor, aspect: torch.Tensor) -> torch.Tensor:
    """[B, ..., 2] normalised (or P0-box) coordinates -> units where x and y measure alike."""
    scale = torch.stack([aspect, torch.ones_like(aspect)], -1).reshape(aspect.shape[0], *(1,) * (points.ndim - 2), 2)
    return points * scale


def from_metric(points: torch.Tensor, aspect: torch.Tensor) -> torch.Tensor:
    scale = torch.stack([aspect, torch.ones_like(aspect)], -1).reshape(aspect.shape[0], *(1,) * (points.ndim - 2), 2)
    return points / scale


def rest_pose(p0: torch.Tensor, visible: torch.Tensor, tree: BoneTree) -> tuple[torch.Tensor, torch.Tensor]:
    """P0 [B, J, 2] (metric units) and visibility [B, J] -> rest positions [B, J, 2] and reference bone
    vectors v0 [B, nb, 2] (see the module docstring)."""
    canonical = tree.canonical.to(p0)
    parents = [p for p, _ in tree.bones]
    children = [c for _, c in tree.bones]
    seen = visible.to(p0.dtype)
    both = seen[:, parents] * seen[:, children]  # [B, nb]
    lengths = (p0[:, children] - p0[:, parents]).norm(dim=-1)
    scale = (both * lengths).sum(1) / (both * canonical.norm(dim=-1)).sum(1).clamp_min(1e-12)
    span = torch.where(visible[..., None], p0, p0.new_tensor(float("inf"))).amin(1)
    top = torch.where(visible[..., None], p0, p0.new_tensor(float("-inf"))).amax(1)
    template = (tree.paths.to(p0) @ canonical)  # [J, 2] the canonical pose, root at 0
    extent = (template.amax(0) - template.amin(0)).amax()
    fallback = torch.nan_to_num((top - span).amax(-1), nan=0.0, posinf=0.0, neginf=0.0).clamp_min(0) / extent
    scale = torch.where(both.sum(1) > 0, scale, fallback).clamp_min(1e-6)

    count = seen.sum(1, keepdim=True)
    centre = (p0 * seen[..., None]).sum(1) / count.clamp_min(1)
    rest = p0.clone()
    rest[:, tree.root] = torch.where(visible[:, tree.root, None], p0[:, tree.root], centre)
    for level in tree.levels:  # one level at a time: every parent of a level is already in place
        ups = [parents[b] for b in level]
        downs = torch.tensor([children[b] for b in level], device=p0.device)
        guess = rest[:, ups] + scale[:, None, None] * canonical[list(level)]
        placed = torch.where(visible[:, downs, None], p0[:, downs], guess)
        rest = rest.index_copy(1, downs, placed)
    return rest, rest[:, children] - rest[:, parents]


def bone_factor(raw: torch.Tensor, f_max: float = F_MAX) -> torch.Tensor:
    """Unbounded head outputs -> foreshortening factors in [0, f_max], exactly 1 at 0 (a shifted
    sigmoid, so a zero-initialised head keeps every bone's length)."""
    at_zero = torch.sigmoid(raw.new_tensor(0.0) + _logit(1.0 / f_max))
    return (1.0 + f_max * (torch.sigmoid(raw + _logit(1.0 / f_max)) - at_zero)).clamp(0.0, f_max)


def _logit(p: float) -> float:
    return float(torch.logit(torch.tensor(p, dtype=torch.float64)))


def pose_from_bones(rest: torch.Tensor, v0: torch.Tensor, root_shift: torch.Tensor, angles: torch.Tensor,
                    factors: torch.Tensor, tree: BoneTree) -> torch.Tensor:
    """rest [B, J, 2], v0 [B, nb, 2], root_shift [B, k, 2], angles and factors [B, k, nb] -> poses
    [B, k, J, 2] (metric units): joint j = rest_j + root shift + sum over the bones on its path of
    (f R(angle) v0 - v0), so bone b's vector is f_b R(angle_b) v0_b."""
    cos, sin = angles.cos(), angles.sin()
    x, y = v0[:, None, :, 0], v0[:, None, :, 1]
    turned = torch.stack([cos * x - sin * y, sin * x + cos * y], -1) * factors[..., None]  # [B, k, nb, 2]
    change = turned - v0[:, None]
    moved = torch.einsum("jb,tkbd->tkjd", tree.paths.to(rest), change)
    return rest[:, None] + root_shift[:, :, None] + moved
