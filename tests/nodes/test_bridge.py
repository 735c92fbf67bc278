"""The bridge's fallback when ComfyUI is absent (the ComfyUI side runs in test_comfyui_server.py)."""

import json
import os

import pytest
import torch
from posemotion.models.core.errors import InputError, ModelFileError
from posemotion.nodes import bridge

ESCAPES = ["/etc/passwd", "../x.safetensors", "a/../../x.safetensors", "a\\..\\..\\x.safetensors"]


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
    with pytest.raises(ModelFileError, match=r"file not found: 'missing.safetensors' in model folder 'motion'"):
        bridge.resolve_model("motion", "missing.safetensors")
    with pytest.raises(ModelFileError, match="unknown model folder"):
        bridge.list_models("checkpointz")


def _tree(base, nested: str, outside):
    """base/<nested> (a file, or a folder with its marker when nested ends with '/'), and base/link ->
    outside."""
    path = base / nested
    if nested.endswith("/"):
        path.mkdir(parents=True)
        (path / "config.json").write_text("{}")
    else:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(b"x")
    os.symlink(outside, base / "link")


@pytest.fixture()
def outside(tmp_path):
    """A file and a model folder outside every allowed folder, for links to point at."""
    folder = tmp_path / "elsewhere"
    (folder / "model").mkdir(parents=True)
    (folder / "model" / "config.json").write_text("{}")
    (folder / "x.safetensors").write_bytes(b"secret")
    return folder


def _refused(call, input_name, folder):
    with pytest.raises(InputError, match=rf"^{input_name}: .*folder .*{folder}") as error:
        call()
    return error.value


@pytest.mark.parametrize("name", ESCAPES)
def test_input_files_stay_in_the_input_folder(comfy_dirs, outside, name):
    _tree(comfy_dirs["input"], "clips/walk.mp4", outside / "x.safetensors")
    assert bridge.resolve_input("clips/walk.mp4", "video") == str(comfy_dirs["input"] / "clips" / "walk.mp4")
    for bad in (name, "link"):
        _refused(lambda: bridge.resolve_input(bad, "video"), "video", comfy_dirs["input"])
        assert bridge.input_modified_time(bad) != bridge.input_modified_time(bad)  # NaN: refused, never stat'ed
    assert "leads outside" in str(_refused(lambda: bridge.resolve_input("link", "video"), "video", "input"))


@pytest.mark.parametrize("name", ESCAPES)
def test_model_files_and_folders_stay_in_their_model_folder(comfy_dirs, outside, name):
    base = comfy_dirs["models"] / "motion"
    _tree(base, "sub/net.pth", outside / "x.safetensors")
    os.symlink(outside / "model", base / "linked_model")
    assert bridge.resolve_model("motion", "sub/net.pth", "checkpoint") == str(base / "sub" / "net.pth")
    for bad in (name, "link"):
        _refused(lambda: bridge.resolve_model("motion", bad, "checkpoint"), "checkpoint", base)
    blip = comfy_dirs["models"] / "blip"
    _tree(blip, "org/blip-base/", outside / "model")
    assert bridge.resolve_model_dir("blip", "org/blip-base") == str(blip / "org" / "blip-base")
    for bad in (name.replace(".safetensors", ""), "link"):
        _refused(lambda: bridge.resolve_model_dir("blip", bad, "model"), "model", blip)
        _refused(lambda: bridge.resolve_model_entry("blip", bad, "model"), "model", blip)
    assert bridge.resolve_model_entry("blip", "org/blip-base", "model") == str(blip / "org" / "blip-base")
    _refused(lambda: bridge.resolve_model_entry("motion", "linked_model", "transformer"), "transformer", base)


@pytest.mark.parametrize("name", ESCAPES)
def test_bundled_files_stay_in_the_bundled_folder(tmp_path, outside, name):
    bundled = tmp_path / "assets"
    _tree(bundled, "demo.safetensors", outside / "x.safetensors")
    assert bridge.resolve_checkpoint("motion", "[bundled] demo.safetensors", str(bundled)) == str(
        bundled / "demo.safetensors")
    for bad in (name, "link"):
        _refused(lambda: bridge.resolve_checkpoint("motion", "[bundled] " + bad, str(bundled)), "checkpoint", bundled)
    with pytest.raises(ModelFileError, match="file not found: '.bundled. gone.safetensors' in the bundled checkpoints"):
        bridge.resolve_checkpoint("motion", "[bundled] gone.safetensors", str(bundled))


def test_output_prefix_stays_in_the_output_folder(comfy_dirs, outside):
    os.symlink(outside, comfy_dirs["output"] / "link")
    for bad in ("/tmp/x", "../x", "a/../../x", "link/x"):
        _refused(lambda: bridge.output_path(bad, ".json"), "filename_prefix", comfy_dirs["output"])
    out = bridge.save_output("runs/pose", ".json", lambda path: json.dump([1], open(path, "w")), "1 frame")
    assert out == {"ui": {"text": ["1 frame -> runs/pose_00001.json"],
                          "files": [{"filename": "pose_00001.json", "subfolder": "runs", "type": "output"}]}}
    assert json.loads((comfy_dirs["output"] / "runs" / "pose_00001.json").read_text()) == [1]


def test_checkpoint_combo_and_model_entries(comfy_dirs, tmp_path):
    bundled = tmp_path / "assets"
    bundled.mkdir()
    (bundled / "demo.safetensors").write_bytes(b"x")
    (bundled / "demo.json").write_text("{}")
    motion = comfy_dirs["models"] / "motion"
    motion.mkdir()
    for name in ("net.PTH", "mean.npy", "b.safetensors"):
        (motion / name).write_bytes(b"x")
    assert bridge.list_checkpoints("motion", (".pth", ".safetensors"), str(bundled)) == [
        "b.safetensors", "net.PTH", "[bundled] demo.safetensors"]
    assert bridge.list_checkpoints("motion", (".pth",), str(tmp_path / "none")) == ["net.PTH"]
    assert bridge.resolve_checkpoint("motion", "net.PTH", str(bundled)) == str(motion / "net.PTH")
    # PoseGen's combos: folders with a marker, loose weights outside them, tokenizer folders apart
    vae = comfy_dirs["models"] / "vae"
    (vae / "tok").mkdir(parents=True)
    (vae / "tok" / "tokenizer.json").write_text("{}")
    (vae / "tok" / "weights.safetensors").write_bytes(b"x")
    assert bridge.list_model_dirs("vae", bridge.TOKENIZER_MARKERS) == ["tok"]
    assert "wan2.1_vae" in bridge.list_model_entries("vae") and "tok" not in bridge.list_model_entries("vae")
    assert bridge.resolve_model_dir("vae", "tok", "tokenizer", bridge.TOKENIZER_MARKERS) == str(vae / "tok")
    with pytest.raises(ModelFileError, match="tokenizer: folder not found: 'tok' .a model folder with one of .'config.json'"):
        bridge.resolve_model_entry("vae", "tok", "tokenizer")


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
