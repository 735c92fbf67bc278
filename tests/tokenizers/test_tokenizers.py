"""VQ-VAE, residual VQ and part-aware VQ tokenizers, and loading the official checkpoint formats.

The official key tables below are written from the published code (T2M-GPT ``models/encdec.py`` /
``resnet.py`` / ``quantize_cnn.py``, MotionGPT ``mGPT/archs/mgpt_vq.py``, MoMask ``models/vq/``),
independently of our modules, so a renamed or reshaped parameter fails here.
"""

import collections
import json
import math
import os
import pickle
import random
import shlex
import sys
import types
import typing

import numpy as np
import pytest
import torch
from posemotion.models.core.errors import InputError, ModelFileError
from posemotion.models.motion import humanml3d
from posemotion.models.tokenizers.base import MotionTokens
from posemotion.models.tokenizers.checkpoints import TOKENIZER_KINDS, load_tokenizer, save_tokenizer
from posemotion.models.tokenizers.part_vq import PartAwareVQVAE
from posemotion.models.tokenizers.quantizers import EMACodebook, ResidualQuantizer
from posemotion.models.tokenizers.rvq import ResidualVQVAE
from posemotion.models.tokenizers.vqvae import VQVAE
from safetensors.torch import load_file, save_file

pytestmark = pytest.mark.usefixtures("one_torch_thread")  # tiny models: a 2nd thread only contends

TINY = dict(width=32, code_dim=16, num_codes=16, depth=2)


def official_keys(input_dim=263, width=512, code_dim=512, num_codes=512, down_t=2, depth=3, stride=2,
                  num_quantizers=None) -> dict[str, tuple[int, ...]]:
    """Key -> shape of the official VQ-VAE (num_quantizers=None) or MoMask RVQ-VAE state dict."""
    keys = {}

    def conv(name, out_ch, in_ch, kernel):
        keys[f"{name}.weight"] = (out_ch, in_ch, kernel)
        keys[f"{name}.bias"] = (out_ch,)

    def resnet(prefix):
        for block in range(depth):
            conv(f"{prefix}.model.{block}.conv1", width, width, 3)
            conv(f"{prefix}.model.{block}.conv2", width, width, 1)

    conv("encoder.model.0", width, input_dim, 3)  # model.1 is the ReLU
    for stage in range(down_t):
        conv(f"encoder.model.{2 + stage}.0", width, width, 2 * stride)
        resnet(f"encoder.model.{2 + stage}.1")
    conv(f"encoder.model.{2 + down_t}", code_dim, width, 3)
    conv("decoder.model.0", width, code_dim, 3)
    for stage in range(down_t):
        resnet(f"decoder.model.{2 + stage}.0")  # .1 is the nearest upsampling
        conv(f"decoder.model.{2 + stage}.2", width, width, 3)
    conv(f"decoder.model.{2 + down_t}", width, width, 3)
    conv(f"decoder.model.{4 + down_t}", input_dim, width, 3)
    if num_quantizers is None:
        keys["quantizer.codebook"] = (num_codes, code_dim)
    else:
        for q in range(num_quantizers):
            keys[f"quantizer.layers.{q}.codebook"] = (num_codes, code_dim)
    return keys


def random_state(keys: dict, seed: int = 0) -> dict[str, torch.Tensor]:
    generator = torch.Generator().manual_seed(seed)
    return {k: torch.randn(shape, generator=generator) * 0.02 for k, shape in keys.items()}


def smooth_motion(batch: int, frames: int, dim: int, seed: int = 0, sources: int = 4) -> torch.Tensor:
    """Normalised-feature-like data at 20 fps: like real motion features, the channels are strongly
    correlated (mixtures of a few slow oscillations with per-sequence phases)."""
    generator = torch.Generator().manual_seed(seed)
    t = torch.arange(frames, dtype=torch.float32)[None, :, None] / 20.0
    freq = 0.3 + torch.rand(1, 1, sources, generator=generator) * 1.5
    phase = torch.rand(batch, 1, sources, generator=generator) * 2 * math.pi
    mixing = torch.randn(sources, dim, generator=generator) / math.sqrt(sources)
    return torch.sin(2 * math.pi * freq * t + phase) @ mixing


def tiny(kind: str, **overrides):
    if kind == "vqvae":
        return VQVAE(**{**TINY, **overrides})
    if kind == "rvq":  # MoMask's Gumbel sampling at 0.5 is near-argmax only at full-size distances
        return ResidualVQVAE(num_quantizers=3, **{**TINY, "sample_temperature": 0.0, **overrides})
    return PartAwareVQVAE(**{"body_dim": 263, "hand_dim": 24, **TINY, **overrides})


# ----------------------------------------------------------------------------- official checkpoints

def test_t2m_gpt_checkpoint_loads_strictly_at_official_size(tmp_path):
    keys = official_keys()
    state = random_state(keys)
    path = tmp_path / "net_best_fid.pth"
    torch.save({"net": {"vqvae." + k: v for k, v in state.items()}}, path)
    mean, std = np.linspace(-1, 1, 263).astype(np.float32), np.linspace(0.5, 2, 263).astype(np.float32)
    np.save(tmp_path / "mean.npy", mean)
    np.save(tmp_path / "std.npy", std)

    model = load_tokenizer(str(path))
    assert model.kind == "vqvae" and not model.training
    assert {k: tuple(v.shape) for k, v in model.state_dict().items()} == keys
    assert all(torch.equal(model.state_dict()[k], v) for k, v in state.items())
    assert (model.config["input_dim"], model.config["num_codes"], model.config["code_dim"]) == (263, 512, 512)
    assert torch.allclose(model.feature_mean, torch.from_numpy(mean))
    assert torch.allclose(model.feature_std, torch.from_numpy(std))

    features = smooth_motion(1, 196, 263)
    with torch.inference_mode():
        ids = model.encode(features)
        latent = model.encoder(features.transpose(1, 2)).transpose(1, 2)[0]  # [49, 512]
        recon = model.decode(ids)
    assert ids.shape == (1, 49, 1) and ids.dtype == torch.int64
    # nearest codebook row by an independent distance computation
    assert torch.equal(ids[0, :, 0], torch.cdist(latent, state["quantizer.codebook"]).argmin(1))
    assert recon.shape == (1, 196, 263) and torch.isfinite(recon).all()


def test_momask_checkpoint_loads_strictly_and_prefixes_decode(tmp_path):
    keys = official_keys(num_quantizers=6)
    state = random_state(keys, seed=1)
    (tmp_path / "model").mkdir()
    (tmp_path / "meta").mkdir()
    path = tmp_path / "model" / "net_best_fid.tar"
    optimizer_state = {"state": {0: {"step": torch.tensor(3.0), "exp_avg": torch.zeros(4)}},
                       "param_groups": [{"lr": 2e-4, "betas": (0.9, 0.99), "params": [0]}]}
    torch.save({"vq_model": state, "opt_vq_model": optimizer_state, "ep": 49, "total_it": 1000}, path)
    np.save(tmp_path / "meta" / "mean.npy", np.zeros(263, np.float32))
    np.save(tmp_path / "meta" / "std.npy", np.ones(263, np.float32))

    model = load_tokenizer(str(path))
    assert model.kind == "rvq" and model.config["num_quantizers"] == 6
    assert {k: tuple(v.shape) for k, v in model.state_dict().items()} == keys
    assert model.feature_mean is not None and "meta" in model.notes[-1]

    features = smooth_motion(1, 64, 263)
    with torch.inference_mode():
        ids = model.encode(features)
        assert ids.shape == (1, 16, 6)
        for streams in (1, 3, 6):
            # decode = decoder(sum of the first `streams` codes), codes read straight from the file
            latent = sum(state[f"quantizer.layers.{q}.codebook"][ids[0, :, q]] for q in range(streams))
            expected = model.decoder(latent.T[None]).transpose(1, 2)
            assert torch.allclose(model.decode(ids[..., :streams]), expected, atol=1e-5)


class _Trap:
    """Pickled like a Lightning hyper-parameter object whose unpickling would run code."""

    calls: list = []

    def __reduce__(self):
        return (_record_call, ("unpickling ran code",))


def _record_call(message):
    _Trap.calls.append(message)
    return message


def _omegaconf_like_settings(monkeypatch):
    """Lightning hyper-parameters pickled as OmegaConf 2.3 pickles them (NEWOBJ + BUILD of DictConfig,
    ContainerMetadata, AnyNode, ListConfig; typing.Any and a defaultdict inside), without omegaconf: the
    classes live in stand-in modules only while the file is written."""
    classes = {}
    for module in ("omegaconf", "omegaconf.dictconfig", "omegaconf.listconfig", "omegaconf.base", "omegaconf.nodes"):
        monkeypatch.setitem(sys.modules, module, types.ModuleType(module))
    for module, name in [("omegaconf.dictconfig", "DictConfig"), ("omegaconf.listconfig", "ListConfig"),
                         ("omegaconf.base", "ContainerMetadata"), ("omegaconf.base", "Metadata"),
                         ("omegaconf.nodes", "AnyNode")]:
        cls = type(name, (), {"__module__": module, "__qualname__": name})
        setattr(sys.modules[module], name, cls)
        classes[name] = cls

    def make(name, **state):
        obj = classes[name]()
        obj.__dict__.update(state)
        return obj

    def node(value, key):
        meta = make("Metadata", ref_type=typing.Any, object_type=None, optional=True, key=key, flags={})
        return make("AnyNode", _val=value, _metadata=meta, _parent=None)

    def container(kind, content, object_type):
        meta = make("ContainerMetadata", ref_type=typing.Any, object_type=object_type, optional=True, key=None,
                    flags={}, resolver_cache=collections.defaultdict(dict), key_type=typing.Any,
                    element_type=typing.Any)
        return make(kind, _metadata=meta, _parent=None, _content=content)

    stages = container("ListConfig", [node(1, 0), node(2, 1)], list)
    params = container("DictConfig", {"codebook_size": node(512, "codebook_size"), "stages": stages}, dict)
    return container("DictConfig", {"NAME": node("mgpt", "NAME"), "params": params}, dict)


def _motiongpt_file(tmp_path, prefix, hyper_parameters):
    config = dict(input_dim=263, width=32, code_dim=16, num_codes=8, depth=2)
    state = random_state(official_keys(**config), seed=2)
    weights = {prefix + k: v for k, v in state.items()}
    weights["lm.language_model.shared.weight"] = torch.zeros(10, 4)
    weights["lm.language_model.lm_head.weight"] = torch.zeros(10, 4)
    path = tmp_path / "motiongpt_s3_h3d.tar"
    torch.save({"state_dict": weights, "epoch": 3, "hyper_parameters": hyper_parameters}, path)
    return path, state


def _check_motiongpt_tokenizer(model, state):
    assert model.kind == "vqvae" and model.config["depth"] == 2 and model.config["num_codes"] == 8
    assert all(torch.equal(model.state_dict()[k], v) for k, v in state.items())
    assert model.feature_mean is None and "already normalised" in model.notes[-1]
    assert model.decode(model.encode(smooth_motion(2, 20, 263))).shape == (2, 20, 263)


@pytest.mark.skipif(torch.__version__ < "2.6", reason="named safe globals need torch 2.6")
@pytest.mark.parametrize("prefix", ["vae.", "motion_vae."])
def test_motiongpt_lightning_checkpoint_with_omegaconf_settings_loads(tmp_path, monkeypatch, prefix):
    with monkeypatch.context() as patch:
        path, state = _motiongpt_file(tmp_path, prefix, {"cfg": _omegaconf_like_settings(patch)})
    assert "omegaconf.base.Metadata" in str(torch.serialization.get_unsafe_globals_in_checkpoint(path))
    with pytest.raises(pickle.UnpicklingError):  # torch's default allowlist alone refuses it
        torch.load(path, weights_only=True)
    _check_motiongpt_tokenizer(load_tokenizer(str(path)), state)


def test_motiongpt_checkpoint_pickling_other_objects_is_refused_without_running_them(tmp_path):
    path, state = _motiongpt_file(tmp_path, "vae.", {"cfg": _Trap()})
    _Trap.calls.clear()
    with pytest.raises(ModelFileError) as error:
        load_tokenizer(str(path))
    assert _Trap.calls == []
    message = str(error.value)
    assert str(path) in message and "_record_call" in message and "nothing from the file was run" in message
    assert "weights_only=False" in message and "motiongpt_s3_h3d_weights.tar" in message
    # the conversion the message spells out (run here on our own, trusted file) gives a loadable file
    checkpoint = torch.load(path, map_location="cpu", weights_only=False)
    assert _Trap.calls == ["unpickling ran code"]  # weights_only=False would have run it
    converted = tmp_path / "motiongpt_s3_h3d_weights.tar"
    torch.save({k: checkpoint[k] for k in ("state_dict", "net", "vq_model") if k in checkpoint}, converted)
    _check_motiongpt_tokenizer(load_tokenizer(str(converted)), state)


class _Malicious:
    def __init__(self, call, marker):
        self.call, self.marker = call, marker

    def __reduce__(self):
        if self.call == "system":
            return (os.system, (f"touch {shlex.quote(str(self.marker))}",))
        return (open, (str(self.marker), "w"))


@pytest.mark.parametrize("call", ["system", "open"])
@pytest.mark.parametrize("where", ["hyper_parameters", "weights"])
def test_malicious_checkpoint_runs_nothing_and_names_the_file(tmp_path, call, where):
    marker = tmp_path / "pwned"
    path, _ = _motiongpt_file(tmp_path, "vae.", {})
    checkpoint = torch.load(path, weights_only=True)
    if where == "weights":
        checkpoint["state_dict"]["vae.payload"] = _Malicious(call, marker)
    else:
        checkpoint["hyper_parameters"] = {"cfg": _Malicious(call, marker)}
    evil = tmp_path / "evil.ckpt"
    torch.save(checkpoint, evil)
    assert not marker.exists()
    with pytest.raises(ModelFileError, match=r"evil\.ckpt pickles Python objects besides tensors") as error:
        load_tokenizer(str(evil))
    assert not marker.exists()
    assert ("system" if call == "system" else "open") in str(error.value)


def _tiny_official_file(tmp_path, edit):
    state = random_state(official_keys(width=32, code_dim=16, num_codes=8, depth=2))
    edit(state)
    path = tmp_path / "net_last.pth"
    torch.save({"net": {"vqvae." + k: v for k, v in state.items()}}, path)
    return str(path)


def test_mismatched_official_checkpoints_name_file_and_keys(tmp_path):
    path = _tiny_official_file(tmp_path, lambda s: s.pop("decoder.model.6.bias"))
    with pytest.raises(ModelFileError, match=r"net_last\.pth.*missing keys: decoder\.model\.6\.bias"):
        load_tokenizer(path)
    path = _tiny_official_file(tmp_path, lambda s: s.__setitem__("decoder.model.2.2.weight", torch.zeros(32, 32, 5)))
    with pytest.raises(ModelFileError, match=r"wrong shapes: decoder\.model\.2\.2\.weight \[32, 32, 5\]"):
        load_tokenizer(path)
    path = _tiny_official_file(tmp_path, lambda s: None)
    with pytest.raises(ModelFileError, match="holds a 'vqvae' tokenizer, expected 'rvq'"):
        load_tokenizer(path, kind="rvq")
    torch.save({"trans": {"tok_emb.weight": torch.zeros(3, 3)}}, tmp_path / "gpt.pth")
    with pytest.raises(ModelFileError, match="no motion tokenizer weights found.*trans"):
        load_tokenizer(str(tmp_path / "gpt.pth"))
    (tmp_path / "notes.pth").write_text("not a checkpoint")
    with pytest.raises(ModelFileError, match=r"notes\.pth is not a readable torch checkpoint"):
        load_tokenizer(str(tmp_path / "notes.pth"))


# ----------------------------------------------------------------------------- our format

@pytest.mark.parametrize("kind", ["vqvae", "rvq", "part_vq"])
def test_save_load_round_trip_keeps_outputs_and_stats(tmp_path, kind):
    model = tiny(kind).eval()
    dim = model.feature_dim
    path, config_path = save_tokenizer(model, str(tmp_path / f"{kind}.safetensors"),
                                       stats=(np.full(dim, 0.5), np.full(dim, 2.0)), extra={"steps": 3})
    assert model.feature_mean is None  # saving does not change the model
    record = json.load(open(config_path))
    assert record["kind"] == kind and record["feature_dim"] == dim and record["fps"] == 20.0
    assert record["extra"] == {"steps": 3}
    loaded = load_tokenizer(path, kind=kind)
    assert type(loaded) is TOKENIZER_KINDS[kind]
    features = smooth_motion(2, 24, dim)
    assert torch.equal(loaded.encode(features), model.encode(features))
    assert torch.allclose(loaded.normalise(features), (features - 0.5) / 2.0)
    assert torch.allclose(loaded.denormalise(loaded.normalise(features)), features, atol=1e-6)


def test_our_checkpoint_with_the_wrong_kind_is_rejected(tmp_path):
    path, config_path = save_tokenizer(tiny("vqvae"), str(tmp_path / "tok.safetensors"))
    with pytest.raises(ModelFileError, match="expected 'part_vq'"):
        load_tokenizer(path, kind="part_vq")
    # a file whose recorded kind disagrees with its weights: rebuilt as rvq, the keys do not fit
    record = json.load(open(config_path))
    record["kind"], record["config"]["num_quantizers"] = "rvq", 3
    save_file(load_file(path), path, metadata={"posemotion-tokenizer": json.dumps(record)})
    with pytest.raises(ModelFileError, match=r"tok\.safetensors.*missing keys: quantizer\.layers\.0\.codebook"):
        load_tokenizer(path)


# ----------------------------------------------------------------------------- quantisers

def test_ema_update_moves_used_codes_and_resets_dead_ones():
    book = EMACodebook(num_codes=4, code_dim=2, decay=0.9)
    start = torch.tensor([[0.0, 0.0], [10.0, 10.0], [100.0, 100.0], [-100.0, -100.0]])
    book.codebook.copy_(start)  # as if loaded: statistics start at one count per code
    x = torch.cat([torch.randn(30, 2) * 0.1 + 1.0, torch.randn(20, 2) * 0.1 + 9.0])
    book.train()
    out = book(x)
    assert torch.equal(out.ids, torch.tensor([0] * 30 + [1] * 20))
    for code, members in ((0, x[:30]), (1, x[30:])):
        expected = (0.9 * start[code] + 0.1 * members.sum(0)) / (0.9 * 1 + 0.1 * len(members))
        assert torch.allclose(book.codebook[code], expected, atol=1e-5)
    # codes 2 and 3 were unused: their moving count fell to 0.9 < 1, so they became batch latents
    for code in (2, 3):
        assert (book.codebook[code] - x).norm(dim=1).min() < 1e-6
    # straight-through: forward value is the code, the gradient reaches x unchanged
    x.requires_grad_(True)
    out = book(x)
    out.vectors.sum().backward()
    assert torch.equal(x.grad, torch.ones_like(x))


def test_empty_codebook_starts_from_batch_latents():
    book = EMACodebook(num_codes=8, code_dim=3).train()
    x = torch.randn(5, 3)
    book(x)
    assert book.codebook.abs().sum() > 0
    assert (torch.cdist(book.codebook, x).min(1).values < 0.1).all()


def test_quantizer_dropout_uses_random_prefixes_only_in_training():
    random.seed(0)
    rvq = ResidualQuantizer(num_quantizers=4, num_codes=8, code_dim=3, decay=1.0, dropout_prob=1.0)
    for layer in rvq.layers:
        layer.codebook.copy_(torch.randn(8, 3))
    rvq.train()
    x = torch.randn(10, 3)
    seen = set()
    for _ in range(40):
        out = rvq(x)
        active = out.active_quantizers
        seen.add(active)
        assert (out.ids[:, :active] >= 0).all() and (out.ids[:, active:] == -1).all()
        # decay 1.0 keeps the codebooks fixed, so the output is the sum of the active codes
        assert torch.allclose(out.vectors, rvq.lookup(out.ids[:, :active]), atol=1e-5)
    assert seen == {1, 2, 3, 4}
    rvq.eval()
    assert {rvq(x).active_quantizers for _ in range(10)} == {4}
    rvq.train()
    rvq.dropout_prob = 0.0
    assert {rvq(x).active_quantizers for _ in range(10)} == {4}


# ----------------------------------------------------------------------------- tokenizers

@pytest.mark.parametrize("kind,streams", [("vqvae", 1), ("rvq", 3), ("part_vq", 2)])
def test_encode_decode_shapes_and_ranges(kind, streams):
    model = tiny(kind).eval()
    features = smooth_motion(2, 37, model.feature_dim)  # 37 frames: the trailing one is cropped
    ids = model.encode(features)
    assert ids.shape == (2, 9, streams) and ids.dtype == torch.int64
    assert model.codebook_sizes() == (16,) * streams
    assert ids.min() >= 0 and ids.max() < 16
    assert model.decode(ids).shape == (2, 36, model.feature_dim)
    tokens = MotionTokens(ids[0], model.codebook_sizes(), kind, num_frames=36, fps=model.fps)
    assert tokens.num_steps == 9


@pytest.mark.parametrize("kind", ["vqvae", "rvq", "part_vq"])
def test_a_few_training_steps_reduce_reconstruction_loss(kind):
    torch.manual_seed(0)
    model = tiny(kind).train()
    features = smooth_motion(4, 16, model.feature_dim, seed=3)
    optimizer = torch.optim.Adam(model.parameters(), lr=3e-3)
    history = []
    for _ in range(30):
        recon, losses = model(features)
        history.append(torch.nn.functional.mse_loss(recon, features).item())
        optimizer.zero_grad()
        sum(losses.values()).backward()
        optimizer.step()
    assert set(losses) == {"reconstruction", "velocity", "commitment"}
    assert np.mean(history[-3:]) < 0.75 * np.mean(history[:3])


def test_part_vq_quantises_hands_first():
    torch.manual_seed(0)
    model = tiny("part_vq")
    features = smooth_motion(2, 32, model.feature_dim, seed=4)
    other_body = features.clone()
    other_body[..., :263] = smooth_motion(2, 32, 263, seed=5)
    other_hands = features.clone()
    other_hands[..., 263:] = smooth_motion(2, 32, 24, seed=6)
    model.train()(torch.cat([features, other_body, other_hands]))  # codebooks start from these latents
    model.eval()
    ids = model.encode(features)
    # hand tokens see only the hands ...
    assert torch.equal(model.encode(other_body)[..., 1], ids[..., 1])
    hand_ids = model.encode(other_hands)[..., 1]
    assert not torch.equal(hand_ids, ids[..., 1])
    # ... and the body latent that the body codebook quantises sees the quantised hands
    hand_codes = lambda ids: model.hand_quantizer.lookup(ids).transpose(1, 2)
    body = features[..., :263]
    assert not torch.allclose(model._body_latent(body, hand_codes(ids[..., 1])),
                              model._body_latent(body, hand_codes(hand_ids)))
    assert model.decode(ids).shape == features.shape


def test_part_vq_feature_split_follows_humanml3d():

    model = tiny("part_vq", body_dim=None, hand_dim=None)
    assert (model.config["body_dim"], model.config["hand_dim"]) == (humanml3d.BODY_DIM, humanml3d.HAND_DIM)
    assert model.feature_dim == humanml3d.HOLISTIC_DIM


def test_bad_inputs_raise_one_clear_error():
    vq, rvq, part = tiny("vqvae").eval(), tiny("rvq").eval(), tiny("part_vq").eval()
    with pytest.raises(InputError, match=r"features: the sequence has 3 frames.*at least 4"):
        vq.encode(torch.zeros(1, 3, 263))
    with pytest.raises(InputError, match="expected 263 features per frame, got 262"):
        vq.encode(torch.zeros(1, 8, 262))
    with pytest.raises(InputError, match=r"token id 16 in stream 0 is outside the codebook 0\.\.15"):
        vq.decode(torch.full((1, 2, 1), 16))
    with pytest.raises(InputError, match="token id -1"):
        rvq.decode(torch.tensor([[[1, -1]]]))
    with pytest.raises(InputError, match=r"expected \[B, N>=1, 1\.\.3\] ids"):
        rvq.decode(torch.zeros(1, 2, 4, dtype=torch.long))
    with pytest.raises(InputError, match=r"expected \[B, N>=1, 2\] ids"):
        part.decode(torch.zeros(1, 2, 1, dtype=torch.long))
    with pytest.raises(InputError, match="integer tensor"):
        vq.decode(torch.zeros(1, 2, 1))
    assert rvq.decode(torch.zeros(1, 2, 1, dtype=torch.long)).shape == (1, 8, 263)
