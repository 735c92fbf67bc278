"""A source rig's clip, as the BVH and ASF/AMC readers return it (before retargeting).

Conventions: ``positions`` float32 ``[T, J, 3]`` in metres, in the file's own world frame, which
for both formats is y up (CMU ASF/AMC and common BVH exporters: x to the subject's left in the
rest pose, z forward); ``joint_names[j]`` names row ``j``; ``parents[j]`` is the index of the joint
it hangs from (-1 for the root), so ``positions[:, j] - positions[:, parents[j]]`` is a rigid bone.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

INCH = 0.0254
LENGTH_UNITS = {"m": 1.0, "cm": 0.01, "mm": 0.001, "in": INCH}  # metres per file unit


@dataclass(frozen=True)
class MocapClip:
    """A loaded clip: positions [T, J, 3] float32 metres (y up), names, parent indices, fps."""

    positions: np.ndarray
    joint_names: list[str]
    parents: list[int]
    fps: float

    @property
    def num_frames(self) -> int:
        return int(self.positions.shape[0])
