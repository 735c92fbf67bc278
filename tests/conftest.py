"""Shared fixtures: real photos and a real video clip that registry packages ship (see README)."""

from __future__ import annotations

import os
import shutil

import numpy as np
import pytest
import torch

from posemotion.models.cli import DEMO_CLIP_HINT


def _astronaut() -> np.ndarray:
    import skimage.data

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
    from posemotion.models.cli import demo_clip

    try:
        return demo_clip()
    except SystemExit:
        pytest.fail(f"the real test clip is missing: {DEMO_CLIP_HINT}")


@pytest.fixture(scope="session")
def walk_frames(demo_clip_path) -> tuple[np.ndarray, float]:
    """The first 40 frames of the real walking clip, longer side 480 px."""
    from posemotion.models.video import read_video

    return read_video(demo_clip_path, max_frames=40, max_side=480)


@pytest.fixture()
def comfy_dirs(tmp_path, monkeypatch, astronaut, demo_clip_path):
    """Input/output/models folders for the bridge's no-ComfyUI fallback, with the workflows' inputs."""
    import cv2

    dirs = {name: tmp_path / name for name in ("input", "output", "models")}
    for path in dirs.values():
        path.mkdir()
    cv2.imwrite(str(dirs["input"] / "posemotion_person.png"), cv2.cvtColor(astronaut, cv2.COLOR_RGB2BGR))
    shutil.copy(demo_clip_path, dirs["input"] / "posemotion_walk.mp4")
    monkeypatch.setenv("POSEMOTION_INPUT_DIR", str(dirs["input"]))
    monkeypatch.setenv("POSEMOTION_OUTPUT_DIR", str(dirs["output"]))
    monkeypatch.setenv("POSEMOTION_MODELS_DIR", str(dirs["models"]))
    return dirs


def pytest_report_header(config):
    return f"torch {torch.__version__}, numpy {np.__version__}, COMFYUI_PATH={os.environ.get('COMFYUI_PATH', '(unset)')}"
