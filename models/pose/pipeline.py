"""Detect poses in a video and write what the nodes would show: skeleton, hand-normal and
body-normal videos plus the POSE_KEYPOINT JSON (the ``detect`` and ``demo`` commands)."""

from __future__ import annotations

import json
import os
import time

import numpy as np

from ..core.resources import console_progress
from ..media.video import read_video, write_video
from ..render.normal_maps import render_motion_normals
from ..render.openpose import render_skeletons
from .detection import DetectionSettings, detect_poses


def detect_video_to_files(video: str, out_dir: str, max_frames: int = 0, max_side: int = 640, face: bool = False,
                          log=print) -> dict:
    """Detect poses in a video and write skeleton, hand-normal and body-normal videos plus the JSON."""
    frames, fps = read_video(video, max_frames=max_frames, max_side=max_side)
    log(f"read {len(frames)} frames {frames.shape[2]}x{frames.shape[1]} at {fps:.1f} fps from {video}")
    start = time.perf_counter()
    detection = detect_poses(frames, DetectionSettings(video=True, face=face, mask="none"), fps=fps,
                             progress=console_progress("detect"))
    seconds = time.perf_counter() - start
    found = sum(1 for frame in detection.pose_keypoint if frame["people"])
    os.makedirs(out_dir, exist_ok=True)
    outputs = {"skeleton": os.path.join(out_dir, "skeleton.mp4"),
               "hand_normals": os.path.join(out_dir, "hand_normals.mp4"),
               "body_normals": os.path.join(out_dir, "body_normals.mp4"),
               "poses": os.path.join(out_dir, "poses.json")}
    write_video(outputs["skeleton"], render_skeletons(detection.pose_keypoint, face=face), fps)
    for part, key in (("hands", "hand_normals"), ("whole", "body_normals")):
        rgb, _ = render_motion_normals(detection.landmarks, part, progress=console_progress(key.replace("_", " ")))
        write_video(outputs[key], (rgb * 255 + 0.5).astype(np.uint8), fps)
    with open(outputs["poses"], "w") as handle:
        json.dump(detection.pose_keypoint, handle)
    summary = {"frames": len(frames), "pose_found": found, "pose_found_fraction": found / len(frames),
               "detect_fps": len(frames) / seconds, "outputs": outputs}
    return summary
