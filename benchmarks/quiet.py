"""Silence MediaPipe's native log lines in benchmark output."""

import contextlib
import os
import sys


@contextlib.contextmanager
def quiet_native_stderr(enabled: bool = True):
    """Send file descriptor 2 to /dev/null: MediaPipe's TFLite/absl messages bypass Python and GLOG.

    Python-level stderr (progress lines) goes the same way; exceptions still surface once the
    block is left.
    """
    if not enabled:
        yield
        return
    sys.stderr.flush()
    saved = os.dup(2)
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, 2)
        yield
    finally:
        sys.stderr.flush()
        os.dup2(saved, 2)
        os.close(saved)
        os.close(devnull)
