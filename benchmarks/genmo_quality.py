"""GENMO quality benchmarks on held-out clips of a HumanML3D-layout corpus (issue 12): keyframe
inpainting, estimation from 2D keypoints, and two-prompt text timelines.

Data: the corpus folder (default ``data/motion_corpus``): raw 263-d features ``[T, 263]`` at 20 fps
of its ``test`` split (held out from the model's and the evaluator's training) and, for baselines,
of its ``train`` split. Ground truth joints are ``features_to_joints`` of the features: the canonical
frame of the clip (frame 0's pelvis at x = z = 0 facing +z, floor y = 0), the same frame the model's
outputs are decoded in. Only whole-motion items are used (no caption sub-spans). Each section picks
its clips with a seeded ``numpy`` generator; the printed header states clips, seeds and steps.

- :func:`keyframes`: test clips of 4-6 s (``CLIP_FRAMES``); keyframes at the first and last frame
  (and a variant with the middle frame too) from the clip itself (``make_keyframes``); no text; a
  DDIM sample (``steps``). Joint error (mm) AT the keyframes: "pose" (root-relative, each frame
  turned to face +z: the inpainted pose without the integrated heading, which keyframes leave free),
  root-relative and world (world includes the sampler's root-path correction through the keyframes'
  roots); and at the frames BETWEEN them against linear interpolation of the keyframes' joint
  positions (world, and root-relative); "seam": how far the joints move between a keyframe and its
  neighbouring frames, against the clip's own motion there.
- :func:`estimation`: test clips projected to COCO-17 keypoints (``project_joints_to_coco``, camera
  at absolute yaws ``YAWS``, elevation ``ELEVATION``); ``estimate_motion`` (one pass; and DDIM
  "generation" mode guided by the keypoints when ``generation_steps``) -> MPJPE root-relative. Both
  motions are canonical at frame 0 (their 263 features start facing +z), so nothing is rotated: the
  pelvis is subtracted per frame ("pose": also each frame turned to face +z). 2D error:
  ``fit_camera``'s RMS residual (one static weak-perspective camera per clip) in % of the mean
  person-box side; the truth's own residual is the floor (the projection is a perspective one).
  Baseline: per-frame nearest neighbour among the train split's poses projected at the same yaws
  (13 training joints, box-normalised x, y), its root-relative 3D pose turned by the yaw difference
  of the two cameras (the baseline is given the true camera yaw; its 2D error is fitted with the true
  pelvis path added: both favour it).
- :func:`detected`: real videos no model saw (Pose2Sim's single- and multi-person demos, 4 cameras
  each, 100 frames at 60 fps: shorter than the corpus's 2 s windows, so never in it), detected as the
  GENMO nodes detect (``pipeline.VIDEO_DETECTION``, first person), estimated in one pass
  (``estimate_from_poses``). No 3D truth: the table gives the 2D error of the estimate against the
  detections, in % of the person-box side, two ways: ``fit_camera``'s static camera (as the
  estimation table), and ``reprojection.reprojection_error`` (one viewing direction, a scale and offset
  per frame: the training loss of 2D-only items).
- :func:`timeline`: prompts drawn from test captions (the corpus's captions are DERIVED FROM THE
  MOTION by rules, not written by people); ``count`` timelines of two prompts of ``PROMPT_SECONDS``
  each; per window the rule checker's score (``timeline_verdicts`` / ``check_motion_against_text``)
  and the evaluator's R-precision (window vs its prompt, pools of ``R_PRECISION_POOL`` or all windows
  when fewer). Baseline: random crops of real train clips of the window's length, treated the same;
  reference: the whole test clip each caption describes.
"""

from __future__ import annotations

import math
import os
import re
import time

import numpy as np
import torch
from posemotion.models.core.layouts import SMPL_22
from posemotion.models.core.motion import Motion
from posemotion.models.core.resources import package_file
from posemotion.models.genmo import DEFAULT_CORPUS
from posemotion.models.genmo.keyframes import make_keyframes
from posemotion.models.genmo.keypoints2d import TRAINING_JOINTS, fit_camera, keypoint_condition, project_joints_to_coco
from posemotion.models.genmo.model import GenmoModel, estimate_motion, generate_motion
from posemotion.models.genmo.pipeline import VIDEO_DETECTION, estimate_from_poses, timeline_verdicts
from posemotion.models.genmo.reprojection import reprojection_error
from posemotion.models.genmo.text_encoders import open_text_encoder
from posemotion.models.genmo.timeline import Prompt
from posemotion.models.media.video import read_video
from posemotion.models.motion.humanml3d import features_to_joints, joints_to_features
from posemotion.models.motion_text.eval_metrics import R_PRECISION_POOL, r_precision
from posemotion.models.motion_text.evaluator import embed_motions, embed_texts, load_evaluator
from posemotion.models.motion_text.evaluator_data import PairedSplit, load_split
from posemotion.models.pose.detection import detect_poses

EVALUATOR = os.path.join("data", "motion_text", "evaluator.safetensors")
CLIP_FRAMES = (80, 121)  # 4-6 s at 20 fps (feature rows), as load_split's min/max frames
KEYFRAME_TARGET_MM = 10.0  # issue 12: joints at the keyframes within 10 mm
YAWS = (0.0, 90.0, 180.0, 270.0)  # absolute camera yaws (degrees) of the 2D projections
ELEVATION = 10.0  # degrees: project_joints_to_coco's default camera height
DATABASE_STRIDE = 2  # every 2nd train frame in the nearest-neighbour baseline (neighbouring frames are alike)
PROMPT_SECONDS = 3.0
MM = 1000.0
_SEGMENT = re.compile(r"^M?(.+_s\d+)_\d+_\d+$")
_LEFT = [SMPL_22.index(n) for n in ("left_hip", "left_shoulder")]
_RIGHT = [SMPL_22.index(n) for n in ("right_hip", "right_shoulder")]


def _whole(pairs: PairedSplit) -> list[int]:
    return [k for k, name in enumerate(pairs.names) if "@" not in name]


def segment_of(name: str) -> str:
    """The corpus's split unit of an item: ``[M]SOURCE_sNN_START_ROWS`` -> ``SOURCE_sNN`` (windows of one
    segment overlap and its mirror ``M...`` is the same motion); another name is its own segment."""
    match = _SEGMENT.match(name)
    return match.group(1) if match else name


def held_out_clips(corpus: str, limit: int, seed: int = 0) -> list[tuple[str, torch.Tensor]]:
    """Up to ``limit`` seeded test clips of 4-6 s: (name, joints [T, 22, 3] canonical), taken in turn from
    each test segment (a seeded order within each) so that overlapping windows of one segment come last."""
    pairs = load_split(corpus, "test", min_frames=CLIP_FRAMES[0], max_frames=CLIP_FRAMES[1])
    rng = np.random.default_rng(seed)
    segments: dict[str, list[int]] = {}
    for k in _whole(pairs):
        segments.setdefault(segment_of(pairs.names[k]), []).append(k)
    queues = [list(rng.permutation(items)) for _, items in sorted(segments.items())]
    chosen = [queue[turn] for turn in range(max(map(len, queues))) for queue in queues if turn < len(queue)][:limit]
    return [(pairs.names[k], features_to_joints(torch.from_numpy(pairs.features[k]))) for k in chosen]


def _segments(clips) -> int:
    return len({segment_of(name) for name, _ in clips})


def _distances(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """Per joint Euclidean distances [T, J] in mm."""
    return (a - b).norm(dim=-1) * MM


def _relative(joints: torch.Tensor) -> torch.Tensor:
    return joints - joints[:, :1]


def _turn(poses: torch.Tensor, degrees: torch.Tensor) -> torch.Tensor:
    """Poses [T, J, 3] turned about +y by ``degrees`` [T] (a camera at yaw a seeing p sees p turned by d
    as a camera at a + d does)."""
    angle = torch.deg2rad(degrees)[:, None]
    cos, sin = torch.cos(angle), torch.sin(angle)
    x, y, z = poses.unbind(-1)
    return torch.stack([x * cos + z * sin, y, -x * sin + z * cos], dim=-1)


def _facing_aligned(joints: torch.Tensor) -> torch.Tensor:
    """Root-relative joints with every frame turned about +y to face +z (hips + shoulders facing, as
    ``model._facing_angle``): the pose without its heading."""
    across = joints[:, _RIGHT].sum(1) - joints[:, _LEFT].sum(1)
    facing = torch.rad2deg(torch.atan2(across[:, 2], -across[:, 0]))
    return _turn(_relative(joints), -facing)


def _seams(joints: torch.Tensor, frames: tuple[int, ...]) -> torch.Tensor:
    """Mean root-relative joint displacement (mm) between each keyframe and its neighbouring frames: a
    sampler that only overwrites the keyframe rows leaves a jump there."""
    pairs = [(f, n) for f in frames for n in (f - 1, f + 1) if 0 <= n < len(joints)]
    relative = _relative(joints)
    return torch.stack([_distances(relative[f], relative[n]).mean() for f, n in pairs])


def _interpolated(joints: torch.Tensor, frames: tuple[int, ...]) -> torch.Tensor:
    """Joint positions linearly interpolated between the keyframes (held outside them)."""
    keys = np.asarray(sorted(frames))
    weights = np.stack([np.interp(np.arange(len(joints)), keys, np.eye(len(keys))[k]) for k in range(len(keys))])
    return torch.einsum("kt,kjc->tjc", torch.from_numpy(weights).float(), joints[keys])


# ----------------------------------------------------------------------------- 1. keyframes

def keyframes(model: GenmoModel, corpus: str = DEFAULT_CORPUS, limit: int = 12, steps: int = 20,
              seed: int = 0) -> dict:
    """{variant: {metric: mm}}: errors at and between keyframes (module doc), printed as a table."""
    clips = held_out_clips(corpus, limit, seed)
    started = time.perf_counter()
    results = {}
    for variant in ("first+last", "first+middle+last"):
        sums: dict[str, list[torch.Tensor]] = {k: [] for k in ("key_pose", "key_rel", "key_world", "mid_rel",
                                                               "mid_world", "lerp_rel", "lerp_world", "seam",
                                                               "truth_seam")}
        for name, truth in clips:
            length = len(truth)
            frames = (0, length - 1) if variant == "first+last" else (0, length // 2, length - 1)
            motion = Motion(joints=truth, fps=model.fps, layout="smpl_22")
            known = make_keyframes(motion, frames, length, model.stats)
            sample = generate_motion(model, [], length / model.fps, keyframes=known, steps=steps, seed=seed).joints
            lerp = _interpolated(truth, frames)
            key = torch.zeros(length, dtype=torch.bool)
            key[list(frames)] = True
            sums["key_pose"].append(_distances(_facing_aligned(sample), _facing_aligned(truth))[key])
            sums["key_rel"].append(_distances(_relative(sample), _relative(truth))[key])
            sums["key_world"].append(_distances(sample, truth)[key])
            sums["mid_rel"].append(_distances(_relative(sample), _relative(truth))[~key])
            sums["mid_world"].append(_distances(sample, truth)[~key])
            sums["lerp_rel"].append(_distances(_relative(lerp), _relative(truth))[~key])
            sums["lerp_world"].append(_distances(lerp, truth)[~key])
            sums["seam"].append(_seams(sample, frames))
            sums["truth_seam"].append(_seams(truth, frames))
        results[variant] = {k: float(torch.cat(v).mean()) for k, v in sums.items()}
        key_frames = torch.cat(sums["key_rel"]).mean(-1)
        results[variant]["key_within_target"] = float((key_frames < KEYFRAME_TARGET_MM).float().mean())
    print(f"\nGENMO keyframes: {len(clips)} held-out test clips of 4-6 s from {_segments(clips)} segments "
          f"({corpus}, split test, seed {seed}), "
          f"truth = the clip's own joints; keyframes from the clip; no text; DDIM {steps} steps, cfg 2.5, "
          f"seed {seed} ({time.perf_counter() - started:.0f} s)")
    print("mean joint error, mm (pose = root-relative with each frame turned to face +z, i.e. without the "
          "heading; rel = root-relative; world incl. the root-path correction); 'between' = non-keyframe frames "
          "vs linear interpolation of the keyframe joint positions")
    print(f"{'keyframes':<18} {'key pose':>8} {'key rel':>8} {'key world':>9} {'<10mm':>6} {'betw rel':>9} "
          f"{'lerp rel':>9} {'betw world':>10} {'lerp world':>10} {'seam':>6} {'truth':>6}")
    for variant, row in results.items():
        print(f"{variant:<18} {row['key_pose']:8.1f} {row['key_rel']:8.1f} {row['key_world']:9.1f} "
              f"{row['key_within_target']:6.0%} {row['mid_rel']:9.1f} {row['lerp_rel']:9.1f} "
              f"{row['mid_world']:10.1f} {row['lerp_world']:10.1f} {row['seam']:6.1f} {row['truth_seam']:6.1f}")
    print(f"target: key rel < {KEYFRAME_TARGET_MM:g} mm ('<10mm': share of keyframes whose mean root-relative "
          f"joint error is below it); seam: mean root-relative joint move between a keyframe and its neighbour "
          f"frames (truth: the clip's own)")
    return results


# ----------------------------------------------------------------------------- 2. estimation

def _project(joints: torch.Tensor, yaw: float):
    return project_joints_to_coco(joints, yaw, ELEVATION, relative_to_facing=False)


def _pose_vectors(keypoints: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Box-normalised x, y of the training joints [T, 13 * 2] and their confidence weights [T, 13 * 2]."""
    points = keypoints[:, list(TRAINING_JOINTS)]
    weights = (points[..., 2:] >= 0.5).float().expand(-1, -1, 2)
    return points[..., :2].flatten(1), weights.flatten(1)


def pose_database(corpus: str, yaws=YAWS, stride: int = DATABASE_STRIDE, limit: int | None = None) -> dict:
    """The train split's root-relative poses, each projected at every yaw: {"points" [N, 26], "poses"
    [N, 22, 3], "yaws" [N]} (frames with no person dropped)."""
    pairs = load_split(corpus, "train")
    items = _whole(pairs)[:limit]
    points, poses, cameras = [], [], []
    for k in items:
        joints = features_to_joints(torch.from_numpy(pairs.features[k]))[::stride]
        for yaw in yaws:
            keypoints, _, present = _project(joints, yaw)
            points.append(_pose_vectors(keypoints)[0][present])
            poses.append(_relative(joints)[present])
            cameras.append(torch.full((int(present.sum()),), float(yaw)))
    return {"points": torch.cat(points), "poses": torch.cat(poses), "yaws": torch.cat(cameras)}


def nearest_neighbour_lift(database: dict, keypoints: torch.Tensor, yaw: float) -> torch.Tensor:
    """Per frame, the database pose whose 2D is nearest (over the frame's confident joints), in the
    frame of a camera at ``yaw``: root-relative joints [T, 22, 3]."""
    query, weights = _pose_vectors(keypoints)
    base = database["points"]
    # ||w*(q - b)||^2 = sum w q^2 - 2 (w q) . b + w . b^2 (weights are 0/1)
    distance = (weights * query ** 2).sum(1, keepdim=True) - 2 * (weights * query) @ base.T + weights @ (base ** 2).T
    best = distance.argmin(1)
    return _turn(database["poses"][best], yaw - database["yaws"][best])


def _two_d_error(joints: torch.Tensor, triple) -> float:
    keypoints, bbox, present = triple
    fit = fit_camera(joints, keypoints, bbox, present)
    return 100.0 * fit["error"] / float(bbox[present, 2].mean())


def estimation(model: GenmoModel, corpus: str = DEFAULT_CORPUS, limit: int = 12, yaws=YAWS,
               generation_steps: int = 20, seed: int = 0, database_limit: int | None = None) -> dict:
    """{method: {"mpjpe": mm, "pose": mm, "2d": % of box}} over test clips x yaws (module doc), printed as a table."""
    clips = held_out_clips(corpus, limit, seed)
    started = time.perf_counter()
    database = pose_database(corpus, yaws, limit=database_limit)
    methods = ["truth", "estimation (1 pass)"] + ([f"generation (DDIM {generation_steps})"] if generation_steps
                                                   else []) + ["nearest neighbour"]
    errors = {m: {"mpjpe": [], "pose": [], "2d": []} for m in methods}
    for name, truth in clips:
        for yaw in yaws:
            triple = _project(truth, yaw)
            condition = tuple(t[None] for t in triple)
            outputs = {"truth": truth,
                       "estimation (1 pass)": estimate_motion(model, condition, seed=seed).joints}
            if generation_steps:
                outputs[methods[2]] = estimate_motion(model, condition, seed=seed, mode="generation",
                                                      steps=generation_steps).joints
            lifted = nearest_neighbour_lift(database, triple[0], yaw)
            outputs["nearest neighbour"] = lifted + truth[:, :1]  # the true pelvis path, for its 2D fit only
            for method, joints in outputs.items():
                errors[method]["mpjpe"].append(_distances(_relative(joints), _relative(truth)).mean())
                errors[method]["pose"].append(_distances(_facing_aligned(joints), _facing_aligned(truth)).mean())
                errors[method]["2d"].append(_two_d_error(joints, triple))
    results = {m: {k: float(np.mean(v)) for k, v in rows.items()} for m, rows in errors.items()}
    print(f"\nGENMO estimation from 2D: {len(clips)} held-out test clips of 4-6 s from {_segments(clips)} segments "
          f"({corpus}, split test, seed {seed}) "
          f"x camera yaws {', '.join(f'{y:g}' for y in yaws)} deg at elevation {ELEVATION:g} deg "
          f"(project_joints_to_coco, 13 COCO joints); noise seed {seed} ({time.perf_counter() - started:.0f} s)")
    print(f"MPJPE: root-relative mm, both canonical at frame 0 (no rotation applied); pose: the same with every frame "
          f"turned to face +z (no heading); 2D: fit_camera RMS residual in % of the person-box side. Nearest "
          f"neighbour: {len(database['poses'])} train poses (every {DATABASE_STRIDE}nd frame x the same yaws), given "
          f"the true camera yaw and pelvis path")
    print(f"{'method':<22} {'MPJPE mm':>9} {'pose mm':>8} {'2D % box':>9}")
    for method, row in results.items():
        print(f"{method:<22} {row['mpjpe']:9.1f} {row['pose']:8.1f} {row['2d']:9.2f}")
    return results


# ----------------------------------------------------------------------------- 2b. estimation on detected video

DETECTED_VIDEOS = {f"{kind}/cam0{k}": ("Pose2Sim", f"Demo_{folder}Person", "videos", f"cam0{k}.mp4")
                   for kind, folder in (("single", "Single"), ("multi", "Multi")) for k in range(1, 5)}
DETECTED_MAX_SIDE = 640  # pixels, as the corpus and the detect command read videos


def detected(model: GenmoModel, corpus: str = DEFAULT_CORPUS, seed: int = 0) -> dict:
    """{video: {"static": %, "per_frame": %}} 2D error of the one-pass estimate on each real video
    (module doc), printed as a table; ``corpus`` is unused (the videos are outside it)."""
    started = time.perf_counter()
    results = {}
    for name, parts in DETECTED_VIDEOS.items():
        frames, fps = read_video(package_file(*parts), max_side=DETECTED_MAX_SIDE)
        poses = detect_poses(frames, VIDEO_DETECTION, fps=fps).pose_keypoint
        estimate = estimate_from_poses(model, poses, fps, seed=seed)
        keypoints, bbox, present = keypoint_condition(poses, fps, estimate.motion.num_frames, model.fps)
        side = float(bbox[present][:, 2].mean())
        error, _ = reprojection_error(estimate.motion.joints[None], keypoints, present)
        results[name] = {"static": 100.0 * estimate.camera["error"] / side, "per_frame": 50.0 * math.sqrt(float(error))}
    print(f"\nGENMO estimation on detected video: Pose2Sim demos (never in the corpus), {len(results)} clips of "
          f"1.67 s, first person, one pass, noise seed {seed} ({time.perf_counter() - started:.0f} s). 2D error "
          f"against the detections, % of the person-box side: static = fit_camera's one camera; per frame = "
          f"one viewing direction, scale and offset per frame (the 2D-only training loss)")
    print(f"{'video':<14} {'static':>7} {'per frame':>9}")
    for name, row in results.items():
        print(f"{name:<14} {row['static']:7.2f} {row['per_frame']:9.2f}")
    print(f"{'mean':<14} {np.mean([r['static'] for r in results.values()]):7.2f} "
          f"{np.mean([r['per_frame'] for r in results.values()]):9.2f}")
    return results


# ----------------------------------------------------------------------------- 3. timeline

def _window_features(joints: torch.Tensor) -> np.ndarray:
    return joints_to_features(joints.numpy()).astype(np.float32)


def _scores(windows: list[torch.Tensor], prompts: list[Prompt], fps: float, evaluator, pool: int) -> dict:
    """Checker score over the windows with checkable prompts, and R-precision top 1 / top 3."""
    checks = [timeline_verdicts(Motion(joints=w, fps=fps, layout="smpl_22"),
                                [Prompt(p.text, 0.0, len(w) / fps)])[0][1] for w, p in zip(windows, prompts)]
    scored = [c.score for c in checks if c.score is not None]
    row = {"checkable": len(scored), "checker": float(np.mean(scored)) if scored else math.nan,
           "all_facts": float(np.mean([s == 1.0 for s in scored])) if scored else math.nan}
    if evaluator is not None and pool >= 2:
        texts = embed_texts(evaluator, [p.text for p in prompts])
        motions = embed_motions(evaluator, [_window_features(w) for w in windows])
        top = r_precision(texts, motions, pool=pool, top_k=3)
        row["top1"], row["top3"] = float(top[0]), float(top[2])
    return row


def timeline(model: GenmoModel, corpus: str = DEFAULT_CORPUS, count: int = 16, steps: int = 20, seed: int = 0,
             evaluator_path: str | None = EVALUATOR, text_encoder=None) -> dict:
    """{set: scores} for generated windows, random train crops and the captions' own test clips."""
    test = load_split(corpus, "test")
    train = load_split(corpus, "train", min_frames=round(PROMPT_SECONDS * model.fps) + 1)
    rng = np.random.default_rng(seed)
    chosen = [int(k) for k in rng.choice(_whole(test), size=min(2 * count, len(_whole(test))), replace=False)]
    captions = [test.captions[k][int(rng.integers(len(test.captions[k])))] for k in chosen]
    count = len(captions) // 2
    encoder = text_encoder or open_text_encoder(model.config.text_encoder)
    evaluator = load_evaluator(evaluator_path) if evaluator_path and os.path.exists(evaluator_path) else None
    started = time.perf_counter()
    window = round(PROMPT_SECONDS * model.fps)
    generated, prompts = [], []
    for index in range(count):
        pair = [Prompt(captions[2 * index], 0.0, PROMPT_SECONDS),
                Prompt(captions[2 * index + 1], PROMPT_SECONDS, 2 * PROMPT_SECONDS)]
        joints = generate_motion(model, pair, 2 * PROMPT_SECONDS, steps=steps, seed=seed + index,
                                 text_encoder=encoder).joints
        generated += [joints[:window], joints[window:2 * window]]
        prompts += pair
    crops = []
    for item in rng.choice(_whole(train), size=len(prompts)):
        start = int(rng.integers(len(train.features[item]) - window + 1))
        crops.append(features_to_joints(torch.from_numpy(train.features[item][start:start + window])))
    sources = [features_to_joints(torch.from_numpy(test.features[k])) for k in chosen[:len(prompts)]]
    pool = min(R_PRECISION_POOL, len(prompts))
    results = {name: _scores(windows, prompts, model.fps, evaluator, pool) for name, windows in
               (("generated windows", generated), ("random train crops", crops), ("captioned test clips", sources))}
    print(f"\nGENMO text timelines: {count} timelines of 2 prompts x {PROMPT_SECONDS:g} s; prompts = captions of "
          f"{len(prompts)} distinct held-out test clips ({corpus}, split test, seed {seed}); the captions are DERIVED "
          f"FROM THE MOTION by rules; DDIM {steps} steps, cfg 2.5, seeds {seed}..{seed + count - 1} "
          f"({time.perf_counter() - started:.0f} s)")
    print(f"checker: rule checker's score on each {PROMPT_SECONDS:g} s window (mean over the windows whose prompt "
          f"has a checkable fact; 'all' = every fact found); R@k: evaluator R-precision, pool {pool} "
          f"(chance {1 / pool:.2f} / {3 / pool:.2f})" + ("" if evaluator else f"; no evaluator at {evaluator_path}"))
    print(f"{'set':<22} {'checkable':>9} {'checker':>8} {'all':>6} {'R@1':>6} {'R@3':>6}")
    for name, row in results.items():
        print(f"{name:<22} {row['checkable']:>9} {row['checker']:8.2f} {row['all_facts']:6.2f} "
              f"{row.get('top1', math.nan):6.2f} {row.get('top3', math.nan):6.2f}")
    return results


SECTIONS = {"keyframes": keyframes, "estimation": estimation, "detected": detected, "timeline": timeline}
