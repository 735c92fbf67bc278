"""One wording for a missing input file, whichever door it comes through:
``<input>: file not found: '<path>'`` (a folder: ``folder not found``)."""

import re
from pathlib import Path

import pytest
from posemotion.cli.main import main
from posemotion.models.core.resources import package_file
from posemotion.models.forecasting.dataset import load_dataset
from posemotion.models.forecasting.encoders import BlipEncoder, encode_texts
from posemotion.models.forecasting.inference import forecast_image
from posemotion.models.forecasting.training import load_forecaster
from posemotion.models.media.video import read_video
from posemotion.models.motion.bvh import read_bvh
from posemotion.models.motion.humanml3d import FeatureStats
from posemotion.models.motion.io import read_motion
from posemotion.models.posegen.loading import load_transformer
from posemotion.models.tokenizers.checkpoints import load_tokenizer
from posemotion.models.tokenizers.dataset import load_motion_dataset
from posemotion.nodes import bridge

REPO = Path(__file__).resolve().parents[2]
MISSING = re.compile(r"^(?P<input>[^:]+): (file|folder|file or folder) not found: '(?P<path>[^']+)'")


def _loaders(tmp: Path) -> dict:
    """Every loader of a user-named file or folder -> (call, the path it must name)."""
    absent = str(tmp / "absent")
    return {
        "video": (lambda: read_video(absent + ".mp4"), absent + ".mp4"),
        "motion": (lambda: read_motion(absent + ".bvh"), absent + ".bvh"),
        "bvh": (lambda: read_bvh(absent + ".bvh", kinematics="numpy"), absent + ".bvh"),
        "image": (lambda: forecast_image(absent + ".png", "x", "unused", 1, 30.0, str(tmp)), absent + ".png"),
        "forecaster": (lambda: load_forecaster(absent + ".safetensors"), absent + ".safetensors"),
        "tokenizer": (lambda: load_tokenizer(absent + ".safetensors"), absent + ".safetensors"),
        "stats": (lambda: FeatureStats.load_npy(absent), str(Path(absent) / "Mean.npy")),
        "forecast dataset": (lambda: load_dataset(absent + ".npz", encode_texts), absent + ".npz"),
        "motion dataset": (lambda: load_motion_dataset(absent), str(Path(absent) / "motion.safetensors")),
        "blip": (lambda: BlipEncoder.from_folder(absent), absent),
        "posegen": (lambda: load_transformer(absent), absent),
        "package data": (lambda: package_file("Sports2D", "absent.mp4"), "absent.mp4"),
        "node input": (lambda: bridge.resolve_input("absent.png", "image"), "absent.png"),
        "node model": (lambda: bridge.resolve_model("motion", "absent.safetensors"), "absent.safetensors"),
    }


@pytest.mark.parametrize("loader", sorted(_loaders(Path("."))))
def test_a_missing_file_reads_the_same_everywhere(loader, tmp_path, monkeypatch):
    monkeypatch.setenv("POSEMOTION_INPUT_DIR", str(tmp_path))
    monkeypatch.setenv("POSEMOTION_MODELS_DIR", str(tmp_path))
    call, path = _loaders(tmp_path)[loader]
    with pytest.raises((ValueError, FileNotFoundError)) as error:
        call()
    match = MISSING.match(str(error.value))
    assert match, str(error.value)
    assert match["path"] == path


def test_the_command_line_prints_it_once(tmp_path, capsys):
    for argv, shown in ((["detect", str(tmp_path / "a.mp4")], f"video: file not found: '{tmp_path / 'a.mp4'}'"),
                        (["forecast", "--image", str(tmp_path / "b.png"), "--text", "x"],
                         f"image: file not found: '{tmp_path / 'b.png'}'"),
                        (["forecast-train", "--data", str(tmp_path / "c.npz"), "--out", str(tmp_path / "m")],
                         f"dataset: file not found: '{tmp_path / 'c.npz'}'")):
        assert main(argv) == 2
        err = capsys.readouterr().err
        assert err.startswith(f"error: {shown}") and err.count("\n") == 1, err


def test_no_other_wording_is_left():
    """No message in models/ or nodes/ says a file is missing in another way."""
    one_form = re.compile(r"((file|folder) not found: (\{[^{}]*!r\}|')|files not found in \{[^{}]*!r\}: )")
    other = re.compile(r"does not exist|no such file|\{[^{}]*\} (is )?missing")
    found = [f"{path.relative_to(REPO)}:{number}: {line.strip()}"
             for folder in ("models", "nodes") for path in sorted((REPO / folder).rglob("*.py"))
             for number, line in enumerate(path.read_text().splitlines(), 1)
             if ('"' in line or "'" in line) and not line.strip().startswith("#")
             and (other.search(line) or line.count("not found") > len(one_form.findall(line)))]
    assert not found, "\n".join(found)
