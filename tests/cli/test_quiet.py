"""A command prints its own lines only: native MediaPipe/TFLite/absl logs and known third-party
warnings are hidden unless --verbose, and progress never shares a line with anything else."""

import os
import re
import subprocess
import sys

from posemotion.models.core.resources import console_progress, quiet_native_stderr

PROGRESS_LINE = re.compile(r"^[a-z ]+: \d+/\d+ \(\d+%\)$")
NATIVE_LOG = re.compile(r"TensorFlow Lite|absl::|^[IWEF]\d{4} |GetPrototype|Loading weights")


def _detect(clip: str, out, *extra: str) -> subprocess.CompletedProcess:
    run = subprocess.run([sys.executable, "-m", "posemotion", "detect", clip, "--out", str(out), "--max-frames", "3",
                          "--max-side", "320", *extra], capture_output=True, timeout=300)
    run.stdout, run.stderr = run.stdout.decode(), run.stderr.decode()  # not text=True, which turns "\r" into "\n"
    return run


def test_detect_stderr_holds_only_progress_lines(demo_clip_path, tmp_path):
    run = _detect(demo_clip_path, tmp_path)
    assert run.returncode == 0, run.stderr[-3000:]
    assert "pose found in" in run.stdout
    lines = run.stderr.splitlines()
    assert lines and "\r" not in run.stderr  # not a terminal: whole lines only
    assert all(PROGRESS_LINE.match(line) for line in lines), run.stderr[-3000:]
    assert {line.split(":")[0] for line in lines} == {"detect", "hand normals", "body normals"}


def test_verbose_shows_the_native_logs(demo_clip_path, tmp_path):
    run = _detect(demo_clip_path, tmp_path, "--verbose")
    assert run.returncode == 0, run.stderr[-3000:]
    assert NATIVE_LOG.search(run.stderr)  # the lines the default run hides do exist


def test_quiet_native_stderr_keeps_python_stderr(capfd):
    with quiet_native_stderr():
        os.write(2, b"native log line\n")
        print("python line", file=sys.stderr)
    os.write(2, b"after\n")
    err = capfd.readouterr().err
    assert "python line" in err and "after" in err and "native log line" not in err


# Run in a fresh interpreter: pytest records warnings itself, which would hide what a user sees.
WARNINGS_SCRIPT = """
import io, sys, warnings
from posemotion.models.core.resources import console_output, console_progress

class Terminal(io.StringIO):
    def isatty(self):
        return True

mode = sys.argv[1]
if mode == "terminal":
    sys.stderr = terminal = Terminal()
with console_output(verbose=mode != "quiet"):
    report = console_progress("detect")
    for done in range(1, 5):
        report(done, 10)
    warnings.warn("SymbolDatabase.GetPrototype() is deprecated. Please use ...", UserWarning)
    warnings.warn("a warning of our own", UserWarning)
    for done in range(5, 11):
        report(done, 10)
if mode == "terminal":
    sys.stdout.write(terminal.getvalue())
"""


def _warnings_run(mode: str) -> str:
    run = subprocess.run([sys.executable, "-c", WARNINGS_SCRIPT, mode], capture_output=True, timeout=60)
    assert run.returncode == 0, run.stderr
    return (run.stdout if mode == "terminal" else run.stderr).decode()  # bytes: keep the "\r"s


def test_known_warnings_hidden_unless_verbose():
    quiet, verbose = _warnings_run("quiet"), _warnings_run("verbose")
    assert "a warning of our own" in quiet and "GetPrototype" not in quiet
    assert "a warning of our own" in verbose and "GetPrototype" in verbose
    for err in (quiet, verbose):  # not a terminal: the warnings sit between whole progress lines
        assert all(PROGRESS_LINE.match(line) for line in err.splitlines() if line.startswith("detect"))


def test_progress_on_a_terminal_is_one_bar_and_warnings_start_a_new_line():
    text = _warnings_run("terminal")
    bar_lines = [line for line in text.split("\n") if "detect:" in line]
    assert len(bar_lines) == 2  # one bar, broken once where the warnings are shown
    assert bar_lines[0].startswith("\rdetect: [") and bar_lines[0].endswith("4/10 (40%)")
    assert bar_lines[1].rsplit("\r", 1)[1] == "detect: [" + "#" * 24 + "] 10/10 (100%)"
    assert text.endswith("\n")
    warning_lines = [line for line in text.split("\n") if "warning of our own" in line]
    assert warning_lines and "detect" not in warning_lines[0]


def test_progress_in_a_log_is_whole_lines(capsys):
    report = console_progress("train")
    for done in range(1, 101):
        report(done, 100)
    err = capsys.readouterr().err
    assert "\r" not in err
    assert err.splitlines() == [f"train: {n}/100 ({n}%)" for n in (1, *range(10, 101, 10))]
