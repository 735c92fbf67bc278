"""MOTION <-> MOTION_TOKENS through any tokenizer: the one path the nodes and the CLI share.

Encoding resamples the motion to the tokenizer's frame rate (20 fps for every official model),
computes HumanML3D features (``models/humanml3d.py``: 263-d body, or 623-d body + hands for the
part-aware tokenizer), normalises them with the tokenizer's statistics and tokenizes them. Official
checkpoints were trained on HumanML3D's uniform skeleton, so their input is first retargeted onto it
(``uniform_skeleton``); our own checkpoints record which skeleton they were trained on.

Decoding recovers joints from the features (HumanML3D's root integration), so a decoded motion is
in the canonical frame: the first frame's pelvis above the origin, facing +z, feet on y = 0.
"""

from __future__ import annotations

import torch

from ..core.errors import InputError
from ..core.layouts import layout_names
from ..core.motion import Motion, validate_motion
from ..motion import humanml3d
from ..motion.resample import resample
from .base import MotionTokenizer, MotionTokens, validate_tokens
from .posecodes import edit_pose_codes, pose_codes

_BODY_JOINTS = 22


def uses_uniform_skeleton(tokenizer: MotionTokenizer) -> bool:
    """Official checkpoints (loaded from .pth/.tar/.ckpt) expect HumanML3D's uniform skeleton."""
    explicit = getattr(tokenizer, "uniform_skeleton", None)
    if explicit is not None:
        return bool(explicit)
    return any(note.endswith("checkpoint") for note in getattr(tokenizer, "notes", []))


def _device(tokenizer: MotionTokenizer) -> torch.device:
    return next(tokenizer.parameters()).device


def _joints_at_tokenizer_rate(tokenizer: MotionTokenizer, motion) -> torch.Tensor:
    motion = validate_motion(motion)
    names = layout_names(motion.layout)
    if motion.layout not in ("smpl_22", "smpl_52"):
        raise InputError("motion", f"expected a smpl_22 or smpl_52 motion (Load Motion retargets mocap onto "
                                   f"them), got layout {motion.layout!r}")
    hands = tokenizer.kind == "part_vq"
    if hands and len(names) != 52:
        raise InputError("motion", "the part-aware tokenizer needs hands: a smpl_52 motion (a rig with fingers)")
    if abs(motion.fps - tokenizer.fps) > 1e-6:
        motion = resample(motion, tokenizer.fps)
    joints = motion.joints if hands else motion.joints[:, :_BODY_JOINTS]
    needed = tokenizer.downsample + 1  # features are frame differences: T joints give T - 1 rows
    if joints.shape[0] < needed:
        raise InputError("motion", f"{joints.shape[0]} frames at {tokenizer.fps:g} fps; the tokenizer needs at least "
                                   f"{needed} (its downsampling factor {tokenizer.downsample} plus one)")
    return joints


def motion_features(tokenizer: MotionTokenizer, motion: Motion) -> tuple[torch.Tensor, torch.Tensor]:
    """(normalised features [T-1, D], joints [T, J, 3] at the tokenizer's rate) of ``motion``."""
    joints = _joints_at_tokenizer_rate(tokenizer, motion)
    if tokenizer.kind == "part_vq":
        raw = humanml3d.holistic_features(joints)
    else:
        raw = humanml3d.joints_to_features(joints, uniform_skeleton=uses_uniform_skeleton(tokenizer))
    features = tokenizer.normalise(torch.from_numpy(raw))
    return features, joints


@torch.no_grad()
def encode_motion(tokenizer: MotionTokenizer, motion: Motion) -> MotionTokens:
    """Tokens of ``motion``; trailing frames that do not fill a token step are dropped."""
    features, joints = motion_features(tokenizer, motion)
    device = _device(tokenizer)
    if tokenizer.kind == "pgr2m":
        # pose codes of the frames the features describe (feature row t is joint frame t)
        frame_codes = pose_codes(joints[: features.shape[0]])
        ids, step_codes = tokenizer.encode(features[None].to(device), frame_codes[None].to(device))
        step_codes = step_codes[0].cpu()
    else:
        out = tokenizer.encode(features[None].to(device))
        ids, step_codes = (out if isinstance(out, tuple) else (out, None))
        step_codes = None if step_codes is None else step_codes[0].cpu()
    ids = ids[0].cpu().long()
    return MotionTokens(ids=ids, codebook_sizes=tuple(tokenizer.codebook_sizes()), tokenizer=tokenizer.kind,
                        num_frames=ids.shape[0] * tokenizer.downsample, fps=tokenizer.fps, pose_codes=step_codes)


def _check_pair(tokenizer: MotionTokenizer, tokens) -> MotionTokens:
    tokens = validate_tokens(tokens)
    if tokens.tokenizer != tokenizer.kind:
        raise InputError("motion_tokens", f"tokens come from a {tokens.tokenizer!r} tokenizer, this one is "
                                          f"{tokenizer.kind!r}")
    sizes = tuple(tokenizer.codebook_sizes())
    if tokens.ids.shape[1] > len(sizes) or tuple(tokens.codebook_sizes) != sizes[: tokens.ids.shape[1]]:
        raise InputError("motion_tokens", f"tokens have codebooks {tokens.codebook_sizes}; this tokenizer {sizes}")
    return tokens


@torch.no_grad()
def decode_motion(tokenizer: MotionTokenizer, tokens: MotionTokens, residual_stages: int | None = None) -> Motion:
    """MOTION (canonical frame, tokenizer fps) from tokens.

    ``residual_stages`` limits the residual streams used: residual VQ keeps the first n quantisers
    (at least 1), PGR2M the first n residual stages (0 = pose codes alone). None uses them all.
    """
    tokens = _check_pair(tokenizer, tokens)
    available = tokens.ids.shape[1]
    stages = available if residual_stages is None else residual_stages
    minimum = 0 if tokenizer.kind == "pgr2m" else (1 if tokenizer.kind == "rvq" else available)
    if not isinstance(stages, int) or not minimum <= stages <= available:
        raise InputError("residual_stages", f"expected {minimum}..{available} for a {tokenizer.kind} tokenizer, "
                                            f"got {residual_stages!r}")
    device = _device(tokenizer)
    ids = tokens.ids[None, :, :stages].to(device)
    if tokenizer.kind == "pgr2m":
        features = tokenizer.decode(ids, tokens.pose_codes[None].to(device))
    else:
        features = tokenizer.decode(ids)
    joints = humanml3d.features_to_joints(tokenizer.denormalise(features[0].float().cpu()))
    layout = "smpl_52" if joints.shape[1] == 52 else "smpl_22"
    return Motion(joints.contiguous(), tokens.fps, layout)


def motion_to_pose_codes(tokenizer: MotionTokenizer, motion: Motion) -> MotionTokens:
    """PGR2M tokens of ``motion``: interpretable pose codes per token step plus residual ids."""
    if tokenizer.kind != "pgr2m":
        raise InputError("tokenizer", f"pose codes need a PGR2M tokenizer, got a {tokenizer.kind!r} one")
    return encode_motion(tokenizer, motion)


def edit_token_pose_codes(tokens: MotionTokens, category: int | str, start_frame: int, end_frame: int) -> MotionTokens:
    """Tokens whose pose codes hold ``category`` over source frames [start_frame, end_frame).

    Pose codes live per token step (``downsample`` frames each); a step is edited when the range
    covers any of its frames. Residual ids are kept: decoding with fewer residual stages lets the
    edit dominate (PGR2M's trade-off).
    """
    tokens = validate_tokens(tokens)
    if tokens.pose_codes is None:
        raise InputError("motion_tokens", "these tokens have no pose codes (they need a PGR2M tokenizer)")
    step = tokens.num_frames // tokens.num_steps
    if not (isinstance(start_frame, int) and isinstance(end_frame, int) and 0 <= start_frame < end_frame):
        raise InputError("frames", f"expected 0 <= start_frame < end_frame, got {start_frame}..{end_frame}")
    if start_frame >= tokens.num_frames:
        raise InputError("start_frame", f"the tokens cover frames 0..{tokens.num_frames - 1}, got {start_frame}")
    first, last = start_frame // step, min(-(-end_frame // step), tokens.num_steps)
    codes = edit_pose_codes(tokens.pose_codes, category, first, last)
    return MotionTokens(tokens.ids, tokens.codebook_sizes, tokens.tokenizer, tokens.num_frames, tokens.fps, codes)


__all__ = ["encode_motion", "decode_motion", "motion_features", "motion_to_pose_codes", "edit_token_pose_codes",
           "uses_uniform_skeleton"]
