"""The GENMO model as a file and its two uses: text/2D/music/keyframe-conditioned generation and motion
estimation from 2D keypoints.

``GenmoModel`` = a ``GenmoDenoiser`` + the feature statistics it was trained with (buffers
``feature_mean`` / ``feature_std``: normalised features in, normalised features out) + the motion fps
(20, HumanML3D's). Files: our checkpoint format (``core/checkpoint.py``, family ``genmo``; the JSON
beside it keeps the training record), or NVIDIA's GEM Lightning ``.ckpt`` (``official.py``) with
GEM's statistics and 30 fps (``gem_stats``), whose 151-d SMPL representation (``smpl151``) becomes
joints through an SMPL body model the caller gives (``body_model``).

Output motions: ``smpl_22`` joints in metres at the model's fps (20 for HumanML3D models), in the
canonical frame of the generated clip (frame 0's pelvis at x = z = 0 facing +z, floor y = 0),
gravity-view for estimation; bones are held at their median length (``humanml3d.steady_bones``).
A 151-d model's motion is ``smpl151.decode_151``'s (one body shape, so its bones are constant already;
frame 0 above x = z = 0, floor at the lowest joint; facing as generated), without keyframes (they
would have to be inpainted in GEM's representation, which ``keyframes`` does not produce). With
keyframes the bones take the keyframes' own
lengths and every frame is turned and shifted so that the motion passes exactly through the keyframe
poses (yaw and pelvis offsets measured at the keyframes, interpolated linearly between them, constant
outside them; ``_through_keyframes``).
"""

from __future__ import annotations

import json
import math

import numpy as np
import torch
from torch import nn

from ..core import checkpoint
from ..core.errors import InputError, ModelFileError
from ..core.motion import Motion
from ..core.resources import ProgressCallback
from ..motion.humanml3d import FeatureStats, bone_lengths, features_to_joints, steady_bones
from ..motion.rotations import yaw_rotate
from ..render.camera import facing_yaw_degrees
from .conditions import MUSIC_DIM, GenmoConditions
from .denoiser import GenmoConfig, GenmoDenoiser
from .diffusion import ddim_sample, estimate
from .gem_stats import GEM_FPS, STATS_NAME, gem_feature_stats
from .official import load_gem_denoiser
from .smpl151 import REPRESENTATION as GEM_SMPL
from .smpl151 import SMPL_NAMES, decode_151
from .text_encoders import open_text_encoder
from .timeline import Prompt, encode_timeline

FAMILY = "genmo"
FPS = 20.0  # HumanML3D's frame rate: the demo model's features are per frame at 20 fps
HUMANML3D = "humanml3d_263"
ESTIMATION_MODES = ("estimation", "generation")
MAX_SECONDS = 60.0  # default longest generation: sampling cost grows linearly, 1200 frames at 20 fps


class GenmoModel(nn.Module):
    """A denoiser with its feature statistics; ``GenmoModel(config, stats)`` or, as the checkpoint
    registry rebuilds it, ``GenmoModel(**config.to_dict())``; ``config`` is the ``GenmoConfig``."""

    kind = "genmo"

    def __init__(self, config: GenmoConfig | None = None, stats: FeatureStats | None = None, fps: float = FPS,
                 record: dict | None = None, denoiser: GenmoDenoiser | None = None, **options):
        super().__init__()
        genmo_config = denoiser.config if denoiser is not None else \
            config if config is not None else GenmoConfig.from_dict(options)
        self.config = genmo_config
        self.fps, self.record = float(fps), dict(record or {})
        self.denoiser = denoiser if denoiser is not None else GenmoDenoiser(genmo_config)
        dim = genmo_config.motion_dim
        self.register_buffer("feature_mean", torch.zeros(dim))
        self.register_buffer("feature_std", torch.ones(dim))
        if stats is not None:
            self.set_stats(stats)

    def set_stats(self, stats: FeatureStats) -> None:
        if stats.dim != self.feature_mean.shape[0]:
            raise InputError("stats", f"{stats.dim} statistics for a {self.feature_mean.shape[0]}-d model")
        self.feature_mean.copy_(torch.from_numpy(stats.mean))
        self.feature_std.copy_(torch.from_numpy(stats.std))

    @property
    def stats(self) -> FeatureStats:
        return FeatureStats(self.feature_mean.detach().cpu().numpy(), self.feature_std.detach().cpu().numpy())



checkpoint.register(FAMILY, GenmoModel.kind, GenmoModel)


def save_genmo(model: GenmoModel, path: str, record: dict | None = None) -> tuple[str, str]:
    """``path`` (.safetensors) and its .json (the header records fps and text encoder; the JSON adds
    ``{"training": record}``)."""
    # the header's "config" replaces save_checkpoint's model.config (a dataclass here) by its JSON form
    header = {"config": model.config.to_dict(), "fps": model.fps, "text_encoder": model.config.text_encoder,
              "representation": model.config.representation}
    return checkpoint.save_checkpoint(model, path, FAMILY, header=header, record={"training": record or {}})


def load_genmo(path: str, gem_config: GenmoConfig | None = None) -> GenmoModel:
    """Our checkpoint (eval mode, CPU), or NVIDIA's GEM Lightning ``.ckpt`` routed through
    ``official.load_gem_denoiser`` (``gem_config``: its sizes, default ``GenmoConfig.gem()``) and given
    GEM's feature statistics and frame rate (``gem_stats``: its EnDecoder is not in the file)."""
    path = str(path)
    if path.endswith(".ckpt"):
        denoiser = load_gem_denoiser(path, gem_config)
        if denoiser.config.representation != GEM_SMPL:  # a custom gem_config for another representation
            return GenmoModel(denoiser=denoiser, record={"source": path}).eval()
        record = {"source": path, "statistics": f"GEM {STATS_NAME}, clip_std (gem_stats.py)", "fps": GEM_FPS}
        return GenmoModel(denoiser=denoiser, stats=gem_feature_stats(), fps=GEM_FPS, record=record).eval()
    loaded = checkpoint.load_checkpoint(path, FAMILY)
    model = loaded.model
    model.fps = float(loaded.header.get("fps", FPS))
    try:
        with open(checkpoint.config_path_of(path)) as handle:
            model.record = json.load(handle).get("training", {})
    except (OSError, ValueError):
        model.record = {}
    return model


# ----------------------------------------------------------------------------- inputs

def frames_for_seconds(seconds, fps: float, max_seconds: float = MAX_SECONDS) -> int:
    """Motion frames for ``seconds`` at ``fps`` (at least one); InputError("seconds") outside (0, max_seconds]."""
    if isinstance(seconds, bool) or not isinstance(seconds, (int, float)) or not math.isfinite(seconds) \
            or seconds <= 0 or seconds > max_seconds:
        raise InputError("seconds", f"expected a length in (0, {max_seconds:g}] seconds, got {seconds!r}")
    return max(1, round(seconds * fps))


def check_decodable(model: GenmoModel, body_model=None, keyframes=None) -> None:
    """InputError unless ``model``'s motion can become joints here with these inputs: HumanML3D models
    always; GEM's 151-d models with an SMPL ``body_model`` and without ``keyframes``."""
    representation = model.config.representation
    if representation == HUMANML3D:
        return
    if representation != GEM_SMPL:
        raise InputError("model", f"this model predicts {representation!r} motion; only {HUMANML3D!r} and "
                                  f"{GEM_SMPL!r} models decode to joints here")
    if body_model is None:
        raise InputError("body_model", f"this model predicts GEM's 151-d SMPL parameters, which become joints "
                                       f"through an SMPL body model: load {' or '.join(SMPL_NAMES)} with "
                                       f"smpl151.load_smpl_body_model (in ComfyUI: put the file in the models/smpl "
                                       f"folder)")
    if keyframes is not None:
        raise InputError("keyframes", "keyframes are inpainted in the model's own feature space, and keyframes are "
                                      "built as HumanML3D 263-d features; this model predicts GEM's 151-d SMPL "
                                      "parameters: sample without keyframes")


def _keypoint_fields(keypoints, length: int) -> dict:
    if keypoints is None:
        return {}
    if not isinstance(keypoints, (tuple, list)) or len(keypoints) != 3:
        raise InputError("keypoints", "expected the (keypoints, bbox, mask) triple of keypoint_condition")
    points, bbox, mask = (torch.as_tensor(k) for k in keypoints)
    if points.shape[:2] != (1, length):
        raise InputError("keypoints", f"keypoints cover {list(points.shape[:2])} (batch, frames); the motion "
                                      f"has {length} frames: build them with num_frames={length}")
    return {"keypoints": points.float(), "bbox": bbox.float(), "keypoints_mask": mask.bool()}


def _music_fields(music, length: int) -> dict:
    if music is None:
        return {}
    features, mask = (torch.as_tensor(m) for m in music)
    if tuple(features.shape) != (length, MUSIC_DIM) or tuple(mask.shape) != (length,):
        raise InputError("music", f"music features are {list(features.shape)}, expected [{length}, {MUSIC_DIM}]: "
                                  f"compute them with num_frames={length}")
    return {"music": features.float()[None], "music_mask": mask.bool()[None]}


# ----------------------------------------------------------------------------- outputs

def _facing(pose: torch.Tensor) -> float:
    """Yaw (radians) of one smpl_22 pose's facing, in ``yaw_rotate``'s sense: turning a pose that faces
    +z by it makes it face like ``pose``."""
    return math.radians(facing_yaw_degrees(pose[None], "smpl_22"))


def _interpolated(frames: torch.Tensor, values, length: int) -> torch.Tensor:
    """``values`` [K] at ``frames`` -> [length], linear between keyframes, constant outside them."""
    everywhere = np.arange(length, dtype=np.float64)
    return torch.from_numpy(np.interp(everywhere, frames.double().numpy(), np.asarray(values, np.float64)))


def _through_keyframes(joints: torch.Tensor, keyframes) -> torch.Tensor:
    """Turn and shift every frame so that the motion passes exactly through the keyframe poses.

    The keyframe poses (``Keyframes.targets``, in the first keyframe's canonical frame) are placed at
    the generated first keyframe: turned to its facing, its pelvis on the generated pelvis. At each
    keyframe the yaw and the horizontal pelvis offset that bring the generated pose onto its target
    are measured; both are interpolated linearly between keyframes (constant outside them) and each
    frame is turned about its own pelvis and shifted by them. The pose itself (root-relative joints,
    root height) was inpainted, so with the keyframes' bone lengths the keyframes come out exact."""
    targets = torch.as_tensor(keyframes.targets, dtype=joints.dtype)
    frames = torch.tensor(keyframes.frames, dtype=torch.long).sort().values
    first = int(frames[0])
    anchor = torch.tensor(_facing(joints[first]) - _facing(targets[first]), dtype=joints.dtype)
    placed = yaw_rotate(targets[frames] - targets[first, 0], anchor) + joints[first, 0]
    turns = [_facing(pose) - _facing(joints[f]) for pose, f in zip(placed, frames)]
    turn = _interpolated(frames, np.unwrap(np.angle(np.exp(1j * np.array(turns)))), len(joints)).to(joints.dtype)
    shift = placed[:, 0] - joints[frames, 0]
    shift[:, 1] = 0.0  # heights were inpainted: only the horizontal path moves
    shift = torch.stack([_interpolated(frames, shift[:, axis], len(joints)) for axis in range(3)], -1)
    pelvis = joints[:, :1]
    return yaw_rotate(joints - pelvis, turn[:, None]) + pelvis + shift.to(joints.dtype)[:, None]


def _to_motion(model: GenmoModel, x0: torch.Tensor, keyframes=None, body_model=None) -> Motion:
    features = model.stats.denormalize(x0[0].detach().cpu().float())
    if model.config.representation == GEM_SMPL:
        if not torch.isfinite(features).all():
            raise ModelFileError("the GENMO model produced non-finite motion: its weights are damaged")
        return decode_151(features, body_model, model.fps)  # one body shape: constant bones, no steady_bones
    joints = features_to_joints(features)
    if not torch.isfinite(joints).all():
        raise ModelFileError("the GENMO model produced non-finite motion: its weights are damaged")
    if keyframes is not None:
        first = keyframes.frames[0]  # every keyframe pose has the source motion's bones
        lengths = bone_lengths(keyframes.targets[[first, first]])  # (it takes a clip of at least 2 frames)
        joints = _through_keyframes(torch.from_numpy(steady_bones(joints, lengths)), keyframes)
    else:
        joints = torch.from_numpy(steady_bones(joints))
    return Motion(joints=joints.float().contiguous(), fps=model.fps, layout="smpl_22")


# ----------------------------------------------------------------------------- generation and estimation

def generate_motion(model: GenmoModel, prompts: list[Prompt], seconds: float, keypoints=None, music=None,
                    keyframes=None, steps: int = 50, cfg: float = 2.5, seed: int = 0, window: int | None = None,
                    text_encoder=None, progress: ProgressCallback | None = None, check_interrupt=None,
                    max_seconds: float = MAX_SECONDS, body_model=None) -> Motion:
    """A motion of ``seconds`` following the text timeline ``prompts`` (may be empty), optionally
    guided by 2D ``keypoints`` (``keypoint_condition``'s triple), ``music`` ((features [L, 35], mask
    [L])) and ``keyframes`` (inpainted). Deterministic for a ``seed``. ``body_model``: the SMPL model
    (``smpl151.load_smpl_body_model``) a 151-d GEM model's motion is decoded with."""
    check_decodable(model, body_model, keyframes)
    length = frames_for_seconds(seconds, model.fps, max_seconds)
    text = None
    if prompts:
        encoder = text_encoder or open_text_encoder(model.config.text_encoder)
        text = encode_timeline(list(prompts), length, model.fps, encoder)
    conditions = GenmoConditions(batch=1, length=length, text=text, **_keypoint_fields(keypoints, length),
                                 **_music_fields(music, length))
    generator = torch.Generator().manual_seed(int(seed))
    x0 = ddim_sample(model.denoiser, conditions, (1, length, model.config.motion_dim), steps=steps, cfg=cfg,
                     generator=generator, window=window, keyframes=keyframes, progress=progress,
                     check_interrupt=check_interrupt)
    return _to_motion(model, x0, keyframes, body_model)


def estimate_motion(model: GenmoModel, keypoints, seed: int = 0, window: int | None = None,
                    mode: str = "estimation", steps: int = 50, cfg: float = 2.5, progress=None,
                    check_interrupt=None, body_model=None) -> Motion:
    """The 3D motion (gravity-view) seen in 2D ``keypoints`` (``keypoint_condition``'s triple):
    ``mode`` "estimation" = one denoiser pass from noise (GEM's regression mode); "generation" =
    DDIM sampling guided by the keypoints (``steps``, ``cfg``). ``body_model``: as for ``generate_motion``."""
    check_decodable(model, body_model)
    if mode not in ESTIMATION_MODES:
        raise InputError("mode", f"expected one of {ESTIMATION_MODES}, got {mode!r}")
    if not isinstance(keypoints, (tuple, list)) or len(keypoints) != 3:
        raise InputError("keypoints", "expected the (keypoints, bbox, mask) triple of keypoint_condition")
    length = int(torch.as_tensor(keypoints[0]).shape[1])
    conditions = GenmoConditions(batch=1, length=length, **_keypoint_fields(keypoints, length))
    shape = (1, length, model.config.motion_dim)
    generator = torch.Generator().manual_seed(int(seed))
    if mode == "estimation":
        x0 = estimate(model.denoiser, conditions, shape, window=window, generator=generator)
        if progress is not None:
            progress(1, 1)
    else:
        x0 = ddim_sample(model.denoiser, conditions, shape, steps=steps, cfg=cfg, generator=generator, window=window,
                         progress=progress, check_interrupt=check_interrupt)
    return _to_motion(model, x0, body_model=body_model)
