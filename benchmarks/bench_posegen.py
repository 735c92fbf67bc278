"""Benchmark: PoseGen long-video generation, peak memory and time.

Compares, at equal frame count and on the same randomly initialised models (the figures are about
cost, not image quality):

- segment-interleaved generation (``pipeline.generate``) without KV-sharing ("plain"), with
  KV-sharing and the anchor's keys/values kept on the compute device ("kv_device"), and with them
  offloaded to the CPU ("kv_offload");
- the peers' overlapping context windows (``pipeline.generate_context_windows``: one latent video,
  windows of one segment's latent length overlapping by a quarter, predictions averaged per step).

Memory (``peak_memory.PeakMemory``; CUDA: ``max_memory_allocated``; CPU: the running sum of the
profiler's allocator events, exact, checked by ``peak_memory.self_check`` before the runs):
- "peak": the highest tensor bytes live at once during one generation, above what was live before
  it. Weights and inputs are allocated before, so it is activations plus the KV cache; on the CPU
  it also holds the pixel-space frame buffers (poses, decoded segments, the merge), which a GPU run
  keeps in host memory, so the CPU ratios understate what the cache adds on a GPU.
- "DiT" (CPU only): the peak of the tensors allocated while the transformer runs, each counted until
  it is freed: the DiT's activations plus the KV cache it records, without the pixel buffers and
  the VAE. This is the quantity that grows with the cache.
- "cache": the anchor's key/value cache at its largest, counted by the controller.
- weights: printed apart; "incl. weights" adds them to both sides of the peak ratio.
On a CPU-only machine the offload device is the compute device, so "kv_offload" there measures what
"kv_device" does and its ratios are marked n/a: only a CUDA run tells what offloading saves.

KV-sharing ranges: the paper's half-body preset caches 2 steps x 6 blocks (34-40 of 40). The cache's
size relative to the activations is set by that count of (step, block) pairs (both scale with tokens x
width), so the benchmark keeps 6 blocks (the deepest) and 2 steps at every depth, and 11/40 of the
depth for the subject-mask blocks.

Time: wall seconds of the whole generation (VAE included), median over interleaved repeats after a
warm-up run of the KV-sharing and window paths, and the median seconds per sampling step (one CFG-guided DiT pass over one
segment or window: the interval between progress reports). CPU memory runs are separate profiled runs
(the profiler slows every op), not timed.

Run: ``python benchmarks/bench_posegen.py`` (device chosen automatically; ``--config cpu`` is the
small configuration, ``--config cuda`` the larger one, the default on a CUDA machine). On CPU cores
shared with other jobs, ``--threads 1``: two OpenMP threads waiting on each other made the same run
vary from 8 to 44 s.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import time

import torch

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

from diffusers import AutoencoderKLWan
from peak_memory import PeakMemory, self_check  # noqa: E402
from posemotion.models.posegen import pipeline as pl
from posemotion.models.posegen.pipeline import KVShareSettings, PoseGenModels
from posemotion.models.posegen.tiny import word_level_umt5_tokenizer
from posemotion.models.posegen.transformer import PoseGenTransformer
from transformers import CLIPVisionConfig, CLIPVisionModelWithProjection, UMT5Config, UMT5EncoderModel

CONFIGS = {
    # width = heads x 64, FFN 2.7 x width as Wan2.1-14B (13824 / 5120); frames = 3 interleaved segments
    "cpu": dict(heads=2, layers=6, width=256, height=192, segment=17, frames=41, steps=3, vae_dim=4),
    "cuda": dict(heads=8, layers=16, width=480, height=272, segment=81, frames=200, steps=6, vae_dim=32),
}
VARIANTS = ("plain", "kv_device", "kv_offload", "windows")
PROMPT, SUBJECT = "a woman dances in the park", "woman"
KV_BLOCKS, KV_STEPS = 6, 2  # the paper's half-body preset: steps [0, 2), blocks [34, 40)
DIT_RANGE = "posegen.dit"
MB = 2**20


def build(config: dict, device: torch.device):

    torch.manual_seed(0)
    dim = config["heads"] * 64
    transformer = PoseGenTransformer(num_attention_heads=config["heads"], attention_head_dim=64, in_channels=36,
                                     out_channels=16, text_dim=64, freq_dim=64, ffn_dim=round(dim * 2.7),
                                     num_layers=config["layers"], image_dim=32, added_kv_proj_dim=dim)
    vae = AutoencoderKLWan(base_dim=config["vae_dim"], z_dim=16, dim_mult=[1, 1, 1, 1], num_res_blocks=1,
                           temperal_downsample=[False, True, True])
    clip = CLIPVisionModelWithProjection(CLIPVisionConfig(hidden_size=32, intermediate_size=64, num_hidden_layers=2,
                                                          num_attention_heads=2, image_size=32, patch_size=8))
    text = UMT5EncoderModel(UMT5Config(vocab_size=64, d_model=64, d_kv=16, d_ff=128, num_layers=2, num_heads=4,
                                       relative_attention_num_buckets=8))
    modules = [m.eval().to(device) for m in (transformer, vae, clip, text)]
    return PoseGenModels(*modules, tokenizer=word_level_umt5_tokenizer())


def tensor_bytes(module: torch.nn.Module) -> int:
    return sum(t.numel() * t.element_size() for t in [*module.parameters(), *module.buffers()])


def kv_settings(config: dict, cache_device: str | None):

    layers = config["layers"]
    return KVShareSettings(steps=(0, KV_STEPS), blocks=(max(0, layers - KV_BLOCKS), layers),
                           mask_blocks=(0, max(1, round(layers * 11 / 40))), cache_device=cache_device)


def install_cache_counter() -> dict[str, int]:
    """Make the sampler's KV controllers report their largest cache (benchmark instrumentation only)."""

    largest = {"bytes": 0}

    class CountingController(pl.KVShareController):
        def store_kv(self, *args, **kwargs) -> None:
            super().store_kv(*args, **kwargs)
            largest["bytes"] = max(largest["bytes"], self.cache_bytes)

    pl.KVShareController = CountingController
    return largest


def mark_dit(transformer: torch.nn.Module) -> None:
    """Open a profiler range around every transformer forward (a no-op record when no profiler runs)."""
    open_ranges = []

    def enter(module, args, kwargs):
        open_ranges.append(torch.profiler.record_function(DIT_RANGE).__enter__())

    def leave(module, args, kwargs, output):
        open_ranges.pop().__exit__(None, None, None)

    transformer.register_forward_pre_hook(enter, with_kwargs=True)
    transformer.register_forward_hook(leave, with_kwargs=True)


class Bench:
    def __init__(self, name: str, device: torch.device):

        self.pl = pl
        self.config = config = CONFIGS[name]
        self.device = device
        self.cache = install_cache_counter()
        self.models = build(config, device)
        mark_dit(self.models.transformer)
        generator = torch.Generator().manual_seed(0)
        size = (config["height"], config["width"], 3)
        self.reference = torch.rand(1, *size, generator=generator)
        self.poses = torch.rand(config["frames"], *size, generator=generator)
        self.settings = pl.SamplerSettings(width=config["width"], height=config["height"],
                                           segment_length=config["segment"], steps=config["steps"], cfg=5.0, seed=0)
        self.latent_window = (config["segment"] - 1) // 4 + 1

    def generate(self, variant: str, progress=None) -> torch.Tensor:
        pl = self.pl
        if variant == "windows":
            return pl.generate_context_windows(self.models, self.reference, self.poses, PROMPT, self.settings,
                                               window=self.latent_window, overlap=max(1, self.latent_window // 4),
                                               progress=progress)
        kv = None if variant == "plain" else kv_settings(self.config, "cpu" if variant == "kv_offload" else None)
        return pl.generate(self.models, self.reference, self.poses, PROMPT, SUBJECT, self.settings, kv_share=kv,
                           progress=progress)

    def timed(self, variant: str) -> dict:
        """One generation: wall seconds, median step seconds, and on CUDA its peak memory."""
        stamps: list[float] = []

        def progress(done, total):
            if self.device.type == "cuda":
                torch.cuda.synchronize()
            stamps.append(time.perf_counter())

        meter = PeakMemory(self.device) if self.device.type == "cuda" else None
        self.cache["bytes"] = 0
        if meter is not None:
            meter.__enter__()
        start = time.perf_counter()
        frames = self.generate(variant, progress)
        if self.device.type == "cuda":
            torch.cuda.synchronize()
        seconds = time.perf_counter() - start
        if meter is not None:
            meter.__exit__(None, None, None)
        intervals = [b - a for a, b in zip([start, *stamps[:-1]], stamps)]
        result = {"seconds": seconds, "step_s": statistics.median(intervals), "steps": len(stamps),
                  "frames": len(frames), "cache_bytes": self.cache["bytes"]}
        if meter is not None:
            result.update(peak_bytes=meter.peak_bytes, dit_peak_bytes=None)
        return result

    def profiled(self, variant: str) -> dict:
        """CPU: one generation under the profiler, for its memory only."""
        self.cache["bytes"] = 0
        with PeakMemory("cpu", scopes=(DIT_RANGE,)) as meter:
            self.generate(variant)
        return {"peak_bytes": meter.peak_bytes, "dit_peak_bytes": meter.scope_peak_bytes[DIT_RANGE],
                "cache_bytes": self.cache["bytes"]}


def ratio(value: float | None, base: float | None) -> str:
    return f"{value / base:.3f}x" if value is not None and base else "-"


def print_table(results: dict[str, dict], weight_bytes: int, on_cpu: bool) -> None:
    """One line per variant; memory ratios to plain (n/a: offloading measured on a CPU-only machine)."""
    plain = results["plain"]
    print(f"\n{'variant':<11} {'frames':>6} {'total s':>8} {'steps':>5} {'s/step':>7} {'peak MB':>8} {'DiT MB':>7} "
          f"{'cache MB':>8} | {'peak/plain':>10} {'DiT/plain':>9} {'incl. weights':>13}")
    for variant, r in results.items():
        not_applicable = on_cpu and variant == "kv_offload"
        dit = "-" if r["dit_peak_bytes"] is None else f"{r['dit_peak_bytes'] / MB:.2f}"
        ratios = ["n/a"] * 3 if not_applicable else [
            ratio(r["peak_bytes"], plain["peak_bytes"]), ratio(r["dit_peak_bytes"], plain["dit_peak_bytes"]),
            ratio(r["peak_bytes"] + weight_bytes, plain["peak_bytes"] + weight_bytes)]
        print(f"{variant:<11} {r['frames']:>6} {r['seconds']:>8.2f} {r['steps']:>5} {r['step_s']:>7.3f} "
              f"{r['peak_bytes'] / MB:>8.2f} {dit:>7} {r['cache_bytes'] / MB:>8.2f} | "
              f"{ratios[0]:>10} {ratios[1]:>9} {ratios[2]:>13}")
    print("\ntimed runs (s): " + "; ".join(f"{v} " + ", ".join(f"{s:.2f}" for s in r["seconds_all"])
                                         for v, r in results.items()))
    for variant in ("kv_device", "kv_offload", "windows"):
        r = results[variant]
        print(f"{variant} / plain: time {ratio(r['seconds'], plain['seconds'])} (fastest runs "
              f"{ratio(min(r['seconds_all']), min(plain['seconds_all']))}), s/step {ratio(r['step_s'], plain['step_s'])}")
    if on_cpu:
        kv = results["kv_device"]
        print(f"kv_device - plain: peak +{(kv['peak_bytes'] - plain['peak_bytes']) / MB:.2f} MB, DiT "
              f"+{(kv['dit_peak_bytes'] - plain['dit_peak_bytes']) / MB:.2f} MB, for a "
              f"{kv['cache_bytes'] / MB:.2f} MB cache; kv_offload is n/a here: the offload device is the "
              "compute device (run on CUDA)")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    cuda = torch.cuda.is_available()
    parser.add_argument("--config", choices=sorted(CONFIGS), default="cuda" if cuda else "cpu")
    parser.add_argument("--device", choices=("cpu", "cuda"), default="cuda" if cuda else "cpu")
    parser.add_argument("--repeats", type=int, default=2, help="timed runs of every variant, interleaved")
    parser.add_argument("--threads", type=int, default=0, help="CPU threads (0: torch's default)")
    args = parser.parse_args()
    device = torch.device(args.device)
    if args.threads:
        torch.set_num_threads(args.threads)
    print(f"{platform.processor() or platform.machine()}, torch {torch.__version__}, device {device}"
          + (f" ({torch.cuda.get_device_name(device)})" if device.type == "cuda" else f", {torch.get_num_threads()} threads")
          + f", config {args.config}: {CONFIGS[args.config]}")
    if device.type == "cpu":
        without, with_extra = self_check()
        print(f"memory self-check: holding 8 MiB more inside the measured block raised the peak "
              f"{without} -> {with_extra} B (+{with_extra - without} B)")

    bench = Bench(args.config, device)
    weights = {name: tensor_bytes(getattr(bench.models, name))
               for name in ("transformer", "vae", "clip_vision", "text_encoder")}
    kv = kv_settings(bench.config, None)
    print(f"weights (allocated before the measured block, not in 'peak'): {sum(weights.values()) / MB:.1f} MB "
          f"(DiT {weights['transformer'] / MB:.1f} MB); KV-sharing steps {kv.steps}, blocks {kv.blocks}, "
          f"mask blocks {kv.mask_blocks}")

    for variant in ("kv_device", "windows"):  # warm-up: lazy initialisation, first calls of every path
        bench.timed(variant)
    runs: dict[str, list[dict]] = {v: [] for v in VARIANTS}
    for _ in range(args.repeats):
        for variant in VARIANTS:
            runs[variant].append(bench.timed(variant))
    results = {}
    for variant, measured in runs.items():
        result = {key: statistics.median(r[key] for r in measured) for key in ("seconds", "step_s")}
        result.update(seconds_all=[r["seconds"] for r in measured], steps=measured[0]["steps"],
                      frames=measured[0]["frames"], cache_bytes=measured[0]["cache_bytes"])
        if device.type == "cuda":
            result.update(peak_bytes=max(r["peak_bytes"] for r in measured), dit_peak_bytes=None)
        else:
            result.update(bench.profiled(variant))
        results[variant] = result

    print_table(results, sum(weights.values()), on_cpu=device.type == "cpu")
    return 0


if __name__ == "__main__":
    sys.exit(main())
