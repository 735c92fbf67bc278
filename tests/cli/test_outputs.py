"""Where the commands write (folders named after the input) and what they advise when the image has
no person (--pose FILE on the command line; the node keeps its own advice)."""

import json

import cv2
import numpy as np
import pytest
from posemotion.cli.main import build_parser, main
from posemotion.cli.pose import DEMO_OUT
from posemotion.models.core.errors import InputError
from posemotion.models.forecasting.inference import NoPersonError, initial_pose


@pytest.fixture()
def images(tmp_path, astronaut):
    """A photo of a person and an image without one, in the working folder."""
    cv2.imwrite(str(tmp_path / "astronaut.png"), cv2.cvtColor(astronaut, cv2.COLOR_RGB2BGR))
    cv2.imwrite(str(tmp_path / "empty wall.png"), np.full((96, 128, 3), 90, np.uint8))
    return tmp_path


def test_detect_writes_next_to_the_video_name(demo_clip_path, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    assert main(["detect", demo_clip_path, "--max-frames", "2", "--max-side", "160"]) == 0
    assert sorted(p.name for p in (tmp_path / "demo_poses").iterdir()) == [
        "body_normals.mp4", "hand_normals.mp4", "poses.json", "skeleton.mp4"]
    assert "wrote poses: demo_poses/poses.json" in capsys.readouterr().out


def test_demo_keeps_its_folder():
    assert build_parser().parse_args(["demo"]).out == DEMO_OUT == "demo_output"


def test_forecast_writes_next_to_the_image_name(images, monkeypatch, capsys):
    monkeypatch.chdir(images)
    assert main(["forecast", "--image", "astronaut.png", "--text", "wave arms", "--horizon", "5"]) == 0
    frames = json.loads((images / "astronaut_forecast" / "forecast.json").read_text())
    assert len(frames) == 6 and frames[0]["people"]
    assert (images / "astronaut_forecast" / "forecast.mp4").stat().st_size > 0
    assert "astronaut_forecast/forecast.mp4" in capsys.readouterr().out


def test_no_person_advises_the_pose_option(images, monkeypatch, capsys):
    monkeypatch.chdir(images)
    assert main(["forecast", "--image", "empty wall.png", "--text", "wave arms"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: image: no person found in 'empty wall.png': give the initial pose with --pose FILE")
    assert "connect" not in err and "POSE_KEYPOINT JSON" in err


def test_pose_option_forecasts_without_a_detected_person(images, monkeypatch, capsys):
    """The astronaut's detected pose, given as a file, drives a forecast over an image without a person."""
    monkeypatch.chdir(images)
    assert main(["forecast", "--image", "astronaut.png", "--text", "wave arms", "--horizon", "2"]) == 0
    first = json.loads((images / "astronaut_forecast" / "forecast.json").read_text())[0]
    (images / "pose.json").write_text(json.dumps(first))  # one frame; a list of frames works too
    assert main(["forecast", "--image", "empty wall.png", "--text", "wave arms", "--horizon", "3",
                 "--pose", "pose.json", "--out", "manual"]) == 0
    frames = json.loads((images / "manual" / "forecast.json").read_text())
    assert len(frames) == 4 and frames[0]["people"] == first["people"]
    video = cv2.VideoCapture(str(images / "manual" / "forecast.mp4"))
    ok, bgr = video.read()
    assert ok and bgr.shape[:2] == (96, 128)  # drawn over the given image, whatever the pose's canvas


def test_pose_option_errors_name_the_option(images, monkeypatch, capsys):
    monkeypatch.chdir(images)
    (images / "nobody.json").write_text(json.dumps([{"people": [], "canvas_width": 10, "canvas_height": 10}]))
    (images / "broken.json").write_text("{not json")
    for pose, expected in (("nobody.json", "error: --pose: no person in the first frame of 'nobody.json'"),
                           ("broken.json", "error: --pose: 'broken.json' is not JSON"),
                           ("absent.json", "error: --pose: file not found: 'absent.json'")):
        assert main(["forecast", "--image", "empty wall.png", "--text", "x", "--pose", pose]) == 2
        assert capsys.readouterr().err.startswith(expected)


def test_the_node_keeps_its_own_advice():
    with pytest.raises(NoPersonError, match="connect a POSE_KEYPOINT with a manual initial pose") as error:
        initial_pose([{"people": [], "canvas_width": 64, "canvas_height": 64}], "openpose_18")
    assert isinstance(error.value, InputError) and error.value.input_name == "initial_pose"
