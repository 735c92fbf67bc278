"""The motion LLM adapter file: save -> load -> merge, and every refusal.

Tiny LMs (random 2-layer LLaMA on the real SmolLM2 tokenizer) whose adapter weights are random
(``support.llm_tiny_parts.randomise_adapter``), so that a lost or misplaced tensor changes the logits.
"""

from __future__ import annotations

import copy
import json

import pytest
import torch
from posemotion.models.core.errors import InputError, ModelFileError
from posemotion.models.llm.adapter import load_motion_llm, read_adapter_header, save_adapter
from posemotion.models.llm.base import tiny_base
from posemotion.models.llm.model import LoraSettings, merge_lora, trainable_parameters
from safetensors import safe_open
from safetensors.torch import load_file, save_file
from support.llm_tiny_parts import tiny_llm, tiny_motion_tokenizer

MERGE_TOLERANCE = 1e-4  # absolute; float32 rounding of the folded LoRA products (measured 2.8e-5 on logits up to 7.3)


pytestmark = pytest.mark.usefixtures("one_torch_thread")  # tiny models: per-op overhead, one thread is faster


def logits(llm) -> torch.Tensor:
    """Logits of a text prompt followed by motion tokens (so both the LoRA and the added rows matter)."""
    text = llm.text_tokenizer("a person walks forward", add_special_tokens=False)["input_ids"]
    motion = [llm.vocabulary.special_id(0, "start"), *llm.vocabulary.code_range(0)[:6]]
    with torch.no_grad():
        return llm.lm(torch.tensor([text + motion])).logits[0]


@pytest.fixture()
def tokenizers(_smol_tokenizer_once):
    """A maker of fresh SmolLM2 tokenizers: each base extends its own."""
    return lambda: copy.deepcopy(_smol_tokenizer_once)


@pytest.fixture()
def saved(tokenizers, tmp_path):
    """(a tiny LLM with a random adapter, its adapter path) with a training record."""
    llm = tiny_llm(tokenizers())
    path, config = save_adapter(llm, str(tmp_path / "tiny.safetensors"), record={"training": {"steps": 3}})
    assert config == str(tmp_path / "tiny.json")
    return llm, path


def fresh(tokenizer, seed: int = 0, **options):
    return tiny_base(tokenizer, seed=seed, **options)


def test_save_then_load_gives_identical_logits(saved, tokenizers):
    llm, path = saved
    loaded = load_motion_llm(fresh(tokenizers()), tiny_motion_tokenizer("vqvae"), path)
    assert loaded.vocabulary == llm.vocabulary and loaded.lora == llm.lora
    assert torch.equal(logits(loaded), logits(llm))
    # the adapter matters: the same base and motion tokenizer without it give other logits
    assert not torch.allclose(logits(tiny_llm(tokenizers(), randomise=False)), logits(llm), atol=1e-3)


def test_merged_logits_match_unmerged_within_1e_4(saved, tokenizers):
    """merge_lora(load(adapter)) gives the unmerged logits to within MERGE_TOLERANCE = 1e-4 (absolute)."""
    llm, path = saved
    loaded = load_motion_llm(fresh(tokenizers()), tiny_motion_tokenizer("vqvae"), path)
    unmerged = logits(loaded)
    merged = merge_lora(loaded)
    assert merged.merged and merge_lora(merged) is merged
    difference = (logits(merged) - unmerged).abs().max().item()
    assert difference < MERGE_TOLERANCE
    assert unmerged.abs().max() > 0.1  # the logits are not trivially tiny
    with pytest.raises(InputError) as error:
        save_adapter(merged, path)
    assert error.value.input_name == "llm"


def test_header_and_json_record(saved):
    llm, path = saved
    header = read_adapter_header(path)
    assert header["family"] == "llm_adapter" and header["base"]["identity_hash"] == llm.base.identity_hash
    assert header["motion_tokenizer"]["kind"] == "vqvae"
    assert header["added_tokens"] == llm.vocabulary.token_strings()
    record = json.loads(open(path.replace(".safetensors", ".json")).read())
    assert record["training"] == {"steps": 3} and record["vocabulary"] == llm.vocabulary.to_dict()
    trainable, total = trainable_parameters(llm)
    stored = sum(t.numel() for t in load_file(path).values())
    assert 0 < trainable == stored < total  # exactly the LoRA matrices and the added rows are stored


def test_adapter_of_another_base_is_refused_naming_both(saved, tokenizers):
    _, path = saved
    with pytest.raises(ModelFileError) as error:
        load_motion_llm(fresh(tokenizers(), hidden_size=64, name="tiny-wide"), tiny_motion_tokenizer("vqvae"), path)
    message = str(error.value)
    assert "'tiny-llama'" in message and "'tiny-wide'" in message and path in message


@pytest.mark.parametrize("kind, seed", [("vqvae", 1), ("part_vq", 0)])
def test_adapter_of_another_motion_tokenizer_is_refused_naming_both(saved, tokenizers, kind, seed):
    """Other weights (seed 1) or another kind (part_vq): one ModelFileError naming both tokenizers."""
    _, path = saved
    with pytest.raises(ModelFileError) as error:
        load_motion_llm(fresh(tokenizers()), tiny_motion_tokenizer(kind, seed=seed), path)
    message = str(error.value)
    assert "trained with a vqvae motion tokenizer" in message and f"given {kind} tokenizer" in message
    hashes = [part.split(")")[0] for part in message.split("hash ")[1:]]
    assert len(hashes) == 2 and hashes[0] != hashes[1]


def rewrite(path: str, change) -> str:
    """Apply ``change(state)`` to the adapter's tensors, keeping its header; returns the first key."""
    with safe_open(path, "pt") as handle:
        metadata = handle.metadata()
    state = load_file(path)
    key = change(state)
    save_file(state, path, metadata=metadata)
    return key


def _drop_first_lora(state):
    key = next(k for k in state if "lora_A" in k)
    del state[key]
    return key


def _reshape_added_rows(state):
    key = next(k for k in state if "trainable_tokens" in k)
    state[key] = state[key][:-1]
    return key


@pytest.mark.parametrize("change, problem", [(_drop_first_lora, "missing keys"), (_reshape_added_rows, "wrong shapes")])
def test_tampered_adapter_names_the_key(saved, tokenizers, change, problem):
    _, path = saved
    key = rewrite(path, change)
    with pytest.raises(ModelFileError) as error:
        load_motion_llm(fresh(tokenizers()), tiny_motion_tokenizer("vqvae"), path)
    assert problem in str(error.value) and key in str(error.value) and path in str(error.value)


def test_not_an_adapter_is_refused(tmp_path, tokenizers):
    plain = str(tmp_path / "plain.safetensors")
    save_file({"x": torch.zeros(2)}, plain)
    with pytest.raises(ModelFileError, match="plain.safetensors"):
        read_adapter_header(plain)
    with pytest.raises(ModelFileError, match="not found"):
        read_adapter_header(str(tmp_path / "absent.safetensors"))
    with pytest.raises(InputError) as error:
        save_adapter(tiny_llm(tokenizers(), randomise=False), str(tmp_path / "adapter.pt"))
    assert error.value.input_name == "path"


def test_bad_lora_settings_are_one_input_error(tokenizers):
    with pytest.raises(InputError) as error:
        tiny_llm(tokenizers(), lora=LoraSettings(rank=0))
    assert error.value.input_name == "lora"
