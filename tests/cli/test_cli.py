import json

import pytest
from posemotion.cli.main import main
from posemotion.models.media.video import read_video


def test_detect_command_writes_videos_and_poses(demo_clip_path, tmp_path, capsys):
    assert main(["detect", demo_clip_path, "--out", str(tmp_path), "--max-frames", "30", "--max-side", "480"]) == 0
    printed = capsys.readouterr().out
    assert "pose found in" in printed
    for name in ("skeleton", "hand_normals", "body_normals"):
        frames, fps = read_video(str(tmp_path / f"{name}.mp4"))
        assert frames.shape == (30, 270, 480, 3) and fps == pytest.approx(30.0)
    skeleton, _ = read_video(str(tmp_path / "skeleton.mp4"))
    assert skeleton.max() > 100  # something was drawn
    poses = json.loads((tmp_path / "poses.json").read_text())
    assert len(poses) == 30 and sum(bool(frame["people"]) for frame in poses) >= 26


def test_missing_video_is_one_error_line(tmp_path, capsys):
    assert main(["detect", str(tmp_path / "nope.mp4"), "--out", str(tmp_path)]) == 2
    assert capsys.readouterr().err.strip() == f"error: video: file not found: {str(tmp_path / 'nope.mp4')!r}"
