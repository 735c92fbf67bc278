"""Checkable facts read out of English motion text: ``facts_in_text(text) -> list[FactQuery]``.

A keyword reader, not a parser: it reads our own captions (``phrasing.py``), HumanML3D-style human
captions ("a person walks forward, turns around and waves his right hand") and short prompts
("wave arms", "step and swing arms", "raise both arms above the head", "sit down").

1. Pose-code names (``tokenizers/posecodes.py``, e.g. "left knee off the ground") found verbatim
   become ``pose`` queries and are cut out of the text.
2. "left and right" becomes "both"; the text is cut into clauses at punctuation and at "then",
   "and", "while", "after", "before", "as", "until", "when".
3. A clause with a negation ("not", "n't", "never", "without", "no longer") is skipped: "does not
   jump" asks for nothing checkable (a motion is not scored on what it must not do).
4. Each action word of a clause gives one query (``ACTIONS``: verbs and their forms, e.g. walk / walks
   / walking / strolls, run / jog, turn / spins, jump / hop, crouch / squat, ...). In the same clause:
   - limb actions (raise_arm, wave, kick, step, swing_arms) take a side: "left" / "right" / "both";
     a plural limb ("arms", "hands", "legs", "feet") without a side means both; "left and right"
     means both;
   - walk and run take a direction: forward / forwards / ahead -> forward; backward / backwards / in
     reverse -> backward; (sideways) to the left / right -> left / right. A bare "back" ("walks back")
     is not read as backward: in human captions it mostly means "returns";
   - turns take a direction (left / right) and an angle: "N degrees" -> N, "full circle" / "full
     turn" -> 360, "half turn" / "around" -> 180, "three quarter turn" -> 270, "quarter turn" -> 90;
   - raise_arm takes ``detail="above_head"`` from "above / over the head", "overhead", "in the air".
A text with none of these words gives an empty list: the checker reports "no checkable fact".
"""

from __future__ import annotations

import re

from ..core.errors import InputError
from ..tokenizers.posecodes import CATEGORY_NAMES
from .facts import FactQuery

SIDED_KINDS = ("raise_arm", "wave", "kick", "step", "swing_arms")
# kind -> a regular expression of its action words (whole words, lower case)
ACTIONS = {
    "walk": r"walk|walks|walked|walking|stroll|strolls|strolled|strolling|stride|strides|striding|strode",
    "run": r"run|runs|ran|running|jog|jogs|jogged|jogging|sprint|sprints|sprinted|sprinting|a run",
    "turn": r"turn|turns|turned|turning|spin|spins|spun|spinning|rotate|rotates|rotated|rotating|pivots?|pivoting",
    "stand_still": r"(?:stand|stands|standing|stood|stay|stays|staying|stayed|remain|remains|remaining|remained)"
                   r" (?:still|in place|motionless|put|in one place)",
    "jump": r"jump|jumps|jumped|jumping|hop|hops|hopped|hopping|leap|leaps|leaped|leapt|leaping",
    "crouch": r"crouch|crouches|crouched|crouching|squat|squats|squatted|squatting",
    "kneel": r"kneel|kneels|kneeled|knelt|kneeling|on (?:one|both|the|his|her|their) knees?",
    "sit": r"sit|sits|sat|sitting|seated|a seat",
    "lie": r"lie|lies|lying|lay|lays|laying|lain",
    "raise_arm": r"raise|raises|raised|raising|lift|lifts|lifted|lifting|(?:put|puts|putting|hold|holds|holding"
                 r"|held|reach|reaches|reaching|throw|throws|throwing)\b.*\bup|(?:arms?|hands?) up",
    "wave": r"wave|waves|waved|waving",
    "clap": r"clap|claps|clapped|clapping",
    "kick": r"kick|kicks|kicked|kicking",
    "step": r"step|steps|stepped|stepping|sidestep|sidesteps|march|marches|marched|marching",
    "swing_arms": r"swing|swings|swung|swinging",
}
_ACTION_PATTERNS = {kind: re.compile(rf"\b(?:{words})\b") for kind, words in ACTIONS.items()}
_NEGATION = re.compile(r"\b(?:not|never|without|no longer|nor)\b|n't\b")
_CLAUSE_BREAK = re.compile(r"[.,;:!?()]|\b(?:then|and|while|after|before|as|until|when|once)\b")
_LEGS = re.compile(r"\b(?:leg|legs|foot|feet|knee|knees)\b")
_PLURAL_LIMBS = re.compile(r"\b(?:arms|hands|legs|feet)\b")
_ABOVE_HEAD = re.compile(r"\b(?:above|over) (?:the |his |her |their )?head\b|\boverhead\b|\bin the air\b")
_DEGREES = re.compile(r"(\d+(?:\.\d+)?)\s*(?:degrees?|deg\b|°)")
_WORD_ANGLES = {"forty five": 45, "fortyfive": 45, "ninety": 90, "a hundred and eighty": 180,
                "one hundred eighty": 180, "one hundred and eighty": 180, "three hundred and sixty": 360}
_TURN_AMOUNTS = ((re.compile(r"\bfull (?:circle|turn|rotation|spin)\b|\bcomplete (?:circle|turn)\b|\b360\b"), 360.0),
                 (re.compile(r"\bhalf (?:circle|turn|rotation)\b|\baround\b|\babout face\b"), 180.0),
                 (re.compile(r"\bthree quarters? (?:turn|circle|rotation)\b|\bthree quarters of a (?:turn|circle)\b"),
                  270.0),
                 (re.compile(r"\bquarter (?:turn|circle|rotation)\b"), 90.0))
_DIRECTIONS = ((re.compile(r"\b(?:forward|forwards|ahead)\b"), "forward"),
               (re.compile(r"\b(?:backward|backwards|in reverse)\b"), "backward"),
               (re.compile(r"\bleft\b"), "left"), (re.compile(r"\bright\b"), "right"))
_POSE_NAMES = tuple(sorted(CATEGORY_NAMES, key=len, reverse=True))


def _side(clause: str) -> str | None:
    left, right = re.search(r"\bleft\b", clause), re.search(r"\bright\b", clause)
    if re.search(r"\bboth\b", clause) or (left and right):
        return "both"
    if left or right:
        return "left" if left else "right"
    return "both" if _PLURAL_LIMBS.search(clause) else None


def _direction(clause: str) -> str | None:
    clause = re.sub(r"\bback and forth\b|\bto and fro\b", " ", clause)
    for pattern, direction in _DIRECTIONS:
        if pattern.search(clause):
            return direction
    return None


def _turn_amount(clause: str) -> float | None:
    match = _DEGREES.search(clause)
    if match:
        return float(match.group(1))
    for words, angle in _WORD_ANGLES.items():
        if re.search(rf"\b{words}\b", clause):
            return float(angle)
    for pattern, angle in _TURN_AMOUNTS:
        if pattern.search(clause):
            return angle
    return None


def _clause_queries(clause: str) -> list[FactQuery]:
    queries = []
    for kind, pattern in _ACTION_PATTERNS.items():
        if not pattern.search(clause):
            continue
        if kind in ("raise_arm", "swing_arms") and _LEGS.search(clause):
            continue  # "raises the left leg", "swings a leg": not an arm action we check
        if kind == "step" and re.search(r"\bsteps? (?:forward|back|backward|ahead)\b", clause) and \
                _ACTION_PATTERNS["walk"].search(clause):
            continue  # "walks a few steps forward": the walk is the fact
        side = _side(clause) if kind in SIDED_KINDS else None
        direction = amount = detail = None
        if kind in ("walk", "run"):
            direction = _direction(clause)
        elif kind == "turn":
            left, right = re.search(r"\bleft\b", clause), re.search(r"\bright\b", clause)
            direction = "left" if left and not right else "right" if right and not left else None
            amount = _turn_amount(clause)
        elif kind == "raise_arm" and _ABOVE_HEAD.search(clause):
            detail = "above_head"
        queries.append(FactQuery(kind, side=side, direction=direction, amount=amount, detail=detail))
    return queries


def facts_in_text(text: str) -> list[FactQuery]:
    """The checkable facts a text asks for, in the order it says them (duplicates kept once)."""
    if not isinstance(text, str) or not text.strip():
        raise InputError("text", "expected a non-empty text describing a motion")
    text = " " + " ".join(text.lower().replace("\u2019", "'").split()) + " "
    queries = []
    for name in _POSE_NAMES:  # longest first, so a name inside a longer one is not read twice
        pattern = rf"(?<![\w.-]){re.escape(name)}(?![\w.-])"
        if re.search(pattern, text):
            queries.append(FactQuery("pose", detail=name))
            text = re.sub(pattern, " ", text)
    text = re.sub(r"\bleft and right\b|\bright and left\b", "both", text)
    text = re.sub(r"-", " ", text)
    for clause in _CLAUSE_BREAK.split(text):
        if clause.strip() and not _NEGATION.search(clause):
            queries += [q for q in _clause_queries(clause) if q not in queries]
    return queries
