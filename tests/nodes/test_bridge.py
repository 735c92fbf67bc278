"""The bridge's fallback when ComfyUI is absent (the ComfyUI side runs in test_comfyui_server.py)."""

import pytest
import torch
from posemotion.models.core.errors import ModelFileError
from posemotion.nodes import bridge


def test_not_in_comfyui_here():
    assert bridge.IN_COMFYUI is False
    bridge.register_model_folders()  # a no-op without ComfyUI


def test_model_folders_list_and_resolve(comfy_dirs):
    folder = comfy_dirs["models"] / "motion"
    (folder / "sub").mkdir(parents=True)
    (folder / "a.safetensors").write_bytes(b"x")
    (folder / "sub" / "b.json").write_text("{}")
    (folder / "notes.txt").write_text("ignored: wrong extension")
    assert bridge.list_models("motion") == ["a.safetensors", "sub/b.json"]
    assert bridge.resolve_model("motion", "sub/b.json") == str(folder / "sub" / "b.json")
    assert bridge.list_models("posegen") == []
    with pytest.raises(ModelFileError, match=r"model file 'missing.safetensors' not found in folder 'motion'"):
        bridge.resolve_model("motion", "missing.safetensors")
    with pytest.raises(ModelFileError, match="unknown model folder"):
        bridge.list_models("checkpointz")


def test_managed_model_and_devices():
    managed = bridge.ManagedModel(torch.nn.Linear(3, 2), "tiny")
    module = managed.load()
    assert module(torch.ones(1, 3)).shape == (1, 2)
    assert managed.device == bridge.compute_device()
    assert bridge.output_device() == torch.device("cpu")


def test_console_progress(capsys):
    progress = bridge.Progress(4, "work")
    for done in range(1, 5):
        progress(done, 4)
    assert "work: 4/4 (100%)" in capsys.readouterr().err
