"""MotionLLM: a base causal LM with the motion vocabulary and a peft LoRA adapter, plus its motion tokenizer.

The base stays frozen. Trainable are the LoRA matrices on the attention and MLP projections
(:class:`LoraSettings`: rank, alpha, dropout, target module names) and the rows of the added motion
tokens in the input embedding (and in the output projection when it is not tied to the input
embedding), through peft's ``trainable_token_indices``: only those rows are stored and trained.

``llm.lm`` is the peft model used for training and generation; :func:`merge_lora` folds the LoRA
weights into the base (transformers' ``merge_and_unload``) for faster inference.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

import torch
from peft import LoraConfig, get_peft_model

from ..core.errors import InputError
from ..tokenizers.base import MotionTokenizer
from .base import BaseLM
from .prompts import Templates, load_templates
from .vocabulary import MotionVocabulary, extend_vocabulary

LLAMA_TARGETS = ("q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj")
DEFAULT_MAX_SECONDS = 10.0  # the corpus's longest window; longer requests are refused


@dataclass(frozen=True)
class LoraSettings:
    rank: int = 8
    alpha: int = 16
    dropout: float = 0.05
    targets: tuple[str, ...] = LLAMA_TARGETS

    def check(self) -> "LoraSettings":
        if not (isinstance(self.rank, int) and self.rank >= 1 and self.alpha > 0 and 0 <= self.dropout < 1
                and self.targets):
            raise InputError("lora", f"expected rank >= 1, alpha > 0, 0 <= dropout < 1 and targets, got {self}")
        return self

    def to_dict(self) -> dict:
        return {**asdict(self), "targets": list(self.targets)}

    @staticmethod
    def from_dict(data: dict) -> "LoraSettings":
        return LoraSettings(int(data["rank"]), int(data["alpha"]), float(data["dropout"]), tuple(data["targets"]))


@dataclass
class MotionLLM:
    base: BaseLM  # base.model is wrapped by peft: use ``lm``
    lm: torch.nn.Module
    vocabulary: MotionVocabulary
    motion_tokenizer: MotionTokenizer
    lora: LoraSettings
    templates: Templates = field(default_factory=load_templates)
    max_seconds: float = DEFAULT_MAX_SECONDS
    merged: bool = False

    @property
    def text_tokenizer(self):
        return self.base.tokenizer

    @property
    def device(self) -> torch.device:
        return next(self.lm.parameters()).device

    @property
    def eos_token_id(self) -> int:
        return int(self.text_tokenizer.eos_token_id)


def _embedding_names(model) -> tuple[str, str | None]:
    """Module names of the input embedding and, when not tied to it, the output projection."""
    names = {id(module): name for name, module in model.named_modules()}
    inputs, outputs = model.get_input_embeddings(), model.get_output_embeddings()
    tied = outputs is None or outputs.weight is inputs.weight
    return names[id(inputs)].split(".")[-1], None if tied else names[id(outputs)].split(".")[-1]


def build_motion_llm(base: BaseLM, motion_tokenizer: MotionTokenizer, lora: LoraSettings = LoraSettings(),
                     max_seconds: float = DEFAULT_MAX_SECONDS, templates: Templates | None = None,
                     vocabulary_seed: int = 0) -> MotionLLM:
    """Extend ``base`` (in place) with ``motion_tokenizer``'s tokens and wrap it with a fresh LoRA adapter.

    LoRA B matrices start at zero (peft's default), so the new model's text behaviour is the base's."""
    lora = lora.check()
    base.model.requires_grad_(False)
    vocabulary = extend_vocabulary(base.model, base.tokenizer, motion_tokenizer, seed=vocabulary_seed)
    embed, head = _embedding_names(base.model)
    rows = list(vocabulary.added_ids)
    config = LoraConfig(r=lora.rank, lora_alpha=lora.alpha, lora_dropout=lora.dropout,
                        target_modules=list(lora.targets),
                        trainable_token_indices={embed: rows, **({head: rows} if head else {})})
    try:
        lm = get_peft_model(base.model, config)
    except ValueError as error:  # peft: a target name the base does not have
        raise InputError("lora", f"cannot place LoRA on {list(lora.targets)} in {base.name}: {error}") from error
    motion_tokenizer.eval().requires_grad_(False)
    lm.eval()
    return MotionLLM(base, lm, vocabulary, motion_tokenizer, lora, templates or load_templates(), max_seconds)


def merge_lora(llm: MotionLLM) -> MotionLLM:
    """The same model with the LoRA weights and trained rows folded into the base (no adapter left)."""
    if llm.merged:
        return llm
    merged = llm.lm.merge_and_unload()
    return MotionLLM(llm.base, merged, llm.vocabulary, llm.motion_tokenizer, llm.lora, llm.templates,
                     llm.max_seconds, merged=True)


def trainable_parameters(llm: MotionLLM) -> tuple[int, int]:
    """(trainable, total) parameter counts."""
    trainable = sum(p.numel() for p in llm.lm.parameters() if p.requires_grad)
    return trainable, sum(p.numel() for p in llm.lm.parameters())
