"""Does a motion do what a text says? ``check_motion_against_text(motion, text) -> CheckResult``.

The text's checkable facts (``text_facts.facts_in_text``: a list of ``FactQuery``) are looked up
among the facts found in the motion (``describe.find_facts``). ``satisfied`` is pure: one bool per
query, True when one found fact matches it (``FactQuery.matches``), or, for ``side="both"``, when a
matching left fact and a matching right fact overlap in time (raising both arms is raising each
arm at the same time).

``CheckResult.score`` is the fraction of the text's queries satisfied, in 0..1, or None when the
text asks for nothing checkable ("hello", "does not jump"): such a text is not scored 0, the message
says "no checkable fact in the text". On 2D sources (POSE_KEYPOINT, Detect Pose's landmarks) the
text's facts that one view cannot judge (``facts.in_one_view``: turns, sitting, pose facts; a walk's
direction) are listed as not judged and left out of the score. The facts are found by rules
(``facts.py``'s thresholds), so
a score says how much of the text these rules find, not what a person would judge.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from .describe import find_facts, is_image_source
from .facts import Fact, FactQuery, in_one_view
from .phrasing import fact_label
from .text_facts import facts_in_text


@dataclass(frozen=True)
class CheckResult:
    text: str
    queries: list[FactQuery]
    satisfied: list[bool]
    score: float | None
    found: list[Fact]
    message: str
    not_judged: tuple[FactQuery, ...] = ()  # facts of the text one 2D view cannot judge (left out of the score)


def _overlap(a: Fact, b: Fact) -> bool:
    return a.start < b.end and b.start < a.end


def _satisfies(found: list[Fact], query: FactQuery) -> bool:
    if any(query.matches(fact) for fact in found):
        return True
    if query.side != "both":
        return False
    lefts = [f for f in found if replace(query, side="left").matches(f)]
    rights = [f for f in found if replace(query, side="right").matches(f)]
    return any(_overlap(left, right) for left in lefts for right in rights)


def satisfied(found: list[Fact], queries: list[FactQuery]) -> list[bool]:
    """One bool per query: does some found fact (or a left and right pair, for "both") satisfy it."""
    return [_satisfies(list(found), query) for query in queries]


def query_lines(result: CheckResult) -> list[str]:
    """One line per fact of the text: "found: wave right" or "missing: wave right"."""
    return [f"{'found' if ok else 'missing'}: {fact_label(query)}"
            for query, ok in zip(result.queries, result.satisfied)]


def check_motion_against_text(motion, text: str, fps: float | None = None, person: int = 0) -> CheckResult:
    """Score a MOTION (or POSE_KEYPOINT frames with ``fps``) against a text; see the module docstring."""
    queries = facts_in_text(text)  # an empty text fails here, before any work on the motion
    found = find_facts(motion, fps=fps, person=person)
    not_judged: tuple[FactQuery, ...] = ()
    if queries and is_image_source(motion):
        not_judged = tuple(q for q in queries if in_one_view(q) is None)
        queries = [in_one_view(q) for q in queries if in_one_view(q) is not None]
        if not queries:
            labels = ", ".join(fact_label(q) for q in not_judged)
            return CheckResult(text, [], [], None, found, f"no fact of the text can be judged in one 2D view "
                               f"({labels}); not scored", not_judged)
    if not queries:
        return CheckResult(text, [], [], None, found,
                           f"no checkable fact in the text: {text.strip()!r:.120} names no action the checker reads "
                           "(walk, run, turn, jump, crouch, kneel, sit, lie, raise, wave, clap, kick, step, swing, "
                           "stand still); not scored")
    flags = satisfied(found, queries)
    score = sum(flags) / len(flags)
    missing = [fact_label(q) for q, ok in zip(queries, flags) if not ok]
    message = f"{sum(flags)} of {len(flags)} facts of the text found in the motion (score {score:.2f})"
    if missing:
        message += f"; missing: {', '.join(missing)}"
    if not_judged:
        message += f"; not judged in one 2D view: {', '.join(fact_label(q) for q in not_judged)}"
    return CheckResult(text, queries, flags, score, found, message, not_judged)
