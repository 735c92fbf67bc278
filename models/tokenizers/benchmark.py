"""The tokenizer benchmark behind ``motion-bench``: held-out reconstruction of the trained small
configurations, PGR2M's residual-dropout trade-off, and encode/decode throughput measured side by
side (interleaved runs) for the official-size and small configurations."""

from __future__ import annotations

import os
import statistics
import time

import torch

from . import BENCHMARKED_KINDS
from .checkpoints import load_tokenizer
from .dataset import load_motion_dataset
from .training import decode_tokens, encode_tokens, evaluate_tokenizer, make_tokenizer

PGR2M_TAUS = (0.0, 0.1, 0.5)


def checkpoint_name(kind: str, tau: float | None = None) -> str:
    """File name the reproduction script and the benchmark agree on."""
    if kind == "pgr2m":
        return f"pgr2m_tau{0.1 if tau is None else tau:g}.safetensors"
    return f"{kind}_small.safetensors"


def _load(folder: str, name: str):
    path = os.path.join(folder, name)
    if not os.path.isfile(path):
        raise FileNotFoundError(f"tokenizer: file not found: {path!r}; run scripts/reproduce_tokenizers.sh "
                                f"(or motion-train --out {path})")
    return load_tokenizer(path)


def pose_code_decode(model, ids: torch.Tensor, pose_codes: torch.Tensor) -> torch.Tensor:
    """PGR2M decoded from the pose codes alone (every residual stream dropped)."""
    return model.decode(ids[..., :0], pose_codes)


@torch.inference_mode()
def throughput(models: dict[str, torch.nn.Module], frames: int = 196, repeats: int = 7, fps: float = 20.0) -> dict:
    """Median encode and decode seconds for one ``frames``-long sequence, every model timed in turn
    per repeat (interleaved, so machine noise hits all alike) after one warm-up call.

    Inputs are random normalised features; PGR2M's encode includes measuring the pose codes on the
    joints recovered from them, as it does on real input."""
    timings: dict[str, dict[str, list[float]]] = {name: {"encode": [], "decode": [], "total": []} for name in models}
    inputs = {}
    for name, model in models.items():
        model.eval()
        inputs[name] = torch.randn(1, frames, model.feature_dim, generator=torch.Generator().manual_seed(0))
        decode_tokens(model, *encode_tokens(model, inputs[name]))
    for _ in range(repeats):
        for name, model in models.items():
            start = time.perf_counter()
            tokens = encode_tokens(model, inputs[name])
            middle = time.perf_counter()
            decode_tokens(model, *tokens)
            end = time.perf_counter()
            for key, value in (("encode", middle - start), ("decode", end - middle), ("total", end - start)):
                timings[name][key].append(value)
    result = {}
    for name, values in timings.items():
        seconds = statistics.median(values["total"])
        result[name] = {"seconds": seconds, "encode_seconds": statistics.median(values["encode"]),
                        "decode_seconds": statistics.median(values["decode"]), "frames_per_second": frames / seconds,
                        "realtime_multiple": frames / seconds / fps,
                        "parameters_m": sum(p.numel() for p in models[name].parameters()) / 1e6}
    return result


def run_benchmark(data_dir: str, checkpoints: str, frames: int = 196, repeats: int = 7, log=print) -> dict:
    """Every figure of the benchmark; ``log`` receives the data summary line first."""
    torch.manual_seed(0)
    _, test, summary = load_motion_dataset(data_dir)
    log(f"data: {len(test)} held-out clips, {summary['test_frames']} frames at {summary['fps']:g} fps "
        f"(mirror {summary['mirror']}); torch {torch.__version__}, {torch.get_num_threads()} threads")
    trained = {kind: _load(checkpoints, checkpoint_name(kind)) for kind in BENCHMARKED_KINDS}
    reconstruction = {kind: evaluate_tokenizer(model, test) for kind, model in trained.items()}
    trade_off = {}
    for tau in PGR2M_TAUS:
        model = trained["pgr2m"] if tau == 0.1 else _load(checkpoints, checkpoint_name("pgr2m", tau))
        trade_off[f"{tau:g}"] = {"with_residuals": reconstruction["pgr2m"] if tau == 0.1 else evaluate_tokenizer(model, test),
                                 "pose_codes_only": evaluate_tokenizer(model, test, decode=pose_code_decode)}
    models = {f"{kind} default": make_tokenizer(kind, small=False) for kind in BENCHMARKED_KINDS}
    models.update({f"{kind} small": model for kind, model in trained.items()})
    speed = throughput(models, frames, repeats)
    return {"reconstruction": reconstruction, "pgr2m_tau": trade_off, "throughput": speed,
            "frames": frames, "repeats": repeats}
