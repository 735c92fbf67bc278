"""The real motion the corpus is made of: every clip the registry packages ship, as recordings at 20 fps.

A ``Recording`` is one stretch of one source at ``windows.FPS``:

- ``joints``: ``smpl_22`` ``[T, 22, 3]`` float32, metres, y up (or None);
- ``points_2d``: OpenPose-18 ``[T, 18, 3]`` (x, y normalised to 0..1 of the canvas, x right, y down;
  then 1.0 where the point was seen, else 0.0 with x = y = 0), with ``aspect`` = canvas width /
  height (or None);
- ``estimated``: True for poses estimated from a video by MediaPipe rather than captured.

Mocap (``MOCAP_CLIPS``, fetched into ``data/mocap`` by ``scripts/fetch_mocap.sh``): the CMU ASF/AMC
clip, the MocapBank BVH, the Mixamo BVH and DeepMimic's 20 reference motions (looping ones repeated
to ``LOOP_SECONDS``), read by ``motion.io.read_motion`` (through the motion tokenizers'
``recording_joints``) and linearly resampled to 20 fps; the Mixamo clip's fingers are dropped
(``smpl_22``). Every DeepMimic clip is one segment (shorter than 10 s), so it stays on the training
side (``windows.held_out_segments``).

Videos (``VIDEO_CLIPS``, inside the installed Sports2D and Pose2Sim packages): MediaPipe Holistic in
tracking mode (``pose.detection``). Each run of consecutive frames with a person becomes a recording
with both
- 3D: MediaPipe's world landmarks turned into approximate ``smpl_22`` joints
  (:func:`mediapipe_world_to_smpl_22`). World landmarks are centred on the hips in every frame, so
  the recording has NO global translation (nor vertical root motion): walking, running, standing
  still and jumping cannot be judged from it (``corpus.UNTRUSTED_ESTIMATED_KINDS``);
- 2D: the image landmarks as OpenPose-18, nearest-frame resampled to 20 fps (interpolating would
  blend seen points with unseen zeros).
MediaPipe tracks one person; where it loses them for a frame it may pick up someone else (the
Sports2D demo: a jumper, then two passers-by), so a run also ends where the hips' image position
jumps by more than ``IDENTITY_JUMP`` of the canvas from one frame to the next. Videos and runs
shorter than one window (2 s) are skipped with the reason, e.g. every Pose2Sim clip (100 frames at
60 fps = 1.67 s; skipped before detection).
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass

import numpy as np

from ..core.errors import InputError
from ..core.layouts import MEDIAPIPE_33, SMPL_22, to_openpose_18
from ..core.resources import ProgressCallback, package_file
from ..media.video import read_video
from ..motion import deepmimic
from ..motion.resample import resample_frames
from ..pose.detection import BODY_PRESENT, DetectionSettings, detect_poses
from ..tokenizers.dataset import recording_joints
from .windows import FPS, MIN_WINDOW

# source id -> file in the mocap folder (test.amc pairs with test.asf)
MOCAP_CLIPS = {"cmu": "test.amc", "mocapbank": "test_mocapbank.bvh", "mixamo": "test_freebvh.bvh",
               **{"dm_" + os.path.basename(file)[:-4].removeprefix("humanoid3d_"): file
                  for file in deepmimic.CLIP_FILES}}
LOOP_SECONDS = 4.0  # DeepMimic's looping cycles (0.8-4.4 s) are repeated to at least this length
# source id -> (package, path inside it)
VIDEO_CLIPS = {
    "sports2d": ("Sports2D", "Demo", "demo.mp4"),
    **{f"pose2sim{k}": ("Pose2Sim", "Demo_SinglePerson", "videos", f"cam0{k}.mp4") for k in range(1, 5)},
}
VIDEO_MAX_SIDE = 640  # pixels: MediaPipe sees the video at this size (as the detect command does)
# Whole-frame detection without side check, as when the bundled models' corpus was built (reproducible)
CORPUS_DETECTION = DetectionSettings(video=True, hands=False, mask="none", person_crop=False, hand_check=False,
                                     side_check=False)
IDENTITY_JUMP = 0.1  # canvas fraction per frame: the hips cannot move this far, another person was picked up

# smpl_22 joints that MediaPipe has directly: smpl index -> mediapipe_33 index
_DIRECT = {SMPL_22.index(s): MEDIAPIPE_33.index(m) for s, m in (
    ("left_hip", "left_hip"), ("right_hip", "right_hip"), ("left_knee", "left_knee"), ("right_knee", "right_knee"),
    ("left_ankle", "left_ankle"), ("right_ankle", "right_ankle"), ("left_shoulder", "left_shoulder"),
    ("right_shoulder", "right_shoulder"), ("left_elbow", "left_elbow"), ("right_elbow", "right_elbow"),
    ("left_wrist", "left_wrist"), ("right_wrist", "right_wrist"))}
# Fractions placing the joints MediaPipe lacks, from SMPL's mean body: spine1..3 along pelvis ->
# mid-shoulders, the neck from mid-shoulders toward the ears, collars toward each shoulder, the
# foot joint (ball of the foot) from heel toward toe tip.
SPINE_FRACTIONS = (0.2, 0.45, 0.7)
NECK_FRACTION = 0.3
COLLAR_FRACTION = 0.4
BALL_FRACTION = 0.75


@dataclass(frozen=True)
class Recording:
    source: str  # source id (MOCAP_CLIPS / VIDEO_CLIPS)
    origin: str  # where it ships: "data/mocap/test.amc" style or "Sports2D/Demo/demo.mp4"
    first: int  # first frame of this stretch within its source, at 20 fps
    joints: np.ndarray | None
    points_2d: np.ndarray | None
    aspect: float | None
    estimated: bool

    @property
    def num_frames(self) -> int:
        return len(self.joints) if self.joints is not None else len(self.points_2d)


@dataclass(frozen=True)
class Skipped:
    source: str
    origin: str
    reason: str


def mocap_recordings(mocap_dir: str, clips: tuple[str, ...] | None = None) -> list[Recording]:
    """The mocap clips (``clips``: source ids, default all) as smpl_22 joints at 20 fps
    (FileNotFoundError naming the fetch script if a file is absent)."""
    unknown = sorted(set(clips or ()) - set(MOCAP_CLIPS))
    if unknown:
        raise InputError("mocap_clips", f"unknown clips {unknown}; expected some of {sorted(MOCAP_CLIPS)}")
    out = []
    for source, file in MOCAP_CLIPS.items():
        if clips is not None and source not in clips:
            continue
        joints = recording_joints(mocap_dir, file, LOOP_SECONDS)[:, :22].numpy().astype(np.float32)
        out.append(Recording(source, f"mocap/{file}", 0, joints, None, None, False))
    return out


def mediapipe_world_to_smpl_22(world: np.ndarray) -> np.ndarray:
    """MediaPipe world landmarks ``[T, 33, 3]`` (metres, y up, ``pose.detection``) -> approximate
    ``smpl_22`` joints ``[T, 22, 3]``: shared joints copied, the others placed by the fractions above
    (an estimate: MediaPipe's hips sit lower and wider than SMPL's)."""
    world = np.asarray(world, np.float64)
    if world.ndim != 3 or world.shape[1:] != (len(MEDIAPIPE_33), 3):
        raise InputError("world", f"expected MediaPipe world landmarks [T, 33, 3], got {list(world.shape)}")
    m = {name: world[:, k] for k, name in enumerate(MEDIAPIPE_33)}
    out = np.zeros((world.shape[0], 22, 3))
    for smpl, mp in _DIRECT.items():
        out[:, smpl] = world[:, mp]
    pelvis = (m["left_hip"] + m["right_hip"]) / 2
    shoulders = (m["left_shoulder"] + m["right_shoulder"]) / 2
    ears = (m["left_ear"] + m["right_ear"]) / 2
    out[:, SMPL_22.index("pelvis")] = pelvis
    for name, fraction in zip(("spine1", "spine2", "spine3"), SPINE_FRACTIONS):
        out[:, SMPL_22.index(name)] = pelvis + fraction * (shoulders - pelvis)
    out[:, SMPL_22.index("neck")] = shoulders + NECK_FRACTION * (ears - shoulders)
    out[:, SMPL_22.index("head")] = ears
    for side in ("left", "right"):
        out[:, SMPL_22.index(f"{side}_collar")] = shoulders + COLLAR_FRACTION * (m[f"{side}_shoulder"] - shoulders)
        heel, toe = m[f"{side}_heel"], m[f"{side}_foot_index"]
        out[:, SMPL_22.index(f"{side}_foot")] = heel + BALL_FRACTION * (toe - heel)
    return out.astype(np.float32)


def _nearest_frames(count: int, fps_in: float) -> np.ndarray:
    num_out = int(math.floor((count - 1) * FPS / fps_in + 1e-9)) + 1
    return np.rint(np.arange(num_out) * fps_in / FPS).astype(int).clip(0, count - 1)


def _runs(found: np.ndarray, hips: np.ndarray) -> list[tuple[int, int]]:
    """[start, stop) of each run of frames with a person, cut where the hips ``[T, 2]`` jump."""
    jump = np.zeros(len(found), bool)
    jump[1:] = np.linalg.norm(hips[1:] - hips[:-1], axis=-1) > IDENTITY_JUMP
    starts = found & (np.concatenate([[True], ~found[:-1]]) | jump)
    ends = found & (np.concatenate([~found[1:], [True]]) | np.concatenate([jump[1:], [False]]))
    return list(zip(np.flatnonzero(starts).tolist(), (np.flatnonzero(ends) + 1).tolist()))


def video_recordings(progress: ProgressCallback | None = None) -> tuple[list[Recording], list[Skipped]]:
    """MediaPipe poses of every shipped video: recordings of each run with a person, and what was skipped."""
    recordings, skipped = [], []
    for source, parts in VIDEO_CLIPS.items():
        origin = "/".join(parts)
        try:
            path = package_file(*parts)
        except FileNotFoundError as error:
            skipped.append(Skipped(source, origin, str(error)))
            continue
        frames, fps = read_video(path, max_side=VIDEO_MAX_SIDE)
        if (len(frames) - 1) / fps < MIN_WINDOW / FPS:
            skipped.append(Skipped(source, origin, f"{len(frames)} frames at {fps:g} fps = {len(frames) / fps:.2f} s, "
                                                   f"shorter than the {MIN_WINDOW / FPS:g} s shortest window"))
            continue
        height, width = frames.shape[1:3]
        detection = detect_poses(frames, CORPUS_DETECTION, fps=fps,
                                 progress=progress)
        landmarks = detection.landmarks.joints.numpy()[:, :33]
        visibility = detection.landmarks.visibility().numpy()[:, :33]
        world = detection.world.joints.numpy()
        found = np.array([bool(frame["people"]) for frame in detection.pose_keypoint])
        hips = landmarks[:, [MEDIAPIPE_33.index("left_hip"), MEDIAPIPE_33.index("right_hip")], :2].mean(1)
        for start, stop in _runs(found, hips):
            count = stop - start
            if (count - 1) / fps < MIN_WINDOW / FPS:
                skipped.append(Skipped(source, origin, f"frames {start}..{stop - 1}: {count} frames at {fps:g} fps = "
                                                       f"{count / fps:.2f} s, shorter than the {MIN_WINDOW / FPS:g} s "
                                                       f"shortest window"))
                continue
            joints = resample_frames(mediapipe_world_to_smpl_22(world[start:stop]), fps, FPS)
            xyc = np.concatenate([landmarks[start:stop, :, :2], visibility[start:stop, :, None]], axis=-1)
            points = to_openpose_18(xyc, "mediapipe_33")[_nearest_frames(count, fps)]
            inside = (points[..., :2] >= 0).all(-1) & (points[..., :2] <= 1).all(-1)
            seen = (points[..., 2] >= BODY_PRESENT) & inside
            points = np.where(seen[..., None], np.concatenate([points[..., :2], np.ones_like(points[..., :1])], -1), 0)
            first = int(round(start * FPS / fps))
            recordings.append(Recording(source, origin, first, joints, points.astype(np.float32), width / height, True))
        if not found.any():
            skipped.append(Skipped(source, origin, "MediaPipe found nobody in the video"))
    return recordings, skipped


