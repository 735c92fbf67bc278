"""Made-up training motions: one clip's arm motion on another clip's body (``smpl_22`` joints).

Why: in the mocap that ships with our packages, arm actions only come with the body actions they
were recorded with (DeepMimic's waves all come inside dances, kicks and jumps), so a model can only
learn "waves" as "dances". Putting a dance's arms on a standing or walking body gives waves while
standing, and the captioner (which reads the result, not its sources) says so. These motions are
**made by us**, not recorded: every data set that uses them marks their recordings with
``COMPOSED_PREFIX`` and keeps them on the training side.

How, per frame: each arm bone (shoulder -> elbow, elbow -> wrist) of the donor is expressed in the
donor's torso frame (x across the shoulders to the subject's left, y from the pelvis to the neck
made orthogonal to x, z = x cross y, forward), carried into the recipient's torso frame, and given
the recipient's bone length. Everything else (legs, spine, collars, shoulders, head, root path)
is the recipient's, so every bone keeps the recipient's length. A donor shorter than the recipient
is played forwards then backwards (ping-pong), which never jumps.
"""

from __future__ import annotations

import numpy as np

from ..core.errors import InputError
from ..core.layouts import layout_names

COMPOSED_PREFIX = "composed:"  # recording ids of made-up motions (never held out, see forecasting.dataset)

_NAMES = layout_names("smpl_22")
_ARM_CHAINS = tuple(tuple(_NAMES.index(f"{side}_{joint}") for joint in ("shoulder", "elbow", "wrist"))
                    for side in ("left", "right"))


def _torso_frames(joints: np.ndarray) -> np.ndarray:
    """[T, 3, 3] rotations whose columns are the torso's (left, up, forward) axes in world space."""
    across = joints[:, _NAMES.index("left_shoulder")] - joints[:, _NAMES.index("right_shoulder")]
    up = joints[:, _NAMES.index("neck")] - joints[:, _NAMES.index("pelvis")]
    x = across / np.linalg.norm(across, axis=-1, keepdims=True)
    y = up - (up * x).sum(-1, keepdims=True) * x
    y /= np.linalg.norm(y, axis=-1, keepdims=True)
    return np.stack([x, y, np.cross(x, y)], axis=-1)


def ping_pong(frames: np.ndarray, length: int) -> np.ndarray:
    """``frames`` [T, ...] extended to ``length`` frames by playing it forwards, backwards, forwards..."""
    if len(frames) < 2:
        raise InputError("donor", f"need at least 2 frames to ping-pong, got {len(frames)}")
    cycle = np.concatenate([frames, frames[-2:0:-1]])
    return cycle[np.arange(length) % len(cycle)]


def _check(joints, name: str) -> np.ndarray:
    array = np.asarray(joints, np.float64)
    if array.ndim != 3 or array.shape[1:] != (22, 3):
        raise InputError(name, f"expected smpl_22 joints [T, 22, 3], got shape {list(array.shape)}")
    if not np.isfinite(array).all():
        raise InputError(name, "joint positions contain NaN or infinite values")
    return array


def transplant_arms(recipient, donor) -> np.ndarray:
    """The recipient's motion [T, 22, 3] with the donor's arm motion (donor frame t for recipient
    frame t, ping-ponged when the donor is shorter). float32."""
    body, arms = _check(recipient, "recipient"), _check(donor, "donor")
    arms = ping_pong(arms, len(body)) if len(arms) < len(body) else arms[:len(body)]
    into_body = _torso_frames(body) @ np.swapaxes(_torso_frames(arms), 1, 2)  # donor torso -> recipient torso
    out = body.copy()
    for chain in _ARM_CHAINS:
        for parent, child in zip(chain[:-1], chain[1:]):
            direction = np.einsum("tij,tj->ti", into_body, arms[:, child] - arms[:, parent])
            direction /= np.maximum(np.linalg.norm(direction, axis=-1, keepdims=True), 1e-9)
            length = np.linalg.norm(body[:, child] - body[:, parent], axis=-1, keepdims=True)
            out[:, child] = out[:, parent] + direction * length
    return out.astype(np.float32)
