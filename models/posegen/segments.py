"""Segment-interleaved generation plan of PoseGen: which frames each segment covers, which of its
frames are conditioned on neighbouring segments, pose padding and the cross-fade merge.

Frames are counted in the pixel timeline of the driving pose video (``num_frames`` frames, index 0
first). Every segment has ``segment_length`` frames (4k+1, the lengths Wan's causal VAE encodes).
Segment ``i`` starts at ``L*i - ceil(i/2)*head - floor(i/2)*tail`` (L = segment length), so:

* even ``i`` are *base* segments, generated first, independently (gap of ``L - head - tail``
  frames between two base segments);
* odd ``i`` are *interpolation* segments spanning the last ``head`` frames of base ``i-1``, the gap
  and the first ``tail`` frames of base ``i+1``; those ``head``/``tail`` frames are conditioned
  (mask 1: the generated pixels of the neighbours replace the pose frames there).

The segment count is odd (the video starts and ends with a base segment) and the smallest that
covers every frame; frames past the end of the pose video are padded by reflection
(:func:`pad_poses`) and the merged video is cut back to ``num_frames``. A pose video shorter than one
segment is planned as a single base segment, reflection-padded to ``segment_length`` frames (only
``num_frames`` frames come out). Defaults reproduce the paper (81 frames, head 21, tail 20).

Segment frames (IMAGE batches ``[frames, H, W, C]``, or any tensor with frames first) are merged by
a linear cross-fade over each overlap: the earlier segment's weight falls from 1 to 0 across it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal, Mapping, Sequence, TypeVar

import torch

from ..core.errors import InputError

PAPER_SEGMENT_LENGTH = 81
VAE_TEMPORAL_STRIDE = 4  # Wan's causal VAE: 1 + 4k pixel frames -> 1 + k latent frames

SegmentKind = Literal["base", "interpolation"]
Frames = TypeVar("Frames")


@dataclass(frozen=True)
class Segment:
    """One segment: frames ``start .. end-1`` of the padded timeline."""

    index: int
    start: int
    end: int
    kind: SegmentKind
    conditioned_head: int  # leading frames taken from segment index-1 (interpolation only)
    conditioned_tail: int  # trailing frames taken from segment index+1 (interpolation only)

    @property
    def length(self) -> int:
        return self.end - self.start

    def conditioned_mask(self) -> torch.Tensor:
        """``[length]`` float mask, 1 where the frame is kept from a neighbour, 0 where generated."""
        mask = torch.zeros(self.length)
        mask[: self.conditioned_head] = 1.0
        if self.conditioned_tail:
            mask[self.length - self.conditioned_tail:] = 1.0
        return mask


@dataclass(frozen=True)
class SegmentPlan:
    num_frames: int  # frames of the pose video (and of the merged output)
    segment_length: int
    head: int
    tail: int
    segments: tuple[Segment, ...]

    @property
    def padded_length(self) -> int:
        """Frames the segments cover, padding included."""
        return self.segments[-1].end

    @property
    def base_segments(self) -> tuple[Segment, ...]:
        return tuple(s for s in self.segments if s.kind == "base")

    @property
    def interpolation_segments(self) -> tuple[Segment, ...]:
        return tuple(s for s in self.segments if s.kind == "interpolation")


def default_head_tail(segment_length: int) -> tuple[int, int]:
    """Head and tail scaled from the paper's 81/21/20: a quarter of the segment each, aligned to
    the VAE's latent frames (head = 4m+1 pixel frames = m+1 latents, tail = 4m frames = m latents,
    m = floor(k/4) for segment_length = 4k+1)."""
    latents_per_quarter = (segment_length - 1) // VAE_TEMPORAL_STRIDE // 4
    return VAE_TEMPORAL_STRIDE * latents_per_quarter + 1, VAE_TEMPORAL_STRIDE * latents_per_quarter


def segment_start(index: int, segment_length: int, head: int, tail: int) -> int:
    """The paper's start formula."""
    return segment_length * index - math.ceil(index / 2) * head - (index // 2) * tail


def plan_segments(num_frames: int, segment_length: int = PAPER_SEGMENT_LENGTH,
                  head: int | None = None, tail: int | None = None) -> SegmentPlan:
    """Plan the interleaved segments covering ``num_frames`` pose frames.

    ``head``/``tail`` default to :func:`default_head_tail` (21/20 for 81 frames)."""
    num_frames = _positive_int("num_frames", num_frames)
    segment_length = _positive_int("segment_length", segment_length)
    if segment_length % VAE_TEMPORAL_STRIDE != 1:
        lower = segment_length - (segment_length - 1) % VAE_TEMPORAL_STRIDE
        raise InputError("segment_length", f"Wan's VAE needs 4k+1 frames per segment (e.g. {lower} or "
                                           f"{lower + VAE_TEMPORAL_STRIDE}), got {segment_length}")
    default_head, default_tail = default_head_tail(segment_length)
    if (head is None or tail is None) and default_tail < 1:
        raise InputError("segment_length", f"at least 17 frames are needed to derive head and tail, got "
                                           f"{segment_length}; pass head and tail explicitly")
    head = default_head if head is None else _positive_int("head", head)
    tail = default_tail if tail is None else _positive_int("tail", tail)
    if head + tail >= segment_length:
        raise InputError("head", f"head + tail ({head} + {tail}) must leave at least one generated frame "
                                 f"in a {segment_length}-frame interpolation segment")

    base_stride = 2 * segment_length - head - tail
    pairs = max(0, math.ceil((num_frames - segment_length) / base_stride))
    segments = []
    for index in range(2 * pairs + 1):
        start = segment_start(index, segment_length, head, tail)
        interpolation = index % 2 == 1
        segments.append(Segment(index=index, start=start, end=start + segment_length,
                                kind="interpolation" if interpolation else "base",
                                conditioned_head=head if interpolation else 0,
                                conditioned_tail=tail if interpolation else 0))
    return SegmentPlan(num_frames=num_frames, segment_length=segment_length, head=head, tail=tail,
                       segments=tuple(segments))


def reflect_index(frame: int, num_frames: int) -> int:
    """Source frame of padded frame ``frame``: the sequence continues mirrored at its ends with the
    edge frame repeated (..., n-2, n-1, n-1, n-2, ...), as the reference implementation pads; it
    keeps bouncing when the padding is longer than the video."""
    period = 2 * num_frames
    position = frame % period
    return position if position < num_frames else period - 1 - position


def padded_indices(plan: SegmentPlan) -> list[int]:
    """Source pose frame of every frame of the padded timeline."""
    return [reflect_index(t, plan.num_frames) for t in range(plan.padded_length)]


def pad_poses(poses: Frames, plan: SegmentPlan) -> Frames:
    """Poses (a tensor with frames first, or a list such as POSE_KEYPOINT frames) extended by
    reflection to ``plan.padded_length`` frames; the input is not modified."""
    length = len(poses)
    if length != plan.num_frames:
        raise InputError("poses", f"the plan was made for {plan.num_frames} frames, got {length}")
    indices = padded_indices(plan)
    if isinstance(poses, torch.Tensor):
        return poses.index_select(0, torch.tensor(indices, device=poses.device))
    return [poses[i] for i in indices]


def segment_inputs(plan: SegmentPlan, index: int, padded_frames: torch.Tensor,
                   generated: Mapping[int, torch.Tensor] | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """Control frames of segment ``index`` and its conditioned mask ``[length]``.

    ``padded_frames`` is a control video over the padded timeline (pose or hand-normal renders, see
    :func:`pad_poses`). For an interpolation segment the first ``head`` frames are replaced by the
    last ``head`` generated frames of segment ``index-1`` and the last ``tail`` frames by the first
    ``tail`` generated frames of segment ``index+1`` (``generated`` maps segment index to its frames,
    same frame shape); base segments return their slice unchanged with an all-zero mask."""
    segment = _segment(plan, index)
    if padded_frames.shape[0] != plan.padded_length:
        raise InputError("padded_frames", f"expected {plan.padded_length} frames (pad_poses output), "
                                          f"got {padded_frames.shape[0]}")
    frames = padded_frames[segment.start:segment.end]
    if segment.kind == "base":
        return frames, segment.conditioned_mask()
    generated = generated or {}
    pieces = []
    for neighbour in (index - 1, index + 1):
        if neighbour not in generated:
            raise InputError("generated", f"interpolation segment {index} needs the frames of base segment "
                                          f"{neighbour} first")
        pieces.append(_check_segment_frames(plan, neighbour, generated[neighbour], frames))
    before, after = pieces
    middle = frames[segment.conditioned_head: segment.length - segment.conditioned_tail]
    conditioned = torch.cat([before[plan.segment_length - segment.conditioned_head:].to(frames.dtype), middle,
                             after[:segment.conditioned_tail].to(frames.dtype)])
    return conditioned, segment.conditioned_mask()


def segment_weights(plan: SegmentPlan) -> list[torch.Tensor]:
    """Per-segment ``[length]`` float64 blending weights of :func:`merge_segments`.

    Across an overlap of n frames the earlier segment weighs ``1 - k/(n-1)`` at its k-th overlap
    frame (1 at the first, 0 at the last; 1 when n = 1) and the later one the complement."""
    weights = [torch.ones(plan.segment_length, dtype=torch.float64) for _ in plan.segments]
    for earlier, later in zip(plan.segments, plan.segments[1:]):
        overlap = earlier.end - later.start
        fade = (torch.linspace(1.0, 0.0, overlap, dtype=torch.float64) if overlap > 1
                else torch.ones(overlap, dtype=torch.float64))
        weights[earlier.index][earlier.length - overlap:] *= fade
        weights[later.index][:overlap] *= 1.0 - fade
    return weights


def merge_segments(plan: SegmentPlan, segment_frames: Sequence[torch.Tensor]) -> torch.Tensor:
    """Cross-fade the generated segments into ``plan.num_frames`` frames (frames first)."""
    if len(segment_frames) != len(plan.segments):
        raise InputError("segment_frames", f"expected {len(plan.segments)} segments, got {len(segment_frames)}")
    reference = segment_frames[0]
    for segment, frames in zip(plan.segments, segment_frames):
        _check_segment_frames(plan, segment.index, frames, reference)
    output_dtype = reference.dtype if reference.is_floating_point() else torch.float32
    accumulate_dtype = torch.float64 if output_dtype == torch.float64 else torch.float32
    merged = torch.zeros((plan.padded_length, *reference.shape[1:]), dtype=accumulate_dtype,
                         device=reference.device)
    for segment, frames, weight in zip(plan.segments, segment_frames, segment_weights(plan)):
        shaped = weight.to(accumulate_dtype).to(reference.device).view(-1, *([1] * (reference.dim() - 1)))
        merged[segment.start:segment.end] += frames.to(accumulate_dtype) * shaped
    return merged[: plan.num_frames].to(output_dtype)


def describe(plan: SegmentPlan) -> str:
    """Human-readable table of the plan (frame ranges inclusive)."""
    padding = plan.padded_length - plan.num_frames
    count = len(plan.segments)
    lines = [f"{plan.num_frames} pose frames -> {count} segment{'s' if count > 1 else ''} of {plan.segment_length} frames "
             f"(head {plan.head}, tail {plan.tail}); {plan.padded_length} frames generated"
             + (f", frames {plan.num_frames}-{plan.padded_length - 1} are reflection padding" if padding else ""),
             f"{'#':>3}  {'kind':<13}  {'frames':<11}  conditioned on neighbours"]
    for segment in plan.segments:
        span = f"{segment.start}-{segment.end - 1}"
        if segment.kind == "base":
            note = "-"
        else:
            head_end = segment.start + segment.conditioned_head - 1
            tail_start = segment.end - segment.conditioned_tail
            note = (f"{segment.start}-{head_end} from #{segment.index - 1}, "
                    f"{tail_start}-{segment.end - 1} from #{segment.index + 1}")
        if segment.start >= plan.num_frames:
            note += " (all padding)"
        lines.append(f"{segment.index:>3}  {segment.kind:<13}  {span:<11}  {note}")
    return "\n".join(lines)


def _positive_int(name: str, value: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise InputError(name, f"expected a positive whole number, got {value!r}")
    return value


def _segment(plan: SegmentPlan, index: int) -> Segment:
    if not 0 <= index < len(plan.segments):
        raise InputError("index", f"the plan has segments 0..{len(plan.segments) - 1}, got {index}")
    return plan.segments[index]


def _check_segment_frames(plan: SegmentPlan, index: int, frames: torch.Tensor, like: torch.Tensor) -> torch.Tensor:
    if frames.shape[0] != plan.segment_length or frames.shape[1:] != like.shape[1:]:
        raise InputError("segment_frames", f"segment {index} must have shape "
                                           f"{(plan.segment_length, *like.shape[1:])}, got {tuple(frames.shape)}")
    return frames
