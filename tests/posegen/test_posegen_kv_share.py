"""Background KV-sharing: Otsu, subject maps, the shared attention path, caching and range checks."""

import copy
import math

import cv2
import numpy as np
import pytest
import torch
from diffusers.models.transformers.transformer_wan import WanAttention, WanAttnProcessor
from posemotion.models.core.errors import InputError
from posemotion.models.posegen import pipeline as pl
from posemotion.models.posegen.attention import KVShareSelfAttnProcessor, SubjectMapCrossAttnProcessor
from posemotion.models.posegen.kv_share import (
    FRAMING_PRESETS,
    KVShareController,
    otsu_mask,
    parse_range,
    scaled_preset,
    subject_attention_map,
)
from posemotion.models.posegen.pipeline import KV_SHARE_CHOICES, KVShareSettings, kv_share_settings
from posemotion.models.posegen.transformer import PoseGenTransformer
from support.tiny_models import tiny_posegen_parts

pytestmark = pytest.mark.usefixtures("one_torch_thread")  # tiny models: a 2nd thread only contends

HEADS, HEAD_DIM, TEXT_DIM, IMAGE_DIM = 2, 12, 32, 16
DIM = HEADS * HEAD_DIM
TINY = dict(
    patch_size=(1, 2, 2), num_attention_heads=HEADS, attention_head_dim=HEAD_DIM, in_channels=36, out_channels=16,
    text_dim=TEXT_DIM, freq_dim=16, ffn_dim=40, num_layers=3, image_dim=IMAGE_DIM, added_kv_proj_dim=DIM,
    rope_max_seq_len=32,
)
GRID = (2, 3, 4)  # latent frames, token rows, token columns of the test segments


# ---- Otsu ----

def test_otsu_splits_a_bimodal_vector():
    values = torch.tensor([0.05, 0.1, 0.12, 0.9, 0.08, 0.85, 0.95, 0.11])
    assert otsu_mask(values).tolist() == [v > 0.5 for v in values.tolist()]


def test_otsu_matches_opencv_per_frame():
    rng = np.random.default_rng(0)
    frames = []
    for frame in range(6):
        low = rng.normal(0.25 + 0.02 * frame, 0.08, 300)
        high = rng.normal(0.7, 0.1, 100 + 20 * frame)
        frames.append(rng.permutation(np.clip(np.concatenate([low, high]), 0, 1))[:380])
    values = np.stack(frames)
    ours = otsu_mask(torch.from_numpy(values)).numpy()
    for frame, row in zip(ours, values):
        pixels = np.round(row * 255).astype(np.uint8)[None]
        _, binary = cv2.threshold(pixels, 0, 255, cv2.THRESH_BINARY + cv2.THRESH_OTSU)
        np.testing.assert_array_equal(frame, binary[0] == 255)
        assert 0.1 < frame.mean() < 0.6


def test_otsu_on_a_constant_frame_finds_no_subject():
    assert not otsu_mask(torch.full((2, 10), 0.3)).any()


# ---- subject maps from cross-attention ----

def test_subject_attention_map_is_head_mean_of_scaled_logits_summed_over_tokens():
    gen = torch.Generator().manual_seed(1)
    query, key = torch.randn(2, 5, HEADS, HEAD_DIM, generator=gen), torch.randn(2, 7, HEADS, HEAD_DIM, generator=gen)
    expected = torch.zeros(2, 5)
    for b in range(2):
        for s in range(5):
            for t in (2, 4):
                expected[b, s] += sum(query[b, s, h] @ key[b, t, h] for h in range(HEADS)) / HEADS / math.sqrt(HEAD_DIM)
    torch.testing.assert_close(subject_attention_map(query, key, [2, 4]), expected)


def identity_cross_attention() -> WanAttention:
    attn = WanAttention(dim=DIM, heads=HEADS, dim_head=HEAD_DIM, cross_attention_dim_head=HEAD_DIM,
                        processor=WanAttnProcessor())
    with torch.no_grad():
        for linear in (attn.to_q, attn.to_k):
            linear.weight.copy_(torch.eye(DIM))
            linear.bias.zero_()
    return attn


def subject_region() -> torch.Tensor:
    """bool [F, H, W]: a 2x2 'person' that moves one column right in the second frame."""
    region = torch.zeros(GRID, dtype=torch.bool)
    region[0, 1:3, 0:2] = True
    region[1, 0:2, 1:3] = True
    return region


def test_subject_mask_follows_the_subject_words_cross_attention():
    gen = torch.Generator().manual_seed(2)
    subject_direction = torch.zeros(DIM)
    subject_direction[::2] = 1.0
    text = torch.randn(1, 512, DIM, generator=gen) * 0.1
    text[0, 7] = subject_direction  # the subject word
    region = subject_region().flatten()
    video = torch.randn(1, region.numel(), DIM, generator=gen) * 0.3
    video[0, region] += subject_direction
    video[0, ~region] -= subject_direction

    attn = identity_cross_attention()
    controller = KVShareController(steps=(0, 1), blocks=(1, 2), subject_token_indices=[7], mask_blocks=(0, 1))
    processor = SubjectMapCrossAttnProcessor(controller, block_index=0)
    controller.mode = "record"
    controller.begin_forward(1, GRID, region.numel(), num_blocks=2)
    with torch.no_grad():
        out = processor(attn, video, text)
    controller.end_forward()
    with torch.no_grad():
        torch.testing.assert_close(out, WanAttnProcessor()(attn, video, text), rtol=0, atol=0)
    assert torch.equal(controller.subject_mask(0, "anchor")[0], subject_region())


# ---- the shared self-attention path ----

def self_attention_module() -> WanAttention:
    torch.manual_seed(3)
    return WanAttention(dim=DIM, heads=HEADS, dim_head=HEAD_DIM, processor=WanAttnProcessor()).eval()


def qkv(attn: WanAttention, states: torch.Tensor):
    def heads(t):
        return t.unflatten(-1, (HEADS, HEAD_DIM))
    return (heads(attn.norm_q(attn.to_q(states))), heads(attn.norm_k(attn.to_k(states))), heads(attn.to_v(states)))


def attention(q, k, v, key_keep=None):
    logits = torch.einsum("shd,thd->hst", q, k) / math.sqrt(HEAD_DIM)
    if key_keep is not None:
        logits = logits.masked_fill(~key_keep[None, None, :], float("-inf"))
    return torch.einsum("hst,thd->shd", torch.softmax(logits, dim=-1), v).flatten(1)


def run_self_attention(controller, attn, states, logits, mode):
    """One block-1 self-attention pass after a block-0 subject map with the given logits."""
    controller.mode = mode
    controller.begin_forward(1, GRID, states.shape[1] - 2, num_blocks=2)
    controller.add_subject_map(0, logits)
    with torch.no_grad():
        out = KVShareSelfAttnProcessor(controller, block_index=1)(attn, states)
    controller.end_forward()
    return out


@pytest.mark.parametrize("mask_keys", [True, False])
def test_shared_path_attends_to_anchor_background_outside_both_subjects(mask_keys):
    attn = self_attention_module()
    gen = torch.Generator().manual_seed(4)
    tokens = math.prod(GRID)
    anchor_states = torch.randn(1, tokens + 2, DIM, generator=gen)  # 24 video tokens + 2 reference tokens
    current_states = torch.randn(1, tokens + 2, DIM, generator=gen)
    anchor_region = subject_region().flatten()
    current_region = torch.roll(subject_region(), 1, dims=2).flatten()
    controller = KVShareController(steps=(0, 1), blocks=(1, 2), subject_token_indices=[0], mask_blocks=(0, 1),
                                   mask_subject_keys=mask_keys)
    recorded = run_self_attention(controller, attn, anchor_states, anchor_region.float()[None], "record")
    shared = run_self_attention(controller, attn, current_states, current_region.float()[None], "share")

    with torch.no_grad():
        torch.testing.assert_close(recorded, WanAttnProcessor()(attn, anchor_states))  # recording changes nothing
        q, k, v = qkv(attn, current_states[0])
        aq, ak, av = qkv(attn, anchor_states[0])
        normal = attention(q, k, v)
        keep = torch.cat([~anchor_region, torch.ones(2, dtype=torch.bool)]) if mask_keys else None
        from_anchor = attention(q[:tokens], ak, av, keep)  # anchor video keys + anchor reference keys
        keep_normal = anchor_region | current_region
        expected = normal.clone()
        expected[:tokens][~keep_normal] = from_anchor[~keep_normal]
        expected = attn.to_out[0](expected)
    torch.testing.assert_close(shared[0], expected, rtol=1e-5, atol=1e-6)
    assert (shared[0, :tokens][~keep_normal] - attn.to_out[0](normal)[:tokens][~keep_normal]).abs().max() > 1e-3


# ---- the whole model ----

def tiny_model() -> PoseGenTransformer:
    torch.manual_seed(0)
    model = PoseGenTransformer(**TINY).eval()
    with torch.no_grad():
        model.ref_patch_embedding.weight.normal_(std=0.2)
    return model


def segment_inputs(seed: int) -> dict[str, torch.Tensor]:
    gen = torch.Generator().manual_seed(seed)
    frames, rows, cols = GRID
    return dict(
        hidden_states=torch.randn(1, 36, frames, 2 * rows, 2 * cols, generator=gen),
        encoder_hidden_states_image=torch.randn(1, 257, IMAGE_DIM, generator=gen),
        reference_latents=torch.randn(1, 16, 1, 2 * rows, 2 * cols, generator=gen),
    )


PROMPTS = {branch: torch.randn(1, 512, TEXT_DIM, generator=torch.Generator().manual_seed(i))
           for i, branch in enumerate(("cond", "uncond"))}
TIMESTEPS = (999.0, 800.0, 500.0)


def run_segment(model, inputs, controller=None, mode="off") -> dict[tuple[int, str], torch.Tensor]:
    """Every step and guidance branch of a 3-step schedule, as a pipeline drives them."""
    outputs = {}
    device = inputs["hidden_states"].device
    if controller is not None:
        controller.mode = mode
    for step, t in enumerate(TIMESTEPS):
        for branch in ("cond", "uncond"):
            if controller is not None:
                controller.set_step(step)
                controller.set_branch(branch)
            with torch.no_grad():
                outputs[step, branch] = model(
                    **inputs, timestep=torch.tensor([t], device=device),
                    encoder_hidden_states=PROMPTS[branch].to(device), kv_share=controller,
                )[0]
    return outputs


def sharing_controller(**kwargs) -> KVShareController:
    # Mask blocks overlap the shared blocks: block 1 shares with the map of block 0 only, block 2 with both.
    return KVShareController(steps=(0, 2), blocks=(1, 3), subject_token_indices=[3, 4], mask_blocks=(0, 2), **kwargs)


def test_sharing_with_itself_reproduces_the_normal_path():
    model = tiny_model()
    inputs = segment_inputs(5)
    normal = run_segment(model, inputs)
    controller = sharing_controller(mask_subject_keys=False)
    recorded = run_segment(model, inputs, controller, "record")
    shared = run_segment(model, inputs, controller, "share")
    for key in normal:
        torch.testing.assert_close(recorded[key], normal[key], rtol=0, atol=0)
        torch.testing.assert_close(shared[key], normal[key])
    for step in (0, 1):
        anchor = controller.subject_mask(step, "anchor")
        assert anchor.shape == (1, *GRID) and anchor.any() and not anchor.all()
        assert torch.equal(controller.subject_mask(step, "current"), anchor)
        # Maps come from the conditional pass only (mask blocks 0 and 1); the unconditional pass reuses them.
        assert [block for block, _ in controller._current_maps[step]] == [0, 1]
    assert controller.subject_mask(2, "anchor") is None  # outside the step range nothing is recorded
    # 2 branches x 2 steps x 2 blocks, keys and values of 24 video + 12 reference tokens, float32.
    assert controller.cache_bytes == 2 * 2 * 2 * 2 * (24 + 12) * DIM * 4


def test_sharing_changes_only_the_shared_steps_of_another_segment():
    model = tiny_model()
    anchor_inputs, current_inputs = segment_inputs(5), segment_inputs(6)
    controller = sharing_controller()
    run_segment(model, anchor_inputs, controller, "record")
    shared = run_segment(model, current_inputs, controller, "share")
    normal = run_segment(model, current_inputs)
    for (step, branch), out in shared.items():
        if step < 2:
            assert (out - normal[step, branch]).abs().max() > 1e-4
        else:
            torch.testing.assert_close(out, normal[step, branch], rtol=0, atol=0)
    # Without a controller the same model is plain PoseGen again.
    torch.testing.assert_close(
        model(**current_inputs, timestep=torch.tensor([999.0]), encoder_hidden_states=PROMPTS["cond"])[0],
        normal[0, "cond"], rtol=0, atol=0,
    )


@pytest.mark.parametrize("device", ["cpu", pytest.param("cuda", marks=pytest.mark.skipif(
    not torch.cuda.is_available(), reason="needs a GPU"))])
def test_offloaded_cache_gives_identical_outputs(device):
    model = tiny_model().to(device)
    anchor_inputs = {k: v.to(device) for k, v in segment_inputs(5).items()}
    current_inputs = {k: v.to(device) for k, v in segment_inputs(6).items()}
    results = []
    for cache_device in (None, "cpu"):
        controller = sharing_controller(cache_device=cache_device)
        run_segment(model, anchor_inputs, controller, "record")
        cached = {t.device.type for kv in controller._kv_cache.values() for t in kv}
        assert cached == {cache_device or device}
        results.append(run_segment(model, current_inputs, controller, "share"))
    for key in results[0]:
        torch.testing.assert_close(results[0][key], results[1][key], rtol=0, atol=0)


# ---- configuration and misuse ----

def test_ranges_are_validated_against_schedule_and_model():
    controller = KVShareController.from_framing("full_body", [3])
    assert (controller.steps, controller.blocks) == ((0, 4), (32, 40))
    controller.validate(num_steps=25, num_blocks=40)
    with pytest.raises(InputError, match=r"kv_share steps.*\[0, 4\).*3 steps"):
        controller.validate(num_steps=3, num_blocks=40)
    with pytest.raises(InputError, match=r"kv_share blocks.*\[32, 40\).*30 blocks"):
        controller.validate(num_steps=25, num_blocks=30)
    with pytest.raises(InputError, match="steps"):
        KVShareController((2, 1), (0, 1), [3])
    with pytest.raises(InputError, match="framing"):
        KVShareController.from_framing("wide", [3])
    model = tiny_model()
    too_deep = KVShareController((0, 1), (2, 5), [3])
    too_deep.mode = "record"
    with pytest.raises(InputError, match=r"kv_share blocks.*\[2, 5\).*3 blocks"):
        run_segment(model, segment_inputs(5), too_deep, "record")


def test_framing_presets_are_the_papers_at_40_blocks_and_scale():
    assert KVShareController.from_framing("half_body", [3], depth=20).blocks == scaled_preset("half_body", 20)[1]
    for name, (steps, blocks) in FRAMING_PRESETS.items():
        assert scaled_preset(name, 40) == (steps, blocks, (0, 11))
    assert scaled_preset("half_body", 30) == ((0, 2), (26, 30), (0, 8))  # Wan 1.3B: 34*0.75 = 25.5
    assert scaled_preset("close_up", 4)[1] == (3, 4)
    assert scaled_preset("distant", 1) == ((0, 4), (0, 1), (0, 1))  # never an empty range
    with pytest.raises(InputError, match="framing"):
        scaled_preset("wide", 40)


def test_ranges_typed_as_text_parse_half_open():
    assert parse_range(" 0 - 2", "kv_steps") == (0, 2)
    assert parse_range("34:40", "kv_blocks") == parse_range("34,40", "kv_blocks") == (34, 40)
    for bad in ("2-2", "a-b", "3", "", None, "3-1", "-1-2"):
        with pytest.raises(InputError, match="kv_steps") as error:
            parse_range(bad, "kv_steps")
        assert error.value.input_name == "kv_steps" and "start < end" in str(error.value)


def test_kv_share_choices_become_settings_for_the_models_depth():
    assert KV_SHARE_CHOICES == ("off", *FRAMING_PRESETS, "custom")
    assert kv_share_settings("off", 40) is None
    assert kv_share_settings("half_body", 30, "9-9", "bad", cache_device="cpu") == KVShareSettings(
        steps=(0, 2), blocks=(26, 30), mask_blocks=(0, 8), cache_device="cpu")  # the texts count for custom only
    assert kv_share_settings("custom", 40, "0-1", "2-4") == KVShareSettings((0, 1), (2, 4), (0, 11))
    assert kv_share_settings("custom", 4, "0-1", "2-4").mask_blocks == (0, 4)
    with pytest.raises(InputError, match="kv_blocks"):
        kv_share_settings("custom", 40, "0-1", "4-2")
    with pytest.raises(InputError, match="kv_share"):
        kv_share_settings("wide", 40)


def test_sharing_without_a_recorded_anchor_says_what_to_do():
    model = tiny_model()
    controller = sharing_controller()
    with pytest.raises(InputError, match="record"):
        run_segment(model, segment_inputs(5), controller, "share")
    run_segment(model, segment_inputs(5), controller, "record")
    controller.reset()
    assert controller.mode == "off" and controller.cache_bytes == 0


# ---- the model leaves a generation as it came ----

def test_detach_restores_the_processors_that_were_there():
    model = tiny_model()
    before = model.attn_processors
    custom = WanAttnProcessor()  # a processor someone set on purpose must come back, not a new stock one
    model.set_attn_processor({**before, "blocks.1.attn1.processor": custom})
    original = model.attn_processors
    controller = sharing_controller()
    run_segment(model, segment_inputs(5), controller, "record")
    assert isinstance(model.attn_processors["blocks.1.attn1.processor"], KVShareSelfAttnProcessor)
    model.detach_kv_share()
    after = model.attn_processors
    assert all(after[name] is original[name] for name in original)
    model.detach_kv_share()  # a second call changes nothing
    assert all(model.attn_processors[name] is original[name] for name in original)


def test_generate_leaves_stock_processors_and_fresh_outputs():


    models = pl.PoseGenModels(**tiny_posegen_parts())
    fresh = copy.deepcopy(models.transformer)
    generator = torch.Generator().manual_seed(0)
    reference, poses = torch.rand(1, 32, 48, 3, generator=generator), torch.rand(24, 32, 48, 3, generator=generator)
    settings = pl.SamplerSettings(width=48, height=32, segment_length=13, head=5, tail=4, steps=2, cfg=3.0)
    kv = pl.KVShareSettings(steps=(0, 2), blocks=(2, 4), mask_blocks=(0, 2))
    pl.generate(models, reference, poses, "a woman dances", "woman", settings, kv_share=kv)
    processors = models.transformer.attn_processors
    assert processors and all(type(p) is WanAttnProcessor for p in processors.values())
    assert models.transformer._kv_share_controller is None
    inputs = dict(hidden_states=torch.randn(1, 36, 2, 4, 6, generator=generator),
                  timestep=torch.tensor([500.0]), encoder_hidden_states=torch.randn(1, 512, 32, generator=generator),
                  encoder_hidden_states_image=torch.randn(1, 257, 24, generator=generator),
                  reference_latents=torch.randn(1, 16, 1, 4, 6, generator=generator))
    with torch.no_grad():
        torch.testing.assert_close(models.transformer(**inputs)[0], fresh(**inputs)[0], rtol=0, atol=0)
