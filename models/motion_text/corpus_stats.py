"""What the corpus build reports: clips, seconds, windows and items per split, how often each fact kind
occurs, the caption vocabulary and how often the fact finder agrees with ``facts.mirrored`` on the
mirrored motion. Every fact count is of facts DERIVED FROM THE MOTION by the captioner."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

from ..captioning.facts import FACT_KINDS, Fact
from ..motion import dataset_folder
from .windows import FPS

KINDS = ("3d", "2d")
SPLIT_NAMES = ("train", "test")


def _fact_key(fact: Fact, exact: bool) -> tuple:
    if not exact:
        return fact.kind, fact.side, fact.direction
    amount = None if fact.amount is None else round(fact.amount)
    return fact.kind, fact.side, fact.direction, fact.detail, amount, round(fact.start, 2), round(fact.end, 2)


def fact_agreement(expected: list[Fact], found: list[Fact]) -> tuple[bool, bool]:
    """(same facts with the same times and turn angles to a degree, same kinds/sides/directions as sets)."""
    exact = Counter(_fact_key(f, True) for f in expected) == Counter(_fact_key(f, True) for f in found)
    loose = {_fact_key(f, False) for f in expected} == {_fact_key(f, False) for f in found}
    return exact, loose


def vocabulary(folder: str, names: list[str]) -> int:
    """Distinct lower-case words over every caption's tokens (``word/POS``) of the named items."""
    words = set()
    for name in names:
        for line in dataset_folder.read_texts(folder, name):
            words.update(token.rsplit("/", 1)[0].lower() for token in line.tokens)
    return len(words)


@dataclass
class CorpusStats:
    out_dir: str
    skipped: list[str] = field(default_factory=list)
    clips: dict[str, dict] = field(default_factory=dict)  # source -> {"estimated", "recordings", "seconds"}
    windows: dict[tuple[str, str], int] = field(default_factory=Counter)  # (kind, split) -> unmirrored windows
    items: dict[tuple[str, str], int] = field(default_factory=Counter)  # (kind, split) -> items incl. mirrors
    mirrored: int = 0
    estimated: int = 0
    uncaptioned: dict[tuple[str, str], int] = field(default_factory=Counter)  # windows with no fact (left out)
    fact_counts: dict[tuple[str, str], Counter] = field(default_factory=dict)  # (kind, split) -> kind counts
    mirror_checks: dict[str, list[int]] = field(default_factory=dict)  # kind -> [windows, exact, loose]
    vocabulary: int = 0

    def add_recording(self, source: str, estimated: bool, num_frames: int) -> None:
        entry = self.clips.setdefault(source, {"estimated": estimated, "recordings": 0, "seconds": 0.0})
        entry["recordings"] += 1
        entry["seconds"] += (num_frames - 1) / FPS

    def add_item(self, kind: str, split: str, mirror: bool, estimated: bool, facts: list[Fact]) -> None:
        self.items[kind, split] += 1
        if mirror:
            self.mirrored += 1
        else:
            self.windows[kind, split] += 1
        self.estimated += int(estimated)
        self.fact_counts.setdefault((kind, split), Counter()).update(f.kind for f in facts)

    def add_uncaptioned(self, kind: str, split: str) -> None:
        self.uncaptioned[kind, split] += 1

    def add_mirror_check(self, kind: str, exact: bool, loose: bool) -> None:
        counts = self.mirror_checks.setdefault(kind, [0, 0, 0])
        counts[0] += 1
        counts[1] += int(exact)
        counts[2] += int(loose)

    def mirror_agreement(self, kind: str = "3d") -> float | None:
        """Share of windows whose mirrored joints give exactly the mirrored facts (None: no window)."""
        counts = self.mirror_checks.get(kind)
        return counts[1] / counts[0] if counts and counts[0] else None

    def lines(self) -> list[str]:
        captured = {s: c for s, c in self.clips.items() if not c["estimated"]}
        estimated = {s: c for s, c in self.clips.items() if c["estimated"]}
        out = [f"motion-text corpus in {self.out_dir} (captions derived from the motion by the captioner)"]
        for label, group in (("captured (mocap)", captured), ("estimated (MediaPipe, video)", estimated)):
            seconds = sum(c["seconds"] for c in group.values())
            detail = ", ".join(f"{s} {c['seconds']:.1f} s" for s, c in sorted(group.items()))
            out.append(f"clips {label}: {len(group)}, {seconds:.1f} s" + (f" ({detail})" if detail else ""))
        for line in self.skipped:
            out.append(f"skipped: {line}")
        for kind, label in (("3d", "3D items (features)"), ("2d", "2D-only items (poses_2d/)")):
            parts = [f"{split} {self.windows[kind, split]} windows / {self.items[kind, split]} items"
                     for split in SPLIT_NAMES]
            left_out = sum(self.uncaptioned[kind, split] for split in SPLIT_NAMES)
            out.append(f"{label}: " + ", ".join(parts) + f"; {left_out} windows without any fact left out")
        out.append(f"mirrored items: {self.mirrored}; estimated items: {self.estimated}")
        for kind in KINDS:
            counts = self.mirror_checks.get(kind)
            if counts and counts[0]:
                out.append(f"mirror check {kind}: finder on the mirrored motion gives exactly the mirrored facts in "
                           f"{counts[1]}/{counts[0]} windows ({100 * counts[1] / counts[0]:.0f}%), the same "
                           f"kinds/sides/directions in {counts[2]}/{counts[0]} ({100 * counts[2] / counts[0]:.0f}%)")
        out.append(f"caption vocabulary: {self.vocabulary} words")
        header = f"{'fact':<12}" + "".join(f"{kind + ' ' + split:>10}" for kind in KINDS for split in SPLIT_NAMES)
        out.append("facts per item (derived from the motion; mirrors included):")
        out.append("  " + header)
        for fact_kind in FACT_KINDS:
            row = [self.fact_counts.get((kind, split), Counter())[fact_kind] for kind in KINDS for split in SPLIT_NAMES]
            out.append("  " + f"{fact_kind:<12}" + "".join(f"{n:>10}" for n in row))
        return out
