"""Benchmark: GENMO denoiser cost against sequence length (sliding-window vs dense-mask attention).

``scaling()``: the small demo configuration (``GenmoConfig.small()``: 256 wide, 4 layers, 4 heads,
window 120), randomly initialised (the figures are about cost, not motion quality), one text
prompt of 16 tokens over the whole sequence and no other condition (text-to-motion generation),
batch 1, ``torch.no_grad``, float32. For L = 120, 480 and 1920 frames (6 s, 24 s, 96 s at 20 fps):

- time: wall seconds of 10 denoiser calls (a short DDIM run; the sampler adds only elementwise work),
  the fastest of ``REPEATS`` runs after one warm-up call (on CPU cores shared with other jobs the
  slower runs measure those jobs: the median of 3 moved the 120 -> 480 ratio between 3.5 and 5.2);
- memory: the peak of live tensor bytes during one call above what was live before it (weights and
  inputs excluded), measured by ``peak_memory.PeakMemory`` (CPU: the profiler's allocator events;
  CUDA: ``max_memory_allocated``) in a separate, untimed run.

"ours" is the blocked sliding-window attention (``attention.sliding_window_attention``); "dense" is
the same model with ``attention_impl="dense"``: an L x L ``window_mask`` through SDPA, the way GEM
builds its mask. Both compute the same function (``tests/genmo/test_denoiser.py``). The table
prints time(4L)/time(L) and memory(4L)/memory(L); the target for ours is at most ``TARGET_RATIO``
(linear growth plus overheads).

Run: ``python benchmarks/bench_genmo.py`` (add ``--threads 1`` on CPU cores shared with other jobs:
OpenMP threads waiting on each other make timings swing by several times). ``--sections`` picks
tables: scaling, music (``genmo_music.py``) and the quality tables of ``genmo_quality.py``
(keyframes, estimation, detected, timeline: a trained ``--checkpoint`` on ``--corpus``'s held-out
test split, ``--limit`` clips, ``--timelines``, ``--steps`` DDIM steps; detected: real videos outside
the corpus).
"""

from __future__ import annotations

import argparse
import os
import sys
import time

import torch

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

import genmo_music  # noqa: E402
import genmo_quality  # noqa: E402
from peak_memory import PeakMemory, self_check  # noqa: E402
from posemotion.models.genmo import DEFAULT_CORPUS, DEMO_MODEL  # noqa: E402
from posemotion.models.genmo.conditions import GenmoConditions, TextCondition  # noqa: E402
from posemotion.models.genmo.denoiser import GenmoConfig, GenmoDenoiser  # noqa: E402
from posemotion.models.genmo.model import load_genmo  # noqa: E402

LENGTHS = (120, 480, 1920)
CALLS = 10  # denoiser calls per timed run
REPEATS = 5
PROMPT_TOKENS = 16
TARGET_RATIO = 4.5  # time and memory of 4x the frames, for ours
# the quality sections live in genmo_quality.py
SECTIONS = ("scaling", "music", "keyframes", "estimation", "detected", "timeline")


def _inputs(config: GenmoConfig, length: int, device) -> tuple:
    generator = torch.Generator().manual_seed(length)
    text = TextCondition(torch.randn(1, 1, PROMPT_TOKENS, config.text_dim, generator=generator),
                         torch.ones(1, 1, PROMPT_TOKENS, dtype=torch.bool), torch.ones(1, 1, length, dtype=torch.bool))
    conditions = GenmoConditions(1, length, text=text).to(device)
    x_t = torch.randn(1, length, config.motion_dim, generator=generator).to(device)
    return x_t, torch.tensor([500], device=device), conditions


def _sync(device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


@torch.no_grad()
def _measure(model: GenmoDenoiser, length: int, device) -> tuple[float, int]:
    x_t, t, conditions = _inputs(model.config, length, device)
    model(x_t, t, conditions)  # warm-up
    times = []
    for _ in range(REPEATS):
        _sync(device)
        start = time.perf_counter()
        for _ in range(CALLS):
            model(x_t, t, conditions)
        _sync(device)
        times.append(time.perf_counter() - start)
    with PeakMemory(device) as meter:
        model(x_t, t, conditions)
    return min(times), meter.peak_bytes


def scaling(device: str | None = None) -> dict:
    """{impl: {length: (seconds for CALLS calls, peak bytes of one call)}}, printed as a table."""
    device = torch.device(device or ("cuda" if torch.cuda.is_available() else "cpu"))
    if device.type == "cpu":
        self_check()
    torch.manual_seed(0)
    ours = GenmoDenoiser(GenmoConfig.small()).to(device).eval()
    dense = GenmoDenoiser(GenmoConfig(**{**GenmoConfig.small().to_dict(), "attention_impl": "dense"})).to(device)
    dense.load_state_dict(ours.state_dict())
    dense.eval()
    results = {name: {n: _measure(model, n, device) for n in LENGTHS} for name, model in
               (("ours", ours), ("dense", dense))}
    print(f"\nGENMO denoiser scaling ({device}, {torch.get_num_threads()} threads, small config, "
          f"{CALLS} calls, batch 1)")
    print(f"{'impl':<6} {'frames':>6} {'seconds':>9} {'peak MiB':>9} {'time x':>7} {'mem x':>7}")
    for name, rows in results.items():
        previous = None
        for n in LENGTHS:
            seconds, peak = rows[n]
            grow = "" if previous is None else f"{seconds / previous[0]:7.2f} {peak / previous[1]:7.2f}"
            print(f"{name:<6} {n:>6} {seconds:9.3f} {peak / 2 ** 20:9.1f} {grow}")
            previous = (seconds, peak)
    for step in zip(LENGTHS, LENGTHS[1:]):
        time_ratio = results["ours"][step[1]][0] / results["ours"][step[0]][0]
        memory_ratio = results["ours"][step[1]][1] / results["ours"][step[0]][1]
        verdict = "ok" if max(time_ratio, memory_ratio) <= TARGET_RATIO else "ABOVE TARGET"
        print(f"ours {step[0]}->{step[1]}: time x{time_ratio:.2f}, memory x{memory_ratio:.2f} "
              f"(target <= {TARGET_RATIO}): {verdict}")
    return results


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default=None)
    parser.add_argument("--threads", type=int, default=None)
    parser.add_argument("--sections", nargs="+", default=list(SECTIONS), choices=SECTIONS,
                        help="which tables to run (default: all)")
    parser.add_argument("--checkpoint", default=DEMO_MODEL, help="GENMO model for the quality sections")
    parser.add_argument("--corpus", default=DEFAULT_CORPUS, help="HumanML3D-layout folder (test + train splits)")
    parser.add_argument("--limit", type=int, default=12, help="test clips of the keyframes and estimation tables")
    parser.add_argument("--timelines", type=int, default=16, help="two-prompt timelines (16: R-precision pools of 32)")
    parser.add_argument("--steps", type=int, default=20, help="DDIM steps of the quality sections")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    if "scaling" in args.sections:
        scaling(args.device)
    if "music" in args.sections:
        genmo_music.music_table()
    quality = [name for name in args.sections if name in genmo_quality.SECTIONS]
    if quality and not os.path.exists(args.checkpoint):
        print(f"\nskipped {', '.join(quality)}: no GENMO model at {args.checkpoint} (give --checkpoint)")
    elif quality:
        model = load_genmo(args.checkpoint)
        sizes = {"keyframes": {"limit": args.limit, "steps": args.steps},
                 "estimation": {"limit": args.limit, "generation_steps": args.steps}, "detected": {},
                 "timeline": {"count": args.timelines, "steps": args.steps}}
        for name in quality:
            genmo_quality.SECTIONS[name](model, args.corpus, **sizes[name])
    return 0


if __name__ == "__main__":
    sys.exit(main())
