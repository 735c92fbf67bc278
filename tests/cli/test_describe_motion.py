"""``python -m posemotion describe-motion``: a real clip, POSE_KEYPOINT JSON, bad input, light --help."""

import json
import subprocess
import sys

from posemotion.cli.main import main
from posemotion.models.motion.io import read_motion
from posemotion.models.render.motion_view import project_motion

HEAVY = ("torch", "numpy", "cv2", "mediapipe", "posemotion.models.captioning")


def test_describes_and_checks_a_bvh(mocap_dir, capsys):
    assert main(["describe-motion", str(mocap_dir / "test_mocapbank.bvh"), "--fps", "20", "--count", "2",
                 "--check", "a person kneels down and waves"]) == 0
    printed = capsys.readouterr().out
    sections = ["facts (", "captions (derived from the motion):", "HumanML3D text lines:",
                "check 'a person kneels down and waves': 1 of 2 facts of the text found in the motion (score 0.50)"]
    assert all(section in printed for section in sections), printed
    assert "  found: kneel\n  missing: wave" in printed
    lines = printed.split("HumanML3D text lines:\n")[1].splitlines()[:2]
    assert all(line.strip().endswith("#0.0#0.0") for line in lines)


def test_describes_pose_keypoint_json_with_its_fps(mocap_dir, tmp_path, capsys):
    frames = project_motion(read_motion(mocap_dir / "test_mocapbank.bvh"), 0.0, 10.0, 1.1, 256, 256)
    path = tmp_path / "poses.json"
    path.write_text(json.dumps(frames))
    assert main(["describe-motion", str(path), "--fps", "30", "--check", "hello"]) == 0
    printed = capsys.readouterr().out
    assert "captions (derived from the motion):\n  1. " in printed
    assert "check 'hello': no checkable fact in the text: 'hello'" in printed
    assert main(["describe-motion", str(path)]) == 2
    assert capsys.readouterr().err == "error: fps: POSE_KEYPOINT frames carry no frame rate: give fps\n"


def test_bad_files_are_one_error_line(tmp_path, capsys):
    missing = tmp_path / "nope.bvh"
    assert main(["describe-motion", str(missing)]) == 2
    assert capsys.readouterr().err == f"error: file: file not found: {str(missing)!r}\n"
    text = tmp_path / "notes.md"
    text.write_text("walk")
    assert main(["describe-motion", str(text)]) == 2
    assert capsys.readouterr().err.startswith("error: file: expected one of ('.bvh'")
    text = tmp_path / "notes.txt"  # .txt is read as a DeepMimic motion
    text.write_text("walk")
    assert main(["describe-motion", str(text)]) == 2
    assert "notes.txt: not a DeepMimic motion" in capsys.readouterr().err
    broken = tmp_path / "broken.json"
    broken.write_text("{")
    assert main(["describe-motion", str(broken), "--fps", "30"]) == 2
    assert capsys.readouterr().err.startswith("error: file: ")


def test_help_imports_no_heavy_library():
    code = ("import sys\nfrom posemotion.cli.main import main\ntry:\n    main(['describe-motion', '--help'])\n"
            "except SystemExit:\n    pass\nprint(sorted(m for m in %r if m in sys.modules))" % (HEAVY,))
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stderr[-2000:]
    assert "python -m posemotion describe-motion" in run.stdout and "--check TEXT" in run.stdout
    assert run.stdout.strip().splitlines()[-1] == "[]"
