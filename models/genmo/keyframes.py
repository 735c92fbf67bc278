"""3D keyframes: known poses at chosen frames of the motion to generate, for the sampler to inpaint.

Data contract (``Keyframes``, for a motion of L frames of D = 263 HumanML3D features at 20 fps):

- ``features`` [L, D] float32: the keyframes' features normalised by the model's ``FeatureStats``,
  0 where unknown;
- ``mask`` [L, D] bool: the known entries, only the pose parts of the keyframe rows: root height
  [3], root-relative joints [4:67] and joint rotations [67:193]. Velocities, the root's yaw and xz
  velocity and foot contacts stay free, so the sampler fills the motion between keyframes;
- ``targets`` [L, 22, 3] float32: the keyframe poses (NaN elsewhere) in the canonical frame of the
  first keyframe (``frames[0]``): that pose's pelvis at x = z = 0 facing +z
  (``humanml3d.canonicalize``'s facing), y the height above the floor (the lowest joint of the
  whole given motion); ``root`` is their pelvis [L, 3]. When ``frames[0]`` is frame 0 this is the
  generated motion's own frame (``features_to_joints`` output); otherwise the sampler places the
  first keyframe where its integrated root path puts it and the others relative to it;
- ``frames``: the keyframe indices, in the order given.

Which motion frame becomes which keyframe: a motion of exactly ``len(frames)`` frames gives one pose
per keyframe (motion frame k -> ``frames[k]``, each pose on its own); otherwise motion frame f ->
frame f (the motion, resampled to 20 fps when it has another rate, must reach the last keyframe).

Pose features come from ``humanml3d.joints_to_features``: a contiguous motion's own rows (row f
describes frame f, so the heading matches training features), a lone pose as a still two-frame
clip. Heights (root height, the joints' y in [4:67]) are measured from the whole motion's floor.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np
import torch

from ..core.errors import InputError
from ..core.motion import Motion, validate_motion
from ..motion.humanml3d import BODY_DIM, BODY_JOINTS, FPS, FeatureStats, canonicalize, joints_to_features
from ..motion.resample import resample

# The pose parts of the 263 vector that keyframes fix (see the module docstring).
KEYFRAME_COLUMNS = (slice(3, 4), slice(4, 67), slice(67, 193))
_RIC_HEIGHTS = np.arange(4 + 1, 67, 3)  # the y column of each root-relative joint


@dataclass(frozen=True)
class Keyframes:
    features: torch.Tensor
    mask: torch.Tensor
    targets: torch.Tensor
    frames: tuple[int, ...]

    def __post_init__(self):
        length = self.features.shape[0]
        if self.features.ndim != 2 or self.mask.shape != self.features.shape \
                or self.targets.shape != (length, BODY_JOINTS, 3):
            raise InputError("keyframes", f"expected features [L, D], mask [L, D] and targets [L, {BODY_JOINTS}, 3], "
                                          f"got {list(self.features.shape)}, {list(self.mask.shape)}, "
                                          f"{list(self.targets.shape)}")
        if self.mask.dtype != torch.bool or not all(0 <= f < length for f in self.frames):
            raise InputError("keyframes", f"mask must be bool and frames inside 0..{length - 1}")

    @property
    def root(self) -> torch.Tensor:
        """[L, 3] the keyframes' pelvis positions, NaN elsewhere."""
        return self.targets[:, 0]

    @property
    def num_frames(self) -> int:
        return int(self.features.shape[0])


def parse_frames(text: str | list[int] | tuple[int, ...], num_frames: int) -> tuple[int, ...]:
    """Keyframe indices from ``"0, 60, 119"`` (commas and/or spaces) or a list of ints.

    Negative indices count from the end (-1 is the last frame). Errors name "frames": an empty list,
    something that is not an integer, an index outside the motion, the same frame twice.
    """
    if isinstance(num_frames, bool) or not isinstance(num_frames, int) or num_frames < 1:
        raise InputError("num_frames", f"expected a positive frame count, got {num_frames!r}")
    if isinstance(text, str):
        items = [item for item in re.split(r"[,\s]+", text.strip()) if item]
        try:
            values = [int(item) for item in items]
        except ValueError:
            raise InputError("frames", f"expected whole frame numbers separated by commas, got {text!r}") from None
    elif isinstance(text, (list, tuple)) and all(isinstance(v, (int, np.integer)) and not isinstance(v, bool)
                                                 for v in text):
        values = [int(v) for v in text]
    else:
        raise InputError("frames", f"expected a string like \"0, 119\" or a list of ints, got {text!r}")
    if not values:
        raise InputError("frames", "no keyframe given")
    frames = []
    for value in values:
        frame = value + num_frames if value < 0 else value
        if not 0 <= frame < num_frames:
            raise InputError("frames", f"frame {value} is outside the motion's {num_frames} frames "
                                       f"(0..{num_frames - 1}, or -{num_frames}..-1 from the end)")
        if frame in frames:
            raise InputError("frames", f"frame {frame} is given twice")
        frames.append(frame)
    return tuple(frames)


def _pose_features(joints: np.ndarray) -> np.ndarray:
    """[K, 263] features of K independent poses, each a still two-frame clip, heights from its own floor."""
    return np.stack([joints_to_features(np.stack([pose, pose]))[0] for pose in joints])


def make_keyframes(motion: Motion, frames, num_frames: int, stats: FeatureStats) -> Keyframes:
    """Keyframes for a motion of ``num_frames`` frames from the poses of ``motion`` (smpl_22 world;
    smpl_52 gives its body joints)."""
    motion = validate_motion(motion, "keyframes")
    if motion.layout not in ("smpl_22", "smpl_52"):
        raise InputError("keyframes", f"expected an smpl_22 (or smpl_52) motion, got layout {motion.layout!r}")
    if not isinstance(stats, FeatureStats) or stats.dim != BODY_DIM:
        raise InputError("stats", f"expected FeatureStats of {BODY_DIM} features, got "
                                  f"{getattr(stats, 'dim', type(stats).__name__)}")
    frames = parse_frames(frames, num_frames)
    one_per_keyframe = motion.num_frames == len(frames)
    if not one_per_keyframe and abs(motion.fps - FPS) > 1e-6:
        motion = resample(motion, FPS)
    joints = motion.joints.numpy()[:, :BODY_JOINTS].astype(np.float64)  # smpl_52 starts with smpl_22's body
    if one_per_keyframe:
        sources = list(range(len(frames)))
    else:
        if max(frames) >= motion.num_frames:
            raise InputError("keyframes", f"the motion has {motion.num_frames} frames at {FPS:g} fps, so it has no "
                                          f"frame {max(frames)} to take a keyframe from; give a longer motion or "
                                          f"exactly {len(frames)} frames (one pose per keyframe)")
        sources = list(frames)
    # Whole motion in the canonical frame of the first keyframe's pose (duplicated in front, then dropped).
    placed = canonicalize(np.concatenate([joints[sources[:1]], joints]))[1:].astype(np.float64)
    if one_per_keyframe:
        rows = _pose_features(placed)
        lift = placed[..., 1].min(axis=1)  # each pose's own floor, which its features measured heights from
        rows[:, 3] += lift
        rows[:, _RIC_HEIGHTS] += lift[:, None]
    else:  # a still copy of the last frame gives it a row too (its velocities are free anyway)
        rows = joints_to_features(np.concatenate([placed, placed[-1:]]))[sources]

    features = torch.zeros(num_frames, BODY_DIM)
    mask = torch.zeros(num_frames, BODY_DIM, dtype=torch.bool)
    targets = torch.full((num_frames, BODY_JOINTS, 3), float("nan"))
    normalised = torch.from_numpy(stats.normalize(rows.astype(np.float32)))
    for k, frame in enumerate(frames):
        for part in KEYFRAME_COLUMNS:
            features[frame, part] = normalised[k, part]
            mask[frame, part] = True
        targets[frame] = torch.from_numpy(placed[sources[k]].astype(np.float32))
    return Keyframes(features=features, mask=mask, targets=targets, frames=frames)
