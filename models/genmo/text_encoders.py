"""The text encoders a GENMO denoiser reads prompts through; the model's checkpoint records which one.

- ``minilm-l6``: the embedded all-MiniLM-L6-v2 (384-d tokens), what our demo model was trained with;
- ``t5:<folder>``: a T5 encoder folder the user provides (GEM's weights expect T5-3B's encoder:
  1024-d tokens, prompts cut at 50 tokens as GEM does).

Both return ``Conditioning`` (tokens [B, M, D], mask [B, M]) from ``encode(texts)``.
"""

from __future__ import annotations

import os

import torch
from transformers import AutoTokenizer, T5EncoderModel

from ..core.errors import InputError, ModelFileError
from ..forecasting.encoders import check_texts, default_text_encoder
from ..forecasting.types import Conditioning

MINILM_ID = "minilm-l6"
T5_MAX_TOKENS = 50  # GEM's prompt length


class T5TextEncoder:
    """A local T5 encoder folder (config.json, weights, tokenizer files); nothing is downloaded."""

    def __init__(self, folder: str, max_tokens: int = T5_MAX_TOKENS):
        if not os.path.isdir(folder):
            raise ModelFileError(f"text_encoder: folder not found: {folder!r} (a T5 encoder folder)")
        try:
            self.tokenizer = AutoTokenizer.from_pretrained(folder, local_files_only=True)
            self.model = T5EncoderModel.from_pretrained(folder, local_files_only=True).eval()
        except (OSError, ValueError, KeyError) as error:
            raise ModelFileError(f"text_encoder: {folder!r} is not a T5 encoder folder: {error}") from error
        self.max_tokens = max_tokens
        self.encoder_id = "t5:" + os.path.basename(os.path.normpath(folder))

    @property
    def module(self) -> torch.nn.Module:
        return self.model

    @torch.no_grad()
    def encode(self, texts) -> Conditioning:
        texts = check_texts(texts, 10**6, self.tokenizer)  # empty text refused; long text cut as GEM does
        device = next(self.model.parameters()).device
        batch = self.tokenizer(texts, padding=True, truncation=True, max_length=self.max_tokens, return_tensors="pt")
        hidden = self.model(**{k: v.to(device) for k, v in batch.items()}).last_hidden_state
        return Conditioning(tokens=hidden.float().cpu(), mask=batch["attention_mask"].bool(), encoder=self.encoder_id)


def open_text_encoder(expected: str, folder: str | None = None):
    """The encoder a model was trained with: ``expected`` is its recorded id; ``folder`` a T5 folder or None
    for the embedded MiniLM. A mismatch names both."""
    if folder is None:
        if expected != MINILM_ID:
            raise InputError("text_encoder", f"the model was trained with {expected!r}: choose that T5 encoder "
                                             f"folder (models/text_encoders), not the embedded MiniLM")
        return default_text_encoder()
    encoder = T5TextEncoder(folder)
    if expected != encoder.encoder_id and not expected.startswith("t5"):
        raise InputError("text_encoder", f"the model was trained with {expected!r}, not a T5 encoder "
                                         f"({encoder.encoder_id!r}): choose the embedded MiniLM")
    return encoder
