"""PoseGen sampler: reference image + pose frames (+ hand normals) + prompt -> a long video.

Segment-interleaved generation (paper Sec. 3.3): base segments (even plan indices) are sampled first,
each independently, the first one recording background keys/values that later base segments share;
interpolation segments (odd indices) then regenerate the gaps, seeing the neighbours' last/first
frames as given pixel frames (frame mask 1) in place of their pose frames; ``merge_segments``
cross-fades everything into one clip. A clip's plan is made once (``segment_plan``: the caller's
plan, checked against the settings, or one planned from them) and ``generate`` takes it as it is.

Types: frames are IMAGE tensors [F,H,W,3] float 0..1 on the CPU; latents as in ``conditioning``.
The overlapping-context-window sampler the peers use (UniAnimate-DiT, WanVideoWrapper) is here too,
as ``generate_context_windows``, so the benchmark compares both on the same code.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import torch
from diffusers import FlowMatchEulerDiscreteScheduler

from ..core.errors import InputError
from ..core.resources import ProgressCallback
from . import conditioning as cond
from .kv_share import FRAMING_PRESETS, PAPER_MASK_BLOCKS, KVShareController, parse_range, scaled_preset
from .segments import SegmentPlan, merge_segments, pad_poses, plan_segments, segment_inputs

Interrupt = Callable[[], None]  # raises to stop between steps (bridge.check_interrupt in ComfyUI)
SegmentCallback = Callable[[int, int, str], None]  # on_segment(done, total, kind) before each segment
KV_SHARE_CHOICES = ("off", *FRAMING_PRESETS, "custom")


@dataclass
class PoseGenModels:
    """The modules one generation uses: each a module already on the device it runs on, or an object
    whose ``load()`` returns it there (the nodes' memory-managed wrappers; called right before each
    use, so a memory manager may swap the text encoder, the DiT and the VAE in turn).

    ``interp_transformer`` holds the interpolation weights (PoseGen's ``720p-81f-cond``); leave it
    None when one backbone carries both LoRAs as adapters and ``select_phase(kind)``
    switches them (called with a segment kind, "base" or "interpolation").
    """

    transformer: torch.nn.Module
    vae: torch.nn.Module
    clip_vision: torch.nn.Module
    text_encoder: torch.nn.Module
    tokenizer: object
    interp_transformer: torch.nn.Module | None = None
    select_phase: Callable[[str], None] | None = None


@dataclass
class KVShareSettings:
    """Background KV-sharing ranges, half-open [start, end): steps of the schedule and DiT blocks."""

    steps: tuple[int, int] = (0, 2)
    blocks: tuple[int, int] = (34, 40)
    mask_blocks: tuple[int, int] = PAPER_MASK_BLOCKS
    cache_device: torch.device | str | None = None  # None: the transformer's device


def kv_share_settings(choice: str, depth: int, kv_steps: str = "", kv_blocks: str = "",
                      cache_device: torch.device | str | None = None) -> KVShareSettings | None:
    """Settings for one of ``KV_SHARE_CHOICES`` on a transformer of ``depth`` blocks: "off" -> None, a
    framing preset with its blocks scaled to the depth, or "custom" ranges typed as 'start-end' text
    (mask blocks then the paper's first 11, fewer in a shallower model)."""
    if choice == "off":
        return None
    if choice == "custom":
        steps, blocks = parse_range(kv_steps, "kv_steps"), parse_range(kv_blocks, "kv_blocks")
        mask_blocks = (0, min(PAPER_MASK_BLOCKS[1], depth))
    elif choice in FRAMING_PRESETS:
        steps, blocks, mask_blocks = scaled_preset(choice, depth)
    else:
        raise InputError("kv_share", f"expected one of {KV_SHARE_CHOICES}, got {choice!r}")
    return KVShareSettings(steps=steps, blocks=blocks, mask_blocks=mask_blocks, cache_device=cache_device)


@dataclass
class SamplerSettings:
    width: int = 0  # 0: the pose frames' size (rounded down to 16)
    height: int = 0
    segment_length: int = 81
    head: int | None = None  # frames an interpolation segment takes from the previous base (None: a quarter)
    tail: int | None = None  # ... and from the next base (None: a quarter)
    steps: int = 25
    cfg: float = 5.0
    seed: int = 0
    shift: float = 5.0  # flow-matching timestep shift (Wan2.1 720p / DiffSynth default)
    negative_prompt: str = ""


def segment_plan(num_frames: int, settings: SamplerSettings, plan: SegmentPlan | None = None) -> SegmentPlan:
    """The clip's one segment plan: ``plan`` when given, after checking that it was made for
    ``num_frames`` frames and agrees with the settings (segment length; head and tail unless None),
    else planned from the settings."""
    if plan is None:
        return plan_segments(num_frames, segment_length=settings.segment_length, head=settings.head,
                             tail=settings.tail)
    if plan.num_frames != num_frames:
        raise InputError("plan", f"planned for {plan.num_frames} frames, pose_frames has {num_frames}")
    for name, planned in (("segment_length", plan.segment_length), ("head", plan.head), ("tail", plan.tail)):
        value = getattr(settings, name)
        if value is not None and value != planned:
            raise InputError(name, f"{value}, but the plan's is {planned}: set both to one value, or give no plan")
    return plan


def total_steps(plan: SegmentPlan, settings: SamplerSettings) -> int:
    """Sampling steps of a whole clip (what ``generate`` reports progress against)."""
    return settings.steps * len(plan.segments)


@dataclass
class _Prepared:
    """Everything fixed for the whole clip."""

    width: int
    height: int
    reference_latent: torch.Tensor
    clip_embeds: torch.Tensor
    text: torch.Tensor
    text_uncond: torch.Tensor | None
    subject_tokens: list[int] | None
    poses: torch.Tensor
    hands: torch.Tensor | None
    device: torch.device
    dtype: torch.dtype


def _use(model):
    """The module itself, or what a memory-managed wrapper's ``load()`` hands out."""
    return model if isinstance(model, torch.nn.Module) or not hasattr(model, "load") else model.load()


def _module_device(module: torch.nn.Module) -> torch.device:
    # The patch embedding is never block-swapped, so it tells where the model computes.
    embedding = getattr(module, "patch_embedding", None)
    return (embedding.weight if embedding is not None else next(module.parameters())).device


def _prepare(models: PoseGenModels, reference_image, pose_frames, hand_frames, prompt, subject_word,
             settings: SamplerSettings, want_subject: bool) -> _Prepared:
    if settings.steps < 1:
        raise InputError("steps", f"{settings.steps}: expected at least 1")
    width, height = cond.output_size(pose_frames, settings.width, settings.height)
    given = settings.width != 0
    poses = cond.fit_driving_frames(pose_frames, width, height, "pose_frames", check_aspect=given)
    hands = None
    if hand_frames is not None:
        if len(hand_frames) != len(pose_frames):
            raise InputError("hand_frames", f"{len(hand_frames)} frames but {len(pose_frames)} pose frames: "
                             "expected one hand-normal frame per pose frame")
        if hand_frames.shape[1:3] != pose_frames.shape[1:3]:
            raise InputError("hand_frames", f"frames are {hand_frames.shape[2]}x{hand_frames.shape[1]}, the pose "
                             f"frames {pose_frames.shape[2]}x{pose_frames.shape[1]}: render both at one size")
        hands = cond.fit_driving_frames(hand_frames, width, height, "hand_frames", check_aspect=given)
    if not isinstance(prompt, str) or not prompt.strip():
        raise InputError("prompt", "empty: describe the subject and the scene")
    subject = cond.subject_token_indices(models.tokenizer, prompt, subject_word) if want_subject else None
    reference = cond.fit_reference(reference_image, width, height)

    text_encoder = _use(models.text_encoder)
    text = cond.encode_prompt(text_encoder, models.tokenizer, prompt)
    text_uncond = (cond.encode_prompt(text_encoder, models.tokenizer, settings.negative_prompt)
                   if settings.cfg != 1 else None)
    clip_embeds = cond.encode_clip_image(_use(models.clip_vision), reference)
    reference_latent = cond.vae_encode(_use(models.vae), reference)
    transformer = _use(models.transformer)
    if getattr(transformer, "ref_patch_embedding", None) is None:
        raise InputError("transformer", "has no reference patchifier (ref_patch_embedding): a stock Wan2.1 model "
                         "cannot take the reference image; load PoseGen's 720p-81f-base folder or a file that "
                         "holds PoseGen's weights")
    device, dtype = _module_device(transformer), next(transformer.parameters()).dtype
    return _Prepared(
        width=width, height=height, reference_latent=reference_latent.to(device, dtype),
        clip_embeds=clip_embeds.to(device, dtype), text=text.to(device, dtype),
        text_uncond=None if text_uncond is None else text_uncond.to(device, dtype),
        subject_tokens=subject, poses=poses, hands=hands, device=device, dtype=dtype)


def _noise(shape: tuple[int, ...], seed: int, device: torch.device) -> torch.Tensor:
    """Seeded on the CPU so a seed gives the same video on every device."""
    generator = torch.Generator("cpu").manual_seed(int(seed) & 0xFFFF_FFFF_FFFF_FFFF)
    return torch.randn(shape, generator=generator, dtype=torch.float32).to(device)


def _predict(transformer, latents, condition, t, p: _Prepared, reference, hands, cfg, kv) -> torch.Tensor:
    """One CFG-guided noise prediction; the KV controller is told which branch runs."""
    model_input = torch.cat([latents, condition], dim=1).to(p.dtype)
    timestep = t.expand(latents.shape[0]).to(p.device)
    extra = dict(encoder_hidden_states_image=p.clip_embeds, reference_latents=reference, hand_latents=hands,
                 kv_share=kv, return_dict=False)
    if kv is not None:
        kv.set_branch("cond")
    noise = transformer(hidden_states=model_input, timestep=timestep, encoder_hidden_states=p.text, **extra)[0]
    if p.text_uncond is None:
        return noise.float()
    if kv is not None:
        kv.set_branch("uncond")
    uncond = transformer(hidden_states=model_input, timestep=timestep, encoder_hidden_states=p.text_uncond,
                         **extra)[0]
    return uncond.float() + cfg * (noise.float() - uncond.float())


class _StepCounter:
    def __init__(self, total: int, progress: ProgressCallback | None, interrupt: Interrupt | None):
        self.done, self.total, self.progress, self.interrupt = 0, total, progress, interrupt

    def check(self) -> None:
        if self.interrupt is not None:
            self.interrupt()

    def step(self) -> None:
        self.done += 1
        if self.progress is not None:
            self.progress(self.done, self.total)


@torch.no_grad()
def _sample(transformer, condition, hands, p: _Prepared, settings: SamplerSettings, seed: int,
            kv: KVShareController | None, counter: _StepCounter) -> torch.Tensor:
    """Flow-matching Euler sampling of one segment -> normalised latents [1,16,F_lat,h,w]."""
    scheduler = FlowMatchEulerDiscreteScheduler(num_train_timesteps=1000, shift=settings.shift)
    scheduler.set_timesteps(settings.steps, device=p.device)
    shape = (1, 16, *condition.shape[2:])
    latents = _noise(shape, seed, p.device)
    for i, t in enumerate(scheduler.timesteps):
        counter.check()
        if kv is not None:
            kv.set_step(i)
        noise = _predict(transformer, latents, condition, t, p, p.reference_latent, hands, settings.cfg, kv)
        latents = scheduler.step(noise, t, latents, return_dict=False)[0]
        counter.step()
    return latents


def _segment_condition(vae, p: _Prepared, driving: torch.Tensor, known: torch.Tensor) -> torch.Tensor:
    """[mask 4, pose latents 16] for one segment; ``driving`` already holds given pixel frames where known."""
    latents = cond.vae_encode(vae, driving).to(p.device, torch.float32)
    mask = cond.frame_mask(known, latents.shape[-2], latents.shape[-1]).to(p.device)
    return torch.cat([mask, latents], dim=1)


def _kv_controller(kv_share: KVShareSettings | None, p: _Prepared, transformer, settings: SamplerSettings):
    if kv_share is None:
        return None
    controller = KVShareController(steps=kv_share.steps, blocks=kv_share.blocks,
                                   subject_token_indices=p.subject_tokens, mask_blocks=kv_share.mask_blocks,
                                   cache_device=kv_share.cache_device)
    controller.validate(settings.steps, len(transformer.blocks))
    return controller


def _phase(models: PoseGenModels, kind: str):
    """The transformer for a segment kind ("base" or "interpolation"), adapters switched if shared."""
    if models.select_phase is not None:
        models.select_phase(kind)
    if kind == "interpolation" and models.interp_transformer is not None:
        return _use(models.interp_transformer)
    return _use(models.transformer)


@torch.no_grad()
def generate(models: PoseGenModels, reference_image: torch.Tensor, pose_frames: torch.Tensor, prompt: str,
             subject_word: str = "", settings: SamplerSettings | None = None,
             hand_frames: torch.Tensor | None = None, kv_share: KVShareSettings | None = None,
             progress: ProgressCallback | None = None, on_segment: SegmentCallback | None = None,
             interrupt: Interrupt | None = None, plan: SegmentPlan | None = None) -> torch.Tensor:
    """Generate ``len(pose_frames)`` frames [N,H,W,3] float 0..1 following the poses.

    ``plan`` is the clip's segment plan (see ``segment_plan``; None: planned from ``settings``).
    ``kv_share`` None turns background KV-sharing off (no subject word needed). Sizes: pose and hand
    frames are resized to (width, height) when their aspect ratio matches and rejected otherwise; the
    reference image is centre-cropped to that aspect (with a warning) and resized. Fewer pose frames
    than one segment: one base segment over the reflection-padded poses, cut back to the input's length
    (``segments.plan_segments``).
    Interrupting (``interrupt`` raising) between steps leaves the models as they were.
    """
    settings = settings or SamplerSettings()
    plan = segment_plan(len(pose_frames), settings, plan)
    p = _prepare(models, reference_image, pose_frames, hand_frames, prompt, subject_word, settings,
                 want_subject=kv_share is not None)
    poses = pad_poses(p.poses, plan)
    hands = None if p.hands is None else pad_poses(p.hands, plan)
    counter = _StepCounter(total_steps(plan, settings), progress, interrupt)
    controller = _kv_controller(kv_share, p, _use(models.transformer), settings)
    frames: dict[int, torch.Tensor] = {}
    order = [*plan.base_segments, *plan.interpolation_segments]
    shared_on: list[torch.nn.Module] = []  # transformers the controller attached its processors to
    try:
        for done, segment in enumerate(order):
            if on_segment is not None:
                on_segment(done, len(order), segment.kind)
            kv = None
            if controller is not None and segment.kind == "base" and len(plan.base_segments) > 1:
                controller.mode = "record" if segment.index == 0 else "share"
                kv = controller
            driving, known = segment_inputs(plan, segment.index, poses, frames)
            vae = _use(models.vae)
            condition = _segment_condition(vae, p, driving, known)
            segment_hands = None if hands is None else cond.vae_encode(vae, hands[segment.start:segment.end])
            if segment_hands is not None:
                segment_hands = segment_hands.to(p.device, p.dtype)
            transformer = _phase(models, segment.kind)
            if kv is not None and all(transformer is not t for t in shared_on):
                shared_on.append(transformer)
            latents = _sample(transformer, condition, segment_hands, p, settings,
                              settings.seed + segment.index, kv, counter)
            frames[segment.index] = cond.vae_decode(_use(models.vae), latents)
            if segment.kind == "base" and segment is plan.base_segments[-1] and controller is not None:
                controller.reset()  # interpolation segments do not share: free the anchor's cache now
    finally:
        for transformer in shared_on:
            transformer.detach_kv_share()  # stock processors again: the model leaves as it came
        if controller is not None:
            controller.reset()
        if models.select_phase is not None:
            models.select_phase("base")
    merged = merge_segments(plan, [frames[s.index] for s in plan.segments])
    return merged[:len(pose_frames)].contiguous()


# --- the peers' long-video approach, for comparison ---------------------------------------------

def context_windows(num_latent_frames: int, window: int, overlap: int) -> list[tuple[int, int]]:
    """[start, stop) latent windows of ``window`` frames overlapping by ``overlap``, covering all frames."""
    if num_latent_frames <= window:
        return [(0, num_latent_frames)]
    stride = window - overlap
    starts = list(range(0, num_latent_frames - window, stride)) + [num_latent_frames - window]
    return [(s, s + window) for s in sorted(set(starts))]


@torch.no_grad()
def generate_context_windows(models: PoseGenModels, reference_image: torch.Tensor, pose_frames: torch.Tensor,
                             prompt: str, settings: SamplerSettings | None = None,
                             hand_frames: torch.Tensor | None = None, window: int = 21, overlap: int = 4,
                             progress: ProgressCallback | None = None,
                             interrupt: Interrupt | None = None) -> torch.Tensor:
    """Long video by overlapping context windows over one latent video, predictions averaged per step
    (UniAnimate-DiT / WanVideoWrapper style; ``window`` and ``overlap`` in latent frames)."""
    settings = settings or SamplerSettings()
    count = len(pose_frames)
    padded = (count - 1 + 3) // 4 * 4 + 1  # the VAE's 4k+1
    p = _prepare(models, reference_image, pose_frames, hand_frames, prompt, "", settings, want_subject=False)
    p.poses = torch.cat([p.poses, p.poses[-1:].expand(padded - count, -1, -1, -1)])
    if p.hands is not None:
        p.hands = torch.cat([p.hands, p.hands[-1:].expand(padded - count, -1, -1, -1)])
    vae = _use(models.vae)
    condition = _segment_condition(vae, p, p.poses, torch.zeros(padded, dtype=torch.bool))
    hands = None if p.hands is None else cond.vae_encode(vae, p.hands).to(p.device, p.dtype)
    windows = context_windows(condition.shape[2], window, overlap)
    scheduler = FlowMatchEulerDiscreteScheduler(num_train_timesteps=1000, shift=settings.shift)
    scheduler.set_timesteps(settings.steps, device=p.device)
    latents = _noise((1, 16, *condition.shape[2:]), settings.seed, p.device)
    counter = _StepCounter(settings.steps * len(windows), progress, interrupt)
    transformer = _phase(models, "base")
    for t in scheduler.timesteps:
        total = torch.zeros_like(latents)
        weight = torch.zeros(1, 1, latents.shape[2], 1, 1, device=p.device)
        for start, stop in windows:
            counter.check()
            noise = _predict(transformer, latents[:, :, start:stop], condition[:, :, start:stop], t, p,
                             p.reference_latent, None if hands is None else hands[:, :, start:stop],
                             settings.cfg, None)
            total[:, :, start:stop] += noise
            weight[:, :, start:stop] += 1
            counter.step()
        latents = scheduler.step(total / weight, t, latents, return_dict=False)[0]
    return cond.vae_decode(_use(models.vae), latents)[:count].contiguous()
