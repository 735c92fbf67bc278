"""Background KV-sharing between PoseGen segments (paper Sec. 3.3, Alg. 1).

The anchor segment runs in "record" mode: at the chosen denoising steps and blocks its self-attention
keeps the post-RoPE keys and values ([B, S, heads, head_dim]; video tokens, and reference tokens apart)
on `cache_device`, and its cross-attention yields a subject mask per latent frame. Later segments run in
"share" mode: at the same steps and blocks each video query also attends to the anchor's keys/values
(the anchor's video keys outside its subject, plus its reference-token keys); video tokens inside the
current OR the anchor subject keep their own attention output, all other video tokens take the shared
one; reference tokens always keep their own. With the anchor equal to the current segment and
`mask_subject_keys=False` this reproduces the normal path exactly.

Subject maps: for the subject word's text tokens, mean over heads of Q.K^T/sqrt(d) (no softmax), summed
over the word's tokens, per latent frame min-max normalised, averaged over the `mask_blocks`, then
thresholded per frame with Otsu's method. Masks are bool [B, F*H*W] in token order (frame-major). The
anchor's mask uses all mask blocks; the current segment's mask at a shared block uses the mask blocks
before it (cross-attention runs after self-attention within a block).

Ranges are half-open (start, end) over step indices of the sampling loop and block indices. Framing
presets are the paper's ranges for the 14B's 40 blocks; `scaled_preset` scales the block ranges to
another depth (30 for Wan 1.3B). The pipeline drives the controller: `mode`, `set_step(i)` every step,
`set_branch("cond"|"uncond")` before each classifier-free-guidance pass (run the conditional pass
first: the unconditional pass reuses its masks).
"""

import math
import re
from typing import Literal

import torch

from ..core.errors import InputError

Mode = Literal["off", "record", "share"]
Branch = Literal["cond", "uncond"]
MODES = ("off", "record", "share")
BRANCHES = ("cond", "uncond")
OTSU_BINS = 256
NORMALISE_EPS = 1e-6
PAPER_DEPTH = 40  # the framing presets are the paper's, for the 14B's 40 blocks
PAPER_MASK_BLOCKS = (0, 11)
FRAMING_PRESETS: dict[str, tuple[tuple[int, int], tuple[int, int]]] = {  # framing -> (steps, blocks)
    "close_up": ((0, 1), (34, 40)),
    "half_body": ((0, 2), (34, 40)),
    "full_body": ((0, 4), (32, 40)),
    "distant": ((0, 4), (30, 40)),
}


def subject_attention_map(query: torch.Tensor, text_key: torch.Tensor, token_indices: list[int]) -> torch.Tensor:
    """[B, S] cross-attention logits at the subject tokens: mean over heads of q.k/sqrt(d), summed over
    the subject's tokens. query [B, S, H, D] (video tokens), text_key [B, T, H, D]."""
    keys = text_key[:, token_indices].float()
    logits = torch.einsum("bshd,bthd->bst", query.float(), keys) / math.sqrt(query.shape[-1])
    return logits.sum(dim=-1) / query.shape[2]


def normalise_per_frame(values: torch.Tensor, frames: int) -> torch.Tensor:
    """Min-max normalise [B, F*H*W] values within each frame to [0, 1]."""
    per_frame = values.float().unflatten(1, (frames, -1))
    low = per_frame.amin(dim=-1, keepdim=True)
    high = per_frame.amax(dim=-1, keepdim=True)
    return ((per_frame - low) / (high - low + NORMALISE_EPS)).flatten(1)


def otsu_mask(values: torch.Tensor, bins: int = OTSU_BINS) -> torch.Tensor:
    """Otsu's threshold along the last axis of values in [0, 1]: True above the threshold.

    Values are quantised to `bins` levels (round to nearest, as an 8-bit image for bins=256); the
    threshold t is the first level maximising the between-class variance of {<= t} and {> t}; a
    constant row is all False."""
    levels = (values.float().clamp(0, 1) * (bins - 1)).round().long()
    flat = levels.reshape(-1, levels.shape[-1])
    histogram = torch.zeros(flat.shape[0], bins, dtype=torch.float64, device=values.device)
    histogram.scatter_add_(1, flat, torch.ones_like(flat, dtype=torch.float64))
    probability = histogram / flat.shape[1]
    weight_low = probability.cumsum(dim=1)
    mass_low = (probability * torch.arange(bins, dtype=torch.float64, device=values.device)).cumsum(dim=1)
    mean_total = mass_low[:, -1:]
    denominator = weight_low * (1 - weight_low)
    between = torch.where(
        denominator > 1e-12, (mean_total * weight_low - mass_low) ** 2 / denominator.clamp_min(1e-12), 0.0
    )
    threshold = between.argmax(dim=1, keepdim=True)
    two_levels = between.amax(dim=1, keepdim=True) > 0  # a single-level frame has nothing to split
    return ((flat > threshold) & two_levels).reshape(levels.shape)


def _check_range(name: str, value: tuple[int, int]) -> tuple[int, int]:
    try:
        start, end = (int(v) for v in value)
    except (TypeError, ValueError):
        raise InputError(name, f"expected a (start, end) pair of integers, got {value!r}") from None
    if not 0 <= start < end:
        raise InputError(name, f"expected 0 <= start < end (half-open range), got ({start}, {end})")
    return start, end


def parse_range(text: str, name: str) -> tuple[int, int]:
    """'0-2' -> (0, 2): a half-open range [start, end) typed as text ('-', ':' or ',' between)."""
    match = re.fullmatch(r"\s*(\d+)\s*[-:,]\s*(\d+)\s*", text or "")
    if not match or int(match[1]) >= int(match[2]):
        raise InputError(name, f"{text!r}: expected 'start-end' with start < end, e.g. '0-2' (end excluded)")
    return int(match[1]), int(match[2])


def scaled_preset(framing: str, depth: int) -> tuple[tuple[int, int], tuple[int, int], tuple[int, int]]:
    """(steps, blocks, mask_blocks) of a framing preset for a model of ``depth`` blocks: the paper's
    block ranges (for 40 blocks) scaled to the depth, keeping the deepest blocks shared."""
    if framing not in FRAMING_PRESETS:
        raise InputError("framing", f"expected one of {sorted(FRAMING_PRESETS)}, got {framing!r}")
    steps, (start, end) = FRAMING_PRESETS[framing]
    scale = depth / PAPER_DEPTH
    blocks = (min(depth - 1, round(start * scale)), max(1, round(end * scale)))
    mask_blocks = (0, max(1, round(PAPER_MASK_BLOCKS[1] * scale)))
    return steps, blocks, mask_blocks


class KVShareController:
    """State shared by the KV-sharing attention processors of one `PoseGenTransformer`."""

    def __init__(
        self,
        steps: tuple[int, int],
        blocks: tuple[int, int],
        subject_token_indices: list[int],
        mask_blocks: tuple[int, int] = PAPER_MASK_BLOCKS,
        cache_device: torch.device | str | None = None,
        mask_subject_keys: bool = True,
    ):
        """`mask_subject_keys=False` lets shared queries see the anchor's subject keys too (the
        published reference code's effective behaviour); True follows the paper's Eq. 5."""
        self.steps = _check_range("steps", steps)
        self.blocks = _check_range("blocks", blocks)
        self.mask_blocks = _check_range("mask_blocks", mask_blocks)
        indices = list(subject_token_indices)
        if not indices or any(not isinstance(i, int) or i < 0 for i in indices):
            raise InputError("subject_token_indices", f"expected a non-empty list of token positions >= 0, got {indices!r}")
        self.subject_token_indices = indices
        self.cache_device = torch.device(cache_device) if cache_device is not None else None
        self.mask_subject_keys = mask_subject_keys
        self._mode: Mode = "off"
        self.step = 0
        self.branch: Branch = "cond"
        self.reset()

    @classmethod
    def from_framing(cls, framing: str, subject_token_indices: list[int], depth: int = PAPER_DEPTH,
                     **kwargs) -> "KVShareController":
        """A controller with a framing preset's ranges for a model of ``depth`` blocks (:func:`scaled_preset`)."""
        steps, blocks, mask_blocks = scaled_preset(framing, depth)
        return cls(steps, blocks, subject_token_indices, mask_blocks=mask_blocks, **kwargs)

    # ---- driven by the pipeline ----
    @property
    def mode(self) -> Mode:
        return self._mode

    @mode.setter
    def mode(self, value: Mode) -> None:
        if value not in MODES:
            raise InputError("kv_share mode", f"expected one of {MODES}, got {value!r}")
        self._mode = value

    def set_step(self, step: int) -> None:
        self.step = int(step)

    def set_branch(self, branch: Branch) -> None:
        if branch not in BRANCHES:
            raise InputError("kv_share branch", f"expected one of {BRANCHES}, got {branch!r}")
        self.branch = branch

    def reset(self) -> None:
        """Forget everything recorded (anchor keys/values and masks, current maps); mode back to off."""
        self._mode = "off"
        self._kv_cache: dict[tuple[str, int, int], tuple[torch.Tensor | None, ...]] = {}
        self._anchor_masks: dict[int, torch.Tensor] = {}
        self._current_maps: dict[int, list[tuple[int, torch.Tensor]]] = {}
        self._current_masks: dict[tuple[int, int], torch.Tensor] = {}
        self._active = False
        self.grid: tuple[int, int, int] | None = None
        self.num_video_tokens = 0

    def validate(self, num_steps: int, num_blocks: int) -> None:
        """Raise InputError when a range lies outside the schedule (num_steps) or the model (num_blocks)."""
        if self.steps[1] > num_steps:
            raise InputError(
                "kv_share steps",
                f"range [{self.steps[0]}, {self.steps[1]}) lies outside the schedule's {num_steps} steps [0, {num_steps})",
            )
        self._check_blocks(num_blocks)

    def _check_blocks(self, num_blocks: int) -> None:
        for name, (start, end) in (("kv_share blocks", self.blocks), ("kv_share mask_blocks", self.mask_blocks)):
            if end > num_blocks:
                raise InputError(
                    name, f"range [{start}, {end}) lies outside the model's {num_blocks} blocks [0, {num_blocks})"
                )

    @property
    def cache_bytes(self) -> int:
        return sum(t.numel() * t.element_size() for kv in self._kv_cache.values() for t in kv if t is not None)

    def subject_mask(self, step: int, which: Literal["anchor", "current"] = "anchor") -> torch.Tensor | None:
        """bool [B, F, H, W] subject mask of the anchor, or of the current segment (all mask blocks)."""
        if self.grid is None:
            return None
        if which == "anchor":
            mask = self._anchor_masks.get(step)
        else:
            maps = self._current_maps.get(step)
            mask = self._mask_from_maps([m for _, m in maps]) if maps else None
        return None if mask is None else mask.unflatten(1, self.grid)

    # ---- driven by the model and its processors ----
    def begin_forward(self, batch: int, grid: tuple[int, int, int], num_video_tokens: int, num_blocks: int) -> None:
        self._check_blocks(num_blocks)
        self.grid = grid
        self.num_video_tokens = num_video_tokens
        self._active = self._mode != "off" and self.steps[0] <= self.step < self.steps[1]
        if self._active and self.branch == "cond":
            self._current_maps[self.step] = []
            self._current_masks = {k: v for k, v in self._current_masks.items() if k[0] != self.step}

    def end_forward(self) -> None:
        if self._active and self._mode == "record" and self.branch == "cond":
            maps = [m for _, m in self._current_maps.get(self.step, [])]
            if maps:
                self._anchor_masks[self.step] = self._to_cache(self._mask_from_maps(maps))
        self._active = False

    def self_attention_action(self, block: int) -> Literal["record", "share"] | None:
        if self._active and self.blocks[0] <= block < self.blocks[1]:
            return self._mode  # type: ignore[return-value]
        return None

    def wants_subject_map(self, block: int) -> bool:
        return self._active and self.branch == "cond" and self.mask_blocks[0] <= block < self.mask_blocks[1]

    def add_subject_map(self, block: int, logits: torch.Tensor) -> None:
        """logits [B, F*H*W] from `subject_attention_map` of one block."""
        self._current_maps[self.step].append((block, normalise_per_frame(logits, self.grid[0])))

    def store_kv(self, block: int, key: torch.Tensor, value: torch.Tensor,
                 ref_key: torch.Tensor | None, ref_value: torch.Tensor | None) -> None:
        entry = tuple(None if t is None else self._to_cache(t) for t in (key, value, ref_key, ref_value))
        self._kv_cache[(self.branch, self.step, block)] = entry

    def anchor_kv(self, block: int, batch: int, device: torch.device, dtype: torch.dtype):
        """The anchor's (key, value, ref_key, ref_value) for this branch, step and block on `device`."""
        entry = self._kv_cache.get((self.branch, self.step, block))
        if entry is None:
            raise InputError(
                "kv_share",
                f"no anchor keys/values for step {self.step}, block {block}, branch {self.branch!r}: run the "
                "anchor segment in 'record' mode with the same steps, blocks and guidance branches first",
            )
        return tuple(None if t is None else self._fit_batch(t, batch).to(device, dtype) for t in entry)

    def normal_path_mask(self, block: int, batch: int, device: torch.device) -> tuple[torch.Tensor, torch.Tensor]:
        """(keep_normal [B, S] = current OR anchor subject, anchor_subject [B, S]) for a shared block."""
        anchor = self._anchor_masks.get(self.step)
        if anchor is None:
            raise InputError(
                "kv_share", f"no anchor subject mask for step {self.step}: record the anchor's conditional pass first"
            )
        anchor = self._fit_batch(anchor, batch).to(device)
        if anchor.shape[1] != self.num_video_tokens:
            raise InputError(
                "kv_share", f"the anchor has {anchor.shape[1]} video tokens, this segment {self.num_video_tokens}: "
                "segments must share resolution and frame count",
            )
        maps = self._current_maps.get(self.step)
        if maps is None:
            raise InputError("kv_share", f"step {self.step}: run the conditional pass before the unconditional one")
        usable = [m for b, m in maps if b < block]
        if not usable:
            return anchor, anchor
        key = (self.step, len(usable))
        if key not in self._current_masks:
            self._current_masks[key] = self._mask_from_maps(usable)
        current = self._fit_batch(self._current_masks[key], batch).to(device)
        return current | anchor, anchor

    def _mask_from_maps(self, maps: list[torch.Tensor]) -> torch.Tensor:
        mean = torch.stack([m.float() for m in maps]).mean(dim=0)
        return otsu_mask(mean.unflatten(1, (self.grid[0], -1))).flatten(1)

    def _to_cache(self, tensor: torch.Tensor) -> torch.Tensor:
        # Always a copy: a view would keep the whole projection of the pass alive.
        return tensor.detach().to(self.cache_device or tensor.device, copy=True)

    @staticmethod
    def _fit_batch(tensor: torch.Tensor, batch: int) -> torch.Tensor:
        if tensor.shape[0] == batch:
            return tensor
        if tensor.shape[0] == 1:
            return tensor.expand(batch, *tensor.shape[1:])
        raise InputError("kv_share", f"the anchor was recorded with batch {tensor.shape[0]}, this pass has batch {batch}")
