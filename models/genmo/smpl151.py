"""GEM's 151-d SMPL motion representation and its decoding to an ``smpl_22`` MOTION.

One row per frame, in physical units (GEM's feature normaliser is not part of its checkpoint, so a
denoiser output must be de-normalised before it reaches ``decode_151``):

- ``body_pose``        [0:126]   21 body joints (SMPL joints 1..21, parents before children), 6D each;
- ``betas``            [126:136] 10 SMPL shape coefficients;
- ``global_orient``    [136:142] root orientation in the camera frame, 6D;
- ``global_orient_gv`` [142:148] root orientation in the gravity-view frame (y up), 6D;
- ``local_transl_vel`` [148:151] root translation per frame (metres), in the root's own frame.

6D rotations follow GEM (Zhou et al.): the first two ROWS of the matrix, decoded by Gram-Schmidt.
(``models/motion/rotations`` keeps the first two COLUMNS; the helpers here transpose around it.)

Root path (GEM's rollout): the world velocity of frame t is ``R_gv[t] @ local_transl_vel[t]`` and
the translation of frame t is the sum of the velocities of frames 0..t-1 (frame 0 at the origin).
``encode_151`` is its exact inverse (``local = R_gv^T (transl[t+1] - transl[t])``, the last frame
repeating the one before). GEM's own encoder writes ``R_gv @ v`` where its docstring and its
rollout imply ``R_gv^T @ v``; we follow the rollout, which is what its training loss and demo use.

``decode_151`` runs the SMPL body model (``smplx``) with the gravity-view orientation, one body
shape for the whole motion (the mean of the per-frame betas, so bone lengths stay constant), then
puts the floor at the lowest joint height of the motion and the first frame's pelvis above x = z = 0.

GEM's own body model is the neutral SMPL-X ("supermotion", 10 betas; gem/utils/smplx_utils.py). Its
21 body joints are SMPL's joints 1..21 with the same parents, so an SMPL model poses the body as GEM
meant; the betas, however, index SMPL-X's shape space, so with SMPL the proportions are approximate.
The gravity-view frame is y up (GEM's get_R_c2gv; its rollout applies no further turn, "ay->ay").
"""

from __future__ import annotations

import contextlib
import io
import os
import pickle

import numpy as np
import smplx
import torch
from smplx.utils import Struct

from ..core.errors import InputError, ModelFileError, positive_number
from ..core.motion import Motion
from ..motion.rotations import cont6d_to_matrix, matrix_to_cont6d

REPRESENTATION = "gem_smpl_151"  # GenmoConfig.representation of a model predicting these features
FEATURE_DIM = 151
BODY_JOINTS = 21  # SMPL joints 1..21; the two hand joints (22, 23) of SMPL are not represented
NUM_BETAS = 10
SMPL_22_JOINTS = 22
SLICES = {
    "body_pose": slice(0, 126),
    "betas": slice(126, 136),
    "global_orient": slice(136, 142),
    "global_orient_gv": slice(142, 148),
    "local_transl_vel": slice(148, 151),
}
SMPL_FILE_KEYS = ("v_template", "shapedirs", "posedirs", "J_regressor", "weights", "kintree_table", "f")
SMPL_NAMES = ("SMPL_NEUTRAL.npz", "SMPL_NEUTRAL.pkl")  # looked for in a folder, in this order


def rot6d_to_matrix(rot6d: torch.Tensor) -> torch.Tensor:
    """[..., 6] GEM 6D (first two rows) -> [..., 3, 3] rotation matrices."""
    return cont6d_to_matrix(rot6d).transpose(-1, -2)


def matrix_to_rot6d(matrix: torch.Tensor) -> torch.Tensor:
    """[..., 3, 3] rotation matrices -> [..., 6] GEM 6D (first two rows)."""
    return matrix_to_cont6d(matrix.transpose(-1, -2))


def split_151(x: torch.Tensor) -> dict[str, torch.Tensor]:
    """[..., 151] -> the five named parts of ``SLICES`` (views into ``x``)."""
    x = _check_features(x)
    return {name: x[..., part] for name, part in SLICES.items()}


def join_151(parts: dict) -> torch.Tensor:
    """The inverse of ``split_151``: the five named parts, each [..., width] -> [..., 151]."""
    missing = [name for name in SLICES if name not in parts]
    if missing:
        raise InputError("parts", f"missing {missing}; expected {list(SLICES)}")
    pieces = []
    for name, part in SLICES.items():
        piece = torch.as_tensor(parts[name])
        if piece.shape[-1] != part.stop - part.start:
            raise InputError("parts", f"{name} has width {piece.shape[-1]}, expected {part.stop - part.start}")
        pieces.append(piece)
    if len({p.shape[:-1] for p in pieces}) != 1:
        raise InputError("parts", f"the parts' leading shapes differ: {[list(p.shape) for p in pieces]}")
    return torch.cat(pieces, dim=-1)


def encode_151(body_pose: torch.Tensor, betas: torch.Tensor, global_orient_gv: torch.Tensor, transl: torch.Tensor,
               global_orient: torch.Tensor | None = None) -> torch.Tensor:
    """SMPL parameters of L frames -> [L, 151].

    ``body_pose`` [L, 21, 3, 3], ``betas`` [L, 10] or [10], ``global_orient_gv`` [L, 3, 3] and ``transl``
    [L, 3] in the gravity-view frame; ``global_orient`` [L, 3, 3] in the camera frame (default: the
    gravity-view one, i.e. a camera aligned with the world).
    """
    frames = transl.shape[0]
    if frames < 2:
        raise InputError("transl", f"need at least two frames for a velocity, got {frames}")
    velocity = transl[1:] - transl[:-1]
    velocity = torch.cat([velocity, velocity[-1:]], dim=0)
    local = torch.einsum("lji,lj->li", global_orient_gv, velocity)  # R^T v
    camera = global_orient_gv if global_orient is None else global_orient
    return join_151({"body_pose": matrix_to_rot6d(body_pose).reshape(frames, -1),
                     "betas": torch.as_tensor(betas, dtype=transl.dtype).expand(frames, NUM_BETAS),
                     "global_orient": matrix_to_rot6d(camera), "global_orient_gv": matrix_to_rot6d(global_orient_gv),
                     "local_transl_vel": local})


def rollout_translation(local_transl_vel: torch.Tensor, global_orient_gv: torch.Tensor) -> torch.Tensor:
    """[L, 3] root-frame velocities and [L, 3, 3] orientations -> [L, 3] translations (frame 0 at 0)."""
    velocity = torch.einsum("lij,lj->li", global_orient_gv, local_transl_vel)
    return torch.cat([torch.zeros_like(velocity[:1]), velocity[:-1]], dim=0).cumsum(dim=0)


def decode_151(x, body_model: smplx.SMPL, fps: float) -> Motion:
    """[L, 151] GEM features (physical units) -> ``smpl_22`` MOTION at ``fps`` (see the module docstring).

    The motion's params carry the SMPL parameters it was made from: ``smpl_body_pose`` [L, 21, 3, 3],
    ``smpl_global_orient`` [L, 3, 3] (gravity view), ``smpl_betas`` [L, 10], ``smpl_transl`` [L, 3]
    (after the floor and start shift).
    """
    fps = positive_number(fps, "fps", "a positive frame rate")
    x = _check_features(torch.as_tensor(x).detach().to(device=body_model.shapedirs.device, dtype=torch.float32))
    if x.ndim != 2:
        raise InputError("features", f"expected [L, {FEATURE_DIM}] for one motion, got {list(x.shape)}")
    frames = x.shape[0]
    parts = split_151(x)
    body_pose = rot6d_to_matrix(parts["body_pose"].reshape(frames, BODY_JOINTS, 6))
    orient = rot6d_to_matrix(parts["global_orient_gv"])
    transl = rollout_translation(parts["local_transl_vel"], orient)
    betas = parts["betas"].mean(dim=0, keepdim=True).expand(frames, NUM_BETAS).contiguous()
    joints = smpl_joints(body_model, body_pose, orient, betas, transl)
    shift = torch.stack([joints[0, 0, 0], joints[..., 1].min(), joints[0, 0, 2]])
    params = {"smpl_body_pose": body_pose, "smpl_global_orient": orient, "smpl_betas": betas,
              "smpl_transl": transl - shift}
    return Motion(joints=(joints - shift).cpu().contiguous(), fps=float(fps), layout="smpl_22",
                  params={name: value.cpu().contiguous() for name, value in params.items()})


def smpl_joints(body_model: smplx.SMPL, body_pose: torch.Tensor, global_orient: torch.Tensor, betas: torch.Tensor,
                transl: torch.Tensor) -> torch.Tensor:
    """[L, 22, 3] SMPL joints of rotation-matrix parameters (the hand joints held at rest)."""
    frames = body_pose.shape[0]
    if betas.shape[-1] > body_model.num_betas:
        raise ModelFileError(f"the SMPL model has {body_model.num_betas} shape components, "
                             f"the motion {betas.shape[-1]}")
    hands = torch.eye(3, device=body_pose.device).expand(frames, 2, 3, 3)
    pose = torch.cat([body_pose, hands], dim=1).reshape(frames, -1, 9)
    with torch.no_grad():  # pose2rot=False: smplx takes [L, joints, 9] matrices, joined along dim 1
        output = body_model(betas=betas, global_orient=global_orient.reshape(frames, 1, 9), body_pose=pose,
                            transl=transl, pose2rot=False)
    return output.joints[:, :SMPL_22_JOINTS].float()


def load_smpl_body_model(path: str) -> smplx.SMPL:
    """The SMPL body model from an ``.npz`` or ``.pkl`` model file, or a folder holding
    ``SMPL_NEUTRAL.npz`` / ``SMPL_NEUTRAL.pkl``. The file needs ``SMPL_FILE_KEYS``; a ``.pkl`` is
    unpickled (as ``smplx`` does), so only load pickles you trust. Anything wrong -> ModelFileError.
    """
    if os.path.isdir(path):
        found = [os.path.join(path, name) for name in SMPL_NAMES if os.path.isfile(os.path.join(path, name))]
        if not found:
            raise ModelFileError(f"SMPL model: {path} holds none of {list(SMPL_NAMES)}")
        path = found[0]
    if not os.path.isfile(path):
        raise ModelFileError(f"SMPL model: file not found: {path!r}")
    try:
        if path.endswith(".npz"):
            with np.load(path, allow_pickle=False) as data:
                arrays = {key: data[key] for key in data.files}
        else:
            with open(path, "rb") as file:
                arrays = dict(pickle.load(file, encoding="latin1"))
    except Exception as error:  # a broken archive, a pickle needing chumpy, ...
        raise ModelFileError(f"SMPL model: cannot read {path}: {type(error).__name__}: {error}") from error
    missing = [key for key in SMPL_FILE_KEYS if key not in arrays]
    if missing:
        raise ModelFileError(f"SMPL model: {path} lacks {missing}; an SMPL model file has {list(SMPL_FILE_KEYS)}")
    vertices = np.asarray(arrays["v_template"]).shape
    if len(vertices) != 2 or vertices[1] != 3 or np.asarray(arrays["weights"]).shape != (vertices[0], 24):
        raise ModelFileError(f"SMPL model: {path} has v_template {list(vertices)} and weights "
                             f"{list(np.asarray(arrays['weights']).shape)}; expected [V, 3] and [V, 24]")
    try:
        with contextlib.redirect_stdout(io.StringIO()):  # smplx prints a note for 10-component models
            return smplx.SMPL(model_path=path, data_struct=Struct(**arrays), num_betas=NUM_BETAS)
    except (ValueError, IndexError, RuntimeError) as error:
        raise ModelFileError(f"SMPL model: {path} does not build an SMPL model: {error}") from error


def _check_features(x) -> torch.Tensor:
    x = torch.as_tensor(x)
    if x.ndim < 1 or x.shape[-1] != FEATURE_DIM:
        raise InputError("features", f"expected [..., {FEATURE_DIM}] GEM features, got {list(x.shape)}")
    if x.is_floating_point() and not torch.isfinite(x).all():
        raise InputError("features", "contain NaN or infinite values")
    return x
