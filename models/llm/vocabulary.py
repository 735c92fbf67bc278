"""Motion tokens in a causal LM's vocabulary: the one place that maps MOTION_TOKENS to LM ids.

Each motion stream the LLM reads and writes gets its own block of added tokens, appended after the
base tokenizer's vocabulary in this order:

- single-stream tokenizers (``vqvae``; ``rvq`` through its first quantiser): one block named
  ``motion``: ``<motion_id_0>`` .. ``<motion_id_{K-1}>`` for the K codes, then ``<motion_id_K>``
  (start), ``<motion_id_{K+1}>`` (end), ``<motion_id_{K+2}>`` (mask): MotionGPT's layout, so
  its official vocabulary (K = 512: 515 tokens) is this one;
- the part-aware tokenizer (``part_vq``, ids columns (body, hand)): a ``hand`` block then a ``body``
  block, each ``<{name}_id_0..K-1>`` + start, end, mask, in the hand-first order the MotionGPT-2
  ablation prefers (Fig. 9): a motion of N steps is written
  ``<hand start> h_1 .. h_N <hand end> <body start> b_1 .. b_N <body end>``.

A single-stream motion of N steps is ``<start> m_1 .. m_N <end>``. A masked step (in-betweening) is
the block's mask token. Every block of one motion has the same N.

New embedding rows are drawn from a multivariate normal with the mean and covariance of the existing
rows (transformers' ``mean_resizing``; Hewitt 2021), seeded, so a fresh vocabulary starts inside
the distribution the LM already reads; with tied input/output embeddings (SmolLM2) the output rows
are the same rows. The adapter file stores the trained rows (:mod:`.adapter`).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass

import torch

from ..core.errors import InputError
from ..tokenizers.base import MotionTokenizer, MotionTokens

SUPPORTED_TOKENIZERS = ("vqvae", "rvq", "part_vq")
SPECIALS = ("start", "end", "mask")  # after the K code tokens of each block, in this order
VOCABULARY_SEED = 0


@dataclass(frozen=True)
class StreamBlock:
    """One block of added tokens: ``name``, codebook ``size`` K, the MotionTokens ``column`` it carries."""
    name: str
    size: int
    column: int

    def strings(self) -> list[str]:
        return [f"<{self.name}_id_{k}>" for k in range(self.size + len(SPECIALS))]


@dataclass(frozen=True)
class MotionVocabulary:
    """The added motion tokens of one motion tokenizer, placed at LM ids ``first_id`` onwards."""
    tokenizer_kind: str
    tokenizer_hash: str
    blocks: tuple[StreamBlock, ...]
    first_id: int
    downsample: int
    fps: float

    # ids ---------------------------------------------------------------------------------------
    def block_offset(self, index: int) -> int:
        return self.first_id + sum(b.size + len(SPECIALS) for b in self.blocks[:index])

    def code_range(self, index: int) -> range:
        """LM ids of block ``index``'s K code tokens."""
        start = self.block_offset(index)
        return range(start, start + self.blocks[index].size)

    def special_id(self, index: int, which: str) -> int:
        return self.block_offset(index) + self.blocks[index].size + SPECIALS.index(which)

    @property
    def num_added(self) -> int:
        return sum(b.size + len(SPECIALS) for b in self.blocks)

    @property
    def added_ids(self) -> range:
        return range(self.first_id, self.first_id + self.num_added)

    def token_strings(self) -> list[str]:
        return [s for block in self.blocks for s in block.strings()]

    def steps_for_seconds(self, seconds: float) -> int:
        """Token steps of a motion lasting ``seconds`` (at least 1)."""
        return max(1, round(seconds * self.fps / self.downsample))

    # MOTION_TOKENS <-> LM ids ------------------------------------------------------------------
    def encode(self, tokens: MotionTokens, masked_steps: range | None = None) -> list[int]:
        """LM ids of ``tokens`` (all blocks with their start/end); steps in ``masked_steps`` become mask tokens."""
        self.check_tokens(tokens)
        ids: list[int] = []
        for index, block in enumerate(self.blocks):
            codes = tokens.ids[:, block.column].tolist()
            first = self.code_range(index).start
            body = [first + c for c in codes]
            if masked_steps is not None:
                for step in masked_steps:
                    body[step] = self.special_id(index, "mask")
            ids += [self.special_id(index, "start"), *body, self.special_id(index, "end")]
        return ids

    def decode(self, lm_ids, codebook_sizes: tuple[int, ...]) -> MotionTokens:
        """MOTION_TOKENS from LM ids holding every block in order (text around them is ignored).

        ``codebook_sizes``: the motion tokenizer's sizes (the MotionTokens records them all, also
        for rvq's unused residual streams). InputError when a block is missing, empty or unequal."""
        ids = [int(i) for i in (lm_ids.tolist() if isinstance(lm_ids, torch.Tensor) else lm_ids)]
        columns: dict[int, list[int]] = {}
        position = 0
        for index, block in enumerate(self.blocks):
            start, end = self.special_id(index, "start"), self.special_id(index, "end")
            try:
                begin = ids.index(start, position) + 1
                stop = ids.index(end, begin)
            except ValueError:
                raise InputError("motion_answer", f"the answer has no complete <{block.name}> block "
                                                  f"(start and end tokens)") from None
            codes = self.code_range(index)
            body = ids[begin:stop]
            if not body or any(i not in codes for i in body):
                raise InputError("motion_answer", f"the <{block.name}> block must hold 1 or more code tokens only")
            columns[block.column] = [i - codes.start for i in body]
            position = stop + 1
        lengths = {len(c) for c in columns.values()}
        if len(lengths) != 1:
            raise InputError("motion_answer", f"the blocks have unequal lengths {sorted(lengths)}")
        steps = lengths.pop()
        ids_tensor = torch.tensor([columns[c] for c in sorted(columns)], dtype=torch.int64).T.reshape(steps, -1)
        used = tuple(codebook_sizes[: ids_tensor.shape[1]])
        return MotionTokens(ids_tensor, used, self.tokenizer_kind, steps * self.downsample, self.fps)

    def check_tokens(self, tokens: MotionTokens, input_name: str = "motion_tokens") -> MotionTokens:
        if not isinstance(tokens, MotionTokens):
            raise InputError(input_name, f"expected MOTION_TOKENS, got {type(tokens).__name__}")
        if tokens.tokenizer != self.tokenizer_kind:
            raise InputError(input_name, f"tokens come from a {tokens.tokenizer!r} tokenizer; this motion LLM "
                                         f"was built for a {self.tokenizer_kind!r} tokenizer")
        for block in self.blocks:
            if tokens.ids.shape[1] <= block.column or tokens.codebook_sizes[block.column] != block.size:
                raise InputError(input_name, f"tokens have codebooks {tokens.codebook_sizes}; this motion LLM "
                                             f"expects {block.size} codes in stream {block.column}")
        return tokens

    # persistence ---------------------------------------------------------------------------------
    def to_dict(self) -> dict:
        return {"tokenizer_kind": self.tokenizer_kind, "tokenizer_hash": self.tokenizer_hash,
                "blocks": [[b.name, b.size, b.column] for b in self.blocks], "first_id": self.first_id,
                "downsample": self.downsample, "fps": self.fps}

    @staticmethod
    def from_dict(data: dict) -> "MotionVocabulary":
        blocks = tuple(StreamBlock(str(n), int(s), int(c)) for n, s, c in data["blocks"])
        return MotionVocabulary(data["tokenizer_kind"], data["tokenizer_hash"], blocks, int(data["first_id"]),
                                int(data["downsample"]), float(data["fps"]))


def motion_tokenizer_hash(tokenizer: MotionTokenizer) -> str:
    """SHA-256 (hex) of a motion tokenizer's kind, config and weights: adapters are tied to it."""
    digest = hashlib.sha256(json.dumps([tokenizer.kind, tokenizer.config], sort_keys=True, default=str).encode())
    for key, value in sorted(tokenizer.state_dict().items()):
        digest.update(key.encode())
        digest.update(value.detach().cpu().contiguous().float().numpy().tobytes())
    return digest.hexdigest()


def blocks_for(tokenizer_kind: str, codebook_sizes: tuple[int, ...]) -> tuple[StreamBlock, ...]:
    if tokenizer_kind == "part_vq":
        return StreamBlock("hand", codebook_sizes[1], 1), StreamBlock("body", codebook_sizes[0], 0)
    if tokenizer_kind in ("vqvae", "rvq"):
        return (StreamBlock("motion", codebook_sizes[0], 0),)
    raise InputError("motion_tokenizer", f"the motion LLM reads {', '.join(SUPPORTED_TOKENIZERS)} tokenizers, "
                                         f"got {tokenizer_kind!r} (PGR2M's pose codes are not single ids)")


def extend_vocabulary(model, text_tokenizer, motion_tokenizer: MotionTokenizer,
                      seed: int = VOCABULARY_SEED) -> MotionVocabulary:
    """Add the motion tokens of ``motion_tokenizer`` to ``text_tokenizer`` and ``model`` (in place)."""
    blocks = blocks_for(motion_tokenizer.kind, tuple(motion_tokenizer.codebook_sizes()))
    vocabulary = MotionVocabulary(motion_tokenizer.kind, motion_tokenizer_hash(motion_tokenizer), blocks,
                                  len(text_tokenizer), motion_tokenizer.downsample, motion_tokenizer.fps)
    add_tokens(model, text_tokenizer, vocabulary, seed)
    return vocabulary


def add_tokens(model, text_tokenizer, vocabulary: MotionVocabulary, seed: int = VOCABULARY_SEED) -> None:
    """Append ``vocabulary``'s strings to the tokenizer and grow the embedding (seeded mean/covariance init)."""
    strings = vocabulary.token_strings()
    if len(text_tokenizer) != vocabulary.first_id:
        raise InputError("base", f"the tokenizer has {len(text_tokenizer)} tokens; the motion tokens must start at "
                                 f"id {vocabulary.first_id}")
    if text_tokenizer.convert_tokens_to_ids(strings[0]) not in (None, text_tokenizer.unk_token_id):
        raise InputError("base", f"the tokenizer already has {strings[0]}: extend a fresh base")
    added = text_tokenizer.add_tokens(strings)
    if added != len(strings) or text_tokenizer.convert_tokens_to_ids(strings[-1]) != vocabulary.added_ids[-1]:
        raise InputError("base", "the tokenizer did not place the motion tokens contiguously after its vocabulary")
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model.resize_token_embeddings(len(text_tokenizer), mean_resizing=True)
