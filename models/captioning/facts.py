"""Facts about a motion: what a caption says and what the checker verifies, documented once.

A ``Fact`` is something that happens (or holds) in a motion over a time span:

- ``kind``: one of ``FACT_KINDS``;
- ``start`` / ``end``: seconds from the motion's first frame, ``0 <= start < end``;
- ``side``: ``"left"``, ``"right"`` or ``"both"`` for limb facts (``raise_arm``, ``wave``, ``kick``,
  ``step``, ``swing_arms``), the subject's own sides; None for whole-body facts;
- ``direction``: for ``walk`` / ``run``: ``"forward"``, ``"backward"``, ``"left"`` or ``"right"``
  (sideways), relative to the body's facing (None where it cannot be judged, e.g. in 2D); for
  ``turn``: ``"left"`` (counter-clockwise seen from above) or ``"right"``; None otherwise;
- ``amount``: for ``turn``, the angle turned in degrees (positive); None otherwise;
- ``detail``: ``"above_head"`` for a ``raise_arm`` whose wrist rises above the head; for ``pose``
  (a static fact) the pose-code category name (``tokenizers/posecodes.py``); None otherwise.

A ``FactQuery`` is what a text asks for (``text_facts.py``): a kind and, optionally, a side, a
direction and an angle, without times. ``FactQuery.matches(fact)`` says whether a found fact
satisfies it; unset fields match anything, ``side="both"`` is satisfied by a ``both`` fact or by a
left and a right fact (see ``check.py``), a turn's angle matches within ``TURN_TOLERANCE``.

One 2D view cannot judge everything: ``find_facts_2d`` never reports ``NOT_IN_ONE_VIEW`` kinds nor a
walk's direction, so ``in_one_view(query)`` gives the query as a 2D view can check it (None for
those kinds, the walk/run direction cleared).

Mirroring a motion (left <-> right) maps every fact through ``mirrored``: sides and directions
left/right swap, a left turn becomes a right turn.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from ..core.errors import InputError

FACT_KINDS = (
    "walk", "run", "turn", "stand_still",  # locomotion, relative to the facing
    "jump", "crouch", "kneel", "sit", "lie",  # root height events
    "raise_arm", "wave", "clap", "kick", "step", "swing_arms",  # limb actions
    "pose",  # a static pose fact from the pose codes
)
SIDES = ("left", "right", "both")
LOCOMOTION_DIRECTIONS = ("forward", "backward", "left", "right")
TURN_DIRECTIONS = ("left", "right")
MIN_SECONDS = 0.5  # the shortest motion the fact finders accept (shorter: InputError naming the motion)
NOT_IN_ONE_VIEW = ("turn", "sit", "pose")  # a 2D view reads a seated body as a crouch, and has no pose codes
TURN_TOLERANCE = 45.0  # degrees: "turns around" (180) matches a found turn of 135..225
_SWAP = {"left": "right", "right": "left"}


def _check_side_and_direction(kind: str, side: str | None, direction: str | None) -> None:
    """The side and direction rules a fact and a query share (module docstring)."""
    if side is not None and side not in SIDES:
        raise InputError("fact", f"{kind}: side {side!r} is not one of {SIDES}")
    allowed = TURN_DIRECTIONS if kind == "turn" else LOCOMOTION_DIRECTIONS
    if direction is not None and direction not in allowed:
        raise InputError("fact", f"{kind}: direction {direction!r} is not one of {allowed}")


@dataclass(frozen=True)
class Fact:
    kind: str
    start: float
    end: float
    side: str | None = None
    direction: str | None = None
    amount: float | None = None
    detail: str | None = None

    def __post_init__(self):
        if self.kind not in FACT_KINDS:
            raise InputError("fact", f"unknown kind {self.kind!r}; expected one of {FACT_KINDS}")
        if not 0.0 <= self.start < self.end:
            raise InputError("fact", f"{self.kind}: expected 0 <= start < end seconds, got {self.start}..{self.end}")
        _check_side_and_direction(self.kind, self.side, self.direction)

    @property
    def seconds(self) -> float:
        return self.end - self.start


@dataclass(frozen=True)
class FactQuery:
    kind: str
    side: str | None = None
    direction: str | None = None
    amount: float | None = None
    detail: str | None = None

    def __post_init__(self):
        if self.kind not in FACT_KINDS:
            raise InputError("fact", f"unknown kind {self.kind!r}; expected one of {FACT_KINDS}")
        _check_side_and_direction(self.kind, self.side, self.direction)

    def matches(self, fact: Fact) -> bool:
        """Whether ``fact`` alone satisfies this query (``side="both"`` from two facts: ``check.py``)."""
        if fact.kind != self.kind:
            return False
        if self.side is not None and fact.side != self.side and not (self.side != "both" and fact.side == "both"):
            return False
        if self.direction is not None and fact.direction != self.direction:
            return False
        if self.amount is not None and (fact.amount is None or abs(fact.amount - self.amount) > TURN_TOLERANCE):
            return False
        return self.detail is None or fact.detail == self.detail


def _swapped(value: str | None) -> str | None:
    return _SWAP.get(value, value) if value is not None else None


def mirrored(fact: Fact) -> Fact:
    """The fact as it reads in the left/right mirror of the motion."""
    detail = fact.detail
    if fact.kind == "pose" and detail:
        detail = " ".join(_SWAP.get(word, word) for word in detail.split(" "))
    return replace(fact, side=_swapped(fact.side), direction=_swapped(fact.direction), detail=detail)


def in_one_view(query: FactQuery) -> FactQuery | None:
    """``query`` as far as one 2D view can judge it (module docstring): None when it cannot."""
    if query.kind in NOT_IN_ONE_VIEW:
        return None
    return replace(query, direction=None) if query.kind in ("walk", "run") else query
