"""The one checkpoint format (``core/checkpoint.py``): both families round trip through it, the
bundled files (written before it) load, and every bad file gives one clear ModelFileError."""

import json
from pathlib import Path

import pytest
import torch
from posemotion.models.core import checkpoint
from posemotion.models.core.errors import ModelFileError
from posemotion.models.forecasting import training as forecasting
from posemotion.models.forecasting.model import OneStageForecaster
from posemotion.models.tokenizers import checkpoints as tokenizers
from posemotion.models.tokenizers.vqvae import VQVAE
from safetensors import safe_open
from safetensors.torch import load_file, save_file

ASSETS = Path(__file__).resolve().parents[2] / "assets"


def _forecaster(**overrides):
    config = dict(num_joints=5, cond_dim=8, layout="test", encoder="test-encoder", max_horizon=12,
                  d_model=16, num_layers=1, num_heads=2, ffn_dim=32, dropout=0.0, output="displacements")
    return OneStageForecaster(**{**config, **overrides}).eval()


def _tokenizer(**overrides):
    return VQVAE(**{**dict(input_dim=12, num_codes=8, code_dim=8, width=8, depth=1), **overrides}).eval()


def _same_weights(a, b):
    sa, sb = a.state_dict(), b.state_dict()
    assert sa.keys() == sb.keys() and all(torch.equal(sa[k], sb[k]) for k in sa)


def test_both_families_are_registered_under_kind():
    assert checkpoint.registry("forecaster")["one_stage"] is OneStageForecaster
    assert checkpoint.registry("tokenizer")["vqvae"] is VQVAE
    assert tokenizers.TOKENIZER_KINDS is checkpoint.registry("tokenizer")
    assert set(forecasting.model_kinds()) >= {"one_stage", "lstm", "transformer_ntp", "quant_tf"}


@pytest.mark.parametrize("family", ["forecaster", "tokenizer"])
def test_round_trip_through_the_one_module(tmp_path, family):
    model = _forecaster() if family == "forecaster" else _tokenizer()
    stats = {"stats.mean": torch.arange(3.0)}
    path, config_path = checkpoint.save_checkpoint(model, str(tmp_path / "m.safetensors"), family,
                                                   header={"fps": 20.0}, record={"training": {"steps": 3}},
                                                   tensors=stats)
    record = json.loads(Path(config_path).read_text())
    assert record["format"] == "posemotion" and record["family"] == family
    assert record["kind"] == ("one_stage" if family == "forecaster" else "vqvae") and record["config"] == model.config
    assert record["training"] == {"steps": 3} and record["fps"] == 20.0
    with safe_open(path, "pt") as handle:
        header = json.loads(handle.metadata()["posemotion"])
    assert header == {k: v for k, v in record.items() if k != "training"}  # the header is repeated
    loaded, read, extras = checkpoint.load_checkpoint(path, family, extra_keys=("stats.mean",))
    assert type(loaded) is type(model) and not loaded.training
    assert read == header and torch.equal(extras["stats.mean"], stats["stats.mean"])
    _same_weights(loaded, model)


def test_the_family_wrappers_write_the_one_format(tmp_path):
    path, _ = forecasting.save_forecaster(_forecaster(), str(tmp_path / "f.safetensors"), {"steps": 1}, "p0_box")
    assert checkpoint.read_header(path, "forecaster")["family"] == "forecaster"
    assert forecasting.load_forecaster(path).pose_frame == "p0_box"
    path, _ = tokenizers.save_tokenizer(_tokenizer(), str(tmp_path / "t.safetensors"), stats=(torch.zeros(12),
                                                                                            torch.ones(12)))
    assert checkpoint.read_header(path, "tokenizer")["family"] == "tokenizer"
    assert torch.equal(tokenizers.load_tokenizer(path, kind="vqvae").feature_std, torch.ones(12))


def test_the_bundled_files_load_unchanged():
    forecaster = forecasting.load_forecaster(str(ASSETS / "forecast" / "one_stage_minilm.safetensors"))
    assert isinstance(forecaster, OneStageForecaster) and forecaster.pose_frame == "p0_box"
    for kind in ("vqvae", "pgr2m"):
        path = ASSETS / "motion" / f"{kind}_small.safetensors"
        with safe_open(str(path), "pt") as handle:
            assert "posemotion-tokenizer" in handle.metadata()  # the older metadata key
        model = tokenizers.load_tokenizer(str(path), kind=kind)
        assert model.feature_mean is not None and not model.training


def test_a_file_from_the_old_forecaster_writer_loads(tmp_path):
    """The header the old writer put under "posemotion": no format or family; the JSON in "training"."""
    model = _forecaster()
    header = {"kind": "one_stage", "config": model.config, "pose_frame": None}
    path = tmp_path / "old.safetensors"
    save_file({k: v.contiguous() for k, v in model.state_dict().items()}, str(path),
              metadata={"posemotion": json.dumps(header)})
    _same_weights(forecasting.load_forecaster(str(path)), model)
    # no header in the metadata: the JSON beside it is read
    save_file(load_file(str(path)), str(path))
    (tmp_path / "old.json").write_text(json.dumps({**header, "training": {}}))
    _same_weights(forecasting.load_forecaster(str(path)), model)


def test_bad_files_give_one_clear_error(tmp_path):
    path, _ = checkpoint.save_checkpoint(_tokenizer(), str(tmp_path / "tok.safetensors"), "tokenizer")
    # wrong kind: the kind asked for, and a file of the other family
    with pytest.raises(ModelFileError, match=r"tok\.safetensors holds a 'vqvae' tokenizer, expected 'rvq'"):
        checkpoint.load_checkpoint(path, "tokenizer", kind="rvq")
    with pytest.raises(ModelFileError, match=r"tok\.safetensors is not a PoseMotion forecaster checkpoint "
                                             r"\(kind 'vqvae' of family 'tokenizer'"):
        forecasting.load_forecaster(path)
    weights = load_file(path)
    metadata = {"posemotion": json.dumps(checkpoint.read_header(path, "tokenizer"))}
    # a missing key
    missing = dict(weights)
    missing.pop("decoder.model.0.bias")
    save_file(missing, str(tmp_path / "missing.safetensors"), metadata=metadata)
    with pytest.raises(ModelFileError, match=r"missing\.safetensors: weights do not match its config \(vqvae, .*\): "
                                             r"missing keys: decoder\.model\.0\.bias$"):
        tokenizers.load_tokenizer(str(tmp_path / "missing.safetensors"))
    # a wrong shape, and an unexpected key
    wrong = {**weights, "decoder.model.0.bias": torch.zeros(3), "extra.weight": torch.zeros(1)}
    save_file(wrong, str(tmp_path / "wrong.safetensors"), metadata=metadata)
    with pytest.raises(ModelFileError, match=r"wrong\.safetensors: .*unexpected keys: extra\.weight; "
                                             r"wrong shapes: decoder\.model\.0\.bias \[3\] \(expected \[8\]\)"):
        checkpoint.load_checkpoint(str(tmp_path / "wrong.safetensors"), "tokenizer")
    # not a checkpoint at all, a safetensors file without a header, and no file
    (tmp_path / "junk.safetensors").write_bytes(b"junk")
    with pytest.raises(ModelFileError, match=r"junk\.safetensors is not a PoseMotion tokenizer checkpoint"):
        tokenizers.load_tokenizer(str(tmp_path / "junk.safetensors"))
    save_file(weights, str(tmp_path / "bare.safetensors"))
    with pytest.raises(ModelFileError, match=r"bare\.safetensors is not a PoseMotion forecaster checkpoint "
                                             r"\(kind None"):
        forecasting.load_forecaster(str(tmp_path / "bare.safetensors"))
    with pytest.raises(ModelFileError, match="forecaster checkpoint: file not found"):
        forecasting.load_forecaster(str(tmp_path / "nothing.safetensors"))
