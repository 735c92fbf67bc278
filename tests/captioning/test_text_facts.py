"""Facts read out of text: prompts, human captions, negations, and the round trip through our own
captions (every caption's queries are satisfied by the facts it was written from; a mirrored fact
list fails the sided ones)."""

import numpy as np
import pytest
from posemotion.models.captioning.check import satisfied
from posemotion.models.captioning.facts import Fact, FactQuery, mirrored
from posemotion.models.captioning.phrasing import caption_sentences
from posemotion.models.captioning.text_facts import facts_in_text
from posemotion.models.core.errors import InputError
from posemotion.models.tokenizers.posecodes import CATEGORY_NAMES

Q = FactQuery
READS = {
    "wave arms": [Q("wave", side="both")],
    "walk forward": [Q("walk", direction="forward")],
    "step and swing arms": [Q("step"), Q("swing_arms", side="both")],
    "jump": [Q("jump")],
    "turn around": [Q("turn", amount=180.0)],
    "raise both arms above the head": [Q("raise_arm", side="both", detail="above_head")],
    "sit down": [Q("sit")],
    "a person walks forward, turns around and walks back.": [Q("walk", direction="forward"), Q("turn", amount=180.0),
                                                              Q("walk")],
    "a man raises his left hand above his head": [Q("raise_arm", side="left", detail="above_head")],
    "the person jogs backwards then spins to the right by 45 degrees": [Q("run", direction="backward"),
                                                                       Q("turn", direction="right", amount=45.0)],
    "someone strolls sideways to the left while swinging the right arm": [Q("walk", direction="left"),
                                                                          Q("swing_arms", side="right")],
    "a person squats, kneels on one knee, then lies down": [Q("crouch"), Q("kneel"), Q("lie")],
    "he kicks with his left leg and claps his hands": [Q("kick", side="left"), Q("clap")],
    "a person makes a quarter turn to the left and stands still": [Q("turn", direction="left", amount=90.0),
                                                                   Q("stand_still")],
    "lifts the left and right arms": [Q("raise_arm", side="both")],
    "a person waves with the right hand and then hops twice": [Q("wave", side="right"), Q("jump")],
}


@pytest.mark.parametrize("text", sorted(READS))
def test_texts_are_read(text):
    assert facts_in_text(text) == READS[text]


def test_negated_clauses_and_texts_without_actions_give_nothing():
    assert facts_in_text("the person does not jump, and then waves the right hand") == [Q("wave", side="right")]
    assert facts_in_text("a person never sits down") == []
    assert facts_in_text("hello there, what a nice day") == []
    assert facts_in_text("a person walks back and forth") == [Q("walk")]  # "back" alone is not backward


def test_pose_code_names_are_read_verbatim():
    name = CATEGORY_NAMES[10]
    assert facts_in_text(f"a person keeps {name} and claps") == [Q("pose", detail=name), Q("clap")]


@pytest.mark.parametrize("text", ["", "   ", None, 5])
def test_empty_or_non_text_is_refused(text):
    with pytest.raises(InputError, match="^text: expected a non-empty text"):
        facts_in_text(text)


def random_facts(rng: np.random.Generator) -> list[Fact]:
    """A plausible fact list: a few sequential events, some with an overlapping limb action."""
    kinds = ["walk", "run", "turn", "stand_still", "jump", "crouch", "kneel", "sit", "lie", "raise_arm", "wave",
             "clap", "kick", "step", "swing_arms"]
    facts, time = [], 0.0
    for _ in range(int(rng.integers(1, 5))):
        kind = str(rng.choice(kinds))
        length = float(rng.uniform(0.5, 2.0))
        facts.append(_fact(kind, time, time + length, rng))
        if rng.random() < 0.4:
            facts.append(_fact(str(rng.choice(["wave", "raise_arm", "swing_arms", "clap"])), time + 0.1,
                               time + length - 0.1, rng))
        time += length + float(rng.uniform(0.0, 0.5))
    return facts


def _fact(kind: str, start: float, end: float, rng) -> Fact:
    side = direction = amount = detail = None
    if kind in ("raise_arm", "wave", "kick", "step", "swing_arms"):
        side = str(rng.choice(["left", "right", "both"]))
    if kind in ("walk", "run"):
        direction = str(rng.choice(["forward", "backward", "left", "right"]))
    if kind == "turn":
        direction, amount = str(rng.choice(["left", "right"])), float(rng.uniform(45, 380))
    if kind == "raise_arm" and rng.random() < 0.5:
        detail = "above_head"
    return Fact(kind, start, end, side=side, direction=direction, amount=amount, detail=detail)


def test_round_trip_through_our_captions():
    rng = np.random.default_rng(0)
    checked = 0
    for case in range(150):
        facts = random_facts(rng)
        for caption in caption_sentences(facts, seed=case, count=3):
            queries = facts_in_text(caption)
            assert queries, caption
            assert all(satisfied(facts, queries)), (caption, queries, facts)
            # every event's kind is read back (none dropped: at most MAX_EVENTS events here)
            assert {q.kind for q in queries} >= {f.kind for f in facts} - {"pose"} or len(facts) > 6, caption
            checked += 1
    assert checked == 450


def test_mirrored_facts_fail_the_sided_queries():
    facts = [Fact("walk", 0, 2, direction="left"), Fact("wave", 0.5, 1.5, side="right"),
             Fact("turn", 2, 3, direction="left", amount=90.0), Fact("kick", 3, 3.6, side="left")]
    flipped = [mirrored(f) for f in facts]
    for caption in caption_sentences(facts, seed=0, count=6):
        sided = [q for q in facts_in_text(caption) if q.side in ("left", "right") or q.direction in ("left", "right")]
        assert len(sided) >= 2, caption  # the wave and the kick at least name their side
        assert all(satisfied(facts, sided)) and not any(satisfied(flipped, sided)), caption


@pytest.mark.parametrize("fields, message", [
    (dict(kind="wave", side="up"), "wave: side 'up' is not one of"),
    (dict(kind="turn", direction="forward"), "turn: direction 'forward' is not one of"),
    (dict(kind="walk", direction="around"), "walk: direction 'around' is not one of"),
])
def test_facts_and_queries_refuse_the_same_sides_and_directions(fields, message):
    with pytest.raises(InputError, match=f"^fact: {message}"):
        Fact(start=0.0, end=1.0, **fields)
    with pytest.raises(InputError, match=f"^fact: {message}"):
        FactQuery(**fields)
