"""Retarget a driving POSE_KEYPOINT sequence onto the reference person's 2D proportions and place.

In: the driving sequence (POSE_KEYPOINT, any canvas) and the reference pose (POSE_KEYPOINT; the first
person of its first frame). Out: POSE_KEYPOINT on the output canvas (below), one person per frame
(frames without a driving person stay empty). The driving person is each frame's first person, or, when the
people carry ``track_id`` (Detect Pose with every person), the track of the first person seen.

Method (pixels throughout, so canvases of any aspect mix):
- figure scale ``s``: the median over OpenPose-18 bones (those between the eyes, ears and nose only when
  no other bone is seen by both) of reference length / the driving person's typical length (its
  ``TYPICAL_PERCENTILE`` over frames: near the bone's unforeshortened length);
- each bone gets a target length: the reference's, or (fallback) ``s`` times the driving's typical
  length where the reference bone is missing, not confidently seen, implausible (more than
  ``PLAUSIBLE_RATIO`` away from the driving bone at figure scale: a misdetection such as MediaPipe's
  guessed knees on a half-body photo) or hangs below a bone that fell back;
- the skeleton is walked from the neck outwards keeping each bone's direction: ``bone_lengths="scaled"``
  multiplies each bone by target / typical (foreshortening kept: a turned shoulder line stays short),
  ``"exact"`` gives every bone its target length in every frame;
- the root (neck) path is the driving one scaled by ``s`` and shifted so that the neck sits on the
  reference's neck in the first frame with a neck (``root_motion="follow"``), or the neck stays there
  (``"fixed"``);
- ``placement="driving"`` instead keeps the driving person's place, overall size and canvas: targets are
  divided by ``s`` (the reference's proportions at the driving person's size) and the root stays put;
- hands follow their new wrists (scaled like their forearm), the face follows the new nose (scaled like
  the head bones); a point whose parent joint is missing follows its nearest present ancestor at scale
  ``s``, and a frame without a neck is mapped by the figure scale and root shift alone.
The output canvas is the reference's (the driving one's with ``placement="driving"``); with ``width`` x
``height`` that canvas is centre-cropped to their aspect and scaled, as PoseGen fits its reference image
(``media.images.centre_crop``, which posegen.conditioning.fit_reference uses too), so the poses line up with
the fitted reference. Missing points stay missing; points that land off the output canvas become
missing, as OpenPose reports none there. ``retarget_landmarks`` moves Detect Pose's 3D landmarks the
same way, so hand normal maps stay on the retargeted wrists.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from ..core.errors import InputError
from ..core.layouts import OPENPOSE_LIMBS
from ..core.motion import Motion, validate_motion
from ..core.pose_keypoint import make_frame, make_person, person_arrays, validate_pose_keypoint
from ..media.images import centre_crop

BONE_LENGTHS = ("scaled", "exact")
ROOT_MOTIONS = ("follow", "fixed")
PLACEMENTS = ("reference", "driving")
CONFIDENT = 0.3  # a point is measured from at this confidence (the skeleton renderer's default body threshold)
TYPICAL_PERCENTILE = 90  # a driving bone's typical length over frames: near unforeshortened, robust to spikes
PLAUSIBLE_RATIO = 1.5  # a reference bone this much longer or shorter than expected is misdetected (adults: ~15 %)
NECK, NOSE = 1, 0
WRISTS = {"left_hand": 7, "right_hand": 4}  # OpenPose-18 wrist of each hand
FOREARMS = {"left_hand": OPENPOSE_LIMBS.index((6, 7)), "right_hand": OPENPOSE_LIMBS.index((3, 4))}
HEAD_BONES = [OPENPOSE_LIMBS.index(bone) for bone in ((0, 14), (14, 16), (0, 15), (15, 17))]
PARENT = {child: parent for parent, child in OPENPOSE_LIMBS}
# Holistic-75 landmark -> the OpenPose-18 joint it moves with (itself where it is one, else the joint it
# hangs from: eye corners, mouth, fingers, heels and toes); hands follow their wrists.
HOLISTIC_TO_OPENPOSE = (0, 15, 15, 15, 14, 14, 14, 17, 16, 0, 0, 5, 2, 6, 3, 7, 4, 7, 4, 7, 4, 7, 4,
                        11, 8, 12, 9, 13, 10, 13, 10, 13, 10) + (7,) * 21 + (4,) * 21


@dataclass(frozen=True)
class FrameMap:
    """Where one frame's driving body joints (pixels) went, in pixels of the canvas placement names."""
    old: np.ndarray  # [18, 2] driving pixels
    new: np.ndarray  # [18, 2] placed pixels (before the output crop)
    placed: np.ndarray  # [18] bool: present in the driving frame, and so moved
    shift: np.ndarray  # [2]: the figure-scale map of this frame is new = s * old + shift

    def follow(self, points: np.ndarray, joint: int, scale: float) -> np.ndarray | None:
        """Points attached to ``joint`` (pixels [N, 2]) moved with it, their offsets scaled by ``scale``;
        the nearest placed ancestor stands in for a missing joint; None when even the neck is missing."""
        while not self.placed[joint] and joint != NECK:
            joint = PARENT[joint]
        if not self.placed[joint]:
            return None
        return self.new[joint] + scale * (points - self.old[joint])


@dataclass(frozen=True)
class Retargeted:
    pose_keypoint: list[dict]  # POSE_KEYPOINT on the output canvas
    scale: float  # the scale applied to the driving figure: s (reference pixels per driving pixel), or 1
    reference_scale: float  # s as measured, whatever the placement
    reference_bones: np.ndarray  # [17] bool per OPENPOSE_LIMBS: the reference's own length was used
    maps: list[FrameMap | None]  # per frame; None where the frame has no driving person
    part_scales: dict[str, float]  # left_hand / right_hand / face: how their offsets were scaled
    canvas: tuple[int, int]  # the output (width, height)
    crop: tuple[np.ndarray, np.ndarray]  # output pixels = (placed pixels - crop[0]) * crop[1]

    def to_output(self, pixels: np.ndarray) -> np.ndarray:
        """Placed pixels -> normalised coordinates of the output canvas."""
        return (pixels - self.crop[0]) * self.crop[1] / np.array(self.canvas, np.float64)


def retarget_poses(driving: list[dict], reference: dict | list[dict], bone_lengths: str = "scaled",
                   root_motion: str = "follow", width: int = 0, height: int = 0,
                   placement: str = "reference") -> list[dict]:
    """The driving POSE_KEYPOINT frames with the reference person's proportions and place (module docstring)."""
    return retarget_sequence(driving, reference, bone_lengths, root_motion, width, height, placement).pose_keypoint


def retarget_sequence(driving, reference, bone_lengths: str = "scaled", root_motion: str = "follow",
                      width: int = 0, height: int = 0, placement: str = "reference") -> Retargeted:
    """``retarget_poses`` with what was used: the figure scale, which reference bones, per-frame maps."""
    if bone_lengths not in BONE_LENGTHS:
        raise InputError("bone_lengths", f"expected one of {BONE_LENGTHS}, got {bone_lengths!r}")
    if root_motion not in ROOT_MOTIONS:
        raise InputError("root_motion", f"expected one of {ROOT_MOTIONS}, got {root_motion!r}")
    if placement not in PLACEMENTS:
        raise InputError("placement", f"expected one of {PLACEMENTS}, got {placement!r}")
    frames = validate_pose_keypoint(driving, "driving")
    ref_body, reference_canvas = _reference_body(reference)
    people = _driving_people(frames)
    sizes = np.array([(frame["canvas_width"], frame["canvas_height"]) for frame in frames], np.float64)
    canvas, crop = _output_canvas(reference_canvas if placement == "reference" else tuple(int(v) for v in sizes[0]),
                                  width, height)
    bodies = np.zeros((len(frames), 18, 3))  # driving body in pixels; confidence 0 where missing
    for t, person in enumerate(people):
        body = person_arrays(person)["body"] if person is not None else None
        if body is not None:
            bodies[t] = np.concatenate([body[:, :2] * sizes[t], body[:, 2:]], axis=1)
    typical = _typical_lengths(bodies)
    reference_lengths = _lengths(ref_body[None])[0]
    reference_scale, used, target = _targets(reference_lengths, typical)
    scale = reference_scale if placement == "reference" else 1.0
    target = target * scale / reference_scale
    ratio = np.where(np.isfinite(target / typical), target / typical, scale)
    part_scales = {part: float(ratio[bone]) for part, bone in FOREARMS.items()}
    part_scales["face"] = float(np.median(ratio[HEAD_BONES]))
    roots = _root_path(bodies)
    # the neck's place at the anchor frame: the reference's, or the driving one's own
    ref_neck = ref_body[NECK, :2] if placement == "reference" else roots[0]
    out_frames, maps = [], []
    result = Retargeted(out_frames, scale, reference_scale, used, maps, part_scales, canvas, crop)  # lists fill below
    for t, person in enumerate(people):
        if person is None:
            out_frames.append(make_frame([], *canvas))
            maps.append(None)
            continue
        anchor = roots[0] if root_motion == "follow" else roots[t]
        frame_map = _walk(bodies[t], ref_neck - scale * anchor, scale, ratio, target, bone_lengths == "exact")
        maps.append(frame_map)
        out_frames.append(make_frame([_moved_person(person, bodies[t], frame_map, result, sizes[t])], *canvas))
    return result


def retarget_landmarks(landmarks: Motion, result: Retargeted, input_name: str = "landmarks_3d") -> Motion:
    """Detect Pose's holistic-75 image-space landmarks of the driving person, moved like its keypoints
    (each landmark with its OpenPose joint, ``HOLISTIC_TO_OPENPOSE``); depth scales with the offsets.
    Frames without a driving person come back unseen (visibility 0)."""
    validate_motion(landmarks, input_name)
    if landmarks.layout != "mediapipe_holistic_75_image":
        raise InputError(input_name, f"expected Detect Pose's 'mediapipe_holistic_75_image' landmarks, "
                                     f"got layout {landmarks.layout!r}")
    if landmarks.num_frames != len(result.maps):
        raise InputError(input_name, f"has {landmarks.num_frames} frames, the driving poses {len(result.maps)}: "
                                     "connect the landmarks of the same Detect Pose node")
    old_size = np.array(landmarks.canvas_size, np.float64)
    joints = landmarks.joints.numpy().astype(np.float64)
    visibility = landmarks.visibility().numpy().copy()
    moved = np.zeros_like(joints)
    offset_scale = np.array([result.scale] * 33 + [result.part_scales["left_hand"]] * 21
                            + [result.part_scales["right_hand"]] * 21)
    for t, frame_map in enumerate(result.maps):
        if frame_map is None:
            visibility[t] = 0.0
            continue
        pixels = joints[t, :, :2] * old_size
        for index, joint in enumerate(HOLISTIC_TO_OPENPOSE):
            point = frame_map.follow(pixels[index], joint, offset_scale[index])
            if point is None:
                point = result.scale * pixels[index] + frame_map.shift
            moved[t, index, :2] = result.to_output(point)
        # depth in units of x, scaled like the offsets
        moved[t, :, 2] = joints[t, :, 2] * old_size[0] * offset_scale * result.crop[1][0] / result.canvas[0]
    moved[visibility <= 0] = 0.0
    return Motion(joints=torch.from_numpy(moved.astype(np.float32)), fps=landmarks.fps, layout=landmarks.layout,
                  params={**landmarks.params, "visibility": torch.from_numpy(visibility.astype(np.float32))},
                  canvas_size=tuple(int(v) for v in result.canvas))


def _reference_body(reference) -> tuple[np.ndarray, tuple[int, int]]:
    """The reference person's body in pixels [18, 3] and the reference canvas (width, height)."""
    frame = validate_pose_keypoint(reference, "reference")[0]
    if not frame["people"]:
        raise InputError("reference", "no person in the reference's first frame: detect the pose on an image "
                                      "where the person is visible")
    body = person_arrays(frame["people"][0])["body"]
    if body is None or not (body[:, 2] >= CONFIDENT).any():
        raise InputError("reference", "the reference person has no body keypoints")
    if body[NECK, 2] < CONFIDENT:
        raise InputError("reference", f"the reference person's neck (both shoulders) is not seen with confidence "
                                      f">= {CONFIDENT}: the figure is placed by it")
    canvas = (int(frame["canvas_width"]), int(frame["canvas_height"]))
    return np.concatenate([body[:, :2] * np.array(canvas, np.float64), body[:, 2:]], axis=1), canvas


def _output_canvas(reference: tuple[int, int], width: int, height: int):
    """(output canvas, (crop origin, scale)): the reference canvas, or its centre crop to width:height, scaled."""
    if (width == 0) != (height == 0) or width < 0 or height < 0:
        raise InputError("width" if width <= 0 else "height", f"set both width and height (or both to 0 for the "
                                                               f"reference's canvas), got {width}x{height}")
    w, h = reference
    if width == 0:
        return (w, h), (np.zeros(2), np.ones(2))
    x0, y0, crop_w, crop_h = centre_crop((w, h), width, height) or (0, 0, w, h)
    origin, crop = np.array([x0, y0], np.float64), np.array([crop_w, crop_h], np.float64)
    return (int(width), int(height)), (origin, np.array([width, height], np.float64) / crop)


def _driving_people(frames: list[dict]) -> list[dict | None]:
    first = next((frame["people"][0] for frame in frames if frame["people"]), None)
    if first is None:
        raise InputError("driving", "no frame has a person to retarget")
    track = first.get("track_id")
    return [next((p for p in frame["people"] if track is None or p.get("track_id") == track), None)
            for frame in frames]


def _lengths(bodies: np.ndarray) -> np.ndarray:
    """[T, 18, 3] pixels -> [T, 17] bone lengths, NaN where an end is not confidently seen."""
    a = bodies[:, [p for p, _ in OPENPOSE_LIMBS]]
    b = bodies[:, [c for _, c in OPENPOSE_LIMBS]]
    length = np.linalg.norm(a[..., :2] - b[..., :2], axis=-1)
    return np.where((a[..., 2] >= CONFIDENT) & (b[..., 2] >= CONFIDENT), length, np.nan)


def _typical_lengths(bodies: np.ndarray) -> np.ndarray:
    lengths = _lengths(bodies)
    seen = np.isfinite(lengths).any(axis=0)
    typical = np.full(lengths.shape[1], np.nan)
    typical[seen] = np.nanpercentile(lengths[:, seen], TYPICAL_PERCENTILE, axis=0)
    return np.where(typical > 0, typical, np.nan)


def _targets(reference: np.ndarray, typical: np.ndarray) -> tuple[float, np.ndarray, np.ndarray]:
    """(figure scale, [17] reference bone used, [17] target lengths, NaN where neither person measures it)."""
    if not np.isfinite(typical).any():
        raise InputError("driving", f"no bone of the driving person is seen (both ends at confidence >= {CONFIDENT}) "
                                    "in any frame")
    ratios = reference / typical
    measured = np.isfinite(ratios) & (ratios > 0)
    if not measured.any():
        raise InputError("reference", "shares no seen bone with the driving person (both ends of at least one "
                                      f"OpenPose bone need confidence >= {CONFIDENT} in both)")
    body = measured.copy()
    body[HEAD_BONES] = False  # eyes and ears are a few pixels apart on a small driver: too noisy for the scale
    scale = float(np.median(ratios[body if body.any() else measured]))
    used = np.zeros(len(OPENPOSE_LIMBS), bool)
    bone_to = {child: k for k, (_, child) in enumerate(OPENPOSE_LIMBS)}
    for k, (parent, _) in enumerate(OPENPOSE_LIMBS):  # parents come first
        plausible = measured[k] and 1 / PLAUSIBLE_RATIO <= ratios[k] / scale <= PLAUSIBLE_RATIO
        used[k] = plausible and (parent == NECK or used[bone_to[parent]])
    return scale, used, np.where(used, reference, scale * typical)  # reference pixels


def _root_path(bodies: np.ndarray) -> np.ndarray:
    """[T, 2] driving neck per frame, held from the nearest earlier (else later) frame where it is missing."""
    seen = np.flatnonzero(bodies[:, NECK, 2] > 0)
    if not len(seen):
        raise InputError("driving", "the driving person's neck (both shoulders) is missing in every frame")
    nearest = seen[np.clip(np.searchsorted(seen, np.arange(len(bodies)), side="right") - 1, 0, None)]
    return bodies[nearest, NECK, :2]


def _walk(body: np.ndarray, shift: np.ndarray, scale: float, ratio: np.ndarray, target: np.ndarray,
          exact: bool) -> FrameMap:
    """One frame's body walked from the neck outwards (module docstring)."""
    old, present = body[:, :2], body[:, 2] > 0
    new = np.zeros((18, 2))
    placed = np.zeros(18, bool)
    if present[NECK]:
        new[NECK], placed[NECK] = scale * old[NECK] + shift, True
    for k, (parent, child) in enumerate(OPENPOSE_LIMBS):
        if not present[child]:
            continue
        if placed[parent]:
            delta = old[child] - old[parent]
            length = np.linalg.norm(delta)
            factor = target[k] / length if exact and length > 1e-9 and np.isfinite(target[k]) else ratio[k]
            new[child] = new[parent] + factor * delta
        else:
            partial = FrameMap(old, new, placed, shift).follow(old[child], parent, scale)
            new[child] = partial if partial is not None else scale * old[child] + shift
        placed[child] = True
    return FrameMap(old, new, placed, shift)


def _moved_person(person: dict, body: np.ndarray, frame_map: FrameMap, result: Retargeted,
                  old_size: np.ndarray) -> dict:
    parts = person_arrays(person)
    moved = {"body": None if parts["body"] is None else _on_canvas(result.to_output(frame_map.new), body[:, 2])}
    anchors = {**WRISTS, "face": NOSE}
    for name in ("left_hand", "right_hand", "face"):
        points = parts[name]
        if points is None:
            moved[name] = None
            continue
        pixels = points[:, :2] * old_size
        new = frame_map.follow(pixels, anchors[name], result.part_scales[name])
        new = new if new is not None else result.scale * pixels + frame_map.shift
        moved[name] = _on_canvas(result.to_output(new), points[:, 2])
    out = make_person(**moved)
    if "track_id" in person:
        out["track_id"] = person["track_id"]
    return out


def _on_canvas(xy: np.ndarray, confidence: np.ndarray) -> np.ndarray:
    """Normalised points with their confidence; missing (0) where absent or off the canvas."""
    inside = (xy >= 0).all(axis=1) & (xy <= 1).all(axis=1)
    return np.concatenate([xy, np.where(inside, confidence, 0.0)[:, None]], axis=1)
