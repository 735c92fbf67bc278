"""Tiny models built in tests: no weights exist on this machine for BLIP, so tests make their own."""

import os
import shutil
import tempfile

import torch
from diffusers import AutoencoderKLWan
from posemotion.models.posegen.tiny import word_level_umt5_tokenizer
from posemotion.models.posegen.transformer import PoseGenTransformer
from safetensors.torch import save_file
from transformers import (
    BertTokenizer,
    BlipConfig,
    BlipForImageTextRetrieval,
    BlipImageProcessorPil,
    CLIPVisionConfig,
    CLIPVisionModelWithProjection,
    UMT5Config,
    UMT5EncoderModel,
)

WORDS = "a person walks forward runs jumps the and to left right slowly ##s ##ing".split()
SPECIALS = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
TEXTS = ["a person walks forward", "the person jumps to the left slowly"]


def tiny_blip_parts():
    """A tiny BLIP ITM model, tokenizer and image processor (seeded), for tests of the BLIP path."""

    tokenizer = BertTokenizer(vocab={w: i for i, w in enumerate(SPECIALS + WORDS)})
    image_processor = BlipImageProcessorPil(size={"height": 32, "width": 32})
    config = BlipConfig(
        text_config=dict(vocab_size=len(SPECIALS) + len(WORDS), hidden_size=32, encoder_hidden_size=32,
                         intermediate_size=64, num_hidden_layers=2, num_attention_heads=2,
                         max_position_embeddings=64, pad_token_id=0, bos_token_id=2, sep_token_id=3,
                         initializer_range=0.2),
        # BLIP's vision default initialises with std 1e-10: image tokens would be ~0 and the
        # cross-attention invisible; a large std makes the equality checks discriminating.
        vision_config=dict(hidden_size=32, intermediate_size=64, num_hidden_layers=2, num_attention_heads=2,
                           image_size=32, patch_size=16, initializer_range=0.2),
        image_text_hidden_size=16, projection_dim=16)
    torch.manual_seed(0)
    model = BlipForImageTextRetrieval(config).eval()
    return model, tokenizer, image_processor




def save_tiny_blip(folder: str) -> str:
    """Write a tiny BLIP ITM checkpoint laid out as Salesforce/blip-itm-base-coco is."""
    model, tokenizer, image_processor = tiny_blip_parts()
    model.save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    image_processor.save_pretrained(folder)
    assert os.path.isfile(os.path.join(folder, "preprocessor_config.json"))
    return folder


# --- PoseGen (Wan2.1 I2V parts) ------------------------------------------------------------------

def tiny_umt5_tokenizer():
    """A word-level tokenizer in UMT5's conventions over the demo prompts' words, built offline."""
    return word_level_umt5_tokenizer()


def tiny_posegen_parts(num_layers: int = 4, seed: int = 0) -> dict:
    """Tiny, seeded stand-ins of everything PoseGen runs: DiT (36 in-channels, reference and hand
    patchifiers), Wan VAE (z_dim 16, 8x spatial, 4x temporal), CLIP vision, UMT5 encoder, tokenizer."""

    torch.manual_seed(seed)
    transformer = PoseGenTransformer(num_attention_heads=2, attention_head_dim=16, in_channels=36, out_channels=16,
                                     text_dim=32, freq_dim=32, ffn_dim=64, num_layers=num_layers, image_dim=24,
                                     added_kv_proj_dim=32, rope_max_seq_len=64)
    # The hand patchifier starts at zero (as published before training): give it weights so hands matter.
    torch.nn.init.normal_(transformer.hand_patch_embedding.weight, std=0.05)
    vae = AutoencoderKLWan(base_dim=4, z_dim=16, dim_mult=[1, 1, 1, 1], num_res_blocks=1,
                           temperal_downsample=[False, True, True])
    # With projection, as Wan's clip_vision_h file is (its state dict keeps the vision_model. prefix).
    clip = CLIPVisionModelWithProjection(CLIPVisionConfig(hidden_size=24, intermediate_size=48, num_hidden_layers=2,
                                                          num_attention_heads=2, image_size=32, patch_size=8,
                                                          projection_dim=16))
    text = UMT5EncoderModel(UMT5Config(vocab_size=64, d_model=32, d_kv=8, d_ff=64, num_layers=2, num_heads=4,
                                       relative_attention_num_buckets=8))
    return {"transformer": transformer.eval(), "vae": vae.eval(), "clip_vision": clip.eval(),
            "text_encoder": text.eval(), "tokenizer": tiny_umt5_tokenizer()}


POSEGEN_FILES = {
    "transformer": "posegen/720p-81f-base",
    "interpolation_model": "posegen/720p-81f-cond",
    "vae": "wan2.1_vae",
    "clip_vision": "clip_vision_h.safetensors",
    "text_encoder": "umt5_xxl_fp16.safetensors",
    "tokenizer": "umt5-xxl-tokenizer",
}


def save_tiny_posegen(models_dir) -> dict[str, str]:
    """Write tiny PoseGen parts under ComfyUI's folders with the names the PoseGen workflows load:
    diffusers folders for the two transformers and the VAE, ComfyUI-style single files for CLIP vision
    and UMT5 (transformers names) with a separate tokenizer folder."""


    root = os.fspath(models_dir)
    base = tiny_posegen_parts(seed=0)
    base["transformer"].save_pretrained(os.path.join(root, "diffusion_models", POSEGEN_FILES["transformer"]))
    tiny_posegen_parts(seed=1)["transformer"].save_pretrained(
        os.path.join(root, "diffusion_models", POSEGEN_FILES["interpolation_model"]))
    base["vae"].save_pretrained(os.path.join(root, "vae", POSEGEN_FILES["vae"]))
    os.makedirs(os.path.join(root, "clip_vision"), exist_ok=True)
    clip_state = {k: v.contiguous() for k, v in base["clip_vision"].state_dict().items()
                  if not k.endswith("position_ids")}
    save_file(clip_state, os.path.join(root, "clip_vision", POSEGEN_FILES["clip_vision"]))
    os.makedirs(os.path.join(root, "text_encoders"), exist_ok=True)
    with tempfile.TemporaryDirectory() as scratch:  # transformers' on-disk names, as the released file has them
        base["text_encoder"].save_pretrained(scratch)
        shutil.copy(os.path.join(scratch, "model.safetensors"),
                    os.path.join(root, "text_encoders", POSEGEN_FILES["text_encoder"]))
    base["tokenizer"].save_pretrained(os.path.join(root, "text_encoders", POSEGEN_FILES["tokenizer"]))
    return dict(POSEGEN_FILES)
