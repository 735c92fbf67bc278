"""PoseGenTransformer against stock diffusers Wan and against hand-written formulas (tiny configs, CPU)."""

import math

import numpy as np
import pytest
import torch
from diffusers import WanTransformer3DModel
from posemotion.models.core.errors import InputError
from posemotion.models.posegen.rope import reference_rotary_embedding
from posemotion.models.posegen.transformer import PoseGenTransformer

pytestmark = pytest.mark.usefixtures("one_torch_thread")  # tiny models: a 2nd thread only contends

HEADS, HEAD_DIM, TEXT_DIM, IMAGE_DIM = 2, 24, 32, 16
TINY = dict(
    patch_size=(1, 2, 2), num_attention_heads=HEADS, attention_head_dim=HEAD_DIM, in_channels=36, out_channels=16,
    text_dim=TEXT_DIM, freq_dim=16, ffn_dim=40, num_layers=2, image_dim=IMAGE_DIM,
    added_kv_proj_dim=HEADS * HEAD_DIM, rope_max_seq_len=32,
)
EPS = 1e-6


def make_inputs(seed: int = 0, frames: int = 3, height: int = 4, width: int = 6, image: bool = True):
    gen = torch.Generator().manual_seed(seed)
    return dict(
        hidden_states=torch.randn(1, 36, frames, height, width, generator=gen),
        timestep=torch.tensor([700.0]),
        encoder_hidden_states=torch.randn(1, 512, TEXT_DIM, generator=gen),
        encoder_hidden_states_image=torch.randn(1, 257, IMAGE_DIM, generator=gen) if image else None,
    )


def stock_and_ours(**overrides) -> tuple[WanTransformer3DModel, PoseGenTransformer]:
    config = {**TINY, **overrides}
    torch.manual_seed(0)
    stock = WanTransformer3DModel(**config).eval()
    ours = PoseGenTransformer(**config).eval()
    missing, unexpected = ours.load_state_dict(stock.state_dict(), strict=False)
    assert not unexpected
    assert {k.split(".")[0] for k in missing} == {"ref_patch_embedding", "hand_patch_embedding"}
    return stock, ours


@pytest.mark.parametrize("image", [True, False])
@torch.no_grad()
def test_without_reference_equals_stock_wan(image):
    overrides = {} if image else dict(image_dim=None, added_kv_proj_dim=None)
    stock, ours = stock_and_ours(**overrides)
    inputs = make_inputs(image=image)
    expected = stock(**inputs, return_dict=False)[0]
    torch.testing.assert_close(ours(**inputs)[0], expected, rtol=0, atol=0)
    # The zero-initialised hand patchifier adds nothing.
    hand = torch.randn(1, 16, 3, 4, 6)
    torch.testing.assert_close(ours(**inputs, hand_latents=hand)[0], expected, rtol=0, atol=0)


@torch.no_grad()
def test_hand_patchifier_is_zero_at_init_and_acts_once_trained():
    _, ours = stock_and_ours()
    assert all(torch.count_nonzero(p) == 0 for p in ours.hand_patch_embedding.parameters())
    inputs = make_inputs()
    hand = torch.randn(1, 16, 3, 4, 6)
    baseline = ours(**inputs)[0]
    ours.hand_patch_embedding.weight.normal_(std=0.1)
    assert (ours(**inputs, hand_latents=hand)[0] - baseline).abs().max() > 1e-3

    # Its output is ADDED to the patch tokens: a bias-only hand patchifier equals that bias in patch_embedding.
    ours.hand_patch_embedding.weight.zero_()
    ours.hand_patch_embedding.bias.normal_(std=0.1)
    with_hand_bias = ours(**inputs, hand_latents=hand)[0]
    ours.patch_embedding.bias.add_(ours.hand_patch_embedding.bias)
    torch.testing.assert_close(ours(**inputs)[0], with_hand_bias, rtol=1e-5, atol=1e-6)


def test_hand_projection_variant_is_zero_at_init():
    model = PoseGenTransformer(**TINY, use_hand_projection=True)
    keys = {k for k in model.state_dict() if k.startswith("hand_patch_embedding")}
    assert keys == {f"hand_patch_embedding.{i}.{p}" for i in (0, 1) for p in ("weight", "bias")}
    assert torch.count_nonzero(model.hand_patch_embedding[1].weight) == 0


def expected_rope_angles(positions: tuple[np.ndarray, np.ndarray, np.ndarray], head_dim: int) -> np.ndarray:
    """Angles [S, head_dim/2] from the RoPE formula: axis dims t/h/w = d - 2*(2*(d//6)), 2*(d//6), 2*(d//6)."""
    h_dim = w_dim = 2 * (head_dim // 6)
    t_dim = head_dim - h_dim - w_dim
    parts = []
    for dim, pos in zip((t_dim, h_dim, w_dim), positions):
        inv_freq = 1.0 / 10000.0 ** (np.arange(0, dim, 2, dtype=np.float64) / dim)
        parts.append(pos[:, None].astype(np.float64) * inv_freq[None, :])
    return np.concatenate(parts, axis=1)


def reference_positions(frames: int, height: int, width: int):
    f, h, w = np.meshgrid(np.arange(frames), np.arange(height), np.arange(width), indexing="ij")
    return f.ravel(), h.ravel(), w.ravel() - width  # width shifted to -width..-1


def test_shifted_rope_matches_formula():
    model = PoseGenTransformer(**TINY)
    grid = (1, 3, 4)
    cos, sin = reference_rotary_embedding(model.rope, grid)
    angles = expected_rope_angles(reference_positions(*grid), HEAD_DIM)
    assert cos.shape == (1, 12, 1, HEAD_DIM) and cos.dtype == torch.float32
    np.testing.assert_allclose(cos[0, :, 0, 0::2].numpy(), np.cos(angles), atol=1e-7)
    np.testing.assert_allclose(cos[0, :, 0, 1::2].numpy(), np.cos(angles), atol=1e-7)
    np.testing.assert_allclose(sin[0, :, 0, 0::2].numpy(), np.sin(angles), atol=1e-7)
    np.testing.assert_allclose(sin[0, :, 0, 1::2].numpy(), np.sin(angles), atol=1e-7)
    assert (angles[:, -(HEAD_DIM // 6):] < 0).all()  # width indices lie left of the video


# ---- the reference-token block, written out by hand ----

def layer_norm(x: torch.Tensor) -> torch.Tensor:
    mean = x.mean(-1, keepdim=True)
    return (x - mean) / torch.sqrt(((x - mean) ** 2).mean(-1, keepdim=True) + EPS)


def rms_norm(x: torch.Tensor, weight: torch.Tensor) -> torch.Tensor:
    return x / torch.sqrt((x**2).mean(-1, keepdim=True) + EPS) * weight


def rotate(x: torch.Tensor, angles: torch.Tensor) -> torch.Tensor:
    """x [S, H, D]: rotate channel pairs (2i, 2i+1) by angles [S, D/2] (complex multiplication)."""
    pairs = torch.view_as_complex(x.double().reshape(*x.shape[:-1], -1, 2).contiguous())
    return torch.view_as_real(pairs * torch.polar(torch.ones_like(angles), angles)[:, None]).flatten(-2).float()


def manual_self_attention(attn, x: torch.Tensor, angles: torch.Tensor) -> torch.Tensor:
    """x [S, dim] (one batch element): Wan self-attention with RoPE, by hand."""
    q = rms_norm(x @ attn.to_q.weight.T + attn.to_q.bias, attn.norm_q.weight)
    k = rms_norm(x @ attn.to_k.weight.T + attn.to_k.bias, attn.norm_k.weight)
    v = x @ attn.to_v.weight.T + attn.to_v.bias
    q, k, v = (t.reshape(t.shape[0], HEADS, HEAD_DIM) for t in (q, k, v))
    q, k = rotate(q, angles), rotate(k, angles)
    weights = torch.softmax(torch.einsum("shd,thd->hst", q, k) / math.sqrt(HEAD_DIM), dim=-1)
    out = torch.einsum("hst,thd->shd", weights, v).reshape(x.shape[0], -1)
    return out @ attn.to_out[0].weight.T + attn.to_out[0].bias


@torch.no_grad()
def test_reference_tokens_block_matches_hand_computation():
    _, model = stock_and_ours()
    model.ref_patch_embedding.weight.normal_(std=0.2)
    inputs = make_inputs()
    reference = torch.randn(1, 16, 1, 6, 4)  # reference grid (1, 3, 2) differs from the video's (3, 2, 3)
    captured = {}
    block = model.blocks[0]
    pre = block.register_forward_pre_hook(lambda m, args: captured.update(args=args))
    post = block.register_forward_hook(lambda m, args, out: captured.update(out=out))
    try:
        model(**inputs, reference_latents=reference)
    finally:
        pre.remove(), post.remove()
    x, context, temb, rope, ref, ref_temb = captured["args"]
    out_x, out_ref = captured["out"]
    assert x.shape[1] == 3 * 2 * 3 and ref.shape[1] == 1 * 3 * 2

    # Inputs the model hands the block: patch tokens, timestep-0 modulation, [video, reference] RoPE.
    torch.testing.assert_close(ref[0], model.ref_patch_embedding(reference).flatten(2)[0].T)
    zero_t = model.condition_embedder(torch.zeros(1), inputs["encoder_hidden_states"])[1].unflatten(1, (6, -1))
    torch.testing.assert_close(ref_temb, zero_t)
    video_pos = np.meshgrid(np.arange(3), np.arange(2), np.arange(3), indexing="ij")
    angles = np.concatenate([
        expected_rope_angles(tuple(p.ravel() for p in video_pos), HEAD_DIM),
        expected_rope_angles(reference_positions(1, 3, 2), HEAD_DIM),
    ])
    np.testing.assert_allclose(rope[1][0, :, 0, 0::2].numpy(), np.sin(angles), atol=1e-6)

    # The block by hand: own AdaLN per token set, one joint self-attention, cross-attention for video only.
    table = block.scale_shift_table
    v_shift, v_scale, v_gate, v_cshift, v_cscale, v_cgate = (table + temb)[0]
    r_shift, r_scale, r_gate, r_cshift, r_cscale, r_cgate = (table + ref_temb)[0]
    joint = torch.cat([layer_norm(x[0]) * (1 + v_scale) + v_shift, layer_norm(ref[0]) * (1 + r_scale) + r_shift])
    attn = manual_self_attention(block.attn1, joint, torch.from_numpy(angles))
    hx = x[0] + attn[:18] * v_gate
    hr = ref[0] + attn[18:] * r_gate
    hx = hx + block.attn2(block.norm2(hx)[None], context)[0]
    hx = hx + block.ffn(layer_norm(hx) * (1 + v_cscale) + v_cshift) * v_cgate
    hr = hr + block.ffn(layer_norm(hr) * (1 + r_cscale) + r_cshift) * r_cgate
    torch.testing.assert_close(out_x[0], hx, rtol=1e-4, atol=1e-5)
    torch.testing.assert_close(out_ref[0], hr, rtol=1e-4, atol=1e-5)


@torch.no_grad()
def test_reference_changes_output_and_batch_one_reference_broadcasts():
    _, model = stock_and_ours()
    inputs = make_inputs()
    plain = model(**inputs)[0]
    with_ref = model(**inputs, reference_latents=torch.randn(1, 16, 1, 4, 6))[0]
    assert with_ref.shape == plain.shape and (with_ref - plain).abs().max() > 1e-4

    batched = {k: torch.cat([v, v]) for k, v in inputs.items()}
    reference = torch.randn(1, 16, 1, 4, 6)
    out = model(**batched, reference_latents=reference)[0]
    torch.testing.assert_close(out[0], out[1])
    torch.testing.assert_close(out[:1], model(**inputs, reference_latents=reference)[0], rtol=1e-5, atol=1e-6)


def test_gradient_checkpointing_gives_the_same_output():
    _, model = stock_and_ours()
    inputs = make_inputs()
    reference = torch.randn(1, 16, 1, 4, 6)
    with torch.no_grad():
        expected = model(**inputs, reference_latents=reference)[0]
    model.enable_gradient_checkpointing()
    out = model(**inputs, reference_latents=reference)[0]
    out.sum().backward()
    torch.testing.assert_close(out.detach(), expected)
    assert model.ref_patch_embedding.weight.grad is not None


def test_config_round_trips_through_save_pretrained(tmp_path):
    model = PoseGenTransformer(**TINY, use_hand=False)
    model.save_pretrained(tmp_path)
    loaded = PoseGenTransformer.from_pretrained(tmp_path)
    assert loaded.config.use_hand is False and loaded.config.use_reference is True
    assert loaded.hand_patch_embedding is None
    assert all(torch.equal(a, b) for a, b in zip(model.state_dict().values(), loaded.state_dict().values()))
    assert type(loaded.blocks[0]).__name__ == "PoseGenTransformerBlock"


def test_bad_inputs_name_the_input():
    model = PoseGenTransformer(**TINY, use_reference=False, use_hand=False)
    inputs = make_inputs()
    with pytest.raises(InputError, match="reference_latents"):
        model(**inputs, reference_latents=torch.zeros(1, 16, 1, 4, 6))
    with pytest.raises(InputError, match="hand_latents"):
        model(**inputs, hand_latents=torch.zeros(1, 16, 3, 4, 6))
    with pytest.raises(InputError, match="hidden_states"):
        model(**{**inputs, "hidden_states": torch.zeros(1, 16, 3, 4, 6)})
    full = PoseGenTransformer(**TINY)
    with pytest.raises(InputError, match="reference_latents"):
        full(**inputs, reference_latents=torch.zeros(1, 16, 2, 4, 6))
