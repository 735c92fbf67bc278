"""The one-stage forecaster, its loss, checkpoints and the forecasting input checks."""

import json
import math

import numpy as np
import pytest
import torch
from posemotion.models.core.errors import InputError, ModelFileError
from posemotion.models.core.pose_keypoint import make_frame, make_person
from posemotion.models.forecasting.inference import forecast_pose_keypoint, initial_pose
from posemotion.models.forecasting.losses import masked_mse, relative_pose_loss
from posemotion.models.forecasting.model import OneStageForecaster
from posemotion.models.forecasting.pose_frame import from_pose_frame, p0_box, to_pose_frame
from posemotion.models.forecasting.training import load_forecaster, save_forecaster, train_model
from posemotion.models.forecasting.types import Conditioning, PoseWindows
from safetensors.torch import load_file, save_file


def _conditioning(batch, tokens=3, dim=8, encoder="test-encoder", value=None):
    data = torch.randn(batch, tokens, dim) if value is None else value
    return Conditioning(data, torch.ones(batch, tokens, dtype=torch.bool), encoder)


def _model(**overrides):
    config = dict(num_joints=5, cond_dim=8, layout="test", encoder="test-encoder", max_horizon=12,
                  d_model=32, num_layers=2, num_heads=2, ffn_dim=64, dropout=0.0, output="displacements")
    config.update(overrides)
    return OneStageForecaster(**config)


def test_relative_loss_by_hand():
    target = torch.tensor([[[[0.0, 0.0], [1.0, 0.0], [0.0, 0.0]]]])  # [B=1, k=1, J=3, 2]
    pred = torch.tensor([[[[0.0, 0.0], [0.0, 2.0], [5.0, 5.0]]]])
    visible = torch.tensor([[[True, True, False]]])
    # one visible pair (both orders, averaged): distance |1 - 2| and direction |(1,0) - (0,1)| = sqrt(2)
    expected = 1.0 + math.sqrt(2)
    assert relative_pose_loss(pred, target, visible).item() == pytest.approx(expected, rel=1e-5)
    assert relative_pose_loss(pred, target, visible, alpha=0.0).item() == pytest.approx(math.sqrt(2), rel=1e-5)
    assert relative_pose_loss(target, target, visible).item() == pytest.approx(0.0, abs=1e-6)
    assert masked_mse(pred, target, visible).item() == pytest.approx((1 + 4) / 4)


def test_one_forward_pass_and_starts_still():
    model = _model().eval()
    p0 = torch.rand(2, 5, 2)
    calls = []
    model.decoder.register_forward_hook(lambda *args: calls.append(1))
    out = model.forecast(p0, _conditioning(2), 12)
    assert out.shape == (2, 12, 5, 2) and len(calls) == 1
    torch.testing.assert_close(out, p0[:, None].expand(-1, 12, -1, -1))  # zero-initialised head: no motion yet


def test_attention_is_not_causal():
    """A later row's position changes earlier outputs: every row sees every other (Eq. 1, non-masked)."""
    model = _model().eval()
    torch.nn.init.normal_(model.head.weight, std=0.1)
    p0, cond = torch.rand(1, 5, 2), _conditioning(1)
    before = model.forecast(p0, cond, 6)
    with torch.no_grad():  # a random change: a constant shift would vanish in the pre-attention LayerNorm
        model.positions[6] += torch.randn(model.positions.shape[1])
    after = model.forecast(p0, cond, 6)
    assert not torch.allclose(before[:, 0], after[:, 0])


def _synthetic(samples=256, horizon=12, seed=0):
    """Two actions: joints drift right or up; the text tokens say which."""
    gen = torch.Generator().manual_seed(seed)
    label = torch.randint(0, 2, (samples,), generator=gen)
    p0 = torch.rand(samples, 5, 2, generator=gen) * 0.5 + 0.25
    step = torch.stack([torch.tensor([0.01, 0.0]), torch.tensor([0.0, 0.01])])[label]
    t = torch.arange(horizon + 1).float()
    poses = p0[:, None] + t[None, :, None, None] * step[:, None, None, :]
    tokens = torch.zeros(samples, 2, 8)
    tokens[torch.arange(samples), 0, label] = 1.0
    cond = Conditioning(tokens, torch.ones(samples, 2, dtype=torch.bool), "test-encoder")
    visible = torch.ones(samples, horizon + 1, 5, dtype=torch.bool)
    return PoseWindows(poses, visible, cond, ["x"] * samples, [str(i) for i in range(samples)], "test", 30.0)


def test_training_learns_text_conditioned_motion():
    train, test = _synthetic(seed=0), _synthetic(samples=64, seed=1)
    model = _model(dropout=0.0)
    train_model(model, train, steps=300, batch_size=32, lr=2e-3)
    pred = model.forecast(test.poses[:, 0], test.conditioning, 12)
    error = (pred - test.poses[:, 1:]).norm(dim=-1).mean().item()
    still = (test.poses[:, :1] - test.poses[:, 1:]).norm(dim=-1).mean().item()
    assert error < 0.25 * still


def test_checkpoint_round_trip_and_mismatch(tmp_path):
    model = _model().eval()
    torch.nn.init.normal_(model.head.weight, std=0.1)
    weights, config = save_forecaster(model, str(tmp_path / "f.safetensors"), {"steps": 1})
    assert json.loads(open(config).read())["kind"] == "one_stage"
    loaded = load_forecaster(weights)
    p0, cond = torch.rand(1, 5, 2), _conditioning(1)
    torch.testing.assert_close(loaded.forecast(p0, cond, 4), model.forecast(p0, cond, 4))
    other = _model(d_model=16, num_heads=2, ffn_dim=32)
    save_forecaster(other, str(tmp_path / "g.safetensors"))
    save_file(load_file(str(tmp_path / "g.safetensors")), str(tmp_path / "h.safetensors"),
              metadata={"posemotion": json.dumps({"kind": "one_stage", "config": model.config})})
    with pytest.raises(ModelFileError, match="weights do not match its config"):
        load_forecaster(str(tmp_path / "h.safetensors"))
    with pytest.raises(ModelFileError, match="not found"):
        load_forecaster(str(tmp_path / "missing.safetensors"))
    (tmp_path / "junk.safetensors").write_bytes(b"junk")
    with pytest.raises(ModelFileError, match="not a PoseMotion forecaster checkpoint"):
        load_forecaster(str(tmp_path / "junk.safetensors"))


def test_forecast_input_checks():
    model = _model()
    p0 = torch.rand(1, 5, 2)
    with pytest.raises(InputError, match="horizon: expected 1..12"):
        model.forecast(p0, _conditioning(1), 0)
    with pytest.raises(InputError, match="horizon: expected 1..12"):
        model.forecast(p0, _conditioning(1), 13)
    with pytest.raises(InputError, match="initial_pose: contains NaN"):
        model.forecast(torch.full((1, 5, 2), float("nan")), _conditioning(1), 3)
    with pytest.raises(InputError, match=r"initial_pose: expected \[B, 5, 2\]"):
        model.forecast(torch.rand(1, 18, 2), _conditioning(1), 3)
    with pytest.raises(InputError, match="conditioning: features come from encoder 'blip:x'"):
        model.forecast(p0, _conditioning(1, encoder="blip:x"), 3)


def _body_frame(visible=18, width=64, height=48):
    body = np.zeros((18, 3), np.float32)
    body[:visible] = np.column_stack([np.linspace(0.2, 0.8, visible), np.full(visible, 0.5), np.ones(visible)])
    return [make_frame([make_person(body=body)], width, height)]


def test_pose_keypoint_forecast_and_errors():
    model = _model(num_joints=18, layout="openpose_18", max_horizon=10)
    frames = forecast_pose_keypoint(model, _conditioning(1), _body_frame(visible=12), 10)
    assert len(frames) == 11 and frames[0]["canvas_width"] == 64
    body = np.asarray(frames[5]["people"][0]["pose_keypoints_2d"]).reshape(18, 3)
    assert (body[:12, 2] == 1).all() and (body[12:] == 0).all()  # unseen keypoints stay missing
    with pytest.raises(InputError, match="no person found in the image: connect a POSE_KEYPOINT with a manual"):
        initial_pose([make_frame([], 64, 48)], "openpose_18")
    hand_only = [make_frame([make_person(right_hand=np.ones((21, 3)) * 0.5)], 64, 48)]
    with pytest.raises(InputError, match="forecasts openpose_18 keypoints"):
        initial_pose(hand_only, "openpose_18")
    with pytest.raises(InputError, match="only 2 keypoints are visible"):
        initial_pose(_body_frame(visible=2), "openpose_18")
    hand = initial_pose(hand_only, "hand_21")[0]
    assert hand.shape == (1, 21, 2)


def test_pose_frame_round_trip_and_scale_invariance():

    poses = torch.rand(3, 4, 5, 2)
    visible = torch.ones(3, 4, 5, dtype=torch.bool)
    visible[0, :, 4] = False
    box = p0_box(poses[:, 0], visible[:, 0])
    framed = to_pose_frame(poses, visible, box)
    assert (framed[0, :, 4] == 0).all()  # unseen keypoints stay 0
    torch.testing.assert_close(from_pose_frame(framed, box)[visible], poses[visible])
    small = poses * 0.25 + 0.6  # the same motion, smaller and elsewhere in the image
    torch.testing.assert_close(to_pose_frame(small, visible, p0_box(small[:, 0], visible[:, 0])), framed)
