"""The GENMO diffusion: cosine schedule, q_sample, DDIM with guidance and keyframe inpainting, estimation."""

import math

import pytest
import torch
from posemotion.models.core.errors import InputError
from posemotion.models.genmo.conditions import GenmoConditions, TextCondition
from posemotion.models.genmo.diffusion import (
    NUM_STEPS,
    CosineSchedule,
    ddim_sample,
    ddim_timesteps,
    estimate,
    guidance_batch,
    q_sample,
)
from posemotion.models.genmo.keyframes import Keyframes
from support.genmo_tiny import tiny_genmo

B, L, D = 2, 12, 5


class TargetDenoiser(torch.nn.Module):
    """Predicts a fixed x0: ``cond`` for rows whose text is present, ``uncond`` otherwise; records calls."""

    def __init__(self, cond: torch.Tensor, uncond: torch.Tensor | None = None):
        super().__init__()
        self.scale = torch.nn.Parameter(torch.ones(()))
        self.cond, self.uncond = cond, cond if uncond is None else uncond
        self.calls = []

    def forward(self, x_t, timesteps, conditions, window=None):
        self.calls.append((x_t.clone(), timesteps.clone(), conditions, window))
        rows = x_t.shape[0] // self.cond.shape[0]
        has_text = torch.zeros(x_t.shape[0], dtype=torch.bool) if conditions.text is None \
            else conditions.text.present.any(-1)
        cond, uncond = self.cond.repeat(rows, 1, 1), self.uncond.repeat(rows, 1, 1)
        return self.scale * torch.where(has_text[:, None, None], cond, uncond)


def text_conditions(batch=B, length=L) -> GenmoConditions:
    tokens = torch.randn(batch, 1, 3, 8, generator=torch.Generator().manual_seed(1))
    text = TextCondition(tokens, torch.ones(batch, 1, 3, dtype=torch.bool),
                         torch.ones(batch, 1, length, dtype=torch.bool))
    return GenmoConditions(batch=batch, length=length, text=text)


def test_cosine_schedule_decreases_from_one_to_zero():
    schedule = CosineSchedule()
    abar = schedule.alphas_cumprod
    assert abar.shape == (NUM_STEPS,)
    assert bool((abar[1:] < abar[:-1]).all())
    assert 0.99 < float(abar[0]) < 1.0 and float(abar[-1]) < 1e-4
    assert float(schedule.betas.max()) <= 0.999


def test_q_sample_has_the_schedule_mean_and_variance():
    schedule = CosineSchedule()
    generator = torch.Generator().manual_seed(0)
    x0 = torch.full((4000, 1, 8), 2.0)
    for t in (0, 300, 700, 999):
        steps = torch.full((4000,), t, dtype=torch.long)
        x_t = q_sample(x0, steps, torch.randn(x0.shape, generator=generator))
        abar = float(schedule.alphas_cumprod[t])
        assert float(x_t.mean()) == pytest.approx(2.0 * math.sqrt(abar), abs=0.02)
        assert float(x_t.var()) == pytest.approx(1 - abar, abs=0.02 + 0.02 * (1 - abar))


def test_ddim_timesteps_follow_gem_respacing():
    steps = ddim_timesteps(50)
    assert len(steps) == 50 and steps[0] == NUM_STEPS - 1 and steps[-1] == 0
    assert steps == sorted(steps, reverse=True)
    assert ddim_timesteps(1) == [NUM_STEPS - 1]
    with pytest.raises(InputError, match="steps"):
        ddim_timesteps(0)


def test_ddim_with_a_perfect_denoiser_returns_its_x0_exactly():
    target = torch.randn(B, L, D, generator=torch.Generator().manual_seed(3))
    denoiser = TargetDenoiser(target)
    out = ddim_sample(denoiser, GenmoConditions(batch=B, length=L), (B, L, D), steps=10,
                      generator=torch.Generator().manual_seed(0))
    assert torch.equal(out, target)
    assert [int(c[1][0]) for c in denoiser.calls] == ddim_timesteps(10)
    assert len({c[1].numel() for c in denoiser.calls}) == 1  # no guidance batch without conditions


def test_guidance_mixes_the_two_passes_in_one_batch():
    cond = torch.randn(B, L, D, generator=torch.Generator().manual_seed(4))
    uncond = torch.randn(B, L, D, generator=torch.Generator().manual_seed(5))
    conditions = text_conditions()
    for cfg in (0.0, 1.0, 2.5):
        denoiser = TargetDenoiser(cond, uncond)
        out = ddim_sample(denoiser, conditions, (B, L, D), steps=4, cfg=cfg, generator=torch.Generator().manual_seed(0))
        torch.testing.assert_close(out, uncond + cfg * (cond - uncond))
        assert denoiser.calls[0][0].shape[0] == (B if cfg == 1.0 else 2 * B)


def test_guidance_batch_switches_conditions_off_by_masks():
    doubled = guidance_batch(text_conditions())
    assert doubled.batch == 2 * B
    assert doubled.text.present[:B].all() and not doubled.text.present[B:].any()


def test_keyframe_inpainting_keeps_observed_entries_exactly():
    mask = torch.zeros(L, D, dtype=torch.bool)
    mask[[0, L - 1], :3] = True
    features = torch.where(mask, torch.randn(L, D, generator=torch.Generator().manual_seed(6)), torch.zeros(L, D))
    keyframes = Keyframes(features=features, mask=mask, targets=torch.full((L, 22, 3), float("nan")),
                          frames=(0, L - 1))
    denoiser = TargetDenoiser(torch.zeros(B, L, D))
    out = ddim_sample(denoiser, GenmoConditions(batch=B, length=L), (B, L, D), steps=5, keyframes=keyframes,
                      generator=torch.Generator().manual_seed(0))
    assert torch.equal(out[:, mask], features[mask].expand(B, -1))
    assert torch.equal(out[:, ~mask], torch.zeros(B, int((~mask).sum())))
    # the denoiser saw the observed entries noised to its timestep: close to them at the last (t = 0) step
    last_input = denoiser.calls[-1][0]
    torch.testing.assert_close(last_input[:, mask], features[mask].expand(B, -1), atol=0.05, rtol=0)
    with pytest.raises(InputError, match="keyframes"):
        ddim_sample(denoiser, GenmoConditions(batch=B, length=L + 1), (B, L + 1, D), steps=2, keyframes=keyframes)


def test_progress_and_interrupt():
    denoiser = TargetDenoiser(torch.zeros(B, L, D))
    reports = []
    ddim_sample(denoiser, GenmoConditions(batch=B, length=L), (B, L, D), steps=7,
                progress=lambda done, total: reports.append((done, total)))
    assert reports == [(k, 7) for k in range(1, 8)]

    class Interrupted(Exception):
        pass

    def interrupt():
        if len(denoiser.calls) >= 3:
            raise Interrupted()

    denoiser.calls.clear()
    with pytest.raises(Interrupted):
        ddim_sample(denoiser, GenmoConditions(batch=B, length=L), (B, L, D), steps=7, check_interrupt=interrupt)
    assert len(denoiser.calls) == 3


def test_bad_arguments_name_the_input():
    denoiser = TargetDenoiser(torch.zeros(B, L, D))
    with pytest.raises(InputError, match="shape"):
        ddim_sample(denoiser, GenmoConditions(batch=B, length=L), (B, L + 1, D))
    with pytest.raises(InputError, match="cfg"):
        ddim_sample(denoiser, text_conditions(), (B, L, D), cfg=float("nan"))


def test_estimate_is_one_pass_at_the_last_timestep():
    target = torch.randn(B, L, D, generator=torch.Generator().manual_seed(7))
    denoiser = TargetDenoiser(target)
    out = estimate(denoiser, GenmoConditions(batch=B, length=L), (B, L, D), window=8)
    assert torch.equal(out, target)
    (x_t, timesteps, _, window), = denoiser.calls
    assert timesteps.tolist() == [NUM_STEPS - 1] * B and window == 8


def test_masked_conditions_equal_absent_ones_for_the_real_denoiser():
    """The guidance batch switches conditions off by masks; the denoiser must read that as absent."""
    denoiser = tiny_genmo().denoiser
    length = 20
    windows = torch.zeros(B, 2, length, dtype=torch.bool)
    windows[:, 0, :10], windows[:, 1, 10:] = True, True
    generator = torch.Generator().manual_seed(8)
    keypoints = torch.rand(B, length, 17, 3, generator=generator) * 2 - 1
    keypoints[..., 2] = 1.0
    conditions = GenmoConditions(
        batch=B, length=length,
        text=TextCondition(torch.randn(B, 2, 5, 384, generator=generator), torch.ones(B, 2, 5, dtype=torch.bool),
                           windows),
        keypoints=keypoints, bbox=torch.rand(B, length, 3, generator=generator),
        keypoints_mask=torch.ones(B, length, dtype=torch.bool))
    x_t, t = torch.randn(B, length, 263, generator=generator), torch.tensor([500, 10])
    with torch.no_grad():
        both = denoiser(torch.cat([x_t, x_t]), torch.cat([t, t]), guidance_batch(conditions))
        cond = denoiser(x_t, t, conditions)
        uncond = denoiser(x_t, t, conditions.without("text", "keypoints", "music"))
    torch.testing.assert_close(both[:B], cond, atol=1e-5, rtol=0)
    torch.testing.assert_close(both[B:], uncond, atol=1e-5, rtol=0)
    assert not torch.allclose(cond, uncond, atol=1e-3)
