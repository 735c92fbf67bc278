"""Gaussian diffusion for GENMO: cosine schedule, DDIM sampling with classifier-free guidance and
keyframe inpainting, and one-pass estimation.

Data contract
    Motion tensors ``x`` are ``[B, L, D]`` float (normalised features, e.g. HumanML3D 263). The denoiser
    is any module ``denoiser(x_t [B,L,D], timesteps [B] long, conditions: GenmoConditions, window=...)``
    that predicts ``x0`` (GEM's ``predict_xstart``). Timesteps are on the training scale
    ``0 .. NUM_STEPS-1`` (``NUM_STEPS`` = 1000), also when sampling with fewer steps.

Facts from GEM (``configs/diffusion/ddim.yaml``): cosine noise schedule (Nichol & Dhariwal 2021), 1000
training steps, 50 DDIM steps at test time with eta 0, guidance 2.5. The 50 steps are GEM's respacing
of one section: ``round(i * 999 / 49)``, so both t = 999 and t = 0 are visited (:func:`ddim_timesteps`).

Classifier-free guidance: ``uncond + cfg * (cond - uncond)`` where the unconditional pass has text,
2D keypoints and music removed. The two passes run as one batch of 2B: the removed conditions are
turned off through their masks (token/window/frame masks False, features zero), which is exactly how
training drops conditions (``training.py``), so the network sees the same "absent" input in both.

Estimation (``estimate``): GEM's regression mode: one denoiser pass from pure noise at t = NUM_STEPS-1.
"""

from __future__ import annotations

import math
from typing import Callable

import torch

from ..core.errors import InputError
from ..core.resources import ProgressCallback
from .conditions import GenmoConditions, TextCondition

NUM_STEPS = 1000  # GEM's training diffusion steps
COSINE_OFFSET = 0.008  # Nichol & Dhariwal's s, keeps beta_0 from being too small
MAX_BETA = 0.999  # their clip, avoids a singularity at t = T
GUIDED = ("text", "keypoints", "music")  # what the unconditional pass of CFG drops


class CosineSchedule:
    """``alphas_cumprod[t] = f(t+1) / f(0)`` through betas clipped at ``MAX_BETA``, with
    ``f(t) = cos(((t / T) + s) / (1 + s) * pi / 2) ** 2`` (improved DDPM); float64 tensors of [T]."""

    def __init__(self, num_steps: int = NUM_STEPS):
        if num_steps < 2:
            raise InputError("num_steps", f"a diffusion schedule needs at least 2 steps, got {num_steps}")
        self.num_steps = int(num_steps)
        def f(t):
            return math.cos((t / num_steps + COSINE_OFFSET) / (1 + COSINE_OFFSET) * math.pi / 2) ** 2
        betas = [min(1 - f(i + 1) / f(i), MAX_BETA) for i in range(num_steps)]
        self.betas = torch.tensor(betas, dtype=torch.float64)
        self.alphas_cumprod = torch.cumprod(1 - self.betas, dim=0)

    def _at(self, values: torch.Tensor, t: torch.Tensor, like: torch.Tensor) -> torch.Tensor:
        """values[t] shaped to broadcast over ``like`` [B, ...]."""
        out = values.to(like.device)[t.to(like.device).long()].to(like.dtype)
        return out.reshape(-1, *([1] * (like.ndim - 1)))

    def q_sample(self, x0: torch.Tensor, t: torch.Tensor, noise: torch.Tensor) -> torch.Tensor:
        """x_t = sqrt(abar_t) x0 + sqrt(1 - abar_t) noise; ``t`` [B] long."""
        abar = self._at(self.alphas_cumprod, t, x0)
        return abar.sqrt() * x0 + (1 - abar).sqrt() * noise

    def ddim_timesteps(self, steps: int) -> list[int]:
        """``steps`` timesteps from T-1 down to 0, evenly spaced and rounded (GEM's respacing)."""
        if not 1 <= steps <= self.num_steps:
            raise InputError("steps", f"expected 1..{self.num_steps} sampling steps, got {steps}")
        if steps == 1:
            return [self.num_steps - 1]
        stride = (self.num_steps - 1) / (steps - 1)
        return sorted({round(i * stride) for i in range(steps)}, reverse=True)


DEFAULT_SCHEDULE = CosineSchedule()


def q_sample(x0: torch.Tensor, t: torch.Tensor, noise: torch.Tensor,
             schedule: CosineSchedule = DEFAULT_SCHEDULE) -> torch.Tensor:
    return schedule.q_sample(x0, t, noise)


def ddim_timesteps(steps: int, schedule: CosineSchedule = DEFAULT_SCHEDULE) -> list[int]:
    return schedule.ddim_timesteps(steps)


def guidance_batch(conditions: GenmoConditions) -> GenmoConditions:
    """2B sequences: ``conditions`` then the same with text, keypoints and music switched off by masks."""
    def pair(t: torch.Tensor | None, off) -> torch.Tensor | None:
        return None if t is None else torch.cat([t, off(t)])
    zeros, falses = torch.zeros_like, (lambda t: torch.zeros_like(t, dtype=torch.bool))
    text = conditions.text
    if text is not None:
        text = TextCondition(pair(text.tokens, zeros), pair(text.token_mask, falses), pair(text.windows, falses))
    return GenmoConditions(
        batch=2 * conditions.batch, length=conditions.length, text=text,
        keypoints=pair(conditions.keypoints, zeros), bbox=pair(conditions.bbox, zeros),
        keypoints_mask=pair(conditions.keypoints_mask, falses), music=pair(conditions.music, zeros),
        music_mask=pair(conditions.music_mask, falses),
        frame_mask=pair(conditions.frame_mask, lambda t: t.clone()))


def _is_guided(conditions: GenmoConditions) -> bool:
    return any(getattr(conditions, name) is not None for name in GUIDED)


def _check_shape(shape, conditions: GenmoConditions) -> tuple[int, int, int]:
    if len(shape) != 3 or min(shape) < 1:
        raise InputError("shape", f"expected (B, L, D) with all sizes >= 1, got {tuple(shape)}")
    if (shape[0], shape[1]) != (conditions.batch, conditions.length):
        raise InputError("shape", f"{tuple(shape)} does not match the conditions' B={conditions.batch}, "
                                  f"L={conditions.length}")
    return tuple(int(s) for s in shape)


def _keyframe_tensors(keyframes, shape, device, dtype) -> tuple[torch.Tensor, torch.Tensor] | tuple[None, None]:
    """The keyframes' observed features and mask, [1, L, D], or (None, None) without keyframes."""
    if keyframes is None:
        return None, None
    features, mask = torch.as_tensor(keyframes.features), torch.as_tensor(keyframes.mask)
    if tuple(features.shape) != shape[1:] or tuple(mask.shape) != shape[1:]:
        raise InputError("keyframes", f"keyframes are {list(features.shape)} for a motion of shape "
                                      f"[{shape[1]}, {shape[2]}]: build them for the same length and features")
    return features.to(device, dtype)[None], mask.to(device).bool()[None]


def _device_dtype(denoiser: torch.nn.Module) -> tuple[torch.device, torch.dtype]:
    parameter = next(denoiser.parameters(), None)
    if parameter is None:
        return torch.device("cpu"), torch.float32
    return parameter.device, parameter.dtype


@torch.no_grad()
def ddim_sample(denoiser: torch.nn.Module, conditions: GenmoConditions, shape, steps: int = 50, cfg: float = 2.5,
                generator: torch.Generator | None = None, window: int | None = None, keyframes=None,
                progress: ProgressCallback | None = None, check_interrupt: Callable[[], None] | None = None,
                schedule: CosineSchedule = DEFAULT_SCHEDULE) -> torch.Tensor:
    """x0 [B, L, D] by deterministic DDIM (eta 0) over ``steps`` steps with x0-prediction.

    ``cfg``: guidance scale (1 = conditional only; skipped when no guided condition is present);
    ``keyframes``: a ``keyframes.Keyframes`` whose observed entries replace x_t by their own noised
    version before every denoiser call and are copied exactly into the result; ``generator`` draws
    all noise (on the CPU, so results do not depend on the device); ``progress(done, steps)`` after
    each step; ``check_interrupt()`` before each step (it raises to stop, as ComfyUI's does)."""
    if not math.isfinite(cfg) or cfg < 0:
        raise InputError("cfg", f"guidance scale must be a finite number >= 0, got {cfg}")
    shape = _check_shape(shape, conditions)
    device, dtype = _device_dtype(denoiser)
    timesteps = schedule.ddim_timesteps(steps)
    observed, known = _keyframe_tensors(keyframes, shape, device, dtype)
    guided = _is_guided(conditions) and cfg != 1.0
    inputs = (guidance_batch(conditions) if guided else conditions).to(device, dtype)
    abar = schedule.alphas_cumprod

    def noise():
        return torch.randn(shape, generator=generator, dtype=torch.float32).to(device, dtype)

    x = noise()
    x0 = x
    for done, t in enumerate(timesteps):
        if check_interrupt is not None:
            check_interrupt()
        t_batch = torch.full((shape[0],), t, dtype=torch.long, device=device)
        if known is not None:
            x = torch.where(known, schedule.q_sample(observed.expand(shape), t_batch, noise()), x)
        if guided:
            both = denoiser(torch.cat([x, x]), torch.cat([t_batch, t_batch]), inputs, window=window)
            cond, uncond = both.chunk(2)
            x0 = uncond + cfg * (cond - uncond)
        else:
            x0 = denoiser(x, t_batch, inputs, window=window)
        if done + 1 < len(timesteps):
            a_t, a_prev = float(abar[t]), float(abar[timesteps[done + 1]])
            eps = (x - math.sqrt(a_t) * x0) / math.sqrt(1 - a_t)
            x = math.sqrt(a_prev) * x0 + math.sqrt(1 - a_prev) * eps
        if progress is not None:
            progress(done + 1, len(timesteps))
    if known is not None:
        x0 = torch.where(known, observed.expand(shape), x0)
    return x0


@torch.no_grad()
def estimate(denoiser: torch.nn.Module, conditions: GenmoConditions, shape, window: int | None = None,
             generator: torch.Generator | None = None, schedule: CosineSchedule = DEFAULT_SCHEDULE) -> torch.Tensor:
    """x0 [B, L, D] from one denoiser pass on pure noise at t = T-1 (GEM's estimation/regression mode)."""
    shape = _check_shape(shape, conditions)
    device, dtype = _device_dtype(denoiser)
    x_t = torch.randn(shape, generator=generator, dtype=torch.float32).to(device, dtype)
    t = torch.full((shape[0],), schedule.num_steps - 1, dtype=torch.long, device=device)
    return denoiser(x_t, t, conditions.to(device, dtype), window=window)
