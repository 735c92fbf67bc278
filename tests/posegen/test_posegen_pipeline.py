"""The PoseGen sampler end to end on tiny models (CPU, a few steps), its conditioning and memory helpers."""

import pytest
import torch
from posemotion.models.core.errors import InputError
from posemotion.models.posegen import conditioning as cond
from posemotion.models.posegen import pipeline as pl
from posemotion.models.posegen.memory import BlockSwap
from posemotion.models.posegen.segments import plan_segments
from support.tiny_models import tiny_posegen_parts

pytestmark = pytest.mark.usefixtures("one_torch_thread")  # tiny models: a 2nd thread only contends

WIDTH, HEIGHT = 48, 32
PROMPT = "a woman in a red dress dances in the park"
KV = pl.KVShareSettings(steps=(0, 2), blocks=(2, 4), mask_blocks=(0, 2))


@pytest.fixture(scope="module")
def models() -> pl.PoseGenModels:
    return pl.PoseGenModels(**tiny_posegen_parts())


@pytest.fixture(scope="module")
def inputs():
    generator = torch.Generator().manual_seed(0)
    reference = torch.rand(1, 64, 96, 3, generator=generator)
    poses = torch.rand(24, HEIGHT * 2, WIDTH * 2, 3, generator=generator)
    hands = torch.rand(24, HEIGHT * 2, WIDTH * 2, 3, generator=generator)
    return reference, poses, hands


def settings(**changes) -> pl.SamplerSettings:
    values = dict(width=WIDTH, height=HEIGHT, segment_length=13, head=5, tail=4, steps=3, cfg=3.0, seed=7)
    return pl.SamplerSettings(**{**values, **changes})


def run(models, inputs, kv=KV, **changes):
    reference, poses, hands = inputs
    return pl.generate(models, reference, poses, PROMPT, "woman", settings(**changes), hand_frames=hands,
                       kv_share=kv)


@pytest.fixture(scope="module")
def reference_run(models, inputs):
    return run(models, inputs)


def test_generate_end_to_end(models, inputs, reference_run):
    reference, poses, hands = inputs
    reports, segments = [], []
    frames = pl.generate(models, reference, poses, PROMPT, "woman", settings(), hand_frames=hands, kv_share=KV,
                         progress=lambda done, total: reports.append((done, total)),
                         on_segment=lambda done, total, kind: segments.append((done, total, kind)))
    assert frames.shape == (24, HEIGHT, WIDTH, 3) and frames.dtype == torch.float32
    assert torch.isfinite(frames).all() and frames.min() >= 0 and frames.max() <= 1
    assert frames.std() > 0.01  # not a constant image
    plan = plan_segments(24, 13, 5, 4)
    assert [kind for _, _, kind in segments] == ["base", "base", "interpolation"] == \
        [s.kind for s in (*plan.base_segments, *plan.interpolation_segments)]
    assert reports == [(i, 3 * 3) for i in range(1, 10)]
    assert torch.equal(frames, reference_run), "same seed, same frames"
    assert not torch.allclose(run(models, inputs, seed=8), reference_run, atol=1e-3)


def test_kv_sharing_changes_only_later_base_segments(models, inputs, reference_run):
    plain = run(models, inputs, kv=None)
    plan = plan_segments(24, 13, 5, 4)
    first_interp, second_base = plan.segments[1], plan.segments[2]
    # Frames only the anchor covers: recording does not alter the anchor itself.
    torch.testing.assert_close(plain[:first_interp.start], reference_run[:first_interp.start], atol=1e-5, rtol=0)
    # Frames only the second base covers: it attended to the anchor's background keys/values.
    exclusive = slice(first_interp.end, min(second_base.end, 24))
    assert (plain[exclusive] - reference_run[exclusive]).abs().max() > 1e-4


def test_hand_normals_reach_the_model(models, inputs, reference_run):
    reference, poses, _ = inputs
    without = pl.generate(models, reference, poses, PROMPT, "woman", settings(), kv_share=KV)
    assert (without - reference_run).abs().max() > 1e-4


def test_interrupt_leaves_models_clean(models, inputs, reference_run):
    reference, poses, hands = inputs
    calls = []

    def interrupt():
        calls.append(1)
        if len(calls) == 5:  # second base segment, while KV-sharing is active
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        pl.generate(models, reference, poses, PROMPT, "woman", settings(), hand_frames=hands, kv_share=KV,
                    interrupt=interrupt)
    assert torch.equal(run(models, inputs), reference_run)


def test_block_swap_gives_the_same_frames(models, inputs, reference_run):
    transformer = models.transformer
    with BlockSwap(transformer, 2, "cpu", "cpu") as swap:
        assert all(len(block._forward_pre_hooks) == 1 for block in swap.swapped)
        frames = run(models, inputs)
    assert all(not block._forward_pre_hooks and not block._forward_hooks for block in transformer.blocks)
    assert torch.equal(frames, reference_run)
    with pytest.raises(InputError, match="block_swap"):
        BlockSwap(transformer, 5, "cpu")


def test_short_pose_batch_is_one_padded_segment(models, inputs):
    reference, poses, _ = inputs
    frames = pl.generate(models, reference, poses[:6], PROMPT, "", settings(steps=1))
    assert frames.shape == (6, HEIGHT, WIDTH, 3)


@pytest.mark.parametrize("change, name, text", [
    (dict(prompt="a man walks in the park"), "subject_word", "'a', 'man', 'walks', 'in', 'the', 'park'"),
    (dict(kv=pl.KVShareSettings(steps=(0, 2), blocks=(3, 10), mask_blocks=(0, 2))), "kv_share blocks", "4 blocks"),
    (dict(kv=pl.KVShareSettings(steps=(0, 5), blocks=(2, 4), mask_blocks=(0, 2))), "kv_share steps", "3 steps"),
    (dict(poses=torch.rand(24, 32, 32, 3)), "pose_frames", "aspect"),
    (dict(hands=torch.rand(23, 64, 96, 3)), "hand_frames", "one hand-normal frame per pose frame"),
    (dict(segment_length=14), "segment_length", "4k+1"),
])
def test_bad_inputs_name_the_input(models, inputs, change, name, text):
    reference, poses, hands = inputs
    kv = change.pop("kv", KV)
    prompt = change.pop("prompt", PROMPT)
    poses = change.pop("poses", poses)
    hands = change.pop("hands", hands)
    with pytest.raises(InputError) as error:
        pl.generate(models, reference, poses, prompt, "woman", settings(**change), hand_frames=hands, kv_share=kv)
    assert error.value.input_name == name and text in str(error.value)


def test_a_given_plan_is_used_as_it_is(models, inputs, reference_run, monkeypatch):
    plan = plan_segments(24, 13, 5, 4)
    assert pl.segment_plan(24, settings(), plan) is plan
    assert pl.segment_plan(24, settings(head=None, tail=None), plan) is plan  # None: the plan's
    assert pl.segment_plan(24, settings()) == plan
    assert pl.total_steps(plan, settings()) == 3 * 3

    def no_planning(*args, **kwargs):
        raise AssertionError("planned again")

    monkeypatch.setattr(pl, "plan_segments", no_planning)
    reference, poses, hands = inputs
    reports = []
    frames = pl.generate(models, reference, poses, PROMPT, "woman", settings(), hand_frames=hands, kv_share=KV,
                         plan=plan, progress=lambda done, total: reports.append(total))
    assert torch.equal(frames, reference_run) and set(reports) == {pl.total_steps(plan, settings())}


@pytest.mark.parametrize("frames, change, name", [
    (20, {}, "plan"), (24, dict(segment_length=17), "segment_length"), (24, dict(head=4), "head"),
    (24, dict(tail=5), "tail"),
])
def test_a_plan_that_disagrees_is_refused(frames, change, name):
    plan = plan_segments(24, 13, 5, 4)
    with pytest.raises(InputError) as error:
        pl.segment_plan(frames, settings(**change), plan)
    assert error.value.input_name == name


def test_reference_of_another_aspect_is_cropped_with_a_warning():
    image = torch.zeros(1, 40, 100, 3)
    image[:, :, 30:70] = 1  # a white centre band: the crop keeps it, a stretch would not fill the frame
    with pytest.warns(UserWarning, match="centre-cropped"):
        fitted = cond.fit_reference(image, 48, 32)
    assert fitted.shape == (1, 32, 48, 3)
    torch.testing.assert_close(fitted[0, :, 12:36], torch.ones(32, 24, 3))
    assert fitted[0, :, :8].max() == 0


def test_frame_mask_follows_wan_i2v():
    known = torch.zeros(13, dtype=torch.bool)
    known[:5] = True
    known[-4:] = True
    mask = cond.frame_mask(known, 2, 3)
    assert mask.shape == (1, 4, 4, 2, 3)
    # Latent frame 0 is pixel frame 0 four times; latent k >= 1 covers pixel frames 4k-3 .. 4k.
    expected = torch.tensor([[1, 1, 1, 1], [1, 1, 1, 1], [0, 0, 0, 0], [1, 1, 1, 1]], dtype=torch.float32).T
    assert torch.equal(mask[0, :, :, 0, 0], expected)
    single = torch.zeros(9, dtype=torch.bool)
    single[0] = True  # Wan I2V's own case: only the first frame given
    assert cond.frame_mask(single, 1, 1)[0, :, :, 0, 0].tolist() == [[1, 0, 0], [1, 0, 0], [1, 0, 0], [1, 0, 0]]


def test_vae_latents_are_normalised_once(models):
    vae = models.vae
    frames = torch.rand(5, 16, 16, 3, generator=torch.Generator().manual_seed(1))
    latents = cond.vae_encode(vae, frames)
    raw = vae.encode(frames.permute(3, 0, 1, 2)[None] * 2 - 1).latent_dist.mode()
    mean = torch.tensor(vae.config.latents_mean).view(1, 16, 1, 1, 1)
    std = torch.tensor(vae.config.latents_std).view(1, 16, 1, 1, 1)
    torch.testing.assert_close(latents, (raw - mean) / std)
    decoded = cond.vae_decode(vae, latents)
    direct = vae.decode(raw).sample[0].permute(1, 2, 3, 0).add(1).div(2).clamp(0, 1)
    torch.testing.assert_close(decoded, direct, atol=1e-5, rtol=1e-5)


def test_subject_tokens_found_by_offsets(models):
    tokenizer = models.tokenizer
    assert cond.subject_token_indices(tokenizer, "A Woman waves to the woman", "woman") == [1, 5]
    assert cond.subject_token_indices(tokenizer, "  a   man  dances ", "MAN") == [1]
    with pytest.raises(InputError, match="not a word of the prompt"):
        cond.subject_token_indices(tokenizer, "a womanly dress", "woman")  # whole words only


def test_clip_embeds_are_the_penultimate_states(models):
    clip = models.clip_vision
    image = torch.rand(1, 40, 60, 3)
    embeds = cond.encode_clip_image(clip, image)
    pixels = cond.clip_pixels(image, clip.config.image_size)
    assert pixels.shape == (1, 3, 32, 32)
    states = clip(pixel_values=pixels, output_hidden_states=True).hidden_states
    assert len(states) == clip.config.num_hidden_layers + 1
    torch.testing.assert_close(embeds, states[-2])


def test_context_windows_cover_every_frame(models, inputs):
    windows = pl.context_windows(40, 21, 4)
    assert windows[0] == (0, 21) and windows[-1][1] == 40
    assert all(b[0] < a[1] for a, b in zip(windows, windows[1:]))  # consecutive windows overlap
    assert pl.context_windows(10, 21, 4) == [(0, 10)]
    reference, poses, _ = inputs
    frames = pl.generate_context_windows(models, reference, poses, PROMPT, settings(steps=2), window=3, overlap=1)
    assert frames.shape == (24, HEIGHT, WIDTH, 3) and 0 <= frames.min() and frames.max() <= 1


def test_a_model_without_reference_patchifier_is_refused(models, inputs):
    reference, poses, _ = inputs
    stock = type(models.transformer)(**{**models.transformer.config, "use_reference": False}).eval()
    parts = {**vars(models), "transformer": stock}
    with pytest.raises(InputError, match="reference patchifier"):
        pl.generate(pl.PoseGenModels(**parts), reference, poses, PROMPT, "woman", settings())
