"""Caption metrics of motion-to-text: corpus BLEU-4 and ROUGE-L against reference captions.

Small implementations of the published definitions (no registry library ships them in this pack's
environment). Inputs: ``hypotheses`` (one caption per item) and ``references`` (per item, one or more
reference captions). Captions are compared as :func:`words`: lowercased runs of letters, digits and
apostrophes (punctuation dropped), so "A person walks." and "a person walks" are the same.

- :func:`bleu` (Papineni et al., 2002), corpus level as MotionGPT and the captioning papers report it:
  clipped n-gram counts summed over all items for n = 1..``max_n`` (each n-gram's count clipped to its
  largest count in any one reference of the item), the geometric mean of those precisions (uniform
  weights, no smoothing: a corpus without any matching 4-gram scores 0), times the brevity penalty
  ``exp(1 - r / c)`` when the total hypothesis length ``c`` is below ``r``, the summed reference lengths
  closest to each hypothesis's length (the shorter one on a tie).
- :func:`rouge_l` (Lin, 2004): per item, the F1 of the longest common subsequence's precision
  (LCS / hypothesis length) and recall (LCS / reference length), the best over the item's references
  (as the rouge-score package scores several references), averaged over items.
Both lie in 0..1 (1: every hypothesis equals a reference).
"""

from __future__ import annotations

import math
import re
from collections import Counter

from ..core.errors import InputError

BLEU_MAX_N = 4
_WORD = re.compile(r"[a-z0-9']+")


def words(text: str) -> list[str]:
    """Lowercased words of ``text`` (letters, digits, apostrophes); punctuation dropped."""
    return _WORD.findall(text.lower())


def _checked(hypotheses, references) -> tuple[list[list[str]], list[list[list[str]]]]:
    if isinstance(hypotheses, str) or not len(hypotheses):
        raise InputError("hypotheses", "expected a non-empty list of captions")
    if len(references) != len(hypotheses):
        raise InputError("references", f"{len(references)} reference lists for {len(hypotheses)} captions "
                                       "(one list per caption)")
    refs = []
    for index, item in enumerate(references):
        if isinstance(item, str) or not item:
            raise InputError("references", f"item {index}: expected a non-empty list of reference captions")
        refs.append([words(r) for r in item])
    return [words(h) for h in hypotheses], refs


def _ngrams(tokens: list[str], n: int) -> Counter:
    return Counter(tuple(tokens[i:i + n]) for i in range(len(tokens) - n + 1))


def bleu(hypotheses: list[str], references: list[list[str]], max_n: int = BLEU_MAX_N) -> float:
    """Corpus BLEU-``max_n`` of ``hypotheses`` against ``references`` (module docstring)."""
    hyps, refs = _checked(hypotheses, references)
    matched, total = [0] * max_n, [0] * max_n
    hyp_length = ref_length = 0
    for hyp, item_refs in zip(hyps, refs):
        hyp_length += len(hyp)
        ref_length += min((len(r) for r in item_refs), key=lambda length: (abs(length - len(hyp)), length))
        for n in range(1, max_n + 1):
            counts = _ngrams(hyp, n)
            most = Counter()
            for ref in item_refs:
                most |= _ngrams(ref, n)  # per n-gram, its largest count in one reference
            matched[n - 1] += sum(min(count, most[gram]) for gram, count in counts.items())
            total[n - 1] += max(len(hyp) - n + 1, 0)
    if hyp_length == 0 or min(matched) == 0:
        return 0.0
    log_precision = sum(math.log(m / t) for m, t in zip(matched, total)) / max_n
    brevity = 1.0 if hyp_length >= ref_length else math.exp(1.0 - ref_length / hyp_length)
    return brevity * math.exp(log_precision)


def lcs_length(first: list[str], second: list[str]) -> int:
    """Length of the longest common subsequence of two word lists (dynamic programming, O(len * len))."""
    previous = [0] * (len(second) + 1)
    for word in first:
        current = [0]
        for j, other in enumerate(second):
            current.append(previous[j] + 1 if word == other else max(previous[j + 1], current[j]))
        previous = current
    return previous[-1]


def _rouge_l_f1(hyp: list[str], ref: list[str]) -> float:
    common = lcs_length(hyp, ref)
    if common == 0:
        return 0.0
    precision, recall = common / len(hyp), common / len(ref)
    return 2 * precision * recall / (precision + recall)


def rouge_l(hypotheses: list[str], references: list[list[str]]) -> float:
    """Mean over items of the best ROUGE-L F1 against the item's references (module docstring)."""
    hyps, refs = _checked(hypotheses, references)
    return sum(max(_rouge_l_f1(hyp, ref) for ref in item_refs) for hyp, item_refs in zip(hyps, refs)) / len(hyps)
