"""Reading and writing video files with OpenCV (RGB uint8 frames, explicit fps)."""

from __future__ import annotations

import os

import cv2
import numpy as np

from ..core.errors import InputError


def read_video(path: str, max_frames: int = 0, every_nth: int = 1, max_side: int = 0) -> tuple[np.ndarray, float]:
    """-> (frames uint8 [T,H,W,3] RGB, fps of the returned frames).

    ``max_frames`` 0 reads all, ``every_nth`` keeps one frame in n (fps drops accordingly),
    ``max_side`` > 0 downsizes so the longer side is at most that many pixels.
    """
    if every_nth < 1 or max_frames < 0 or max_side < 0:
        raise InputError("video", f"expected every_nth >= 1, max_frames >= 0, max_side >= 0, got {every_nth}, {max_frames}, {max_side}")
    if not os.path.isfile(path):
        raise InputError("video", f"file not found: {path!r}")
    capture = cv2.VideoCapture(path)
    if not capture.isOpened():
        raise InputError("video", f"OpenCV cannot open {path!r} as a video")
    fps = capture.get(cv2.CAP_PROP_FPS) or 30.0
    frames, index = [], 0
    try:
        while not max_frames or len(frames) < max_frames:
            ok, bgr = capture.read()
            if not ok:
                break
            if index % every_nth == 0:
                frames.append(_resize(cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB), max_side))
            index += 1
    finally:
        capture.release()
    if not frames:
        raise InputError("video", f"no frames could be decoded from {path!r}")
    return np.stack(frames), fps / every_nth


def _resize(frame: np.ndarray, max_side: int) -> np.ndarray:
    height, width = frame.shape[:2]
    if not max_side or max(height, width) <= max_side:
        return frame
    scale = max_side / max(height, width)
    size = (max(1, round(width * scale)), max(1, round(height * scale)))
    return cv2.resize(frame, size, interpolation=cv2.INTER_AREA)


def write_video(path: str, frames: np.ndarray, fps: float) -> str:
    """Write uint8 RGB frames [T,H,W,3] as an MP4 (mp4v) file and return its path."""
    frames = np.asarray(frames)
    if frames.dtype != np.uint8 or frames.ndim != 4 or frames.shape[-1] != 3 or len(frames) == 0:
        raise InputError("frames", f"expected uint8 [T>0,H,W,3], got {frames.dtype} {list(frames.shape)}")
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    height, width = frames.shape[1:3]
    writer = cv2.VideoWriter(path, cv2.VideoWriter_fourcc(*"mp4v"), float(fps), (width, height))
    if not writer.isOpened():
        raise OSError(f"OpenCV cannot write video {path!r}")
    try:
        for frame in frames:
            writer.write(cv2.cvtColor(frame, cv2.COLOR_RGB2BGR))
    finally:
        writer.release()
    return path
