"""PGR2M tokenizer: official key layout, attention quantisation, entropy term, residual dropout, checks."""

from __future__ import annotations

import math

import pytest
import torch
from posemotion.models.core.errors import InputError
from posemotion.models.motion.humanml3d import joints_to_features
from posemotion.models.tokenizers import pgr2m
from posemotion.models.tokenizers.posecodes import SLOTS, pose_codes

TINY = dict(code_dim=16, width=16, depth=2, num_quantizers=3, num_codes=8, attention_dim=12)


def official_table() -> dict[str, tuple[int, ...]]:
    """Keys and shapes of PGR2M's pretrained/exp_pg_tokenizer/net_best_fid.pth ['net'] (HumanML3D):
    T2M-GPT conv encoder/decoder (width 512, code_dim 512, 2 stages x 3 residual blocks), the pose
    codebook nn.Embedding(392, 512), 6 soft quantisers (codebook 512 x 512, Linear to_q/to_k/to_v
    512 -> 512, RMSNorm norm_q/norm_k)."""
    table = {"encoder.model.0.weight": (512, 263, 3), "encoder.model.0.bias": (512,),
             "encoder.model.4.weight": (512, 512, 3), "encoder.model.4.bias": (512,),
             "decoder.model.0.weight": (512, 512, 3), "decoder.model.0.bias": (512,),
             "decoder.model.4.weight": (512, 512, 3), "decoder.model.4.bias": (512,),
             "decoder.model.6.weight": (263, 512, 3), "decoder.model.6.bias": (263,),
             "pc_encoder.codebook.weight": (392, 512)}
    for stage in (2, 3):
        table[f"encoder.model.{stage}.0.weight"] = (512, 512, 4)
        table[f"encoder.model.{stage}.0.bias"] = (512,)
        table[f"decoder.model.{stage}.2.weight"] = (512, 512, 3)
        table[f"decoder.model.{stage}.2.bias"] = (512,)
        for stack in (f"encoder.model.{stage}.1", f"decoder.model.{stage}.0"):
            for block in range(3):
                table[f"{stack}.model.{block}.conv1.weight"] = (512, 512, 3)
                table[f"{stack}.model.{block}.conv1.bias"] = (512,)
                table[f"{stack}.model.{block}.conv2.weight"] = (512, 512, 1)
                table[f"{stack}.model.{block}.conv2.bias"] = (512,)
    for layer in range(6):
        table[f"rvq.layers.{layer}.codebook"] = (512, 512)
        for proj in ("to_q", "to_k", "to_v"):
            table[f"rvq.layers.{layer}.attn.{proj}.weight"] = (512, 512)
            table[f"rvq.layers.{layer}.attn.{proj}.bias"] = (512,)
        table[f"rvq.layers.{layer}.attn.norm_q.weight"] = (512,)
        table[f"rvq.layers.{layer}.attn.norm_k.weight"] = (512,)
    return table


def frame_codes(frames: int, batch: int = 1, seed: int = 0) -> torch.Tensor:
    """Random but valid pose codes: one category per slot per frame."""
    generator = torch.Generator().manual_seed(seed)
    codes = torch.zeros(batch, frames, 392, dtype=torch.bool)
    for slot in SLOTS:
        pick = torch.randint(len(slot.categories), (batch, frames), generator=generator)
        codes.scatter_(-1, (pick + slot.categories[0])[..., None], True)
    return codes


@pytest.fixture()
def tiny() -> pgr2m.PGR2MTokenizer:
    torch.manual_seed(0)
    return pgr2m.PGR2MTokenizer(**TINY).eval()


def test_official_checkpoint_loads_strictly_and_runs(tmp_path):
    table = official_table()
    torch.manual_seed(0)
    state = {key: torch.empty(shape).uniform_(-0.05, 0.05) for key, shape in table.items()}
    path = tmp_path / "net_best_fid.pth"
    torch.save({"net": state, "nb_iter": 123}, path)
    checkpoint = torch.load(path, map_location="cpu", weights_only=True)
    kind, config, weights, _ = pgr2m.read_official_checkpoint(checkpoint, str(path))
    assert kind == "pgr2m" and config["num_quantizers"] == 6 and config["attention_dim"] == 512
    model = pgr2m.PGR2MTokenizer(**config)
    assert {k: tuple(v.shape) for k, v in model.state_dict().items()} == table
    model.load_state_dict(weights, strict=True, assign=True)  # assign: no 100 MB copy
    model.eval()
    with torch.inference_mode():
        ids, steps = model.encode(torch.randn(1, 16, 263), frame_codes(16))
        assert ids.shape == (1, 4, 6) and steps.shape == (1, 4, 392)
        assert model.decode(ids, steps).shape == (1, 16, 263)
    assert pgr2m.read_official_checkpoint({"net": {"quantizer.codebook": torch.zeros(2, 2)}}, "x") is None


def test_loader_reads_the_official_file(tmp_path):
    checkpoints = pytest.importorskip("posemotion.models.tokenizers.checkpoints")
    if "pgr2m" not in checkpoints.TOKENIZER_KINDS:
        pytest.skip("checkpoints.py does not register pgr2m yet")
    model = pgr2m.PGR2MTokenizer(**TINY)
    path = tmp_path / "net_best_fid.pth"
    torch.save({"net": model.state_dict(), "nb_iter": 1}, path)
    loaded = checkpoints.load_tokenizer(str(path))
    assert loaded.kind == "pgr2m" and loaded.config["num_codes"] == TINY["num_codes"]
    for key, value in model.state_dict().items():
        assert torch.equal(loaded.state_dict()[key], value)
    ours, _ = checkpoints.save_tokenizer(loaded, str(tmp_path / "pgr2m.safetensors"))
    again = checkpoints.load_tokenizer(ours, kind="pgr2m")
    ids, steps = loaded.encode(torch.randn(1, 8, 263), frame_codes(8))
    assert torch.equal(again.decode(ids, steps), loaded.decode(ids, steps))


def test_pose_codes_are_measured_from_features_when_not_given(tiny):
    """Features made from joints give back the joints' own pose codes (every 4th frame)."""

    base = torch.tensor([[0.0, 0.95, 0.0], [0.09, 0.88, 0.0], [-0.09, 0.88, 0.0], [0.0, 1.05, 0.0],
                         [0.09, 0.5, 0.0], [-0.09, 0.5, 0.0], [0.0, 1.17, 0.0], [0.09, 0.08, 0.0],
                         [-0.09, 0.08, 0.0], [0.0, 1.25, 0.0], [0.09, 0.0, 0.12], [-0.09, 0.0, 0.12],
                         [0.0, 1.45, 0.0], [0.08, 1.38, 0.0], [-0.08, 1.38, 0.0], [0.0, 1.6, 0.02],
                         [0.18, 1.4, 0.0], [-0.18, 1.4, 0.0], [0.18, 1.12, 0.0], [-0.18, 1.12, 0.0],
                         [0.18, 0.87, 0.0], [-0.18, 0.87, 0.0]])
    frames = 21
    joints = base.repeat(frames, 1, 1)
    angles = torch.linspace(0.0, 2.5, frames)  # the left forearm swings forward and up
    joints[:, 20] = joints[:, 18] + 0.25 * torch.stack([0 * angles, -torch.cos(angles), torch.sin(angles)], 1)
    joints[:, :, 2] += torch.linspace(0.0, 0.5, frames)[:, None]  # walking forward along +z
    features = torch.as_tensor(joints_to_features(joints.numpy()))[None]  # [1, 20, 263]
    _, steps = tiny.encode(features.float())
    expected = pose_codes(joints)[:20:4]
    assert steps.shape == (1, 5, 392)
    assert torch.equal(steps[0], expected)  # features_to_joints recovers these joints to float precision
    assert len({tuple(row.nonzero().flatten().tolist()) for row in steps[0]}) > 1


def test_soft_training_assignment_reaches_the_codebook_hard_inference_is_argmax():
    torch.manual_seed(1)
    stage = pgr2m.AttentionQuantizer(num_codes=8, code_dim=6, attention_dim=5)
    x = torch.randn(20, 6)
    stage.train()
    vectors, hard, ids, logits = stage(x)
    assert torch.allclose(vectors, hard)  # straight-through: hard value, soft gradient
    (vectors * torch.randn_like(vectors)).sum().backward()
    assert stage.codebook.grad.abs().sum() > 0 and stage.attn.to_q.weight.grad.abs().sum() > 0
    stage.zero_grad()
    stage.eval()
    vectors, _, ids, logits = stage(x)
    with torch.no_grad():  # argmax of the scaled query-key products, computed here by hand
        q = stage.attn.to_q(x)
        q = q / q.pow(2).mean(-1, keepdim=True).add(1e-5).sqrt() * stage.attn.norm_q.weight
        k = stage.attn.to_k(stage.codebook)
        k = k / k.pow(2).mean(-1, keepdim=True).add(1e-5).sqrt() * stage.attn.norm_k.weight
        expected = (q @ k.T / math.sqrt(5)).argmax(-1)
        assert torch.equal(ids, expected)
        assert torch.allclose(vectors, stage.attn.to_v(stage.codebook)[expected])
    (vectors * torch.randn_like(vectors)).sum().backward()
    assert stage.attn.to_q.weight.grad is None or stage.attn.to_q.weight.grad.abs().sum() == 0


def test_inference_keys_and_values_follow_weight_changes():
    torch.manual_seed(2)
    stage = pgr2m.AttentionQuantizer(num_codes=8, code_dim=6, attention_dim=5).eval()
    x = torch.randn(20, 6)
    with torch.no_grad():
        first = stage(x)[0]
        assert torch.equal(stage(x)[0], first)  # second call uses the cached keys and values
        stage.codebook.mul_(-2.0)  # in place, as an optimiser step or load_state_dict would
        expected_values = stage.attn.to_v(stage.codebook)
        vectors, _, ids, _ = stage(x)
        assert torch.allclose(vectors, expected_values[ids]) and not torch.allclose(vectors, first)
        other = pgr2m.AttentionQuantizer(num_codes=8, code_dim=6, attention_dim=5)
        stage.load_state_dict(other.state_dict())
        assert torch.allclose(stage(x)[0], other.eval()(x)[0])


def test_encoding_works_on_weights_loaded_in_inference_mode():
    """ComfyUI runs nodes inside torch.inference_mode(): weights loaded there are inference tensors."""
    with torch.inference_mode():
        stage = pgr2m.AttentionQuantizer(num_codes=8, code_dim=6, attention_dim=5).eval()
        x = torch.randn(20, 6)
        vectors, _, ids, _ = stage(x)
        assert torch.equal(stage(x)[2], ids)
        assert torch.allclose(vectors, stage.attn.to_v(stage.codebook)[ids])


def test_entropy_terms():
    k = 8
    confident = torch.eye(k) * 10.0  # each sample sure of a different code
    sample, batch = pgr2m.entropy_terms(confident, temperature=0.01)
    assert sample < 1e-6 and abs(batch - math.log(k)) < 1e-3
    collapsed = torch.zeros(k, k)
    collapsed[:, 0] = 10.0  # every sample sure of code 0
    sample, batch = pgr2m.entropy_terms(collapsed, temperature=0.01)
    assert sample < 1e-6 and batch < 1e-3
    sample, batch = pgr2m.entropy_terms(torch.zeros(4, k), temperature=0.01)  # undecided
    assert abs(sample - math.log(k)) < 1e-5 and abs(batch - math.log(k)) < 1e-3


def test_training_losses_and_tau(tiny):
    features, codes = torch.randn(2, 16, 263), frame_codes(16, batch=2)
    full = pgr2m.PGR2MTokenizer(**TINY, residual_dropout=0.0, quantizer_dropout=0.0)
    full.load_state_dict(tiny.state_dict())
    full.train()
    recon, losses = full(features, codes)
    assert {"reconstruction", "commitment", "entropy"} <= set(losses) and losses["commitment"] > 0
    sum(losses.values()).backward()
    assert full.rvq.layers[0].codebook.grad.abs().sum() > 0 and full.pc_encoder.codebook.weight.grad.abs().sum() > 0
    ids, steps = tiny.encode(features, codes)
    assert torch.allclose(recon, tiny.decode(ids, steps), atol=1e-5)  # training value = hard decoding

    pose_only = pgr2m.PGR2MTokenizer(**TINY, residual_dropout=1.0)
    pose_only.load_state_dict(tiny.state_dict())
    pose_only.train()
    recon, losses = pose_only(features, codes)
    assert losses["commitment"] == 0 and losses["entropy"] == 0
    assert torch.allclose(recon, tiny.decode(None, steps), atol=1e-5)
    assert torch.allclose(tiny.decode(ids[..., :0], steps), tiny.decode(None, steps))
    assert not torch.allclose(tiny.decode(ids, steps), tiny.decode(None, steps))


def test_steps_use_the_codes_of_every_fourth_frame(tiny):
    codes = frame_codes(16, seed=3)
    ids, steps = tiny.encode(torch.randn(1, 16, 263), codes)
    assert torch.equal(steps, codes[:, ::4])
    again, same = tiny.encode(torch.randn(1, 16, 263), codes[:, ::4])  # per-step codes pass through
    assert torch.equal(same, steps)


def test_bad_inputs_raise_input_errors(tiny):
    features = torch.randn(1, 16, 263)
    with pytest.raises(InputError, match="pose_codes"):
        tiny.encode(features, torch.zeros(1, 16, 391, dtype=torch.bool))
    ids, steps = tiny.encode(features, frame_codes(16))
    with pytest.raises(InputError, match="outside the codebook"):
        tiny.decode(ids + TINY["num_codes"], steps)
    with pytest.raises(InputError, match="pose_codes"):
        tiny.decode(ids, steps[..., :100])
    with pytest.raises(InputError, match="ids"):
        tiny.decode(ids[:, :2], steps)
    with pytest.raises(InputError, match="pose_codes"):
        tiny.encode(features, frame_codes(6))


def test_tokens_round_trip_for_the_nodes(tiny):
    features, codes = torch.randn(20, 263), frame_codes(20)[0]
    tokens = pgr2m.encode_to_tokens(tiny, features, codes)
    assert tokens.ids.shape == (5, 3) and tokens.pose_codes.shape == (5, 392) and tokens.num_frames == 20
    full = pgr2m.decode_pose_codes_and_residuals(tiny, tokens)
    assert torch.allclose(full, tiny.decode(tokens.ids[None], tokens.pose_codes[None])[0])
    pose_only = pgr2m.decode_pose_codes_and_residuals(tiny, tokens, residual_stages=0)
    assert torch.allclose(pose_only, tiny.decode(None, tokens.pose_codes[None])[0])
    with pytest.raises(InputError, match="residual_stages"):
        pgr2m.decode_pose_codes_and_residuals(tiny, tokens, residual_stages=4)


def test_pose_code_orthogonality():
    orthogonal = torch.zeros(392, 70)
    for slot in SLOTS:
        orthogonal[list(slot.categories), slot.index] = 1.0  # each slot along its own axis
    result = pgr2m.pose_code_orthogonality(orthogonal)
    assert result["frobenius"] < 1e-9 and result["mean_abs_cosine"] < 1e-9
    collinear = torch.ones(392, 4)
    result = pgr2m.pose_code_orthogonality(collinear)
    assert abs(result["mean_abs_cosine"] - 1) < 1e-6 and abs(result["frobenius"] - 70 * 69) < 1e-2
    with pytest.raises(InputError):
        pgr2m.pose_code_orthogonality(torch.ones(10, 4))
