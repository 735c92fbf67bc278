"""Offline stand-ins for the parts no package ships, for tests and the CPU benchmark.

No UMT5 tokenizer ships in any registry package, so small PoseGen runs use a word-level tokenizer
in UMT5's conventions (pad 0, eos appended, lower-cased) over a given vocabulary.
"""

from __future__ import annotations

from tokenizers import Tokenizer, models, normalizers, pre_tokenizers
from tokenizers.processors import TemplateProcessing
from transformers import PreTrainedTokenizerFast

UMT5_SPECIALS = ("<pad>", "</s>", "<unk>")
DEMO_WORDS = ("a an woman man person astronaut dances walks waves his her arms in the of front park red white dress "
              "space suit street studio across flag full body shot").split()


def word_level_umt5_tokenizer(words=DEMO_WORDS) -> PreTrainedTokenizerFast:
    """A word-level tokenizer in UMT5's conventions over ``words``, built offline."""
    vocab = {w: i for i, w in enumerate([*UMT5_SPECIALS, *words])}
    tokenizer = Tokenizer(models.WordLevel(vocab, unk_token="<unk>"))
    tokenizer.normalizer = normalizers.Lowercase()
    tokenizer.pre_tokenizer = pre_tokenizers.WhitespaceSplit()
    tokenizer.post_processor = TemplateProcessing(single="$A </s>", special_tokens=[("</s>", vocab["</s>"])])
    return PreTrainedTokenizerFast(tokenizer_object=tokenizer, pad_token="<pad>", eos_token="</s>",
                                   unk_token="<unk>")
