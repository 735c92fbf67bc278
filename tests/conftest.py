"""Shared fixtures: real photos and a real video clip that registry packages ship (see README)."""

from __future__ import annotations

import copy
import os
import shutil
from pathlib import Path

import numpy as np
import pytest
import skimage.data
import torch
from posemotion.models.core.resources import demo_clip
from posemotion.models.forecasting.model import OneStageForecaster
from posemotion.models.forecasting.training import save_forecaster
from posemotion.models.llm.base import embedded_base_path
from posemotion.models.media.video import read_video
from posemotion.workflows.source.thumbnails import write_demo_inputs
from support.genmo_tiny import save_tiny_genmo
from support.llm_tiny_parts import save_tiny_motion_llm
from support.tiny_models import save_tiny_blip, save_tiny_posegen

REPO = Path(__file__).resolve().parents[1]
MOCAP_FILES = ("test.asf", "test.amc", "test_mocapbank.bvh", "test_freebvh.bvh", "deepmimic/humanoid.urdf",
               "deepmimic/humanoid3d_walk.txt", "deepmimic/humanoid3d_run.txt", "deepmimic/humanoid3d_kick.txt")


def _astronaut() -> np.ndarray:

    return np.ascontiguousarray(skimage.data.astronaut())  # 512x512 RGB, NASA, public domain


@pytest.fixture(scope="session")
def astronaut() -> np.ndarray:
    return _astronaut()


@pytest.fixture(scope="session")
def astronaut_image(astronaut) -> torch.Tensor:
    """The astronaut photo as a ComfyUI IMAGE batch of one."""
    return torch.from_numpy(astronaut).float().div(255)[None]


@pytest.fixture(scope="session")
def demo_clip_path() -> str:
    try:
        return demo_clip()
    except FileNotFoundError as error:
        pytest.fail(f"the real test clip is missing: {error}")


@pytest.fixture(scope="session")
def walk_frames(demo_clip_path) -> tuple[np.ndarray, float]:
    """The first 40 frames of the real walking clip, longer side 480 px."""

    return read_video(demo_clip_path, max_frames=40, max_side=480)


@pytest.fixture()
def comfy_dirs(tmp_path, tmp_path_factory, monkeypatch, mocap_dir):
    """Input/output/models folders for the bridge's no-ComfyUI fallback, with the workflows' inputs."""
    dirs = {name: tmp_path / name for name in ("input", "output", "models")}
    for path in dirs.values():
        path.mkdir()
    prepare_workflow_files(dirs["input"], dirs["models"], mocap_dir, tmp_path_factory)
    monkeypatch.setenv("POSEMOTION_INPUT_DIR", str(dirs["input"]))
    monkeypatch.setenv("POSEMOTION_OUTPUT_DIR", str(dirs["output"]))
    monkeypatch.setenv("POSEMOTION_MODELS_DIR", str(dirs["models"]))
    return dirs


def prepare_workflow_files(input_dir, models_dir, mocap_dir, tmp_path_factory) -> None:
    """Everything the shipped workflows read: input files (as the thumbnail renderer writes them), and
    tiny models under their file names."""
    write_demo_inputs(input_dir, mocap_dir)
    _forecast_models(models_dir)
    _posegen_models(models_dir, tmp_path_factory)
    _llm_models(models_dir, tmp_path_factory)
    save_tiny_genmo(Path(models_dir) / "genmo")


def _posegen_models(models_dir, tmp_path_factory):
    """Tiny PoseGen parts under the names the PoseGen workflows load, written once per session."""

    global _POSEGEN_CACHE
    if _POSEGEN_CACHE is None:
        _POSEGEN_CACHE = tmp_path_factory.mktemp("posegen_models")
        save_tiny_posegen(_POSEGEN_CACHE)
    shutil.copytree(_POSEGEN_CACHE, models_dir, dirs_exist_ok=True)


_POSEGEN_CACHE = None


def _llm_models(models_dir, tmp_path_factory):
    """A tiny base folder and adapter in models/llm (support/llm_tiny_parts.py), written once per session."""

    global _LLM_CACHE
    if _LLM_CACHE is None:
        _LLM_CACHE = tmp_path_factory.mktemp("llm_models")
        save_tiny_motion_llm(_LLM_CACHE)
    shutil.copytree(_LLM_CACHE, models_dir / "llm", dirs_exist_ok=True)


_LLM_CACHE = None


def _forecast_models(models_dir):
    """What the BLIP forecasting workflow loads, as tiny stand-ins under the same names."""

    blip = save_tiny_blip(str(models_dir / "blip" / "blip-itm-base-coco"))
    torch.manual_seed(0)
    model = OneStageForecaster(num_joints=18, cond_dim=32, layout="openpose_18", encoder="blip:" + os.path.basename(blip),
                               max_horizon=45, d_model=32, num_layers=1, num_heads=2, ffn_dim=64)
    torch.nn.init.normal_(model.head.weight, std=0.01)  # move a little, so renders differ frame to frame
    save_forecaster(model, str(models_dir / "pose_forecast" / "one_stage_blip.safetensors"))


@pytest.fixture(scope="session")
def mocap_dir() -> Path:
    """The real mocap clips that ``scripts/fetch_mocap.sh`` puts in data/mocap (or in
    $POSEMOTION_MOCAP_DIR): an explicit step of the README's test command, never run from here."""
    dest = Path(os.environ.get("POSEMOTION_MOCAP_DIR") or REPO / "data" / "mocap")
    missing = [name for name in MOCAP_FILES if not (dest / name).is_file() or (dest / name).stat().st_size == 0]
    if missing:
        pytest.fail(f"mocap clips {missing} are missing from {dest}: run `bash scripts/fetch_mocap.sh {dest}` "
                    "first (README, Tests)")
    return dest


def pytest_report_header(config):
    return f"torch {torch.__version__}, numpy {np.__version__}, COMFYUI_PATH={os.environ.get('COMFYUI_PATH', '(unset)')}"


@pytest.fixture(scope="module")
def one_torch_thread():
    """Tiny models run fastest on one torch thread, above all on a shared 2-core machine; opt in
    per module with ``pytestmark = pytest.mark.usefixtures("one_torch_thread")``."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="session")
def _smol_tokenizer_once():
    """The real SmolLM2 tokenizer (49,152 tokens), read from the embedded GGUF once (~4 s)."""
    from transformers import AutoTokenizer

    folder, name = os.path.split(embedded_base_path())
    return AutoTokenizer.from_pretrained(folder, gguf_file=name, local_files_only=True)


@pytest.fixture()
def smol_tokenizer(_smol_tokenizer_once):
    """A fresh copy of SmolLM2's tokenizer: extending a vocabulary mutates it."""
    return copy.deepcopy(_smol_tokenizer_once)
