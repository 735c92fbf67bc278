"""The conditions of one GENMO denoiser call, for a batch of B sequences of L motion frames.

Every frame-aligned condition comes with a per-frame existence mask; a feature is multiplied by its
mask before it is embedded, so a missing frame contributes nothing (the paper's additive fusion with
condition masks). A condition that is ``None`` is absent for the whole batch.

- ``TextCondition``: K prompts per sequence, each with its own frame window (the multi-text
  injection block attends to prompt k only from frames inside its window):
  ``tokens`` [B, K, M, Dt] float (text encoder tokens, M per prompt), ``token_mask`` [B, K, M] bool
  (real tokens), ``windows`` [B, K, L] bool (frame i lies in prompt k's window). A prompt slot with
  no real token or an empty window is absent (padding when sequences have different prompt counts).
- ``keypoints`` [B, L, 17, 3]: COCO-17 2D keypoints (x, y relative to the person box, in -1..1; y
  down) and confidence 0..1; joints below ``KEYPOINT_MIN_CONFIDENCE`` are replaced by a learned
  placeholder. ``bbox`` [B, L, 3]: box centre x, y and side, as fractions of the image's longer
  side. ``keypoints_mask`` [B, L] bool: a person was seen in that frame.
- ``music`` [B, L, 35]: per-frame music features in EDGE's baseline layout (``music.py``),
  ``music_mask`` [B, L] bool.
- ``frame_mask`` [B, L] bool: real frames (False only for padding in training batches), or None.

Keyframes are not a denoiser input: the sampler inpaints them (``diffusion.py``).
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import torch

from ..core.errors import InputError

COCO_JOINTS = 17
KEYPOINT_MIN_CONFIDENCE = 0.5
BBOX_DIM = 3
MUSIC_DIM = 35


@dataclass(frozen=True)
class TextCondition:
    tokens: torch.Tensor
    token_mask: torch.Tensor
    windows: torch.Tensor

    def __post_init__(self):
        if self.tokens.ndim != 4 or self.token_mask.shape != self.tokens.shape[:3] or self.windows.ndim != 3 \
                or self.windows.shape[:2] != self.tokens.shape[:2]:
            raise InputError("text", f"expected tokens [B,K,M,D], token_mask [B,K,M] and windows [B,K,L], got "
                             f"{list(self.tokens.shape)}, {list(self.token_mask.shape)}, {list(self.windows.shape)}")
        if self.token_mask.dtype != torch.bool or self.windows.dtype != torch.bool:
            raise InputError("text", "token_mask and windows must be bool tensors")

    @property
    def present(self) -> torch.Tensor:
        """[B, K] bool: the prompt slots that exist (some real token and some frame in the window)."""
        return self.token_mask.any(-1) & self.windows.any(-1)


@dataclass(frozen=True)
class GenmoConditions:
    batch: int
    length: int
    text: TextCondition | None = None
    keypoints: torch.Tensor | None = None
    bbox: torch.Tensor | None = None
    keypoints_mask: torch.Tensor | None = None
    music: torch.Tensor | None = None
    music_mask: torch.Tensor | None = None
    frame_mask: torch.Tensor | None = None

    def __post_init__(self):
        b, n = self.batch, self.length
        if b < 1 or n < 1:
            raise InputError("conditions", f"expected at least one sequence of at least one frame, got B={b}, L={n}")
        if self.text is not None and (self.text.windows.shape[0] != b or self.text.windows.shape[2] != n):
            raise InputError("text", f"windows are {list(self.text.windows.shape)}, expected [{b}, K, {n}]")
        if self.keypoints is not None:
            _shape("keypoints", self.keypoints, (b, n, COCO_JOINTS, 3))
            _shape("bbox", self.bbox, (b, n, BBOX_DIM))
            _shape("keypoints_mask", self.keypoints_mask, (b, n), torch.bool)
        if self.music is not None:
            _shape("music", self.music, (b, n, MUSIC_DIM))
            _shape("music_mask", self.music_mask, (b, n), torch.bool)
        if self.frame_mask is not None:
            _shape("frame_mask", self.frame_mask, (b, n), torch.bool)

    def without(self, *names: str) -> "GenmoConditions":
        """A copy with the named conditions ("text", "keypoints", "music") removed."""
        fields = {"text": ("text",), "keypoints": ("keypoints", "bbox", "keypoints_mask"),
                  "music": ("music", "music_mask")}
        unknown = set(names) - set(fields)
        if unknown:
            raise InputError("names", f"unknown conditions {sorted(unknown)}; expected some of {sorted(fields)}")
        return replace(self, **{f: None for name in names for f in fields[name]})

    def to(self, device, dtype=None) -> "GenmoConditions":
        def move(t):
            if t is None:
                return None
            return t.to(device=device, dtype=dtype) if dtype is not None and t.is_floating_point() else t.to(device)
        text = None if self.text is None else TextCondition(move(self.text.tokens), move(self.text.token_mask),
                                                              move(self.text.windows))
        return replace(self, text=text, keypoints=move(self.keypoints), bbox=move(self.bbox),
                       keypoints_mask=move(self.keypoints_mask), music=move(self.music),
                       music_mask=move(self.music_mask), frame_mask=move(self.frame_mask))


def _shape(name: str, tensor, shape: tuple, dtype=None) -> None:
    if tensor is None:
        raise InputError(name, f"missing: expected a tensor of shape {list(shape)}")
    if tuple(tensor.shape) != shape or (dtype is not None and tensor.dtype != dtype):
        raise InputError(name, f"expected shape {list(shape)}{' ' + str(dtype) if dtype else ''}, got "
                         f"{list(tensor.shape)} {tensor.dtype}")
    if tensor.is_floating_point() and not torch.isfinite(tensor).all():
        raise InputError(name, "contains NaN or infinite values")
