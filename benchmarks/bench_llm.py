"""Benchmark: motion-LLM generation speed on CPU, key/value cache on vs off, and time to first motion.

The model timed is the one the pack generates with: the embedded SmolLM2-135M-Instruct base
(``llm.base.load_base``, dequantised from its GGUF) with the bundled motion tokenizer's tokens added
(``llm.vocabulary.extend_vocabulary`` with ``assets/motion/vqvae_small.safetensors``: 49,152 + 259
ids). The base is loaded once in float32; the bfloat16 model is a cast copy, which holds exactly the
tensors ``load_base(dtype=torch.bfloat16)`` gives (checked when this benchmark was written: all 272
base tensors equal; only the 259 added embedding rows, drawn in float32 here, may differ in their
last bits from rows drawn in bfloat16, which changes no timing).

What is timed: ``model.generate`` of exactly ``--new-tokens`` (50) new tokens per row, greedy
(``min_new_tokens = max_new_tokens``, so EOS never ends a row early), from chat-template prompts of
53 to 65 tokens (a text-to-motion instruction around a caption; batch 1 uses the 59-token one, batch 8
all eight, left-padded), with ``use_cache=True`` and ``use_cache=False``, batch 1 and 8, float32 and
bfloat16, under ``torch.inference_mode()`` with the garbage collector off. Per configuration one
warm-up generation of a few tokens each way, then ``--repeats`` rounds alternating cached and
uncached; medians are reported. tokens/s = batch x new tokens / wall seconds of the whole
``generate`` call (prompt pass included). No logits processor: this is the LM's own cost; the motion
grammar's per-step masking comes on top. The greedy tokens of both ways are compared as a sanity
check (equal in float32 up to ties; bfloat16 rounding may make them part ways).

Time to first motion: ``generate.text_to_motion(llm, text, seconds=4.0)`` (default sampling, the
motion grammar on: 20 token steps, 23 new tokens, decoded to 80 frames at 20 fps) on the motion LLM of
the bundled adapter in ``assets/llm`` (a fresh untrained LoRA of the default rank when none is
bundled: the same compute), float32, on a second copy of the base taken before the vocabulary was
extended, first with the LoRA unmerged (peft wrappers), then merged into the base (``model.merge_lora``);
each time the first call, then the median of ``--repeats`` more. Loading the base is
not in it (printed apart). When ``models/llm/generate.py`` is absent that line says it is not measured.

Run from the repository root: ``python benchmarks/bench_llm.py [--repeats 3] [--threads 2]
[--new-tokens 50] [--batches 1 8] [--dtypes float32 bfloat16]``. Uncached batch-8 generation
recomputes the whole growing sequence (8 x 65..114 tokens) at each of the 50 steps: minutes per run
on 2 cores. On cores shared with other jobs use ``--threads 1``: with 2 OpenMP threads waiting on
each other one forward pass of a 60-token prompt took 2.6 to 9.1 s against 0.36 to 0.52 s on one
thread (measured while this benchmark was written, three other jobs running).
"""

from __future__ import annotations

import argparse
import copy
import gc
import importlib
import importlib.util
import os
import platform
import statistics
import time

import torch
import transformers
from posemotion.models.llm.base import load_base
from posemotion.models.llm.vocabulary import extend_vocabulary
from posemotion.models.tokenizers.checkpoints import load_tokenizer

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
MOTION_TOKENIZER = os.path.join(ROOT, "assets", "motion", "vqvae_small.safetensors")
WARMUP_TOKENS = 4  # warm-up length: the same kernels and shapes as the timed runs, at a fraction of the cost
MOTION_SECONDS = 4.0
CAPTIONS = (  # first one is batch 1's prompt; lengths differ so batch 8 needs padding
    "a person walks forward, then waves with the right hand",
    "someone jumps twice in place",
    "a man walks in a circle counterclockwise and stops facing the start",
    "the person kicks with the left leg",
    "a woman raises both arms above her head, holds them there, then lowers them slowly",
    "a figure crouches down and stands back up",
    "a person steps to the right, turns around and walks back to the left",
    "someone throws a ball with the right hand",
)


def prompts(tokenizer) -> list[str]:
    """Chat-template text-to-motion instructions (SmolLM2's default system line included)."""
    return [tokenizer.apply_chat_template(
        [{"role": "user", "content": f"Generate a sequence of motion tokens for a {MOTION_SECONDS:g}-second "
                                     f"motion that matches this description: {caption}"}],
        tokenize=False, add_generation_prompt=True) for caption in CAPTIONS]


def generate(model, batch: dict, new_tokens: int, use_cache: bool, pad_id: int) -> tuple[float, torch.Tensor]:
    """Wall seconds of one greedy generation of exactly ``new_tokens`` per row, and the new ids."""
    start = time.perf_counter()
    output = model.generate(**batch, do_sample=False, min_new_tokens=new_tokens, max_new_tokens=new_tokens,
                            use_cache=use_cache, pad_token_id=pad_id)
    seconds = time.perf_counter() - start
    generated = output[:, batch["input_ids"].shape[1]:]
    assert generated.shape[1] == new_tokens, f"generated {generated.shape[1]} tokens, expected {new_tokens}"
    return seconds, generated


def measure(model, batch: dict, new_tokens: int, repeats: int, pad_id: int) -> dict:
    for use_cache in (True, False):
        generate(model, batch, WARMUP_TOKENS, use_cache, pad_id)
    times = {True: [], False: []}
    ids = {}
    for _ in range(repeats):
        for use_cache in (True, False):  # alternating, so slow phases of the shared machine hit both
            seconds, ids[use_cache] = generate(model, batch, new_tokens, use_cache, pad_id)
            times[use_cache].append(seconds)
    rows = batch["input_ids"].shape[0]
    same_rows = int((ids[True] == ids[False]).all(dim=1).sum())
    return {"times": times, "median": {k: statistics.median(v) for k, v in times.items()},
            "tokens": rows * new_tokens, "same_rows": same_rows, "rows": rows}


def motion_llm_ready() -> bool:
    """Whether the lead's ``models/llm/generate.py`` with ``text_to_motion`` is in this checkout."""
    if importlib.util.find_spec("posemotion.models.llm.generate") is None:
        return False
    return hasattr(importlib.import_module("posemotion.models.llm.generate"), "text_to_motion")


def time_to_first_motion(fresh_base, text: str, repeats: int) -> list[str]:
    """Lines for the motion LLM of the bundled adapter (a fresh untrained LoRA when none is bundled):
    the first ``text_to_motion`` call for a 4-second motion, then the median of ``repeats`` more."""
    # imported here: generate.py is written by another part of issue 11 and may be absent
    from posemotion.models.llm import BUNDLED_DIR
    from posemotion.models.llm.adapter import load_motion_llm
    from posemotion.models.llm.generate import Sampling, text_to_motion
    from posemotion.models.llm.model import build_motion_llm, merge_lora

    adapters = sorted(f for f in os.listdir(BUNDLED_DIR) if f.endswith(".safetensors"))
    start = time.perf_counter()
    motion_tokenizer = load_tokenizer(MOTION_TOKENIZER)
    if adapters:
        llm = load_motion_llm(fresh_base, motion_tokenizer, os.path.join(BUNDLED_DIR, adapters[0]))
        source = f"bundled adapter {adapters[0]}"
    else:
        llm = build_motion_llm(fresh_base, motion_tokenizer)
        source = f"no bundled adapter yet: a fresh untrained LoRA (rank {llm.lora.rank}, same compute as a trained one)"
    build_seconds = time.perf_counter() - start
    lines = [f"motion LLM: {source}, float32; built on the loaded base in {build_seconds:.1f} s"]
    for label in ("LoRA unmerged", "LoRA merged (merge_lora)"):
        if label.startswith("LoRA merged"):
            llm = merge_lora(llm)
        times, answers = [], []
        for _ in range(1 + repeats):
            start = time.perf_counter()
            answers.append(text_to_motion(llm, text, seconds=MOTION_SECONDS, sampling=Sampling()))
            times.append(time.perf_counter() - start)
        answer = answers[0]
        lines.append(f"time to first motion ({MOTION_SECONDS:g} s, {label}, text_to_motion with default sampling, "
                     f"grammar on, {answer.tokens.num_steps} token steps -> {answer.motion.num_frames} frames at "
                     f"{answer.motion.fps:g} fps): first call {times[0]:.2f} s, then median "
                     f"{statistics.median(times[1:]):.2f} s of {repeats} "
                     f"(runs: {', '.join(f'{t:.2f}' for t in times)} s)"
                     f"; base load not included")
    return lines


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--new-tokens", type=int, default=50)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--batches", type=int, nargs="+", default=[1, 8])
    parser.add_argument("--dtypes", nargs="+", default=["float32", "bfloat16"], choices=["float32", "bfloat16"])
    args = parser.parse_args()
    torch.set_num_threads(args.threads)

    start = time.perf_counter()
    base = load_base(dtype=torch.float32)
    fresh_base = copy.deepcopy(base) if motion_llm_ready() else None  # build_motion_llm extends its base in place
    vocabulary = extend_vocabulary(base.model, base.tokenizer, load_tokenizer(MOTION_TOKENIZER))
    load_seconds = time.perf_counter() - start
    models = {"float32": base.model}
    if "bfloat16" in args.dtypes:
        models["bfloat16"] = copy.deepcopy(base.model).to(torch.bfloat16)
    tokenizer = base.tokenizer
    tokenizer.padding_side = "left"
    texts = prompts(tokenizer)
    vocab_size = base.model.get_input_embeddings().weight.shape[0]

    print(f"{platform.processor() or platform.machine()}, python {platform.python_version()}, "
          f"torch {torch.__version__}, "
          f"transformers {transformers.__version__}, {torch.get_num_threads()} torch threads "
          f"({os.cpu_count()} CPU cores, shared with other processes: read ratios, not absolute figures)")
    print(f"model: {base.name}, {sum(p.numel() for p in base.model.parameters()) / 1e6:.1f} M parameters, "
          f"vocabulary {vocabulary.first_id} + {vocabulary.num_added} motion tokens = {vocab_size}, "
          f"attention {base.model.config._attn_implementation}; loaded and extended in {load_seconds:.1f} s")

    results = {}
    for dtype in args.dtypes:
        for batch_size in args.batches:
            batch = tokenizer(texts[:batch_size], return_tensors="pt", padding=True)
            if batch_size == 1:
                print(f"prompt of batch 1: {batch['input_ids'].shape[1]} tokens")
            else:
                lengths = batch["attention_mask"].sum(dim=1).tolist()
                print(f"prompts of batch {batch_size}: {min(lengths)} to {max(lengths)} tokens, left-padded to "
                      f"{batch['input_ids'].shape[1]}")
            gc.collect()
            gc.disable()
            try:
                with torch.inference_mode():
                    results[dtype, batch_size] = measure(models[dtype], dict(batch), args.new_tokens, args.repeats,
                                                         tokenizer.pad_token_id)
            finally:
                gc.enable()
            r = results[dtype, batch_size]
            print(f"  {dtype} batch {batch_size} done: cached {r['median'][True]:.2f} s, "
                  f"uncached {r['median'][False]:.2f} s", flush=True)

    print(f"\n{args.new_tokens} new tokens per row, greedy, median of {args.repeats} alternating runs after a "
          f"{WARMUP_TOKENS}-token warm-up")
    print(f"{'dtype':<9} {'batch':>5} {'cached s':>9} {'cached tok/s':>13} {'uncached s':>11} "
          f"{'uncached tok/s':>15} {'speed-up':>9} {'same tokens':>12}")
    for (dtype, batch_size), r in results.items():
        cached, uncached = r["median"][True], r["median"][False]
        print(f"{dtype:<9} {batch_size:>5} {cached:>9.2f} {r['tokens'] / cached:>13.1f} {uncached:>11.2f} "
              f"{r['tokens'] / uncached:>15.1f} {uncached / cached:>8.2f}x {r['same_rows']:>6}/{r['rows']} rows")
    print("speed-up = uncached seconds / cached seconds (= cached tok/s / uncached tok/s); "
          "same tokens = rows whose greedy tokens are identical with and without the cache")
    print("timed runs (s): " + "; ".join(
        f"{dtype} b{batch_size} " + "/".join(",".join(f"{s:.2f}" for s in r["times"][cache]) for cache in (True, False))
        for (dtype, batch_size), r in results.items()) + "  (cached/uncached)")
    if fresh_base is None:
        print("time to first motion (4 s): not measured yet: models/llm/generate.py (text_to_motion) "
              "is not in this checkout")
    else:
        del models, base  # free the benchmark's copies before building the motion LLM
        gc.collect()
        print("\n".join(time_to_first_motion(fresh_base, CAPTIONS[0], args.repeats)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
