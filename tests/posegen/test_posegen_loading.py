"""Strict, offline loading of PoseGen/Wan weights in every published layout, on tiny models built here.

The original (Wan/DiffSynth) names are written from a hand-made table below, checked against
diffusers' own Wan converter, so the loader's name mapping is not its own oracle."""

from __future__ import annotations

import copy
import json
import os

import pytest
import torch
from diffusers import AutoencoderKLWan
from diffusers.loaders.single_file_utils import convert_wan_transformer_to_diffusers
from diffusers.models.transformers.transformer_wan import WanTransformer3DModel
from posemotion.models.core.errors import ModelFileError
from posemotion.models.posegen.loading import load_clip_vision, load_text_encoder, load_transformer, load_vae
from posemotion.models.posegen.lora import load_lora, unload_lora
from posemotion.models.posegen.transformer import PoseGenTransformer
from safetensors.torch import save_file
from tokenizers import Tokenizer, models, pre_tokenizers
from transformers import (
    CLIPVisionConfig,
    CLIPVisionModel,
    CLIPVisionModelWithProjection,
    PreTrainedTokenizerFast,
    UMT5Config,
    UMT5EncoderModel,
)

TINY = dict(patch_size=(1, 2, 2), num_attention_heads=2, attention_head_dim=8, in_channels=36, out_channels=16,
            text_dim=12, freq_dim=8, ffn_dim=24, num_layers=2, image_dim=20, added_kv_proj_dim=16)

# diffusers module -> original module, written by hand (top level, then block 0; other blocks alike)
TOP_NAMES = {
    "patch_embedding": "patch_embedding", "ref_patch_embedding": "ref_patch_embedding",
    "hand_patch_embedding": "hand_patch_embedding",
    "condition_embedder.time_embedder.linear_1": "time_embedding.0",
    "condition_embedder.time_embedder.linear_2": "time_embedding.2",
    "condition_embedder.time_proj": "time_projection.1",
    "condition_embedder.text_embedder.linear_1": "text_embedding.0",
    "condition_embedder.text_embedder.linear_2": "text_embedding.2",
    "condition_embedder.image_embedder.norm1": "img_emb.proj.0",
    "condition_embedder.image_embedder.ff.net.0.proj": "img_emb.proj.1",
    "condition_embedder.image_embedder.ff.net.2": "img_emb.proj.3",
    "condition_embedder.image_embedder.norm2": "img_emb.proj.4",
    "proj_out": "head.head",
}
BLOCK_NAMES = {
    "attn1.to_q": "self_attn.q", "attn1.to_k": "self_attn.k", "attn1.to_v": "self_attn.v", "attn1.to_out.0": "self_attn.o",
    "attn1.norm_q": "self_attn.norm_q", "attn1.norm_k": "self_attn.norm_k",
    "attn2.to_q": "cross_attn.q", "attn2.to_k": "cross_attn.k", "attn2.to_v": "cross_attn.v", "attn2.to_out.0": "cross_attn.o",
    "attn2.norm_q": "cross_attn.norm_q", "attn2.norm_k": "cross_attn.norm_k",
    "attn2.add_k_proj": "cross_attn.k_img", "attn2.add_v_proj": "cross_attn.v_img", "attn2.norm_added_k": "cross_attn.norm_k_img",
    "norm2": "norm3", "ffn.net.0.proj": "ffn.0", "ffn.net.2": "ffn.2",
}
LORA_MODULES = ("self_attn.q", "self_attn.k", "self_attn.v", "self_attn.o", "cross_attn.q", "cross_attn.o", "ffn.0", "ffn.2")


def to_original(key: str) -> str:
    if key == "scale_shift_table":
        return "head.modulation"
    if key.startswith("blocks."):
        _, index, rest = key.split(".", 2)
        if rest == "scale_shift_table":
            return f"blocks.{index}.modulation"
        module, leaf = rest.rsplit(".", 1)
        return f"blocks.{index}.{BLOCK_NAMES[module]}.{leaf}"
    module, leaf = key.rsplit(".", 1)
    return f"{TOP_NAMES[module]}.{leaf}"


def tiny_model(model_class=PoseGenTransformer, **overrides) -> torch.nn.Module:
    torch.manual_seed(0)
    config = dict(TINY, **overrides)
    if model_class is PoseGenTransformer:
        config.setdefault("use_reference", True)
        config.setdefault("use_hand", True)
    model = model_class(**config).eval()
    with torch.no_grad():
        for parameter in model.parameters():  # nothing zero, so a dropped tensor cannot go unnoticed
            parameter.normal_(0, 0.2)
    return model


def forward(model: torch.nn.Module) -> torch.Tensor:
    generator = torch.Generator().manual_seed(1)
    latents = torch.randn(1, 36, 2, 4, 4, generator=generator)
    text = torch.randn(1, 5, 12, generator=generator)
    image = torch.randn(1, 3, 20, generator=generator)
    with torch.no_grad():
        return model(latents, torch.tensor([500.0]), text, encoder_hidden_states_image=image, return_dict=False)[0]


def assert_same_weights(loaded: torch.nn.Module, original: torch.nn.Module, atol: float = 0.0) -> None:
    expected, got = original.state_dict(), loaded.state_dict()
    assert set(got) == set(expected)
    for key in expected:
        torch.testing.assert_close(got[key], expected[key], rtol=0, atol=atol, msg=key)


def write_posegen_folder(folder, model: torch.nn.Module, **config_changes) -> None:
    """PoseGen's published layout: model_config.json + two .bin shards of `pipe.dit.` + original
    names, with some layers peft-wrapped (base_layer + lora_A/lora_B whose product restores W)."""
    os.makedirs(folder, exist_ok=True)
    generator = torch.Generator().manual_seed(2)
    original = {to_original(k): v.clone() for k, v in model.state_dict().items()}
    tensors = {}
    for key, value in original.items():
        module, leaf = key.rsplit(".", 1)
        if module.split(".", 2)[-1] in LORA_MODULES and leaf == "weight":
            down = torch.randn(3, value.shape[1], generator=generator) * 0.1
            up = torch.randn(value.shape[0], 3, generator=generator) * 0.1
            tensors[f"pipe.dit.{module}.base_layer.weight"] = value - up @ down
            tensors[f"pipe.dit.{module}.lora_A.default.weight"] = down
            tensors[f"pipe.dit.{module}.lora_B.default.weight"] = up
        elif module.split(".", 2)[-1] in LORA_MODULES:
            tensors[f"pipe.dit.{module}.base_layer.{leaf}"] = value
        else:
            tensors[f"pipe.dit.{key}"] = value
    keys = sorted(tensors)
    torch.save({k: tensors[k] for k in keys[::2]}, os.path.join(folder, "pytorch_model-00001.bin"))
    torch.save({k: tensors[k] for k in keys[1::2]}, os.path.join(folder, "pytorch_model-00002.bin"))
    model_config = {"dim": 16, "in_dim": 36, "ffn_dim": 24, "out_dim": 16, "text_dim": 12, "freq_dim": 8, "eps": 1e-6,
                    "patch_size": [1, 2, 2], "num_heads": 2, "num_layers": 2, "has_image_input": True,
                    "shift_ref_pos": True, "use_hand": True, "use_hand_proj": False}
    model_config.update(config_changes)
    with open(os.path.join(folder, "model_config.json"), "w") as handle:
        json.dump(model_config, handle)


def test_hand_written_original_names_agree_with_diffusers_converter():
    model = tiny_model(use_reference=False, use_hand=False)
    original = {to_original(k): v for k, v in model.state_dict().items()}
    assert set(convert_wan_transformer_to_diffusers(dict(original))) == set(model.state_dict())


def test_posegen_published_folder_loads_strictly_with_lora_merged(tmp_path):
    model = tiny_model()
    write_posegen_folder(tmp_path / "720p-81f-cond", model)
    loaded = load_transformer(str(tmp_path / "720p-81f-cond"), dtype=torch.float32)
    assert isinstance(loaded, PoseGenTransformer)
    assert loaded.config.use_reference and loaded.config.use_hand and loaded.config.num_attention_heads == 2
    assert_same_weights(loaded, model, atol=1e-6)  # merged LoRA: W - BA + BA
    torch.testing.assert_close(forward(loaded), forward(model), rtol=1e-5, atol=1e-5)


def test_diffusers_folders_load(tmp_path):
    model = tiny_model()
    model.save_pretrained(tmp_path / "posegen")
    loaded = load_transformer(str(tmp_path / "posegen"), dtype=torch.float32)
    assert_same_weights(loaded, model)
    assert torch.equal(forward(loaded), forward(model))  # RoPE buffers survive the meta construction

    stock = tiny_model(WanTransformer3DModel)  # a stock Wan I2V folder inside a pipeline folder
    stock.save_pretrained(tmp_path / "pipeline" / "transformer")
    loaded = load_transformer(str(tmp_path / "pipeline"), dtype=torch.bfloat16)
    assert not loaded.config.use_reference and not loaded.config.use_hand
    assert loaded.patch_embedding.weight.dtype == torch.bfloat16
    assert torch.equal(loaded.patch_embedding.weight, stock.patch_embedding.weight.bfloat16())


def test_single_file_in_original_names_loads(tmp_path):
    model = tiny_model(use_hand=False)
    path = str(tmp_path / "wan2.1_i2v_tiny.safetensors")
    save_file({"model.diffusion_model." + to_original(k): v.contiguous() for k, v in model.state_dict().items()}, path)
    loaded = load_transformer(path, dtype=torch.float32, num_heads=2)
    assert loaded.config.use_reference and not loaded.config.use_hand
    assert_same_weights(loaded, model)
    torch.testing.assert_close(forward(loaded), forward(model), rtol=1e-6, atol=1e-6)
    with pytest.raises(ModelFileError, match="128-dim heads"):  # 16 wide: not a real Wan, heads must be given
        load_transformer(path)


def test_mismatched_files_name_the_file_and_the_keys(tmp_path):
    model = tiny_model()
    state = {to_original(k): v.contiguous() for k, v in model.state_dict().items()}
    broken = dict(state)
    del broken["blocks.1.cross_attn.k.weight"]
    broken["blocks.0.self_attn.extra.weight"] = torch.zeros(2)
    broken["blocks.0.ffn.2.bias"] = torch.zeros(5)
    path = str(tmp_path / "broken.safetensors")
    save_file(broken, path)
    with pytest.raises(ModelFileError) as error:
        load_transformer(path, num_heads=2)
    message = str(error.value)
    assert path in message and "PoseGenTransformer" in message
    assert "missing keys: blocks.1.attn2.to_k.weight" in message
    assert "unexpected keys: blocks.0.self_attn.extra.weight" in message
    assert "wrong shapes: blocks.0.ffn.net.2.bias [5] (expected [16])" in message

    write_posegen_folder(tmp_path / "posegen", model, num_layers=3)
    with pytest.raises(ModelFileError, match=r"model_config.json says num_layers=3 but the weights have 2"):
        load_transformer(str(tmp_path / "posegen"))

    garbage = tmp_path / "garbage.safetensors"
    garbage.write_bytes(b"not a weight file")
    with pytest.raises(ModelFileError, match="garbage.safetensors: cannot read weights"):
        load_transformer(str(garbage))
    with pytest.raises(ModelFileError, match="PoseGen weights: file or folder not found"):
        load_transformer(str(tmp_path / "absent"))
    (tmp_path / "empty").mkdir()
    with pytest.raises(ModelFileError, match="expected a diffusers folder"):
        load_transformer(str(tmp_path / "empty"))
    not_wan = str(tmp_path / "other.safetensors")
    save_file({"encoder.weight": torch.zeros(2)}, not_wan)
    with pytest.raises(ModelFileError, match="not a Wan transformer checkpoint"):
        load_transformer(not_wan)


def test_vae_loads_from_folder_and_single_file(tmp_path):

    torch.manual_seed(0)
    vae = AutoencoderKLWan(base_dim=8, z_dim=4, latents_mean=[0.0] * 4, latents_std=[1.0] * 4).eval()
    vae.save_pretrained(tmp_path / "vae")
    from_folder = load_vae(str(tmp_path / "vae"))
    assert_same_weights(from_folder, vae)
    save_file({k: v.contiguous() for k, v in vae.state_dict().items()}, str(tmp_path / "vae.safetensors"))
    from_file = load_vae(str(tmp_path / "vae.safetensors"))
    assert_same_weights(from_file, vae)
    video = torch.rand(1, 3, 1, 16, 16) * 2 - 1
    with torch.no_grad():
        torch.testing.assert_close(from_file.encode(video).latent_dist.mean, vae.encode(video).latent_dist.mean)
    save_file({"decoder.conv_in.weight": torch.zeros(1)}, str(tmp_path / "bad.safetensors"))
    with pytest.raises(ModelFileError, match="bad.safetensors: not a Wan VAE"):
        load_vae(str(tmp_path / "bad.safetensors"))


def test_clip_vision_loads_from_folder_and_comfy_single_file(tmp_path):

    torch.manual_seed(0)
    config = CLIPVisionConfig(hidden_size=32, intermediate_size=48, num_hidden_layers=2, num_attention_heads=2,
                              image_size=28, patch_size=14, projection_dim=16, hidden_act="gelu")
    clip = CLIPVisionModelWithProjection(config).eval()
    clip.save_pretrained(tmp_path / "clip")
    pixels = torch.rand(1, 3, 28, 28)
    for loaded in (load_clip_vision(str(tmp_path / "clip")),):
        assert_same_weights(loaded, clip)
    path = str(tmp_path / "clip_vision_tiny.safetensors")
    save_file({k: v.contiguous() for k, v in clip.state_dict().items()}, path)
    loaded = load_clip_vision(path, num_heads=2)
    assert_same_weights(loaded, clip)
    with torch.no_grad():
        expected = clip(pixels, output_hidden_states=True).hidden_states[-2]
        torch.testing.assert_close(loaded(pixels, output_hidden_states=True).hidden_states[-2], expected)
    save_file({"visual.transformer.resblocks.0.attn.in_proj_weight": torch.zeros(3, 3)}, str(tmp_path / "oc.safetensors"))
    with pytest.raises(ModelFileError, match="not a CLIP vision checkpoint in transformers names"):
        load_clip_vision(str(tmp_path / "oc.safetensors"))


@pytest.mark.parametrize("layout", ["comfy_single_file", "unprefixed_single_file", "transformers5_folder"])
def test_clip_vision_without_projection_loads(tmp_path, layout):
    """A tower without projection: ComfyUI names keep ``vision_model.``; transformers 5 saves a
    CLIPVisionModel without it. The reference is the same tower inside a model with projection,
    whose state dict keeps the prefix in every transformers version."""

    torch.manual_seed(1)
    config = CLIPVisionConfig(hidden_size=32, intermediate_size=48, num_hidden_layers=2, num_attention_heads=2,
                              image_size=28, patch_size=14, projection_dim=16, hidden_act="gelu")
    with_projection = CLIPVisionModelWithProjection(config).eval()
    tower = {k: v.contiguous() for k, v in with_projection.state_dict().items()
             if k.startswith("vision_model.") and not k.endswith("position_ids")}
    assert tower and "visual_projection.weight" in with_projection.state_dict()
    if layout == "comfy_single_file":
        path = str(tmp_path / "clip_vision_tiny.safetensors")
        save_file(tower, path)
    elif layout == "unprefixed_single_file":
        path = str(tmp_path / "clip_vision_tiny.safetensors")
        save_file({k.removeprefix("vision_model."): v for k, v in tower.items()}, path)
    else:
        without = CLIPVisionModel(config)  # transformers 5: the tower itself, state dict unprefixed
        result = without.load_state_dict({k.removeprefix("vision_model."): v for k, v in tower.items()}, strict=False)
        assert not result.unexpected_keys and all(k.endswith("position_ids") for k in result.missing_keys)
        path = str(tmp_path / "clip")
        without.save_pretrained(path)
    loaded = load_clip_vision(path, num_heads=2)
    assert type(loaded).__name__ == "CLIPVisionModel"
    pixels = torch.rand(2, 3, 28, 28)
    with torch.no_grad():
        expected = with_projection(pixels, output_hidden_states=True).hidden_states[-2]
        torch.testing.assert_close(loaded(pixels, output_hidden_states=True).hidden_states[-2], expected,
                                   rtol=0, atol=0)


def _tiny_tokenizer(folder) -> None:

    vocab = {"<pad>": 0, "</s>": 1, "<unk>": 2, "a": 3, "woman": 4, "dances": 5}
    backend = Tokenizer(models.WordLevel(vocab, unk_token="<unk>"))
    backend.pre_tokenizer = pre_tokenizers.Whitespace()
    PreTrainedTokenizerFast(tokenizer_object=backend, pad_token="<pad>", eos_token="</s>",
                            unk_token="<unk>").save_pretrained(folder)


def test_text_encoder_loads_with_its_tokenizer(tmp_path):

    torch.manual_seed(0)
    encoder = UMT5EncoderModel(UMT5Config(vocab_size=6, d_model=16, d_kv=8, d_ff=24, num_layers=2, num_heads=2,
                                          relative_attention_num_buckets=8, feed_forward_proj="gated-gelu")).eval()
    encoder.save_pretrained(tmp_path / "pipeline" / "text_encoder")
    _tiny_tokenizer(tmp_path / "pipeline" / "tokenizer")
    loaded, tokenizer = load_text_encoder(str(tmp_path / "pipeline"), dtype=torch.float32)
    ids = tokenizer("a woman dances", return_tensors="pt").input_ids
    assert ids.tolist() == [[3, 4, 5]]
    with torch.no_grad():
        expected = encoder(ids).last_hidden_state
        torch.testing.assert_close(loaded(ids).last_hidden_state, expected)

    path = str(tmp_path / "umt5_tiny.safetensors")
    save_file({k: v.contiguous() for k, v in encoder.state_dict().items() if k != "encoder.embed_tokens.weight"}, path)
    with pytest.raises(ModelFileError, match="umt5_tiny.safetensors: a single-file text encoder carries no tokenizer"):
        load_text_encoder(path)
    loaded, _ = load_text_encoder(path, dtype=torch.float32, tokenizer_path=str(tmp_path / "pipeline" / "tokenizer"))
    with torch.no_grad():
        torch.testing.assert_close(loaded(ids).last_hidden_state, expected)


# ----------------------------------------------------------------------------- LoRA files
# Each accepted layout must give the outputs of W + (alpha/r) B A written into the weights by hand;
# merged equals active; unloading restores the outputs exactly.

LORA_TINY = dict(patch_size=(1, 2, 2), num_attention_heads=2, attention_head_dim=8, in_channels=16, out_channels=16,
            text_dim=12, freq_dim=8, ffn_dim=24, num_layers=2)
RANK, ALPHA = 4, 2.0
# (diffusers module, original module) pairs the LoRA adapts
TARGETS = [("blocks.0.attn1.to_q", "blocks.0.self_attn.q"), ("blocks.1.attn2.to_out.0", "blocks.1.cross_attn.o"),
           ("blocks.1.ffn.net.0.proj", "blocks.1.ffn.0")]


@pytest.fixture(scope="module")
def lora_model() -> torch.nn.Module:
    torch.manual_seed(0)
    return WanTransformer3DModel(**LORA_TINY).eval()


@pytest.fixture(scope="module")
def factors(lora_model) -> dict[str, tuple[torch.Tensor, torch.Tensor]]:
    generator = torch.Generator().manual_seed(3)
    shapes = {name: lora_model.get_submodule(name).weight.shape for name, _ in TARGETS}
    return {name: (torch.randn(RANK, shape[1], generator=generator) * 0.3,
                   torch.randn(shape[0], RANK, generator=generator) * 0.3) for name, shape in shapes.items()}


def lora_outputs(model: torch.nn.Module) -> torch.Tensor:
    generator = torch.Generator().manual_seed(1)
    latents = torch.randn(1, 16, 2, 4, 4, generator=generator)
    text = torch.randn(1, 5, 12, generator=generator)
    with torch.no_grad():
        return model(latents, torch.tensor([300.0]), text, return_dict=False)[0]


def patched_by_hand(model, factors, scale) -> torch.Tensor:
    reference = copy.deepcopy(model)
    with torch.no_grad():
        for name, (down, up) in factors.items():
            reference.get_submodule(name).weight += scale * up @ down
    return lora_outputs(reference)


def write_lora(path, tensors) -> str:
    save_file({k: v.contiguous() for k, v in tensors.items()}, str(path))
    return str(path)


def original_file(tmp_path, factors) -> str:
    tensors = {}
    for name, original in TARGETS:
        down, up = factors[name]
        tensors[f"diffusion_model.{original}.lora_down.weight"] = down
        tensors[f"diffusion_model.{original}.lora_up.weight"] = up
        tensors[f"diffusion_model.{original}.alpha"] = torch.tensor(ALPHA)
    return write_lora(tmp_path / "original.safetensors", tensors)


def test_layouts_give_the_hand_patched_outputs_and_unload_restores_them(lora_model, factors, tmp_path):
    model = lora_model
    before = lora_outputs(model)
    peft_tensors = {}
    kohya_tensors = {}
    for name, original in TARGETS:
        down, up = factors[name]
        peft_tensors[f"transformer.{name}.lora_A.weight"] = down
        peft_tensors[f"transformer.{name}.lora_B.weight"] = up
        flat = "lora_unet_" + original.replace(".", "_")
        kohya_tensors.update({f"{flat}.lora_down.weight": down, f"{flat}.lora_up.weight": up,
                              f"{flat}.alpha": torch.tensor(ALPHA)})
    cases = [(write_lora(tmp_path / "peft.safetensors", peft_tensors), 1.0),  # no alpha: scale 1
             (original_file(tmp_path, factors), ALPHA / RANK),
             (write_lora(tmp_path / "kohya.safetensors", kohya_tensors), ALPHA / RANK)]
    for path, scale in cases:
        expected = patched_by_hand(model, factors, scale)
        assert (expected - before).abs().max() > 1e-3  # the LoRA does change the output
        adapted = load_lora(model, path)
        assert adapted == sorted(name for name, _ in TARGETS)
        torch.testing.assert_close(lora_outputs(model), expected, rtol=1e-5, atol=1e-5)
        unload_lora(model)
        assert torch.equal(lora_outputs(model), before)
        assert not any("lora" in key for key in model.state_dict())


def test_merged_equals_active_and_unload_restores_exact_weights(lora_model, factors, tmp_path):
    model = lora_model
    path = original_file(tmp_path, factors)
    weights_before = {k: v.clone() for k, v in model.state_dict().items()}
    before = lora_outputs(model)
    expected = patched_by_hand(model, factors, 0.7 * ALPHA / RANK)
    load_lora(model, path, strength=0.7)
    active = lora_outputs(model)
    unload_lora(model)
    load_lora(model, path, strength=0.7, merge=True)
    merged_weight = model.get_submodule("blocks.0.attn1.to_q").get_base_layer().weight
    assert not torch.equal(merged_weight, weights_before["blocks.0.attn1.to_q.weight"])  # merged into W
    torch.testing.assert_close(lora_outputs(model), active, rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(active, expected, rtol=1e-5, atol=1e-5)
    unload_lora(model)
    assert torch.equal(lora_outputs(model), before)
    for key, value in model.state_dict().items():
        assert torch.equal(value, weights_before[key]), key


def test_malformed_lora_files_raise_clear_errors(lora_model, factors, tmp_path):
    model = lora_model
    down, up = factors["blocks.0.attn1.to_q"]
    cases = {
        "half.safetensors": ({"blocks.0.attn1.to_q.lora_A.weight": down}, "has only one of its two matrices"),
        "module.safetensors": ({"blocks.7.attn1.to_q.lora_A.weight": down, "blocks.7.attn1.to_q.lora_B.weight": up},
                               "does not have: blocks.7.attn1.to_q"),
        "shape.safetensors": ({"blocks.0.attn1.to_q.lora_A.weight": down[:, :3], "blocks.0.attn1.to_q.lora_B.weight": up},
                              "blocks.0.attn1.to_q has shapes"),
        "other.safetensors": ({"blocks.0.attn1.to_q.weight": down}, "unsupported keys: blocks.0.attn1.to_q.weight"),
    }
    for name, (tensors, message) in cases.items():
        with pytest.raises(ModelFileError, match=f"{name}: .*{message}"):
            load_lora(model, write_lora(tmp_path / name, tensors))
    assert not any("lora" in key for key in model.state_dict())  # nothing was injected on failure
    (tmp_path / "garbage.safetensors").write_bytes(b"\x00" * 16)
    with pytest.raises(ModelFileError, match="cannot read weights"):
        load_lora(model, str(tmp_path / "garbage.safetensors"))
