"""The word inputs of Guo et al.'s official HumanML3D evaluator: GloVe vectors and part-of-speech one-hots.

Files (the user provides them; Guo et al. ship them as ``glove/``):

- ``our_vab_data.npy``: ``[V, 300]`` word vectors (read with ``allow_pickle=False``);
- ``our_vab_words.pkl``: the V words (a pickled list of str);
- ``our_vab_idx.pkl``: word -> row (a pickled dict).

The pickles are read with a restricted unpickler that builds only plain containers and numbers
(builtins list/dict/tuple/set/str/int/float/bool, OrderedDict, numpy scalars): a pickle that names any
other global is refused, so nothing in these files is ever run.

Tokens are HumanML3D's ``word/POS`` strings. As the official loader does: a caption of fewer than
``MAX_TEXT_TOKENS`` tokens becomes ``sos/OTHER + tokens + eos/OTHER`` padded with ``unk/OTHER`` to
``MAX_TEXT_TOKENS + 2``; a longer one is cut to ``MAX_TEXT_TOKENS`` before sos/eos are added. A known
word takes its vector and its POS one-hot, except that words of the five "VIP" lists take the VIP
category; an unknown word takes the ``unk`` vector and ``OTHER``.
"""

from __future__ import annotations

import os
import pickle
from collections import OrderedDict
from typing import Sequence

import numpy as np

from ..core.errors import InputError, ModelFileError

GLOVE_PREFIX = "our_vab"
MAX_TEXT_TOKENS = 20  # Guo et al.'s max_text_len
# The 15 POS categories in the order of the one-hot (Guo et al.'s POS_enumerator).
POS_CATEGORIES = ("VERB", "NOUN", "DET", "ADP", "NUM", "AUX", "PRON", "ADJ", "ADV",
                  "Loc_VIP", "Body_VIP", "Obj_VIP", "Act_VIP", "Desc_VIP", "OTHER")
VIP_WORDS = {  # category -> words that take it whatever their POS (checked in this order)
    "Loc_VIP": ("left", "right", "clockwise", "counterclockwise", "anticlockwise", "forward", "back", "backward",
                "up", "down", "straight", "curve"),
    "Body_VIP": ("arm", "chin", "foot", "feet", "face", "hand", "mouth", "leg", "waist", "eye", "knee", "shoulder",
                 "thigh"),
    "Obj_VIP": ("stair", "dumbbell", "chair", "window", "floor", "car", "ball", "handrail", "baseball", "basketball"),
    "Act_VIP": ("walk", "run", "swing", "pick", "bring", "kick", "put", "squat", "throw", "hop", "dance", "jump",
                "turn", "stumble", "stop", "sit", "lift", "lower", "raise", "wash", "stand", "kneel", "stroll", "rub",
                "bend", "balance", "flap", "jog", "shuffle", "lean", "rotate", "spin", "spread", "climb"),
    "Desc_VIP": ("slowly", "carefully", "fast", "careful", "slow", "quickly", "happy", "angry", "sad", "happily",
                 "angrily", "sadly"),
}

_ALLOWED_GLOBALS = {
    ("builtins", name) for name in ("list", "dict", "tuple", "set", "frozenset", "str", "int", "float", "bool")
} | {("collections", "OrderedDict"), ("numpy", "dtype"), ("numpy.core.multiarray", "scalar"),
     ("numpy._core.multiarray", "scalar")}


class _DataOnlyUnpickler(pickle.Unpickler):
    def find_class(self, module, name):
        if (module, name) not in _ALLOWED_GLOBALS:
            raise pickle.UnpicklingError(f"refusing to load {module}.{name} (only plain data is allowed)")
        if module == "collections":
            return OrderedDict
        return super().find_class(module, name)


def load_plain_pickle(path: str):
    """A pickle of plain data (module doc); ModelFileError when missing, unreadable or not plain data."""
    if not os.path.isfile(path):
        raise ModelFileError(f"GloVe files: file not found: {path!r}")
    try:
        with open(path, "rb") as handle:
            return _DataOnlyUnpickler(handle).load()
    except (pickle.UnpicklingError, EOFError, ValueError, TypeError, AttributeError) as error:
        raise ModelFileError(f"{path}: not a plain-data pickle ({error})") from error


class GloveVectors:
    """Guo et al.'s word vectorizer: ``word/POS`` tokens -> (word vectors, POS one-hots)."""

    def __init__(self, vectors: np.ndarray, words: list, word_to_row: dict, source: str = "GloVe"):
        if vectors.ndim != 2 or not words or "unk" not in word_to_row:
            raise ModelFileError(f"{source}: expected [V, dim] vectors and a vocabulary with 'unk', got "
                                 f"{list(vectors.shape)} vectors and {len(words)} words")
        rows = {str(w): int(word_to_row[w]) for w in words if w in word_to_row}
        if rows and max(rows.values()) >= len(vectors) or min(rows.values(), default=0) < 0:
            raise ModelFileError(f"{source}: word indices outside the {len(vectors)} vectors")
        self.vectors, self.rows, self.dim = vectors.astype(np.float32), rows, int(vectors.shape[1])
        self.unk = self.vectors[int(word_to_row["unk"])]

    @classmethod
    def from_folder(cls, folder: str, prefix: str = GLOVE_PREFIX) -> "GloveVectors":
        data = os.path.join(folder, f"{prefix}_data.npy")
        if not os.path.isfile(data):
            raise ModelFileError(f"GloVe files: file not found: {data!r} (expected {prefix}_data.npy, "
                                 f"{prefix}_words.pkl and {prefix}_idx.pkl from Guo et al.'s glove folder)")
        try:
            vectors = np.load(data, allow_pickle=False)
        except (ValueError, OSError) as error:
            raise ModelFileError(f"{data}: not a plain .npy array ({error})") from error
        words = load_plain_pickle(os.path.join(folder, f"{prefix}_words.pkl"))
        word_to_row = load_plain_pickle(os.path.join(folder, f"{prefix}_idx.pkl"))
        if not isinstance(words, (list, tuple)) or not isinstance(word_to_row, dict):
            raise ModelFileError(f"{folder}: {prefix}_words.pkl must hold a list and {prefix}_idx.pkl a dict")
        return cls(np.asarray(vectors), list(words), word_to_row, source=folder)

    def token(self, token: str) -> tuple[np.ndarray, np.ndarray]:
        """One ``word/POS`` token -> (word vector [dim], POS one-hot [15])."""
        word, _, pos = token.rpartition("/") if "/" in token else (token, "", "OTHER")
        one_hot = np.zeros(len(POS_CATEGORIES), np.float32)
        if word not in self.rows:
            one_hot[POS_CATEGORIES.index("OTHER")] = 1
            return self.unk, one_hot
        vip = next((category for category, words in VIP_WORDS.items() if word in words), None)
        category = vip or (pos if pos in POS_CATEGORIES else "OTHER")
        one_hot[POS_CATEGORIES.index(category)] = 1
        return self.vectors[self.rows[word]], one_hot

    def caption(self, tokens: Sequence[str]) -> tuple[np.ndarray, np.ndarray, int]:
        """Tokens of one caption -> (word vectors [22, dim], POS one-hots [22, 15], length with sos/eos)."""
        if isinstance(tokens, str) or not tokens:
            raise InputError("tokens", f"expected a non-empty list of 'word/POS' tokens, got {tokens!r}")
        kept = list(tokens[:MAX_TEXT_TOKENS])
        sequence = ["sos/OTHER", *kept, "eos/OTHER"]
        length = len(sequence)
        sequence += ["unk/OTHER"] * (MAX_TEXT_TOKENS + 2 - length)
        vectors, one_hots = zip(*(self.token(t) for t in sequence))
        return np.stack(vectors), np.stack(one_hots), length
