"""Forecasting metrics and the Table 1 baselines on synthetic data built here.

Each synthetic sample is a body-shaped joint configuration (OpenPose 18 joints) at a random place
and scale that moves with a constant velocity set by a 2-class "text": class 0 moves right-down,
class 1 the exact opposite, at a speed that varies by +-20% (unpredictable, so no model is exact).
The conditioning tokens carry the class (a class embedding plus noise, with padding that must be
masked out); P0 carries none. Without the conditioning the best guess is the mean motion, i.e.
none, so beating the constant pose proves a model reads the conditioning.
"""

from __future__ import annotations

import json
import math

import pytest
import torch
from posemotion.models.core.errors import InputError
from posemotion.models.forecasting.baselines import (
    BASELINES,
    CausalTransformerForecaster,
    ConstantPose,
    ForecastModel,
    LSTMForecaster,
    NearestNeighbourConditioning,
    NearestNeighbourPose,
    QuantizedTransformerForecaster,
    kmeans_codebook,
)
from posemotion.models.forecasting.metrics import PCK_THRESHOLDS, forecast_metrics, per_timestep_ade
from posemotion.models.forecasting.types import Conditioning, PoseWindows

pytestmark = pytest.mark.usefixtures("one_torch_thread")  # tiny models: a 2nd thread only contends

LAYOUT, J, K, D, N = "openpose_18", 18, 8, 16, 5
ENCODER = "synthetic"
VELOCITY = torch.tensor([[0.012, 0.008], [-0.012, -0.008]])  # per frame, by class


def make_windows(n: int, seed: int, p_invisible: float = 0.05, horizon: int = K) -> tuple[PoseWindows, torch.Tensor]:
    fixed = torch.Generator().manual_seed(1234)  # shared by every split: skeleton and class "texts"
    template = torch.rand(J, 2, generator=fixed) * 0.2 - 0.1
    class_emb = torch.randn(2, D, generator=fixed)
    g = torch.Generator().manual_seed(seed)
    labels = torch.randint(2, (n,), generator=g)
    centre = 0.3 + 0.4 * torch.rand(n, 1, 2, generator=g)
    scale = 0.8 + 0.4 * torch.rand(n, 1, 1, generator=g)
    p0 = centre + template * scale + 0.005 * torch.randn(n, J, 2, generator=g)
    steps = torch.arange(horizon + 1, dtype=torch.float32)[None, :, None, None]
    speed = 0.8 + 0.4 * torch.rand(n, 1, generator=g)  # unpredictable from the inputs
    poses = p0[:, None] + steps * (speed * VELOCITY[labels])[:, None, None, :]
    visible = torch.rand(n, horizon + 1, J, generator=g) >= p_invisible
    visible[:, 0] = True  # nothing can forecast a keypoint missing from P0: keep the comparison clean
    poses = torch.where(visible[..., None], poses, torch.zeros(()))  # invisible keypoints are (0, 0)
    lengths = torch.randint(2, N + 1, (n,), generator=g)
    mask = torch.arange(N)[None] < lengths[:, None]
    tokens = class_emb[labels][:, None] + 0.3 * torch.randn(n, N, D, generator=g)
    tokens = torch.where(mask[..., None], tokens, 5 * torch.randn(n, N, D, generator=g))  # padding: noise
    cond = Conditioning(tokens, mask, ENCODER)
    texts = ["move right" if c == 0 else "move left" for c in labels.tolist()]
    return PoseWindows(poses, visible, cond, texts, [f"clip{i}" for i in range(n)], LAYOUT, 30.0), labels


@pytest.fixture(scope="module")
def data():
    train, train_labels = make_windows(512, seed=0)
    test, test_labels = make_windows(128, seed=1)
    return train, train_labels, test, test_labels


def evaluate(model, windows: PoseWindows, **kwargs) -> dict:
    pred = model.forecast(windows.poses[:, 0], windows.conditioning, windows.horizon, **kwargs)
    assert pred.shape == windows.poses[:, 1:].shape
    return forecast_metrics(pred, windows.poses[:, 1:], windows.visible[:, 1:], PCK_THRESHOLDS[LAYOUT])


def train_generic(model, windows: PoseWindows, steps: int, lr: float, batch: int = 64, seed: int = 0):
    """What the shared training loop does: prepare() if present, then AdamW on minibatch losses."""
    torch.manual_seed(seed)
    if hasattr(model, "prepare"):
        model.prepare(windows)
    opt = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=0.0)
    g = torch.Generator().manual_seed(seed)
    model.train()
    for _ in range(steps):
        loss = model.loss(windows.select(torch.randint(len(windows), (batch,), generator=g)))
        opt.zero_grad()
        loss.backward()
        opt.step()
    return model


# ----------------------------------------------------------------------------------------------
# Metrics


def _metric_case():
    """Three samples, two frames, two joints; targets zero where visible."""
    pred = torch.zeros(3, 2, 2, 2)
    target = torch.zeros(3, 2, 2, 2)
    visible = torch.zeros(3, 2, 2, dtype=torch.bool)
    # sample 0, all visible: distances 0.03, 0 (frame 0) and 0.1, 0.02 (frame 1)
    pred[0, 0, 0] = torch.tensor([0.018, 0.024])
    pred[0, 1, 0] = torch.tensor([0.06, 0.08])
    pred[0, 1, 1] = torch.tensor([0.0, 0.02])
    visible[0] = True
    # sample 1: only frame 0 joint 0 visible (distance 0.2); huge errors and NaN targets elsewhere
    pred[1, 0, 0] = torch.tensor([0.12, 0.16])
    pred[1, 0, 1] = torch.tensor([5.0, 5.0])
    pred[1, 1] = 3.0
    target[1, 1] = float("nan")
    visible[1, 0, 0] = True
    # sample 2: nothing visible, large errors: excluded everywhere
    pred[2] = 1.0
    return pred, target, visible


def test_metrics_hand_computed():
    pred, target, visible = _metric_case()
    m = forecast_metrics(pred, target, visible, pck_threshold=0.05)
    rmse0 = math.sqrt((0.03 ** 2 + 0.1 ** 2 + 0.02 ** 2) / 8)
    rmse1 = math.sqrt(0.2 ** 2 / 2)
    assert m["num_samples"] == 2
    assert m["ADE"] == pytest.approx((0.0375 + 0.2) / 2, abs=1e-7)
    assert m["FDE"] == pytest.approx(0.06, abs=1e-7)  # sample 1 has no visible last frame
    assert m["PCK"] == pytest.approx((0.75 + 0.0) / 2, abs=1e-9)
    assert m["RMSE"] == pytest.approx((rmse0 + rmse1) / 2, abs=1e-7)
    ade_t = per_timestep_ade(pred, target, visible)
    assert ade_t.shape == (2,)
    assert ade_t.tolist() == pytest.approx([(0.015 + 0.2) / 2, 0.06], abs=1e-7)
    assert float(ade_t[-1]) == pytest.approx(m["FDE"])


def test_metrics_uniform_error_and_thresholds():
    target = torch.rand(4, 3, 5, 2)
    visible = torch.ones(4, 3, 5, dtype=torch.bool)
    m = forecast_metrics(target + 0.01, target, visible, 0.05)
    assert m["RMSE"] == pytest.approx(0.01, abs=1e-6)
    assert m["ADE"] == pytest.approx(0.01 * math.sqrt(2), abs=1e-6)
    assert m["FDE"] == pytest.approx(m["ADE"], abs=1e-6) and m["PCK"] == 1.0
    assert forecast_metrics(target + 0.1, target, visible, 0.05)["PCK"] == 0.0
    assert PCK_THRESHOLDS == {"openpose_18": 0.05, "hand_21": 0.15}


def test_metrics_reject_bad_input():
    pred, target, visible = _metric_case()
    with pytest.raises(InputError) as err:
        forecast_metrics(pred[:, :1], target, visible, 0.05)
    assert err.value.input_name == "pred"
    bad = pred.clone()
    bad[0, 0, 0, 0] = float("nan")
    with pytest.raises(InputError) as err:
        forecast_metrics(bad, target, visible, 0.05)
    assert err.value.input_name == "pred"
    with pytest.raises(InputError) as err:
        per_timestep_ade(bad, target, visible)
    assert err.value.input_name == "pred"
    with pytest.raises(InputError) as err:
        forecast_metrics(pred, target, visible.float(), 0.05)
    assert err.value.input_name == "visible"
    with pytest.raises(InputError):
        forecast_metrics(pred, target, torch.zeros_like(visible), 0.05)


# ----------------------------------------------------------------------------------------------
# Nearest neighbours


def test_nn_pose_relative_transfer_exact():
    train, _ = make_windows(64, seed=3, p_invisible=0.0)
    model = NearestNeighbourPose()
    model.fit(train)
    rows = torch.tensor([0, 7, 33])
    query = train.poses[rows, 0] + torch.tensor([0.001, -0.002])
    cond = train.conditioning.select(rows)
    assert model.neighbours(query, cond).tolist() == rows.tolist()
    motion = train.poses[rows, 1:] - train.poses[rows, :1]
    torch.testing.assert_close(model.forecast(query, cond, K), query[:, None] + motion)
    torch.testing.assert_close(model.forecast(query, cond, 3), query[:, None] + motion[:, :3])
    padded = model.forecast(query, cond, K + 3)
    torch.testing.assert_close(padded[:, K:], (query[:, None] + motion[:, -1:]).expand(-1, 3, -1, -1))


def test_nn_pose_uses_only_visible_keypoints():
    train, _ = make_windows(64, seed=3, p_invisible=0.0)
    # window 5's P0 loses joint 2 (invisible, stored as (0, 0)): it must still match on the others
    poses, visible = train.poses.clone(), train.visible.clone()
    poses[5, 0, 2], visible[5, 0, 2] = 0.0, False
    train = PoseWindows(poses, visible, train.conditioning, train.texts, train.clips, LAYOUT, 30.0)
    model = NearestNeighbourPose()
    model.fit(train)
    query = train.poses[[5, 9], 0].clone()
    query[0, 2] = train.poses[[5], 1, 2]  # any value: window 5 does not see it
    query[1, 4] = 0.0  # the query's own invisible joint
    query_visible = torch.ones(2, J, dtype=torch.bool)
    query_visible[1, 4] = False
    assert model.neighbours(query, train.conditioning.select([5, 9]), initial_visible=query_visible).tolist() == [5, 9]
    # joint 2 of window 5 has no P0 position: its displacement is zero, the query's joint stays
    out = model.forecast(query, train.conditioning.select([5, 9]), K, initial_visible=query_visible)
    torch.testing.assert_close(out[0, :, 2], query[0, 2].expand(K, 2))


def test_nn_conditioning_picks_the_matching_class(data):
    train, train_labels, test, test_labels = data
    model = NearestNeighbourConditioning()
    model.fit(train)
    index = model.neighbours(test.poses[:, 0], test.conditioning)
    assert torch.equal(train_labels[index], test_labels)
    # reading the text gets the motion right; the pose alone cannot
    const = evaluate(ConstantPose(), test)
    nn_vl = evaluate(model, test)
    nn_p = NearestNeighbourPose()
    nn_p.fit(train)
    assert nn_vl["ADE"] < 0.4 * const["ADE"]
    assert evaluate(nn_p, test)["ADE"] > 0.7 * const["ADE"]


def test_nn_conditioning_tie_break_and_encoder_check():
    train, _ = make_windows(3, seed=4, p_invisible=0.0)
    same = train.conditioning.tokens[:1].expand(3, -1, -1).clone()
    cond = Conditioning(same, train.conditioning.mask[:1].expand(3, -1).clone(), ENCODER)
    train = PoseWindows(train.poses, train.visible, cond, train.texts, train.clips, LAYOUT, 30.0)
    model = NearestNeighbourConditioning()
    model.fit(train)
    query = train.poses[[2, 1], 0] + 0.001
    assert model.neighbours(query, cond.select([0, 0])).tolist() == [2, 1]
    other = Conditioning(cond.tokens[:2], cond.mask[:2], "another-encoder")
    with pytest.raises(InputError) as err:
        model.forecast(query, other, K)
    assert err.value.input_name == "conditioning"


# ----------------------------------------------------------------------------------------------
# Neural baselines


SMALL_TF = dict(d_model=32, num_layers=2, num_heads=4, ffn_dim=64, dropout=0.0, max_len=16)


def _check_rebuild(model, test: PoseWindows):
    config = json.loads(json.dumps(model.config))
    for key in ("layout", "num_joints", "cond_dim", "encoder"):
        assert key in config
    rebuilt = BASELINES[model.name](**config)
    rebuilt.load_state_dict(model.state_dict())
    args = (test.poses[:8, 0], test.conditioning.select(list(range(8))), K)
    torch.testing.assert_close(rebuilt.forecast(*args), model.forecast(*args))


def test_lstm_learns_the_conditioned_motion(data):
    train, _, test, _ = data
    torch.manual_seed(0)
    model = LSTMForecaster(LAYOUT, J, D, ENCODER, hidden_size=64, num_layers=1, cond_proj_dim=16)
    train_generic(model, train, steps=150, lr=3e-3)
    const, ade = evaluate(ConstantPose(), test)["ADE"], evaluate(model, test)["ADE"]
    assert ade < 0.4 * const, (ade, const)
    _check_rebuild(model, test)


def test_causal_transformer_learns_the_conditioned_motion(data):
    train, _, test, _ = data
    torch.manual_seed(0)
    model = CausalTransformerForecaster(LAYOUT, J, D, ENCODER, **SMALL_TF)
    train_generic(model, train, steps=150, lr=3e-3)
    const, ade = evaluate(ConstantPose(), test)["ADE"], evaluate(model, test)["ADE"]
    assert ade < 0.4 * const, (ade, const)
    _check_rebuild(model, test)


def test_quantized_transformer_learns_the_conditioned_motion(data):
    train, _, test, _ = data
    torch.manual_seed(0)
    model = QuantizedTransformerForecaster(LAYOUT, J, D, ENCODER, num_codes=32, **SMALL_TF)
    with pytest.raises(RuntimeError):
        model.loss(train.select(list(range(4))))
    train_generic(model, train, steps=150, lr=3e-3)
    const, ade = evaluate(ConstantPose(), test)["ADE"], evaluate(model, test)["ADE"]
    assert ade < 0.4 * const, (ade, const)
    _check_rebuild(model, test)


@pytest.mark.parametrize("cls", [CausalTransformerForecaster, QuantizedTransformerForecaster])
def test_autoregressive_inference_makes_one_full_decoder_call_per_frame(cls, data):
    train, _, test, _ = data
    torch.manual_seed(0)
    model = cls(LAYOUT, J, D, ENCODER, **SMALL_TF)
    if hasattr(model, "prepare"):
        model.prepare(train)
    lengths = []
    handle = model.decoder.register_forward_hook(lambda mod, args, out: lengths.append(args[0].shape[1]))
    horizon = 7
    no_cache = {"use_cache": False} if cls is CausalTransformerForecaster else {}  # its default path is cached
    out = model.forecast(test.poses[:4, 0], test.conditioning.select([0, 1, 2, 3]), horizon, **no_cache)
    handle.remove()
    assert out.shape == (4, horizon, J, 2)
    assert lengths == list(range(1, horizon + 1))  # the whole growing prefix each step, no cache
    with pytest.raises(InputError) as err:
        model.forecast(test.poses[:4, 0], test.conditioning.select([0, 1, 2, 3]), SMALL_TF["max_len"] + 1)
    assert err.value.input_name == "horizon"


def test_causal_transformer_teacher_forcing_is_causal(data):
    _, _, test, _ = data
    torch.manual_seed(0)
    model = CausalTransformerForecaster(LAYOUT, J, D, ENCODER, **SMALL_TF).eval()
    torch.nn.init.normal_(model.head.weight, std=0.1)  # the zero-initialised head would hide the mixing
    poses = test.poses[:4, :K]
    cond = test.conditioning.select([0, 1, 2, 3])
    changed = poses.clone()
    changed[:, 5:] += 0.1
    with torch.no_grad():
        a, b = model.teacher_forced(poses, cond), model.teacher_forced(changed, cond)
    torch.testing.assert_close(a[:, :5], b[:, :5], atol=1e-6, rtol=0)
    assert (a[:, 5:] - b[:, 5:]).abs().amax() > 1e-3


def test_quantization_error_falls_with_more_codes(data):
    train, _, test, _ = data
    errors = []
    for codes in (4, 16, 64):
        model = QuantizedTransformerForecaster(LAYOUT, J, D, ENCODER, num_codes=codes, **SMALL_TF)
        model.prepare(train)
        errors.append(model.codebook_error(test))
    assert errors[0] > errors[1] > errors[2], errors
    again = QuantizedTransformerForecaster(LAYOUT, J, D, ENCODER, num_codes=64, **SMALL_TF)
    again.prepare(train)
    assert torch.equal(again.codebook, model.codebook)  # deterministic for a seed


def test_kmeans_ignores_invisible_keypoints():
    # two clusters of displacements; the invisible coordinates are wild and must not pull centroids
    g = torch.Generator().manual_seed(0)
    points = torch.cat([torch.full((50, 3, 2), 0.1), torch.full((50, 3, 2), -0.1)])
    points = points + 0.001 * torch.randn(100, 3, 2, generator=g)
    valid = torch.rand(100, 3, generator=g) > 0.2
    valid[:, 0] = True
    points = torch.where(valid[..., None], points, torch.full((), 9.0))
    codes = kmeans_codebook(points, valid, 2, seed=0)
    centres = sorted(codes.mean(dim=(1, 2)).tolist())
    assert centres == pytest.approx([-0.1, 0.1], abs=0.005)


def test_models_share_the_interface_and_validate(data):
    train, _, test, _ = data
    assert set(BASELINES) == {"nn_p", "nn_vl", "lstm", "transformer_ntp", "quant_tf"}
    lstm = LSTMForecaster(LAYOUT, J, D, ENCODER, hidden_size=16, num_layers=1)
    for model in (ConstantPose(), NearestNeighbourPose(), NearestNeighbourConditioning(), lstm):
        assert isinstance(model, ForecastModel)
    with pytest.raises(InputError) as err:
        LSTMForecaster(LAYOUT, 21, D, ENCODER)
    assert err.value.input_name == "num_joints"
    with pytest.raises(InputError) as err:
        lstm.forecast(test.poses[:2, 0, :5], test.conditioning.select([0, 1]), K)
    assert err.value.input_name == "initial_pose"
    with pytest.raises(InputError) as err:
        lstm.forecast(test.poses[:2, 0], test.conditioning.select([0, 1]), 0)
    assert err.value.input_name == "horizon"
    other = Conditioning(test.conditioning.tokens, test.conditioning.mask, "another-encoder")
    wrong = PoseWindows(test.poses, test.visible, other, test.texts, test.clips, LAYOUT, 30.0)
    with pytest.raises(InputError):
        lstm.loss(wrong)
