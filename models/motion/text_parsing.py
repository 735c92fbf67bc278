"""Line-oriented text-file helpers shared by the mocap parsers: errors name the file and the line."""

from __future__ import annotations

import math
import os
from typing import Sequence

from ..core.errors import InputError


def read_lines(path, kind: str) -> tuple[str, list[str]]:
    name = os.path.basename(os.fspath(path))
    try:
        with open(path, "r", encoding="utf-8", errors="replace") as f:
            return name, f.read().splitlines()
    except FileNotFoundError:
        raise InputError(kind, f"file not found: {os.fspath(path)!r}") from None
    except OSError as exc:
        raise InputError(kind, f"cannot read {os.fspath(path)!r}: {exc.strerror or exc}") from None


class FileErrors:
    """Builds InputErrors for one file: ``kind: name line N: problem``."""

    def __init__(self, kind: str, name: str):
        self.kind, self.name = kind, name

    def __call__(self, line: int | None, problem: str) -> InputError:
        where = f"{self.name} line {line}" if line is not None else self.name
        return InputError(self.kind, f"{where}: {problem}")


def parse_floats(tokens: Sequence[str], err: FileErrors, line: int, what: str) -> list[float]:
    try:
        values = [float(t) for t in tokens]
    except ValueError:
        raise err(line, f"{what}: expected numbers, got {' '.join(tokens)!r}") from None
    if not all(math.isfinite(v) for v in values):
        raise err(line, f"{what}: values must be finite")
    return values


# --------------------------------------------------------------------------------------------
