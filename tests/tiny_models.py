"""Tiny models built in tests: no weights exist on this machine for BLIP, so tests make their own."""

import os

import torch

WORDS = "a person walks forward runs jumps the and to left right slowly ##s ##ing".split()
SPECIALS = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
TEXTS = ["a person walks forward", "the person jumps to the left slowly"]


def tiny_blip_parts():
    """A tiny BLIP ITM model, tokenizer and image processor (seeded), for tests of the BLIP path."""
    from transformers import BertTokenizer, BlipConfig, BlipForImageTextRetrieval, BlipImageProcessorPil

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
