"""Facts -> English captions in the style of HumanML3D, and HumanML3D's text-line format.

``caption_sentences(facts, seed, count)`` writes ``count`` phrasings of one list of ``Fact``s
(``facts.py``), e.g. "a person walks forward, then turns left by about 90 degrees while waving the
right hand.": facts in time order, "then" between consecutive events, "while" for facts that
overlap the event they start in, sides in words ("the left arm", "both arms"), turns in words
("turns around" for about 180 degrees). Each fact kind has at least three phrasings, chosen by a
seeded numpy Generator, so the same facts and seed give the same captions; ``stable_seed(key)`` makes
a data set's seed from an item's name. Every word a caption can contain is in ``LEXICON`` (tested),
and ``text_facts.facts_in_text`` reads the facts back out of every caption written here (round trip,
tested).

``humanml3d_lines(facts, seed, count)`` gives one ``caption#tokens#0.0#0.0`` line per caption,
tokens written as HumanML3D's ``text_process.py`` writes them with spaCy: hyphens removed, tokens
that are not purely alphabetic (numbers, punctuation) dropped, ``lemma/UPOS`` for nouns and verbs,
``word/UPOS`` for the rest, ``0.0#0.0`` meaning the caption covers the whole motion. Since every word
is ours, a lexicon replaces spaCy (no dependency): it tags our words as spaCy tags them in HumanML3D.

These captions are derived from the motion by rules, not written by people: a data set made of them
marks them as such (the corpus's ``sources.json``), and a number that depends on them says so.
"""

from __future__ import annotations

import hashlib

import numpy as np

from ..core.errors import InputError
from .facts import TURN_TOLERANCE, Fact

SUBJECTS = ("a person", "the person", "someone")
THEN = (", then ", " and then ", ", and then ")
MAX_EVENTS = 6  # longer fact lists keep their longest events, so captions stay HumanML3D-sized
MAX_WHILE = 2  # facts phrased inside one event ("while waving ... and swinging ...")
# Named turns ("around" = 180, "a three quarter turn" = 270, "a full circle" = 360) are used only where
# the checker's TURN_TOLERANCE matches them; other angles are said in degrees.
AROUND_DEGREES = (180.0 - TURN_TOLERANCE, 180.0 + TURN_TOLERANCE)
FULL_DEGREES = (360.0 - TURN_TOLERANCE, 360.0 + TURN_TOLERANCE)
SLIGHT_DEGREES = 60.0  # "turns slightly" below this
DEGREE_STEP = 15  # "by about N degrees": N rounded to this

# (third-person verb, -ing form, rest); {limb}, {dir}, {deg} and {detail} are filled per fact.
_LOCOMOTION = {
    "walk": (("walks", "walking", "{dir}"), ("strolls", "strolling", "{dir}"),
             ("moves", "moving", "{dir} at a walking pace")),
    "run": (("runs", "running", "{dir}"), ("jogs", "jogging", "{dir}"), ("moves", "moving", "{dir} at a running pace")),
}
_DIRECTIONS = {
    "forward": ("forward", "forwards", "straight ahead"),
    "backward": ("backward", "backwards", "in reverse"),
    "left": ("sideways to the left", "to the left", "sideways to the left"),
    "right": ("sideways to the right", "to the right", "sideways to the right"),
    None: ("", "", ""),
}
_TURNS = {
    "none": (("turns", "turning", "to the {dir}"), ("turns", "turning", "{dir}"),
             ("rotates", "rotating", "to the {dir}")),
    "undirected": (("turns", "turning", ""), ("rotates", "rotating", ""), ("turns", "turning", "on the spot")),
    "slight": (("turns", "turning", "slightly to the {dir}"), ("turns", "turning", "{dir} a little"),
               ("turns", "turning", "{dir} by about {deg} degrees")),
    "quarter": (("turns", "turning", "{dir} by about {deg} degrees"),
                ("turns", "turning", "to the {dir} by about {deg} degrees"),
                ("makes", "making", "a quarter turn to the {dir}")),
    "around": (("turns", "turning", "around"), ("turns", "turning", "around to the {dir}"),
               ("does", "doing", "a half turn to the {dir}")),
    "three_quarter": (("turns", "turning", "{dir} by about {deg} degrees"),
                      ("makes", "making", "a three quarter turn to the {dir}"),
                      ("rotates", "rotating", "to the {dir} by about {deg} degrees")),
    "full": (("spins", "spinning", "around in a full circle"), ("turns", "turning", "a full circle to the {dir}"),
             ("turns", "turning", "{dir} by about {deg} degrees")),
    "more": (("turns", "turning", "{dir} by about {deg} degrees"),
             ("spins", "spinning", "to the {dir} by about {deg} degrees"),
             ("rotates", "rotating", "{dir} by about {deg} degrees")),
}
_TEMPLATES = {
    "stand_still": (("stands", "standing", "still"), ("stays", "staying", "in place"),
                    ("remains", "remaining", "still")),
    "jump": (("jumps", "jumping", ""), ("jumps", "jumping", "up"), ("hops", "hopping", "")),
    "crouch": (("crouches", "crouching", ""), ("crouches", "crouching", "down"), ("squats", "squatting", "down")),
    "kneel": (("kneels", "kneeling", ""), ("kneels", "kneeling", "down"), ("gets", "getting", "down on the knees")),
    "sit": (("sits", "sitting", "down"), ("takes", "taking", "a seat"), ("sits", "sitting", "")),
    "lie": (("lies", "lying", "down"), ("lies", "lying", "on the ground"), ("lies", "lying", "flat on the ground")),
    "raise_arm": (("raises", "raising", "{limb}"), ("lifts", "lifting", "{limb}"),
                  ("puts", "putting", "{limb} up")),
    "wave": (("waves", "waving", "{limb}"), ("waves", "waving", "with {limb}"),
             ("waves", "waving", "{limb} in the air")),
    "clap": (("claps", "clapping", ""), ("claps", "clapping", "the hands"),
             ("claps", "clapping", "both hands together")),
    "kick": (("kicks", "kicking", "with {limb}"), ("kicks", "kicking", "{limb} out"),
             ("does", "doing", "a kick with {limb}")),
    "step": (("steps", "stepping", "with {limb}"), ("takes", "taking", "a step with {limb}"),
             ("makes", "making", "a step with {limb}")),
    "swing_arms": (("swings", "swinging", "{limb}"), ("swings", "swinging", "{limb} back and forth"),
                   ("swings", "swinging", "{limb} to and fro")),
    "pose": (("holds", "holding", "a pose with {detail}"), ("keeps", "keeping", "{detail}"),
             ("stays", "staying", "with {detail}")),
}
_UNSIDED_STEPS = (("steps", "stepping", "in place"), ("steps", "stepping", "on the spot"),
                  ("marches", "marching", "in place"))
_ABOVE_HEAD = ("above the head", "over the head", "high above the head")
_LIMBS = {"raise_arm": ("arm", "hand"), "wave": ("hand", "arm"), "swing_arms": ("arm", "arm"),
          "kick": ("leg", "foot"), "step": ("foot", "foot")}
_PLURAL = {"arm": "arms", "hand": "hands", "leg": "legs", "foot": "feet"}
_REPEATS = {2: "twice", 3: "three times"}


def _check_facts(facts) -> list[Fact]:
    if not isinstance(facts, (list, tuple)) or not facts:
        raise InputError("facts", "expected a non-empty list of facts (a motion with nothing found has no caption)")
    for fact in facts:
        if not isinstance(fact, Fact):
            raise InputError("facts", f"expected Fact items, got {type(fact).__name__}")
    return sorted(facts, key=lambda f: (f.start, -f.seconds))


def _turn_group(fact: Fact) -> str:
    if fact.direction is None:
        return "undirected"
    if fact.amount is None:
        return "none"
    if fact.amount > FULL_DEGREES[1]:
        return "more"
    if fact.amount >= FULL_DEGREES[0]:
        return "full"
    if fact.amount > AROUND_DEGREES[1]:
        return "three_quarter"
    if fact.amount >= AROUND_DEGREES[0]:
        return "around"
    return "quarter" if fact.amount >= SLIGHT_DEGREES else "slight"


def _templates(fact: Fact) -> tuple:
    if fact.kind in _LOCOMOTION:
        return _LOCOMOTION[fact.kind]
    if fact.kind == "turn":
        return _TURNS[_turn_group(fact)]
    if fact.kind == "step" and fact.side in (None, "both"):
        return _UNSIDED_STEPS
    return _TEMPLATES[fact.kind]


def _limb(fact: Fact, rng: np.random.Generator) -> str:
    noun = _LIMBS[fact.kind][int(rng.integers(2))]
    if fact.side == "both":
        return rng.choice([f"both {_PLURAL[noun]}", f"the {_PLURAL[noun]}"])
    if fact.side is None:
        return f"one {noun}"
    return f"the {fact.side} {noun}"


def _degrees(amount: float | None) -> int:
    return max(DEGREE_STEP, int(round((amount or 0.0) / DEGREE_STEP)) * DEGREE_STEP)


def _phrase(fact: Fact, rng: np.random.Generator, repeats: int = 1) -> tuple[str, str]:
    """(third-person phrase, -ing phrase) of one fact."""
    verb, gerund, rest = _templates(fact)[int(rng.integers(3))]
    fill = {"dir": fact.direction or "", "deg": _degrees(fact.amount), "detail": fact.detail or "", "limb": ""}
    if fact.kind in _LOCOMOTION:
        fill["dir"] = _DIRECTIONS[fact.direction][int(rng.integers(3))]
    if fact.kind in _LIMBS:
        fill["limb"] = _limb(fact, rng)
    rest = rest.format(**fill)
    if fact.kind == "raise_arm" and fact.detail == "above_head":
        rest += " " + _ABOVE_HEAD[int(rng.integers(3))]
    if repeats > 1:
        rest += " " + _REPEATS.get(repeats, "several times")
    return " ".join(f"{verb} {rest}".split()), " ".join(f"{gerund} {rest}".split())


def _key(fact: Fact) -> tuple:
    """Facts that read the same (a repeated jump) share a key."""
    return fact.kind, fact.side, fact.direction, fact.detail, _turn_group(fact) if fact.kind == "turn" else None


def _events(facts: list[Fact]) -> list[tuple[Fact, int, list[Fact]]]:
    """(main fact, times repeated, facts said with "while") in time order; pose facts only when alone.

    The facts starting before the earliest unsaid fact ends form one event; its main fact is a walk or
    run if there is one, else its longest fact ("walks forward while turning left", "walks forward
    while stepping with the left foot", not the other way round).
    """
    moving = [f for f in facts if f.kind != "pose"] or facts[:1]
    events: list[list] = []
    used: set[int] = set()
    for i, first in enumerate(moving):
        if i in used:
            continue
        group = [i] + [j for j in range(i + 1, len(moving)) if j not in used and moving[j].start < first.end]
        main = max(group, key=lambda k: (moving[k].kind in _LOCOMOTION, moving[k].seconds))
        fact, during, keys = moving[main], [], {_key(moving[main])}
        used.add(main)
        for j in group:
            if _key(moving[j]) in keys:
                used.add(j)  # the same fact again inside this one: said once
            elif len(during) < MAX_WHILE:
                during.append(moving[j])
                keys.add(_key(moving[j]))
                used.add(j)
        if events and not during and not events[-1][2] and _key(events[-1][0]) == _key(fact):
            events[-1][1] += 1
        else:
            events.append([fact, 1, during])
    if len(events) > MAX_EVENTS:
        longest = sorted(range(len(events)), key=lambda e: -events[e][0].seconds * events[e][1])[:MAX_EVENTS]
        events = [events[e] for e in sorted(longest)]
    return [tuple(event) for event in events]


def _caption(facts: list[Fact], rng: np.random.Generator) -> str:
    parts = []
    for fact, repeats, during in _events(facts):
        text = _phrase(fact, rng, repeats)[0]
        if during:
            text += " while " + " and ".join(_phrase(other, rng)[1] for other in during)
        parts.append(text)
    sentence = parts[0]
    for part in parts[1:]:
        sentence += THEN[int(rng.integers(len(THEN)))] + part
    return f"{SUBJECTS[int(rng.integers(len(SUBJECTS)))]} {sentence}."


def stable_seed(key: str) -> int:
    """A 32-bit seed from a name (the first 8 hex digits of its sha256): the same on every run and
    machine, unlike Python's salted ``hash``."""
    return int(hashlib.sha256(key.encode("utf-8")).hexdigest()[:8], 16)


def caption_sentences(facts: list[Fact], seed: int = 0, count: int = 3) -> list[str]:
    """``count`` English captions of the facts, different from each other where the phrasings allow."""
    ordered = _check_facts(facts)
    if isinstance(count, bool) or not isinstance(count, int) or count < 1:
        raise InputError("count", f"expected a whole number >= 1, got {count!r}")
    rng = np.random.default_rng(seed)
    captions: list[str] = []
    for _ in range(count):
        caption = _caption(ordered, rng)
        for _ in range(50):  # a few draws find a new phrasing unless the facts allow only a few
            if caption not in captions:
                break
            caption = _caption(ordered, rng)
        captions.append(caption)
    return captions


# --- HumanML3D tokens -----------------------------------------------------------------------------

_NOUNS = {"person": "person", "arm": "arm", "arms": "arm", "hand": "hand", "hands": "hand", "leg": "leg", "legs": "leg",
          "foot": "foot", "feet": "foot", "head": "head", "knees": "knee", "knee": "knee", "ground": "ground",
          "seat": "seat", "pace": "pace", "reverse": "reverse", "air": "air", "spot": "spot", "place": "place",
          "turn": "turn", "quarter": "quarter", "circle": "circle", "kick": "kick", "step": "step", "pose": "pose",
          "degrees": "degree", "times": "time", "angle": "angle", "ankle": "ankle", "calf": "calf",
          "distance": "distance", "elbow": "elbow", "forearm": "forearm", "height": "height", "hip": "hip",
          "line": "line", "m": "m", "neck": "neck", "pelvis": "pelvis", "shoulder": "shoulder", "thigh": "thigh",
          "torso": "torso", "wrist": "wrist", "front": "front"}
_VERBS = {"walks": "walk", "walking": "walk", "strolls": "stroll", "strolling": "stroll", "moves": "move",
          "moving": "move", "runs": "run", "running": "run", "jogs": "jog", "jogging": "jog", "turns": "turn",
          "turning": "turn", "rotates": "rotate", "rotating": "rotate", "makes": "make", "making": "make",
          "does": "do", "doing": "do", "spins": "spin", "spinning": "spin", "stands": "stand", "standing": "stand",
          "stays": "stay", "staying": "stay", "remains": "remain", "remaining": "remain", "jumps": "jump",
          "jumping": "jump", "hops": "hop", "hopping": "hop", "crouches": "crouch", "crouching": "crouch",
          "squats": "squat", "squatting": "squat", "kneels": "kneel", "kneeling": "kneel", "gets": "get",
          "getting": "get", "sits": "sit", "sitting": "sit", "takes": "take", "taking": "take", "lies": "lie",
          "lying": "lie", "raises": "raise", "raising": "raise", "lifts": "lift", "lifting": "lift", "puts": "put",
          "putting": "put", "waves": "wave", "waving": "wave", "claps": "clap", "clapping": "clap", "kicks": "kick",
          "kicking": "kick", "steps": "step", "stepping": "step", "marches": "march", "marching": "march",
          "swings": "swing", "swinging": "swing", "holds": "hold", "holding": "hold", "keeps": "keep",
          "keeping": "keep"}
_OTHERS = {"a": "DET", "the": "DET", "both": "DET", "someone": "PRON", "one": "NUM", "three": "NUM", "and": "CCONJ",
           "or": "CCONJ", "nor": "CCONJ", "neither": "CCONJ", "then": "ADV", "while": "SCONJ", "forward": "ADV",
           "forwards": "ADV", "backward": "ADV", "backwards": "ADV", "straight": "ADV", "ahead": "ADV",
           "sideways": "ADV", "slightly": "ADV", "little": "ADJ", "about": "ADV", "still": "ADV", "twice": "ADV",
           "several": "ADJ", "together": "ADV", "forth": "ADV", "fro": "ADV", "high": "ADV", "flat": "ADJ",
           "full": "ADJ", "half": "ADJ", "back": "ADV", "more": "ADJ",
           "upper": "ADJ", "horizontal": "ADJ", "vertical": "ADJ", "up": "ADP", "down": "ADP", "out": "ADP",
           "around": "ADP", "off": "ADP", "to": "ADP", "in": "ADP", "on": "ADP", "with": "ADP", "by": "ADP",
           "at": "ADP", "of": "ADP", "above": "ADP", "over": "ADP", "below": "ADP", "behind": "ADP",
           "between": "ADP", "within": "ADP"}
_SIDE_WORDS = ("left", "right")
LEXICON: dict[str, tuple[str, str]] = {
    **{word: (word, pos) for word, pos in _OTHERS.items()},
    **{word: (lemma, "NOUN") for word, lemma in _NOUNS.items()},
    **{word: (lemma, "VERB") for word, lemma in _VERBS.items()},
    **{word: (word, "ADJ") for word in _SIDE_WORDS},  # ADV / NOUN by context: _tag
}


def caption_words(caption: str) -> list[str]:
    """The words HumanML3D's text processing keeps: hyphens removed, only purely alphabetic tokens."""
    chunks = caption.lower().replace("-", "").split()
    return [word for word in (chunk.strip(".,;:!?'\"()") for chunk in chunks) if word.isalpha()]


def _tag(words: list[str], i: int) -> str:
    word = words[i]
    lemma, pos = LEXICON[word]
    if word in _SIDE_WORDS:  # "the left arm": ADJ; "to the left of": NOUN; "turns left": ADV
        following = words[i + 1] if i + 1 < len(words) else ""
        pos = "ADJ" if following in _NOUNS else "NOUN" if following == "of" or (
            i > 0 and words[i - 1] == "the") else "ADV"
    return f"{lemma}/{pos}"


def caption_tokens(caption: str) -> str:
    """``lemma/UPOS`` tokens of one of our captions; InputError for a word outside the lexicon."""
    words = caption_words(caption)
    unknown = sorted({word for word in words if word not in LEXICON})
    if unknown:
        raise InputError("caption", f"words outside the caption lexicon: {unknown}")
    return " ".join(_tag(words, i) for i in range(len(words)))


def humanml3d_line(caption: str) -> str:
    """``caption#tokens#0.0#0.0``: one line of HumanML3D's texts/<name>.txt for the whole motion."""
    return f"{caption}#{caption_tokens(caption)}#0.0#0.0"


def humanml3d_lines(facts: list[Fact], seed: int = 0, count: int = 3) -> list[str]:
    """One HumanML3D text line per caption of ``caption_sentences(facts, seed, count)``."""
    return [humanml3d_line(caption) for caption in caption_sentences(facts, seed, count)]


def fact_label(item) -> str:
    """A short label of a Fact or FactQuery: "walk forward", "turn left 90 deg", "raise_arm both above_head"."""
    parts = [item.kind, item.side, item.direction]
    if item.amount is not None:
        parts.append(f"{item.amount:.0f} deg")
    parts.append(item.detail)
    return " ".join(str(part) for part in parts if part is not None)
