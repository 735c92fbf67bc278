"""Benchmark: the four motion tokenizers on held-out real mocap, PGR2M's residual-dropout trade-off,
and encode+decode throughput of the default (official-size) and small trained configurations.

A thin wrapper over ``python -m posemotion motion-bench`` (``cli/motion.py`` over ``models/tokenizers/benchmark.py``); it
reads the dataset and checkpoints that ``scripts/reproduce_tokenizers.sh`` writes. Run from the
repository root: ``python benchmarks/bench_tokenizers.py [--frames 196] [--repeats 7] [--json FILE]``.
"""

from __future__ import annotations

import sys

from posemotion.cli.main import main  # the pack installed with `pip install -e .`

if __name__ == "__main__":
    raise SystemExit(main(["motion-bench", *sys.argv[1:]]))
