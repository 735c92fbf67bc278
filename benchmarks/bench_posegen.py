"""Benchmark: PoseGen long-video generation, memory and time.

Compares, at equal frame count and on the same randomly initialised models (the figures are about
cost, not image quality):

- segment-interleaved generation (``pipeline.generate``) without KV-sharing, with KV-sharing and the
  anchor's keys/values kept on the compute device, and with them offloaded to the CPU;
- the peers' overlapping context windows (``pipeline.generate_context_windows``: one latent video,
  windows of one segment's latent length overlapping by a quarter, predictions averaged per step).

Every configuration runs in its own fresh subprocess, so one run's allocator caches never count in
another's peak. Peak memory:
- CUDA: ``torch.cuda.max_memory_allocated`` over the generation (tensors only, exact), minus what was
  allocated before it (weights, inputs);
- CPU: the process's resident-set high-water mark (``resource.getrusage(...).ru_maxrss``, kept by the
  kernel, so no sampling gaps) after the generation minus the same mark just before it (models built
  and inputs made; no warm-up, since a warm-up run would already have raised the high-water mark).
  tracemalloc would not see torch's allocations. RSS also counts allocator slack and one-time lazy
  initialisation (the same in every variant), so small differences on CPU are noise-level.
Time: wall seconds of the whole generation (VAE included) and the median seconds per sampling step
(the interval between progress reports: one CFG-guided DiT step over one segment or window).

Run: ``python benchmarks/bench_posegen.py`` (CPU: small model, ~1-3 min; CUDA: a larger one).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import time

import torch

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(HERE), "tests"))

CONFIGS = {
    # dim = heads x 64; segment of `segment` frames at width x height; frames = 3 interleaved segments
    "cpu": dict(heads=2, layers=8, width=128, height=64, segment=33, frames=81, steps=4, vae_dim=4),
    "cuda": dict(heads=8, layers=16, width=480, height=272, segment=81, frames=200, steps=6, vae_dim=32),
}
VARIANTS = ("plain", "kv_device", "kv_offload", "windows")


def build(config: dict, device: torch.device):
    from diffusers import AutoencoderKLWan
    from transformers import CLIPVisionConfig, CLIPVisionModelWithProjection, UMT5Config, UMT5EncoderModel

    from posemotion.models.posegen.pipeline import PoseGenModels
    from posemotion.models.posegen.transformer import PoseGenTransformer
    from tiny_models import tiny_umt5_tokenizer

    torch.manual_seed(0)
    dim = config["heads"] * 64
    transformer = PoseGenTransformer(num_attention_heads=config["heads"], attention_head_dim=64, in_channels=36,
                                     out_channels=16, text_dim=64, freq_dim=64, ffn_dim=dim * 2,
                                     num_layers=config["layers"], image_dim=32, added_kv_proj_dim=dim)
    vae = AutoencoderKLWan(base_dim=config["vae_dim"], z_dim=16, dim_mult=[1, 1, 1, 1], num_res_blocks=1,
                           temperal_downsample=[False, True, True])
    clip = CLIPVisionModelWithProjection(CLIPVisionConfig(hidden_size=32, intermediate_size=64, num_hidden_layers=2,
                                                          num_attention_heads=2, image_size=32, patch_size=8))
    text = UMT5EncoderModel(UMT5Config(vocab_size=64, d_model=64, d_kv=16, d_ff=128, num_layers=2, num_heads=4,
                                       relative_attention_num_buckets=8))
    modules = [m.eval().to(device) for m in (transformer, vae, clip, text)]
    return PoseGenModels(*modules, tokenizer=tiny_umt5_tokenizer())


def child(name: str, variant: str) -> dict:
    """One measured generation in this (fresh) process; prints its figures as JSON."""
    from posemotion.models.posegen import pipeline as pl

    config = CONFIGS[name]
    device = torch.device("cuda" if name == "cuda" else "cpu")
    if device.type == "cpu":
        torch.set_num_threads(max(1, min(4, os.cpu_count() or 1)))
    models = build(config, device)
    generator = torch.Generator().manual_seed(0)
    size = (config["height"], config["width"], 3)
    reference = torch.rand(1, *size, generator=generator)
    poses = torch.rand(config["frames"], *size, generator=generator)
    layers = config["layers"]
    settings = pl.SamplerSettings(width=config["width"], height=config["height"], segment_length=config["segment"],
                                  steps=config["steps"], cfg=5.0, seed=0)
    # The paper's half-body ranges scaled to this depth: steps [0, 2), the deepest 15 % of blocks.
    kv = dict(steps=(0, 2), blocks=(layers - max(1, round(layers * 6 / 40)), layers), mask_blocks=(0, max(1, layers // 4)))
    latent_window = (config["segment"] - 1) // 4 + 1
    stamps: list[float] = []

    def run(progress=None):
        if variant == "windows":
            return pl.generate_context_windows(models, reference, poses, "a woman dances in the park", settings,
                                               window=latent_window, overlap=max(1, latent_window // 4),
                                               progress=progress)
        share = None if variant == "plain" else pl.KVShareSettings(
            **kv, cache_device="cpu" if variant == "kv_offload" else None)
        return pl.generate(models, reference, poses, "a woman dances in the park", "woman", settings,
                           kv_share=share, progress=progress)

    if device.type == "cuda":
        run()  # warm-up: cuDNN/cuBLAS workspaces and lazy initialisation do not count
    if device.type == "cuda":
        torch.cuda.synchronize()
        before = torch.cuda.memory_allocated()
        torch.cuda.reset_peak_memory_stats()
    else:
        before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    start = time.perf_counter()

    def progress(done, total):
        if device.type == "cuda":
            torch.cuda.synchronize()
        stamps.append(time.perf_counter())

    frames = run(progress)
    if device.type == "cuda":
        torch.cuda.synchronize()
    seconds = time.perf_counter() - start
    if device.type == "cuda":
        peak = torch.cuda.max_memory_allocated() - before
    else:
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024 - before
    intervals = [b - a for a, b in zip([start] + stamps[:-1], stamps)]
    return {"variant": variant, "seconds": seconds, "step_s": statistics.median(intervals), "steps": len(stamps),
            "peak_bytes": peak, "frames": len(frames)}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", choices=sorted(CONFIGS), default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--child", choices=VARIANTS, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(child(args.config, args.child)))
        return 0
    config = CONFIGS[args.config]
    print(f"{platform.processor() or platform.machine()}, torch {torch.__version__}, config {args.config}: {config}")
    results = {}
    for variant in VARIANTS:
        out = subprocess.run([sys.executable, __file__, "--config", args.config, "--child", variant],
                             capture_output=True, text=True, check=True)
        results[variant] = json.loads(out.stdout.strip().splitlines()[-1])
    memory_label = "peak CUDA alloc" if args.config == "cuda" else "peak RSS growth"
    print(f"{'variant':<12} {'frames':>6} {'total s':>8} {'steps':>6} {'s/step':>8} {memory_label:>16}")
    for variant, r in results.items():
        print(f"{variant:<12} {r['frames']:>6} {r['seconds']:>8.2f} {r['steps']:>6} {r['step_s']:>8.3f} "
              f"{r['peak_bytes'] / 2**20:>13.1f} MB")
    plain = results["plain"]
    for variant in ("kv_device", "kv_offload", "windows"):
        r = results[variant]
        memory = r["peak_bytes"] / plain["peak_bytes"] if plain["peak_bytes"] > 0 else float("nan")
        print(f"{variant} / plain: memory {memory:.3f}x, time {r['seconds'] / plain['seconds']:.3f}x, "
              f"s/step {r['step_s'] / plain['step_s']:.3f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
