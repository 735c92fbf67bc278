"""The bone-consistent one-stage head, the bone-length metric and the bone-direction loss."""

import json
import math

import pytest
import torch
from posemotion.models.core.errors import InputError
from posemotion.models.forecasting.bones import F_MAX, bone_tree, rest_pose
from posemotion.models.forecasting.losses import bone_direction_loss, spectrum_loss
from posemotion.models.forecasting.metrics import (
    BONE_RATIO_HIGH,
    bone_length_ratios,
    bone_length_summary,
)
from posemotion.models.forecasting.model import OneStageForecaster
from posemotion.models.forecasting.pose_frame import from_pose_frame, p0_box, to_pose_frame
from posemotion.models.forecasting.training import load_forecaster, save_forecaster
from posemotion.models.forecasting.types import Conditioning, PoseWindows
from safetensors.torch import load_file, save_file

JOINTS = {"openpose_18": 18, "hand_21": 21}


def _model(layout="openpose_18", **overrides):
    config = dict(num_joints=JOINTS[layout], cond_dim=8, layout=layout, encoder="test-encoder", max_horizon=10,
                  d_model=32, num_layers=2, num_heads=2, ffn_dim=64, dropout=0.0)
    return OneStageForecaster(**{**config, **overrides})


def _query(batch, joints, seed=0, seen=0.7):
    """Random P0s in image coordinates with some unseen joints (held at (0, 0)), conditioning, aspect."""
    gen = torch.Generator().manual_seed(seed)
    p0 = torch.rand(batch, joints, 2, generator=gen) * 0.6 + 0.2
    visible = torch.rand(batch, joints, generator=gen) < seen
    visible[:, :3] = True
    p0 = torch.where(visible[..., None], p0, torch.zeros(()))
    cond = Conditioning(torch.randn(batch, 3, 8, generator=gen), torch.ones(batch, 3, dtype=torch.bool), "test-encoder")
    aspect = torch.rand(batch, generator=gen) * 1.5 + 0.5  # portrait to wide canvases
    return p0, visible, cond, aspect


def _randomise(model, std=2.0):
    """Large random head weights: rotations of several radians and factors pushed to their bounds."""
    torch.manual_seed(1)
    torch.nn.init.normal_(model.head.weight, std=std)
    torch.nn.init.normal_(model.head.bias, std=std)
    return model.eval()


@pytest.mark.parametrize("layout", ["openpose_18", "hand_21"])
def test_untrained_bone_model_stays_still_exactly(layout):
    model = _model(layout).eval()
    p0, visible, cond, aspect = _query(4, JOINTS[layout])
    out = model.forecast(p0, cond, 10, initial_visible=visible, aspect=aspect)
    still = p0[:, None].expand_as(out)
    assert torch.equal(out.transpose(1, 2)[visible], still.transpose(1, 2)[visible])
    assert model.config["output"] == "bones" and model.head.out_features == 2 + 2 * bone_tree(layout).num_bones


@pytest.mark.parametrize("layout", ["openpose_18", "hand_21"])
def test_bones_never_exceed_f_max_in_image_coordinates(layout):
    p0, visible, cond, aspect = _query(64, JOINTS[layout], seed=2)
    box = p0_box(p0, visible)  # the model runs in the P0-box frame, the bound is checked in image units
    framed = to_pose_frame(p0, visible, box)
    ratios = {}
    for output in ("bones", "displacements"):
        model = _randomise(_model(layout, output=output), std=2.0 if output == "bones" else 0.1)
        pred = from_pose_frame(model.forecast(framed, cond, 10, initial_visible=visible, aspect=aspect), box)
        ratios[output] = bone_length_ratios(pred, p0, visible, layout, aspect)
    bones = bone_length_summary(ratios["bones"])
    assert bones["bone_frames"] > 1000 and bones["above_1.1"] == 0.0
    assert F_MAX * 0.99 < bones["max_ratio"] <= BONE_RATIO_HIGH  # factors reach their bound, and no further
    assert bone_length_summary(ratios["displacements"])["above_1.1"] > 0.5  # free displacements stretch bones
    # measured with the wrong aspect, rotated bones would change length: the model really works in image units
    wrong = from_pose_frame(_randomise(_model(layout)).forecast(framed, cond, 10, visible, aspect * 0 + 1), box)
    assert bone_length_summary(bone_length_ratios(wrong, p0, visible, layout, aspect))["above_1.1"] > 0.05


def test_gradients_flow_through_the_bone_head():
    model = _model()
    p0, visible, cond, aspect = _query(8, 18, seed=3)
    future = p0[:, None] + 0.02 * torch.randn(8, 4, 18, 2)
    poses = torch.cat([p0[:, None], future], 1)
    windows = PoseWindows(poses, visible[:, None].expand(-1, 5, -1).clone(), cond, ["x"] * 8,
                          [str(i) for i in range(8)], "openpose_18", 30.0)
    model.loss(windows).backward()
    assert model.head.weight.grad.abs().sum() > 0 and torch.isfinite(model.head.weight.grad).all()
    with_direction = _model(direction_weight=1.0)  # the same weights, plus the bone-direction term
    with_direction.load_state_dict(_randomise(model, std=0.1).state_dict())
    with_direction.train()
    assert with_direction.loss(windows) > model.train().loss(windows)
    with_direction.loss(windows).backward()
    for name in ("pose_in.weight", "decoder.layers.0.self_attn.in_proj_weight", "cond_in.weight", "placeholder"):
        grad = with_direction.get_parameter(name).grad
        assert grad is not None and grad.abs().sum() > 0 and torch.isfinite(grad).all(), name


@pytest.mark.parametrize("output", ["bones", "displacements"])
def test_checkpoints_of_both_outputs_round_trip(tmp_path, output):
    model = _randomise(_model(output=output), std=0.3)
    weights, _ = save_forecaster(model, str(tmp_path / f"{output}.safetensors"), {"steps": 1})
    loaded = load_forecaster(weights)
    assert loaded.config["output"] == output
    p0, visible, cond, aspect = _query(2, 18)
    torch.testing.assert_close(loaded.forecast(p0, cond, 6, visible, aspect), model.forecast(p0, cond, 6, visible, aspect))


def test_checkpoints_from_before_the_bone_head_load_and_forecast_as_before(tmp_path):
    """A file whose config predates ``output`` (like the first bundled checkpoint) loads as the paper's
    displacement head, and forecasts the figures recorded with the code before the bone head existed
    (same seeded weights)."""
    config = dict(num_joints=18, cond_dim=8, layout="openpose_18", encoder="test-encoder", max_horizon=10,
                  d_model=32, num_layers=2, num_heads=2, ffn_dim=64, dropout=0.0)
    torch.manual_seed(0)
    model = OneStageForecaster(**config, output="displacements").eval()
    torch.nn.init.normal_(model.head.weight, std=0.1)
    weights, _ = save_forecaster(model, str(tmp_path / "new.safetensors"))
    legacy = str(tmp_path / "legacy.safetensors")
    save_file(load_file(weights), legacy, metadata={"posemotion": json.dumps({"kind": "one_stage", "config": config})})
    loaded = load_forecaster(legacy)
    assert loaded.config["output"] == "displacements" and loaded.head.out_features == 36
    gen = torch.Generator().manual_seed(0)
    p0 = torch.rand(2, 18, 2, generator=gen)
    cond = Conditioning(torch.randn(2, 3, 8, generator=gen), torch.ones(2, 3, dtype=torch.bool), "test-encoder")
    out = loaded.forecast(p0, cond, 10)
    torch.testing.assert_close(out[1, 9, 4], torch.tensor([0.28321772813796997, 0.09638340771198273]))
    torch.testing.assert_close(out[0, 3, 7], torch.tensor([-0.08958691358566284, -0.2991618514060974]))
    assert out.sum().item() == pytest.approx(319.52703857421875, abs=1e-3)


def test_unseen_joints_rest_at_canonical_proportions():
    """Only the neck and shoulders seen: the right elbow hangs one canonical upper arm (0.6 torso) below its
    shoulder, the torso (1.0) measured from the shoulder width (0.76 torso); the root rests at the neck."""
    p0 = torch.zeros(1, 18, 2)
    p0[0, 1], p0[0, 2], p0[0, 5] = torch.tensor([0.5, 0.3]), torch.tensor([0.31, 0.3]), torch.tensor([0.69, 0.3])
    visible = torch.zeros(1, 18, dtype=torch.bool)
    visible[0, [1, 2, 5]] = True
    tree = bone_tree("openpose_18")
    rest, v0 = rest_pose(p0, visible, tree)
    torso = 0.38 / 0.76
    torch.testing.assert_close(rest[0, 3], torch.tensor([0.31, 0.3 + 0.6 * torso]))
    torch.testing.assert_close(rest[0, 13], torch.tensor([0.5 + 0.18 * torso, 0.3 + (1.0 + 0.9 + 0.85) * torso]))
    torch.testing.assert_close(v0[0, tree.bones.index((1, 2))], torch.tensor([-0.19, 0.0]))
    hidden_neck = visible.clone()
    hidden_neck[0, 1] = False  # an unseen root rests at the mean of the seen joints
    torch.testing.assert_close(rest_pose(p0, hidden_neck, tree)[0][0, 1], torch.tensor([0.5, 0.3]))


def test_bone_output_needs_a_skeleton():
    with pytest.raises(InputError, match="layout: no skeleton tree for layout 'test'"):
        OneStageForecaster(num_joints=5, cond_dim=8, layout="test", encoder="e")
    with pytest.raises(InputError, match="output: expected one of"):
        _model(output="angles")
    with pytest.raises(InputError, match="aspect: expected a positive"):
        p0, visible, cond, _ = _query(1, 18)
        _model().forecast(p0, cond, 3, visible, aspect=-1.0)


def _body(points: dict) -> torch.Tensor:
    pose = torch.zeros(18, 2)
    for joint, xy in points.items():
        pose[joint] = torch.tensor(xy)
    return pose


def test_bone_length_ratios_by_hand():
    # neck (1) -> right shoulder (2): 0.1 across; neck -> nose (0): 0.1 down; the rest unseen at P0
    initial = _body({1: (0.5, 0.5), 2: (0.4, 0.5), 0: (0.5, 0.4)})[None]
    visible = torch.zeros(1, 18, dtype=torch.bool)
    visible[0, [0, 1, 2]] = True
    frames = torch.stack([_body({1: (0.5, 0.5), 2: (0.3, 0.5), 0: (0.5, 0.4)}),  # shoulder twice as far
                          _body({1: (0.5, 0.5), 2: (0.5, 0.6), 0: (0.5, 0.48)})])[None]  # turned down; nose close
    bones = bone_tree("openpose_18").bones
    shoulder, nose = bones.index((1, 2)), bones.index((1, 0))
    ratios = bone_length_ratios(frames, initial, visible, "openpose_18")
    assert ratios.shape == (1, 2, 17) and torch.isnan(ratios).sum() == 2 * 15  # only 2 bones seen at P0
    assert ratios[0, 0, shoulder].item() == pytest.approx(2.0) and ratios[0, 0, nose].item() == pytest.approx(1.0)
    assert ratios[0, 1, shoulder].item() == pytest.approx(1.0) and ratios[0, 1, nose].item() == pytest.approx(0.2)
    # on a canvas twice as wide as tall, the 0.1-wide shoulder is 0.2 long: turned to 0.1 down it halves
    assert bone_length_ratios(frames, initial, visible, "openpose_18", 2.0)[0, 1, shoulder].item() == pytest.approx(0.5)
    unseen = torch.ones(1, 2, 18, dtype=torch.bool)
    unseen[0, 1, 0] = False  # the nose is not seen in the second frame: that bone-frame drops out
    masked = bone_length_ratios(frames, initial, visible, "openpose_18", visible=unseen)
    assert torch.isnan(masked[0, 1, nose]) and masked[0, 1, shoulder].item() == pytest.approx(1.0)
    summary = bone_length_summary(ratios)
    assert summary == {"above_1.1": 0.25, "below_0.3": 0.25, "max_ratio": pytest.approx(2.0), "bone_frames": 4}
    assert math.isnan(bone_length_summary(ratios[:, :, 5:])["above_1.1"])
    with pytest.raises(InputError, match="visible_initial"):
        bone_length_ratios(frames, initial, visible.float(), "openpose_18")
    with pytest.raises(InputError, match="layout"):
        bone_length_ratios(frames, initial, visible, "smpl_22")


def test_bone_direction_loss_by_hand():
    target = torch.zeros(1, 1, 18, 2)
    target[..., 2, 0] = -1.0  # right shoulder left of the neck
    pred = torch.zeros(1, 1, 18, 2)
    pred[..., 2, 1] = 3.0  # below the neck: perpendicular, and length does not matter
    visible = torch.zeros(1, 1, 18, dtype=torch.bool)
    visible[..., [1, 2]] = True
    bones = bone_tree("openpose_18").bones
    assert bone_direction_loss(pred, target, visible, bones).item() == pytest.approx(1.0)
    assert bone_direction_loss(target * 2, target, visible, bones).item() == pytest.approx(0.0, abs=1e-6)
    assert bone_direction_loss(-target, target, visible, bones).item() == pytest.approx(2.0)


def _waving_forearm(phase: float, amplitude: float = 0.1, frames: int = 45) -> torch.Tensor:
    """[1, frames, 18, 2]: a still body whose right wrist swings side to side at 2 Hz (30 fps)."""
    pose = rest_pose(torch.rand(1, 18, 2) * 0.5 + 0.25, torch.ones(1, 18, dtype=torch.bool),
                     bone_tree("openpose_18"))[0].expand(frames, -1, -1).clone()
    t = torch.arange(frames) / 30.0
    pose[:, 4, 0] += amplitude * torch.sin(2 * math.pi * 2.0 * t + phase)  # OpenPose-18 right wrist
    return pose[None]


def test_the_spectrum_term_asks_for_the_oscillation_but_not_for_its_phase():
    bones, seen = bone_tree("openpose_18").bones, torch.ones(1, 45, 18, dtype=torch.bool)
    truth = _waving_forearm(phase=0.0)
    out_of_phase = _waving_forearm(phase=2.0)
    mean_of_phases = (truth + _waving_forearm(phase=math.pi)) / 2  # what a single regressed guess learns
    same = spectrum_loss(out_of_phase, truth, seen, bones, max_bin=6)
    still = spectrum_loss(mean_of_phases, truth, seen, bones, max_bin=6)
    assert same < 1e-5 < still
    # a bone unseen in one frame is not judged; nothing seen -> 0 with a graph
    seen[:, 10, 4] = False
    assert spectrum_loss(mean_of_phases, truth, seen, bones, max_bin=6) < still
    assert spectrum_loss(mean_of_phases, truth, torch.zeros_like(seen), bones, max_bin=6) == 0


@pytest.mark.parametrize("name", ["spectrum_weight", "direction_weight"])
@pytest.mark.parametrize("weight", [-1.0, float("nan"), float("inf"), "1"])
def test_a_loss_weight_must_be_a_finite_number_at_least_zero(name, weight):
    with pytest.raises(InputError, match=name):
        _model(**{name: weight})


def test_the_spectrum_term_adds_to_the_loss_and_reaches_the_weights():
    model = _model(max_horizon=45)
    p0, visible, cond, aspect = _query(4, 18, seed=5)
    visible[:] = True
    t = torch.arange(1, 46)[None, :, None, None] / 30.0
    future = p0[:, None] + 0.05 * torch.sin(2 * math.pi * 2.0 * t) * (torch.arange(18) == 4)[None, None, :, None]
    windows = PoseWindows(torch.cat([p0[:, None], future], 1), visible[:, None].expand(-1, 46, -1).clone(), cond,
                          ["x"] * 4, [str(i) for i in range(4)], "openpose_18", 30.0, aspect=aspect)
    with_spectrum = _model(max_horizon=45, spectrum_weight=1.0)
    with_spectrum.load_state_dict(model.state_dict())
    assert with_spectrum.loss(windows) > model.loss(windows)
    with_spectrum.loss(windows).backward()
    grad = with_spectrum.head.weight.grad
    assert grad is not None and grad.abs().sum() > 0 and torch.isfinite(grad).all()
