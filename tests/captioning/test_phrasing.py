"""Captions from hand-built facts: seeded phrasings, time order, sides and turns in words, and
HumanML3D text lines whose every word the lexicon covers."""

import re

import pytest
from posemotion.models.captioning import phrasing
from posemotion.models.captioning.facts import FACT_KINDS, Fact
from posemotion.models.captioning.phrasing import (
    LEXICON,
    caption_sentences,
    caption_tokens,
    caption_words,
    humanml3d_lines,
    stable_seed,
)
from posemotion.models.core.errors import InputError
from posemotion.models.tokenizers.posecodes import CATEGORY_NAMES

UPOS = {"ADJ", "ADP", "ADV", "AUX", "CCONJ", "DET", "INTJ", "NOUN", "NUM", "PART", "PRON", "PROPN", "PUNCT",
        "SCONJ", "SYM", "VERB", "X"}
WALK = Fact("walk", 0.0, 3.0, direction="forward")
TURN_90 = Fact("turn", 3.0, 4.0, direction="left", amount=92.0)
WAVE = Fact("wave", 4.5, 6.0, side="right")


def one_of_each_kind() -> list[Fact]:
    """A fact of every kind and every template group, for coverage."""
    facts = [Fact("walk", 0, 1, direction=d) for d in ("forward", "backward", "left", "right", None)]
    facts += [Fact("run", 1, 2, direction=d) for d in ("forward", "backward", "left", "right", None)]
    facts += [Fact("turn", 2, 3, direction="right", amount=a) for a in (20.0, 90.0, 180.0, 270.0, 360.0, 500.0, None)]
    facts += [Fact("turn", 2, 3, amount=90.0)]
    facts += [Fact(kind, 3, 4, side=side) for kind in ("raise_arm", "wave", "kick", "step", "swing_arms")
              for side in ("left", "right", "both", None)]
    facts += [Fact("raise_arm", 3, 4, side=s, detail="above_head") for s in ("left", "both")]
    facts += [Fact(kind, 4, 5) for kind in ("stand_still", "jump", "crouch", "kneel", "sit", "lie", "clap")]
    facts += [Fact("pose", 5, 6, detail=CATEGORY_NAMES[0])]
    return facts


def test_same_seed_same_captions_and_count_different_ones():
    facts = [WALK, TURN_90, WAVE]
    first = caption_sentences(facts, seed=3, count=5)
    assert first == caption_sentences(facts, seed=3, count=5)
    assert len(first) == 5 and len(set(first)) == 5
    assert caption_sentences(facts, seed=3, count=2) == first[:2]  # a caption does not depend on count
    assert caption_sentences(facts, seed=4, count=5) != first


def test_every_kind_has_at_least_three_phrasings():
    kinds = {fact.kind for fact in one_of_each_kind()}
    assert kinds == set(FACT_KINDS)
    for fact in one_of_each_kind():
        templates = phrasing._templates(fact)
        assert len(set(templates)) >= 3, fact
        predicates = {re.sub(r"^(a person|the person|someone) ", "", caption)
                      for caption in caption_sentences([fact], seed=0, count=12)}
        assert len(predicates) >= 3, (fact, predicates)


def test_facts_are_told_in_time_order_with_then_and_while():
    # given out of order: the caption sorts them
    caption = caption_sentences([WAVE, TURN_90, WALK], seed=0, count=1)[0]
    assert re.search(r"walks|strolls|walking", caption) and "then" in caption
    assert caption.index("left") < caption.index("right")  # the turn is told before the wave
    overlapping = caption_sentences([WALK, Fact("wave", 1.0, 2.0, side="right")], seed=0, count=6)
    assert all(" while waving " in caption for caption in overlapping), overlapping


def test_sides_and_turns_in_words():
    both = caption_sentences([Fact("raise_arm", 0, 1, side="both", detail="above_head")], count=6)
    assert all(re.search(r"(both|the) (arms|hands)", c) and re.search(r"(above|over) the head", c) for c in both)
    left = caption_sentences([Fact("kick", 0, 1, side="left")], count=4)
    assert all(re.search(r"the left (leg|foot)", c) for c in left)
    around = caption_sentences([Fact("turn", 0, 2, direction="left", amount=178.0)], count=6)
    assert all("around" in c or "half turn" in c for c in around)
    quarter = caption_sentences([TURN_90], count=6)
    assert all("left" in c and ("about 90 degrees" in c or "quarter turn" in c) for c in quarter), quarter


def test_repeats_are_counted():
    captions = caption_sentences([Fact("jump", 0, 0.5), Fact("jump", 1, 1.5)], count=3)
    assert all("twice" in c for c in captions)


def test_bad_facts_are_refused():
    with pytest.raises(InputError, match="^facts: expected a non-empty list"):
        caption_sentences([])
    with pytest.raises(InputError, match="^facts: expected Fact items"):
        caption_sentences(["walk"])
    with pytest.raises(InputError, match="^count:"):
        caption_sentences([WALK], count=0)


def test_humanml3d_lines_are_in_the_dataset_format():
    lines = humanml3d_lines([WALK, TURN_90, WAVE], seed=1, count=3)
    captions = caption_sentences([WALK, TURN_90, WAVE], seed=1, count=3)
    assert len(lines) == 3
    for line, caption in zip(lines, captions):
        text, tokens, start, end = line.split("#")
        assert text == caption and (start, end) == ("0.0", "0.0")
        pairs = [token.split("/") for token in tokens.split(" ")]
        assert all(len(p) == 2 and p[0].isalpha() and p[0] == p[0].lower() and p[1] in UPOS for p in pairs)
        assert len(pairs) == len(caption_words(caption))
        assert "90" not in tokens  # numbers are dropped, as HumanML3D's text processing drops them
    assert caption_tokens("a person walks forward then waves the left hand.") == (
        "a/DET person/NOUN walk/VERB forward/ADV then/ADV wave/VERB the/DET left/ADJ hand/NOUN")
    assert caption_tokens("someone turns left") == "someone/PRON turn/VERB left/ADV"


def _template_strings():
    tables = list(phrasing._TEMPLATES.values()) + list(phrasing._LOCOMOTION.values()) + list(phrasing._TURNS.values())
    tables.append(phrasing._UNSIDED_STEPS)
    for table in tables:
        for verb, gerund, rest in table:
            yield verb
            yield gerund
            yield rest.format(dir="", deg=90, detail="", limb="")
    for group in (phrasing.SUBJECTS, phrasing.THEN, phrasing._ABOVE_HEAD, tuple(phrasing._REPEATS.values()),
                  ("several times", "while", "one", "both", "the", "left", "right"), *phrasing._DIRECTIONS.values()):
        yield from group
    for noun in ("arm", "hand", "leg", "foot"):
        yield f"{noun} {phrasing._PLURAL[noun]}"
    yield from CATEGORY_NAMES  # pose facts name their pose code


def test_every_word_of_every_template_is_in_the_lexicon():
    missing = sorted({word for text in _template_strings() for word in caption_words(text)} - set(LEXICON))
    assert not missing, f"add to phrasing.LEXICON: {missing}"
    for seed in range(20):  # and whole captions of every kind tokenise
        for line in humanml3d_lines(one_of_each_kind(), seed=seed, count=2):
            assert line.count("#") == 3


def test_unknown_words_are_refused_by_the_tokeniser():
    with pytest.raises(InputError, match="^caption: words outside the caption lexicon: \\['moonwalks'\\]"):
        caption_tokens("a person moonwalks")


def test_stable_seeds_are_pinned():
    """Item names seed the corpus's captions: a changed seed rephrases a built corpus, so values are fixed."""
    assert stable_seed("cmu_s00_00000_040") == 2345522480 and stable_seed("Mcmu_s00_00000_040") == 3154709017
