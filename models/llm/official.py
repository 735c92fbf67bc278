"""OpenMotionLab's MotionGPT checkpoints (``motiongpt_s3_h3d.tar``), loaded strictly and run with its
own prompts and decoding.

Data contract
-------------
- ``checkpoint``: a PyTorch Lightning file, ``{"state_dict": {...}, ...}``, read with
  ``torch.load(weights_only=True)`` through ``tokenizers.official.read_checkpoint`` (nothing in it is
  run). ``state_dict`` holds the language model under ``lm.language_model.*`` (flan-t5-base with
  K + 3 added rows: 32100 + 515 for the published file) and the motion VQ-VAE under ``vae.*`` (or
  ``motion_vae.*``; T2M-GPT's layout, read by the existing official key handling). Other top-level
  prefixes (a Lightning module's ``metrics.*``, ``_losses.*``) are not these models and are ignored;
  any other key under ``lm.``, a missing key or a mis-shaped one is one ``ModelFileError`` naming the
  file and the first bad keys. The aliases of tied tensors (``encoder.embed_tokens`` and
  ``decoder.embed_tokens`` share ``shared``) may be absent from a file; flan-t5's ``lm_head`` is its
  own matrix and stays one.
- ``t5_folder``: the user's flan-t5-base folder (``config.json`` + tokenizer files); only its config
  and tokenizer are read, never its weights. Nothing is downloaded.
- Vocabulary: ``<motion_id_0..K+2>`` appended to the T5 tokenizer (K start, K+1 end, K+2 mask), the
  ``MotionVocabulary`` layout with one ``motion`` block whose ``first_id`` is the tokenizer's length
  before adding (32100 for flan-t5-base).

Decoding, as MotionGPT's ``mgpt_lm.py`` does it (facts read from its source, no code copied):
text-to-motion samples (``do_sample``, 1 beam, ``max_length`` 128, transformers' sampling defaults of
the time: top-k 50, top-p 1, temperature 1); motion-to-text is greedy (``max_length`` 40). The
answer's codes are the tokens between the first start and the first end token, clamped to 0..K-1
(the mask token becomes K-1); an answer without both tokens becomes the single code 0 (MotionGPT's
fallback; a warning says so here). A caption is the answer's text; motion tokens in it are
dropped (MotionGPT puts ``<Motion_Placeholder>`` in their place). Prompts are truncated at 256 tokens
(its ``max_length``); its padding to 256 is masked by ``generate`` and so is left out. Unlike its
test-time prompt filling, the caption is never wrapped in quotes at random.

Real MotionGPT weights were NOT run here: no ``motiongpt_s3_h3d.tar`` nor flan-t5-base is available
offline. The loader and the decoding are tested on a tiny T5 configuration saved with the same key
layout and file structure (tests/llm/test_llm_official.py); a file of the published sizes (random
weights, 248.3 M LM parameters) was loaded strictly once, by hand.
"""

from __future__ import annotations

import os
import warnings
from dataclasses import dataclass

import torch

from ..core.checkpoint import check_state_dict, load_weights_strictly
from ..core.errors import InputError, ModelFileError
from ..core.motion import Motion
from ..tokenizers.base import MotionTokenizer, MotionTokens
from ..tokenizers.checkpoints import TOKENIZER_KINDS, attach_official_stats
from ..tokenizers.codec import decode_motion, encode_motion
from ..tokenizers.official import infer_official_config, read_checkpoint
from .vocabulary import MotionVocabulary, blocks_for, motion_tokenizer_hash

MOTIONGPT_PROMPTS = {
    "t2m": "Generate motion: <Caption_Placeholder>",
    "m2t": "Generate text: <Motion_Placeholder>",
    "predict": "Predict motion: <Motion_Placeholder_s1>",
    "inbetween": "Complete the masked motion: <Motion_Placeholder_Masked>",
}
LM_PREFIX = "lm.language_model."
VAE_PREFIXES = ("vae.", "motion_vae.")
SOURCE_MAX_TOKENS = 256  # MotionGPT's MLM max_length: longer prompts are truncated
T2M_MAX_LENGTH = 128  # decoder tokens, start token included (generate's max_length)
M2T_MAX_LENGTH = 40
T2M_SAMPLING = {"do_sample": True, "num_beams": 1, "top_k": 50, "top_p": 1.0, "temperature": 1.0}


@dataclass
class OfficialMotionGPT:
    lm: torch.nn.Module  # transformers T5ForConditionalGeneration
    tokenizer: object  # the flan-t5 tokenizer with <motion_id_0..K+2> added
    vae: MotionTokenizer  # our VQVAE holding the checkpoint's vae.* weights
    vocabulary: MotionVocabulary
    checkpoint: str

    @property
    def device(self) -> torch.device:
        return next(self.lm.parameters()).device


# ----------------------------------------------------------------------------- loading

def load_motiongpt(checkpoint: str, t5_folder: str, device="cpu") -> OfficialMotionGPT:
    """MotionGPT's LM and VQ-VAE from ``checkpoint`` with the config and tokenizer of ``t5_folder``."""
    from transformers import AutoTokenizer, T5Config  # heavy: loaded when a model is

    checkpoint, t5_folder = str(checkpoint), str(t5_folder)
    if not os.path.isfile(checkpoint):
        raise ModelFileError(f"checkpoint: file not found: {checkpoint!r} (a MotionGPT .tar)")
    if not os.path.isfile(os.path.join(t5_folder, "config.json")):
        raise ModelFileError(f"t5_folder: {t5_folder} is not a flan-t5-base folder (no config.json); MotionGPT "
                             f"reads the T5 config and tokenizer from it")
    try:
        config = T5Config.from_pretrained(t5_folder, local_files_only=True)
        tokenizer = AutoTokenizer.from_pretrained(t5_folder, local_files_only=True)
    except (OSError, ValueError, KeyError) as error:
        raise ModelFileError(f"t5_folder: cannot read the T5 config and tokenizer in {t5_folder}: {error}") from error
    if config.model_type != "t5":
        raise ModelFileError(f"t5_folder: {t5_folder} holds a {config.model_type!r} config; MotionGPT needs flan-t5")

    state = lightning_state_dict(read_checkpoint(checkpoint), checkpoint)
    vae = _load_vae(state, checkpoint)
    vocabulary = MotionVocabulary(vae.kind, motion_tokenizer_hash(vae), blocks_for(vae.kind, vae.codebook_sizes()),
                                  len(tokenizer), vae.downsample, vae.fps)
    _add_motion_tokens(tokenizer, vocabulary, t5_folder)
    config.vocab_size = len(tokenizer)  # MotionGPT resized the embeddings to the extended tokenizer
    lm = _load_lm(config, state, checkpoint)
    return OfficialMotionGPT(lm.to(device).eval(), tokenizer, vae.to(device).eval(), vocabulary, checkpoint)


def lightning_state_dict(checkpoint, path: str) -> dict[str, torch.Tensor]:
    if not isinstance(checkpoint, dict) or not isinstance(checkpoint.get("state_dict"), dict):
        keys = ", ".join(map(str, list(checkpoint)[:6])) if isinstance(checkpoint, dict) else type(checkpoint).__name__
        raise ModelFileError(f"{path}: not a MotionGPT checkpoint (expected a dict with 'state_dict'; found {keys})")
    return checkpoint["state_dict"]


def _load_vae(state: dict, path: str) -> MotionTokenizer:
    prefix = next((p for p in VAE_PREFIXES if any(str(k).startswith(p) for k in state)), None)
    if prefix is None:
        raise ModelFileError(f"{path}: no motion VQ-VAE weights (keys under {' or '.join(VAE_PREFIXES)})")
    weights = {k[len(prefix):]: v for k, v in state.items() if str(k).startswith(prefix)}
    kind, config = infer_official_config(weights, path)
    if kind != "vqvae":
        raise ModelFileError(f"{path}: MotionGPT's VQ-VAE has one codebook ({prefix}quantizer.codebook); found a "
                             f"{kind!r} tokenizer")
    vae = TOKENIZER_KINDS[kind](**config)
    expected = {prefix + k: v for k, v in vae.state_dict().items()}
    check_state_dict(expected, {prefix + k: v for k, v in weights.items()}, path, f"MotionGPT's VQ-VAE ({config})")
    load_weights_strictly(vae, weights, path)
    vae.notes = ["MotionGPT checkpoint"]  # official input: HumanML3D's uniform skeleton (codec.py)
    attach_official_stats(vae, path)
    return vae


def _add_motion_tokens(tokenizer, vocabulary: MotionVocabulary, t5_folder: str) -> None:
    strings = vocabulary.token_strings()
    if tokenizer.convert_tokens_to_ids(strings[0]) not in (None, tokenizer.unk_token_id):
        raise ModelFileError(f"t5_folder: the tokenizer in {t5_folder} already has {strings[0]}; MotionGPT adds "
                             f"its motion tokens to the plain flan-t5-base tokenizer")
    tokenizer.add_tokens(strings)
    if tokenizer.convert_tokens_to_ids(strings[-1]) != vocabulary.added_ids[-1]:
        raise ModelFileError(f"t5_folder: the tokenizer in {t5_folder} did not place the motion tokens after its "
                             f"{vocabulary.first_id} tokens")


def _load_lm(config, state: dict, path: str):
    from transformers import T5ForConditionalGeneration

    given = {k: v for k, v in state.items() if str(k).startswith("lm.")}
    model = T5ForConditionalGeneration(config)
    expected = {LM_PREFIX + k: v for k, v in model.state_dict().items()}
    for alias, source in _tied_aliases(model).items():  # a tied tensor may be stored once
        if LM_PREFIX + alias not in given and LM_PREFIX + source in given:
            given[LM_PREFIX + alias] = given[LM_PREFIX + source]
    check_state_dict(expected, given, path, f"flan-t5 with {config.vocab_size} token rows (d_model "
                                            f"{config.d_model}, {config.num_layers} layers)")
    weights = {k[len(LM_PREFIX):]: v for k, v in given.items()}
    _untie_what_the_file_keeps_apart(model, weights)
    try:
        model.load_state_dict(weights, strict=True)
    except RuntimeError as error:  # e.g. a dtype torch cannot copy
        raise ModelFileError(f"{path}: weights do not match flan-t5: {str(error)[:300]}") from error
    return model


def _untie_what_the_file_keeps_apart(model, weights: dict[str, torch.Tensor]) -> None:
    """flan-t5's output projection is its own matrix (``tie_word_embeddings: false``), but recent transformers
    build every T5 with ``lm_head`` tied to ``shared`` and untie it only in from_pretrained when a file holds
    two different tensors: the same rule here."""
    for alias, source in _tied_aliases(model).items():
        if alias in weights and source in weights and not torch.equal(weights[alias], weights[source]):
            parent, _, name = alias.rpartition(".")
            module = model.get_submodule(parent)
            setattr(module, name, torch.nn.Parameter(getattr(module, name).detach().clone()))
            getattr(model, "all_tied_weights_keys", {}).pop(alias, None)  # so a later tie_weights() keeps it apart


def _tied_aliases(model) -> dict[str, str]:
    """{state-dict name: the first name of the same tensor} for tensors that appear under several names."""
    first: dict[int, str] = {}
    aliases = {}
    for name, tensor in model.state_dict(keep_vars=True).items():
        owner = first.setdefault(id(tensor), name)
        if owner != name:
            aliases[name] = owner
    return aliases


# ----------------------------------------------------------------------------- prompts and answers

def motion_string(codes, vocabulary: MotionVocabulary, masked_steps: range | None = None) -> str:
    """``<motion_id_K>`` + one ``<motion_id_c>`` per code (the mask token on masked steps) + ``<motion_id_K+1>``."""
    size = vocabulary.blocks[0].size
    tokens = [size + 2 if masked_steps is not None and step in masked_steps else int(code)
              for step, code in enumerate(codes)]
    return "".join(f"<motion_id_{k}>" for k in (size, *tokens, size + 1))


def fill_prompt(task: str, text: str = "", motion: str = "") -> str:
    """MotionGPT's prompt for ``task`` with its caption or motion placeholder filled in."""
    if task not in MOTIONGPT_PROMPTS:
        raise InputError("task", f"expected one of {sorted(MOTIONGPT_PROMPTS)}, got {task!r}")
    prompt = MOTIONGPT_PROMPTS[task].replace("<Caption_Placeholder>", text)
    for placeholder in ("<Motion_Placeholder>", "<Motion_Placeholder_s1>", "<Motion_Placeholder_Masked>"):
        prompt = prompt.replace(placeholder, motion)
    return prompt


def answer_codes(lm_ids, vocabulary: MotionVocabulary) -> tuple[list[int], bool]:
    """(codes, complete) of a generated answer, decoded MotionGPT's way (module doc).

    ``complete`` is False when the answer lacked a start or end token and the fallback [0] was used."""
    ids = [int(i) for i in (lm_ids.tolist() if isinstance(lm_ids, torch.Tensor) else lm_ids)]
    start, end = vocabulary.special_id(0, "start"), vocabulary.special_id(0, "end")
    if start not in ids or end not in ids:
        return [0], False
    begin, stop = ids.index(start) + 1, ids.index(end)
    added, size = vocabulary.added_ids, vocabulary.blocks[0].size
    # text tokens inside the span carry no code (MotionGPT's string parsing would fail on them)
    codes = [min(i - added.start, size - 1) for i in ids[begin:stop] if i in added]
    return (codes or [0]), bool(codes)


def _encode_prompt(official: OfficialMotionGPT, prompt: str, input_name: str, motion: bool = False) -> torch.Tensor:
    ids = official.tokenizer(prompt, add_special_tokens=True, return_tensors="pt").input_ids
    if ids.shape[1] > SOURCE_MAX_TOKENS:
        if motion:  # cutting a motion would drop its end token
            raise InputError(input_name, f"the motion makes a {ids.shape[1]}-token prompt; MotionGPT reads at most "
                                         f"{SOURCE_MAX_TOKENS} tokens")
        warnings.warn(f"{input_name}: the prompt has {ids.shape[1]} tokens; MotionGPT reads the first "
                      f"{SOURCE_MAX_TOKENS} (the rest is dropped)", stacklevel=4)
        ids = torch.cat([ids[:, : SOURCE_MAX_TOKENS - 1], ids[:, -1:]], dim=1)  # keep the closing </s>
    return ids.to(official.device)


# ----------------------------------------------------------------------------- tasks

@torch.no_grad()
def generate_motion(official: OfficialMotionGPT, text: str, seed: int | None = None) -> Motion:
    """MotionGPT's text-to-motion: a sampled answer decoded to joints by its VQ-VAE (canonical frame, 20 fps)."""
    if not isinstance(text, str) or not text.strip():
        raise InputError("text", "expected a non-empty description of the motion")
    input_ids = _encode_prompt(official, fill_prompt("t2m", text=text.strip()), "text")
    if seed is None:
        output = _sample(official, input_ids)
    else:  # seeded without disturbing the caller's random streams
        with torch.random.fork_rng(devices=[official.device] if official.device.type == "cuda" else []):
            torch.manual_seed(seed)
            output = _sample(official, input_ids)
    codes, complete = answer_codes(output[0], official.vocabulary)
    if not complete:
        warnings.warn("MotionGPT's answer held no complete motion (start and end tokens); its decoding falls "
                      "back to the single code 0", stacklevel=3)
    return decode_motion(official.vae, codes_to_tokens(codes, official))


def _sample(official: OfficialMotionGPT, input_ids: torch.Tensor) -> torch.Tensor:
    return official.lm.generate(input_ids, attention_mask=torch.ones_like(input_ids), max_length=T2M_MAX_LENGTH,
                                **T2M_SAMPLING)


def codes_to_tokens(codes: list[int], official: OfficialMotionGPT) -> MotionTokens:
    vae = official.vae
    ids = torch.tensor(codes, dtype=torch.int64)[:, None]
    return MotionTokens(ids, tuple(vae.codebook_sizes()), vae.kind, len(codes) * vae.downsample, vae.fps)


@torch.no_grad()
def caption_motion(official: OfficialMotionGPT, motion: Motion) -> str:
    """MotionGPT's motion-to-text: the motion's codes in its m2t prompt, answered greedily."""
    tokens = encode_motion(official.vae, motion)
    prompt = fill_prompt("m2t", motion=motion_string(tokens.ids[:, 0].tolist(), official.vocabulary))
    input_ids = _encode_prompt(official, prompt, "motion", motion=True)
    output = official.lm.generate(input_ids, attention_mask=torch.ones_like(input_ids),
                                  max_length=M2T_MAX_LENGTH, do_sample=False, num_beams=1)
    text_ids = [i for i in output[0].tolist() if i not in official.vocabulary.added_ids]
    return official.tokenizer.decode(text_ids, skip_special_tokens=True).strip()
