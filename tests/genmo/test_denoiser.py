"""GENMO denoiser: shapes, zero-gated start, prompt windows, masks, absent conditions, dropout, config."""

import pytest
import torch
from posemotion.models.core.errors import InputError
from posemotion.models.genmo.conditions import GenmoConditions, TextCondition
from posemotion.models.genmo.denoiser import GenmoConfig, GenmoDenoiser, WindowedTextAttention

TINY = dict(motion_dim=12, width=32, layers=2, heads=2, text_dim=16, window=8, dropout=0.1)


def _model(seed=0, awake=True, **overrides):
    """A tiny denoiser; ``awake`` replaces every all-zero parameter (gates, zero-init layers) by noise
    so that each path really contributes (a trained model's state, not the identity start)."""
    torch.manual_seed(seed)
    model = GenmoDenoiser(GenmoConfig(**{**TINY, **overrides}))
    if awake:
        with torch.no_grad():
            for parameter in model.parameters():
                if (parameter == 0).all():
                    parameter.normal_(0, 0.3)
    return model.eval()


def _text(batch, length, windows, tokens=4, dim=16, seed=0):
    generator = torch.Generator().manual_seed(seed)
    k = len(windows)
    window = torch.zeros(batch, k, length, dtype=torch.bool)
    for slot, (start, end) in enumerate(windows):
        window[:, slot, start:end] = True
    return TextCondition(torch.randn(batch, k, tokens, dim, generator=generator),
                         torch.ones(batch, k, tokens, dtype=torch.bool), window)


def _conditions(batch=2, length=40, text_windows=((0, 40),), seed=0):
    generator = torch.Generator().manual_seed(seed)
    keypoints = torch.rand(batch, length, 17, 3, generator=generator) * 2 - 1
    keypoints[..., 2] = 1.0
    return GenmoConditions(batch, length, text=_text(batch, length, text_windows, seed=seed), keypoints=keypoints,
                           bbox=torch.rand(batch, length, 3, generator=generator),
                           keypoints_mask=torch.ones(batch, length, dtype=torch.bool),
                           music=torch.randn(batch, length, 35, generator=generator),
                           music_mask=torch.ones(batch, length, dtype=torch.bool),
                           frame_mask=torch.ones(batch, length, dtype=torch.bool))


def _inputs(batch=2, length=40, dim=12, seed=0):
    generator = torch.Generator().manual_seed(seed)
    return torch.randn(batch, length, dim, generator=generator), torch.tensor([5, 900])[:batch]


@torch.no_grad()
def test_shapes_and_every_condition_subset():
    model = _model()
    x_t, t = _inputs()
    conditions = _conditions()
    out = model.forward_all(x_t, t, conditions)
    assert out["x0"].shape == (2, 40, 12) and out["hidden"].shape == (2, 40, 32)
    assert out["pred_cam"] is None and out["static_conf_logits"] is None
    for without in [(), ("text",), ("keypoints",), ("music",), ("text", "keypoints", "music")]:
        y = model(x_t, t, conditions.without(*without))
        assert y.shape == (2, 40, 12) and torch.isfinite(y).all()
    assert torch.isfinite(model(x_t, t, GenmoConditions(2, 40))).all()
    assert torch.isfinite(model(x_t[:, :1], t, GenmoConditions(2, 1))).all()
    # each modality changes the prediction of an awake model
    full = model(x_t, t, conditions)
    for name in ("text", "keypoints", "music"):
        assert not torch.allclose(model(x_t, t, conditions.without(name)), full, atol=1e-4), name


@torch.no_grad()
def test_zero_gates_make_a_new_model_ignore_text_and_music():
    model = _model(awake=False)
    x_t, t = _inputs()
    conditions = _conditions()
    full = model(x_t, t, conditions)
    assert torch.equal(model(x_t, t, conditions.without("text")), full)
    assert torch.equal(model(x_t, t, conditions.without("music")), full)  # zero-init exists embedder


@torch.no_grad()
def test_cross_attention_is_zero_outside_each_prompt_window():
    attention = WindowedTextAttention(32, 2, 0.0).eval()
    torch.nn.init.normal_(attention.out_proj.bias)
    x = torch.randn(1, 20, 32)
    tokens = torch.randn(1, 2, 5, 32)
    token_mask = torch.ones(1, 2, 5, dtype=torch.bool)
    token_mask[0, 1, 3:] = False
    windows = torch.zeros(1, 2, 20)
    windows[0, 0, 2:8] = 1
    windows[0, 1, 6:12] = 1
    out = attention(x, tokens, token_mask, windows)
    assert (out[0, :2] == 0).all() and (out[0, 12:] == 0).all() and (out[0, 2:12] != 0).all()
    alone = attention(x, tokens[:, :1], token_mask[:, :1], windows[:, :1])
    assert torch.allclose(out[0, 2:6], alone[0, 2:6], atol=1e-6)  # frames only prompt 0 covers
    changed = tokens.clone()
    changed[0, 1, 3:] = 100.0  # padding tokens are not attended to
    assert torch.allclose(attention(x, changed, token_mask, windows), out, atol=1e-6)


@torch.no_grad()
def test_a_prompt_only_reaches_frames_within_its_window_plus_attention_reach():
    model = _model(window=4)  # frame i sees keys i-2 .. i+1, so each layer carries frame j's change to j+2
    x_t, t = _inputs()
    conditions = _conditions(text_windows=((0, 10), (10, 40)))
    changed_tokens = conditions.text.tokens.clone()
    changed_tokens[:, 0] += 1.0  # the first prompt (frames 0-9) only
    changed = GenmoConditions(**{**conditions.__dict__,
                                 "text": TextCondition(changed_tokens, conditions.text.token_mask,
                                                       conditions.text.windows)})
    before, after = model(x_t, t, conditions), model(x_t, t, changed)
    last_reached = 9 + 2 * model.config.layers
    assert not torch.allclose(before[:, :10], after[:, :10], atol=1e-4)
    assert not torch.allclose(before[:, last_reached], after[:, last_reached], atol=1e-6)
    assert torch.equal(before[:, last_reached + 1:], after[:, last_reached + 1:])


@torch.no_grad()
def test_padding_frames_and_masked_conditions_have_no_effect():
    model = _model(window=0)
    x_t, t = _inputs()
    conditions = _conditions()
    frame_mask = torch.ones(2, 40, dtype=torch.bool)
    frame_mask[:, 30:] = False
    music_mask = torch.ones(2, 40, dtype=torch.bool)
    music_mask[:, 5:15] = False
    padded = GenmoConditions(**{**conditions.__dict__, "frame_mask": frame_mask, "music_mask": music_mask})
    base = model(x_t, t, padded)
    noisy_padding = x_t.clone()
    noisy_padding[:, 30:] = 50.0
    assert torch.allclose(model(noisy_padding, t, padded)[:, :30], base[:, :30], atol=1e-5)
    music = padded.music.clone()
    music[:, 5:15] = 9.0
    assert torch.equal(model(x_t, t, GenmoConditions(**{**padded.__dict__, "music": music})), base)
    keypoints = padded.keypoints.clone()
    keypoints[:, :, 3, 2] = 0.2  # below the confidence threshold: the learned placeholder, whatever x, y
    low = model(x_t, t, GenmoConditions(**{**padded.__dict__, "keypoints": keypoints}))
    keypoints[:, :, 3, :2] = 0.9
    assert torch.equal(model(x_t, t, GenmoConditions(**{**padded.__dict__, "keypoints": keypoints})), low)
    assert not torch.allclose(low, base, atol=1e-4)


def test_dropout_only_in_training():
    model = _model()
    x_t, t = _inputs()
    conditions = _conditions()
    with torch.no_grad():
        assert torch.equal(model(x_t, t, conditions), model(x_t, t, conditions))
        model.train()
        assert not torch.allclose(model(x_t, t, conditions), model(x_t, t, conditions))


@torch.no_grad()
def test_blocked_and_dense_attention_give_the_same_prediction():
    blocked = _model(window=6)
    dense = _model(window=6, attention_impl="dense")
    dense.load_state_dict(blocked.state_dict())
    x_t, t = _inputs()
    conditions = _conditions()
    assert torch.allclose(blocked(x_t, t, conditions), dense(x_t, t, conditions), atol=1e-5)
    assert torch.allclose(blocked(x_t, t, conditions, window=0), dense(x_t, t, conditions, window=0), atol=1e-5)
    assert not torch.allclose(blocked(x_t, t, conditions, window=0), blocked(x_t, t, conditions), atol=1e-4)


def test_config_round_trip_and_gem_sizes():
    config = GenmoConfig.small()
    assert GenmoConfig.from_dict(config.to_dict()) == config
    assert (config.width, config.layers, config.heads, config.window) == (256, 4, 4, 120)
    gem = GenmoConfig.gem()
    assert (gem.motion_dim, gem.width, gem.layers, gem.heads, gem.text_dim) == (151, 1024, 16, 8, 1024)
    with pytest.raises(InputError, match="config"):
        GenmoConfig.from_dict({**config.to_dict(), "depth": 3})


@torch.no_grad()
def test_gem_layout_heads_and_shared_betas():
    model = _model(motion_dim=151, pred_cam_dim=3, static_conf_dim=6, representation="gem_smpl_151")
    x_t, t = _inputs(dim=151)
    out = model.forward_all(x_t, t, _conditions())
    assert out["pred_cam"].shape == (2, 40, 3) and out["static_conf_logits"].shape == (2, 40, 6)
    assert torch.allclose(out["x0"][:, :, 126:136], out["x0"][:, :1, 126:136].expand(2, 40, 10))


def test_bad_inputs_name_themselves():
    model = _model(use_music=False)
    x_t, t = _inputs()
    with pytest.raises(InputError, match="x_t"):
        model(x_t[..., :5], t, GenmoConditions(2, 40))
    with pytest.raises(InputError, match="timesteps"):
        model(x_t, t[:1], GenmoConditions(2, 40))
    with pytest.raises(InputError, match="music"):
        model(x_t, t, _conditions())
    with pytest.raises(InputError, match="text"):
        model(x_t, t, GenmoConditions(2, 40, text=_text(2, 40, ((0, 40),), dim=8)))
    with pytest.raises(InputError, match="config"):
        GenmoDenoiser(GenmoConfig(**{**TINY, "heads": 3}))
    with pytest.raises(InputError, match="representation"):
        GenmoDenoiser(GenmoConfig(**{**TINY, "representation": "smpl_rot6d"}))
    with pytest.raises(InputError, match="window"):
        model(x_t, t, GenmoConditions(2, 40), window=-1)
