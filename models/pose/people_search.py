"""Finding people frame by frame: which image MediaPipe Holistic sees, and who is who over time.

``search_people`` turns frames into ``Sighting``s keyed by track id, one dict per frame. Holistic's
points come back normalised to the image it saw; a ``Sighting`` holds them normalised to the full
frame (``Crop.to_frame``), in the 75-point holistic layout with visibility in column 3 (hands 1.0 where
found, their z made absolute by adding the body wrist's z).

Three ways, chosen by ``DetectionSettings``:

- ``person_crop=False``: Holistic on the full frame, one person (track 0); what MediaPipe does alone.
- ``person_crop=True`` (default): the person detector (``person_boxes``) finds the person; Holistic then
  runs on an upscaled crop around them (``crops``), or on the whole frame where the crop shows nobody
  (a close-up whose hips are off the picture). In video mode the crop stays put while the person
  stays inside it (``Crop.holds``), so Holistic's own tracking keeps working, and moves (resetting the
  tracking) when they reach its edge. Frames where nobody was found are searched again afterwards in the crop
  of the nearest frame with a person (at most ``REVISIT_FRAMES`` away), which fills a clip's first
  frames and short drop-outs.
- ``people="all"`` (always with crops, whatever ``person_crop`` says): in video mode each person gets
  a track: a Holistic graph of their own, tracking in their own crop as above, so the id stays with
  the person. Boxes the detector finds (on the whole frame, and every ``SEARCH_EVERY`` frames also on
  tiles, for newcomers far away) away from everyone followed get a still-image Holistic run on their
  crop; a clear person not seen yet takes over a lost track whose crop they stand in, or starts a new
  one (whose graph looks once at that frame, so it tracks from the next). One person seen twice
  (crops overlap) counts once (``_is_new``); where Holistic finds someone already found, it looks
  again with them painted over (``_hide``). Holistic mixes people who overlap (one's head or arm on the
  other), so a track also keeps what its person's torso looks like (``_torso_colours``) and, while they
  overlap someone, refuses a skeleton whose torso does not. Tracks seen in fewer than
  ``MIN_TRACK_FRAMES`` frames are dropped, and ids are renumbered 0, 1, 2 ... in the order people
  appear. In image mode every image is searched afresh and its people are numbered within it.
"""

from __future__ import annotations

import itertools
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING

import cv2
import mediapipe as mp
import numpy as np

from ..core.layouts import MEDIAPIPE_33_BONES
from ..core.resources import ProgressCallback
from .crops import Crop
from .person_boxes import Box, PersonDetector, find_people, find_someone, merge_boxes

if TYPE_CHECKING:
    from .detection import DetectionSettings

REVISIT_FRAMES = 15  # how far (frames) a missed frame may borrow a crop from a frame with a person
MIN_VISIBILITY = 0.5  # with people="all", sightings whose body points are less visible on average are dropped
MIN_PERSON_SIZE = 0.06  # ... and so are bodies smaller than this fraction of the frame's longer side (a
# ceiling camera in pose2sim's multi-person demo, 5 %, looks like a tiny person; the smallest real one is 20 %)
SILHOUETTE_WIDTH = 0.35  # limb thickness when painting a person over, as a fraction of their torso length
GREY = (128, 128, 128)
TRACK_PATIENCE = 10  # with people="all", frames a person may go unseen before their track (and id) ends
MIN_TRACK_FRAMES = 3  # with people="all" in video mode, tracks seen in fewer frames are dropped
SAME_POINTS = 0.3  # two sightings with this share of body points together are one person seen twice
NEAR = 0.1  # "together": closer than this fraction of the smaller person's box side
BODY_POINTS = [0, *range(11, 33)]  # the head counted once (nose): a skeleton with its head on a neighbour's
# face shares that neighbour's 11 face points, which would otherwise make a third of the body "together"
COLOUR_CHANGE = 0.5  # a torso whose colours differ this much (``_colour_change``) from a track's is someone else;
# on pose2sim's multi-person demo a person against their own earlier frames scored at most 0.36 where
# Holistic did not mix them with a neighbour, and 0.45-0.92 where it did (frames looked at)
COLOUR_MEMORY = 0.97  # the running mean keeps this much of the past at each frame (lighting changes slowly)
TORSO_CORE = 0.6  # the torso's colours are taken from its quadrilateral shrunk to this size
TORSO_QUAD = [11, 12, 24, 23]  # shoulders and hips, in order around the torso
TORSO_INDEX = [BODY_POINTS.index(i) for i in TORSO_QUAD]
SAME_TORSO = 0.5  # ... with at least this share of the torso's points among them
SEARCH_EVERY = 10  # with people="all", tiles are searched for newcomers every this many frames
FULL_FRAME = None  # the "crop" meaning: Holistic sees the whole frame

_GRAPHS: dict[tuple, object] = {}


@dataclass(frozen=True)
class Sighting:
    points: np.ndarray  # [75, 4] frame-normalised x, y, z and visibility
    world: np.ndarray | None  # [33, 4] metres, hip-centred, y up (see detection's module docstring)
    face: np.ndarray | None  # [468, 4] frame-normalised face mesh
    mask: np.ndarray | None  # [H, W] Holistic's own person segmentation, when asked for

    @property
    def visibility(self) -> float:
        """Mean visibility of the 33 body points: low for things that only look a little like a person."""
        return float(self.points[:33, 3].mean())

    def box(self, width: int, height: int) -> Box:
        return Box.around(self.points[:33, :2] * np.array([width, height], np.float32))


def _build_holistic(still: bool, settings: DetectionSettings):
    return mp.solutions.holistic.Holistic(
        static_image_mode=still,
        model_complexity=1,  # the only pose model the wheel ships
        smooth_landmarks=not still,
        enable_segmentation=settings.mask == "pose_segmentation",
        refine_face_landmarks=False,
        min_detection_confidence=settings.min_confidence,
        min_tracking_confidence=settings.min_confidence,
    )


def _holistic(still: bool, settings: DetectionSettings):
    """MediaPipe graphs are slow to build (~0.3 s), so keep one per configuration."""
    key = ("holistic", still, settings.min_confidence, settings.mask == "pose_segmentation")
    if key not in _GRAPHS:
        _GRAPHS[key] = _build_holistic(still, settings)
    return _GRAPHS[key]


def _person_detector() -> PersonDetector:
    if "detector" not in _GRAPHS:
        _GRAPHS["detector"] = PersonDetector()
    return _GRAPHS["detector"]


def selfie_masks(rgb: np.ndarray) -> np.ndarray:
    """MediaPipe's selfie segmentation of every frame: [B, H, W] float32 person probability."""
    if "selfie" not in _GRAPHS:
        _GRAPHS["selfie"] = mp.solutions.selfie_segmentation.SelfieSegmentation(model_selection=1)
    masks = np.empty(rgb.shape[:3], np.float32)  # filled in place: a stacked copy costs 2 ms a frame
    for i, frame in enumerate(rgb):
        masks[i] = _GRAPHS["selfie"].process(frame).segmentation_mask
    return masks


def _landmark_array(landmarks, count: int) -> np.ndarray | None:
    """MediaPipe landmark list -> [count, 4] (x, y, z, visibility) or None."""
    if landmarks is None:
        return None
    points = np.array([(p.x, p.y, p.z, p.visibility) for p in landmarks.landmark], np.float32)
    return points[:count]


def _look(holistic, frame: np.ndarray, crop: Crop | None, face: bool) -> Sighting | None:
    """One Holistic run on the frame or on a crop of it, mapped back to the full frame."""
    height, width = frame.shape[:2]
    result = holistic.process(frame if crop is None else crop.cut(frame))
    body = _landmark_array(result.pose_landmarks, 33)
    if body is None:
        return None
    points = np.zeros((75, 4), np.float32)
    points[:33] = body
    for offset, hand in ((33, result.left_hand_landmarks), (54, result.right_hand_landmarks)):
        hand = _landmark_array(hand, 21)
        if hand is not None:
            hand[:, 2] += body[15 if offset == 33 else 16, 2]  # hand z is relative to its wrist
            hand[:, 3] = 1.0
            points[offset:offset + 21] = hand
    world = _landmark_array(result.pose_world_landmarks, 33)
    if world is not None:
        world = world * np.array([1, -1, -1, 1], np.float32)  # y down, z away -> y up, z toward
    mesh = _landmark_array(result.face_landmarks, 468) if face else None
    mask = result.segmentation_mask
    if crop is not None:
        points = crop.to_frame(points, width, height)
        mesh = None if mesh is None else crop.to_frame(mesh, width, height)
        mask = None if mask is None else crop.paste(mask, width, height)
    return Sighting(points, world, mesh, mask)


def search_people(rgb: np.ndarray, settings: DetectionSettings,
                  progress: ProgressCallback | None = None) -> list[dict[int, Sighting]]:
    """[B, H, W, 3] uint8 frames -> per frame {track id: Sighting} (see the module docstring)."""
    if settings.people == "all":
        return _everyone(rgb, settings, progress)
    if not settings.person_crop:
        holistic = _holistic(not settings.video, settings)
        holistic.reset()  # a new sequence: forget the previous call's tracking state
        found = []
        for i, frame in enumerate(rgb):
            seen = _look(holistic, frame, FULL_FRAME, settings.face)
            found.append({} if seen is None else {0: seen})
            _report(progress, i, len(rgb))
        return found
    return _one_in_crop(rgb, settings, progress)


def _report(progress: ProgressCallback | None, index: int, count: int) -> None:
    if progress is not None:
        progress(index + 1, count)


def _best_box(frame: np.ndarray) -> Box | None:
    """The best-scoring person on the whole frame (as Holistic would pick), or in tiles if none."""
    boxes = find_someone(_person_detector(), frame)
    return boxes[0] if boxes else None


def _one_in_crop(rgb: np.ndarray, settings: DetectionSettings, progress) -> list[dict[int, Sighting]]:
    count, height, width = rgb.shape[:3]
    holistic = _holistic(not settings.video, settings)
    holistic.reset()
    found: list[Sighting | None] = []
    crop = None
    for i, frame in enumerate(rgb):
        # in image mode every frame is searched afresh: a batch may hold unrelated photos
        seen = None if crop is None or not settings.video else _look(holistic, frame, crop, settings.face)
        if seen is None:
            seen, crop = _find_one(frame, holistic, settings)
        if seen is None:
            crop = None
        elif not crop.holds(seen.box(width, height)):
            crop = Crop.around(seen.box(width, height))
            holistic.reset()
        found.append(seen)
        _report(progress, i, count)
    if settings.video:  # in image mode neighbouring images may be unrelated photos
        _revisit_missed(rgb, found, settings)
    return [{} if seen is None else {0: seen} for seen in found]


def _find_one(frame: np.ndarray, holistic, settings: DetectionSettings) -> tuple[Sighting | None, Crop | None]:
    """Look for the person afresh: in a crop around the detector's best box, else on the whole frame
    (the crop never does worse than the whole frame: a close-up's hips may be off it)."""
    height, width = frame.shape[:2]
    box = _best_box(frame)
    crop = None if box is None else Crop.around(box)
    holistic.reset()
    seen = None if crop is None else _look(holistic, frame, crop, settings.face)
    if seen is None:  # the detector's crop showed nobody: frame the person the whole frame found instead
        seen = _look(_holistic(True, settings), frame, FULL_FRAME, settings.face)
        crop = None if seen is None else Crop.around(seen.box(width, height))
    return seen, crop


def _missed_near_sightings(seen_at: list[int], count: int) -> Iterator[tuple[int, int]]:
    """(frame, the nearest frame that has the person) for each of ``count`` frames without them that lies
    within REVISIT_FRAMES of one; ``seen_at``: the frames that have them, ascending."""
    seen = set(seen_at)
    for i in range(count):
        if i not in seen and seen_at:
            nearest = min(seen_at, key=lambda j: abs(j - i))
            if abs(nearest - i) <= REVISIT_FRAMES:
                yield i, nearest


def _revisit_missed(rgb: np.ndarray, found: list[Sighting | None], settings: DetectionSettings) -> None:
    """Search frames without a person again, in the crop of the nearest frame that has one."""
    height, width = rgb.shape[1:3]
    seen_at = [i for i, seen in enumerate(found) if seen is not None]
    for i, nearest in _missed_near_sightings(seen_at, len(found)):
        # the still graph is built only when needed: an unused MediaPipe graph logs when it closes
        crop = Crop.around(found[nearest].box(width, height))
        found[i] = _look(_holistic(True, settings), rgb[i], crop, settings.face)


@dataclass
class _Track:
    """One person followed through a video: a Holistic graph of its own, tracking in its own crop."""

    graph: object
    crop: Crop
    box: Box  # where the person was last seen
    unseen: int = 0  # frames since the person was last seen
    colours: np.ndarray | None = None  # what their torso looks like (``_torso_colours``), a running mean


def _everyone(rgb: np.ndarray, settings: DetectionSettings, progress) -> list[dict[int, Sighting]]:
    count, height, width = rgb.shape[:3]
    tracks: dict[int, _Track] = {}
    new_ids = itertools.count()
    out = []
    try:
        for i, frame in enumerate(rgb):
            people: dict[int, Sighting] = {}
            if settings.video:
                _follow(tracks, frame, people, settings)
            search_tiles = i % SEARCH_EVERY == 0 or not settings.video
            fresh = find_people(_person_detector(), frame) if search_tiles else _person_detector().boxes(frame)
            for box in merge_boxes(fresh):
                if any(_centre_inside(box, seen.box(width, height)) for seen in people.values()):
                    continue  # someone already followed
                crop = Crop.around(box)
                seen = _look(_holistic(True, settings), frame, crop, settings.face)
                if seen is not None and not _is_new(seen, frame, people.values()):
                    # Holistic found someone already seen (the more prominent person in the crop):
                    # look again with the people found so far painted over
                    seen = _look(_holistic(True, settings), _hide(frame, people.values()), crop, settings.face)
                if seen is not None and _is_new(seen, frame, people.values()):
                    if settings.video:
                        people[_track_for(tracks, seen, frame, new_ids, settings)] = seen
                    else:  # unrelated images: people are numbered within each
                        people[len(people)] = seen
            out.append(people)
            _report(progress, i, count)
    finally:
        for track in tracks.values():
            track.graph.close()
    if settings.video:  # a "person" seen for a moment is a poster or a shadow
        frames_seen = Counter(track for frame in out for track in frame)
        out = [{t: seen for t, seen in frame.items() if frames_seen[t] >= MIN_TRACK_FRAMES} for frame in out]
        _fill_gaps(rgb, out, settings)
    # ids count 0, 1, 2 ... in the order people first appear
    order = {track: n for n, track in enumerate(dict.fromkeys(t for frame in out for t in sorted(frame)))}
    return [{order[t]: seen for t, seen in frame.items()} for frame in out]


def _fill_gaps(rgb: np.ndarray, out: list[dict[int, Sighting]], settings: DetectionSettings) -> None:
    """Look again for each followed person in the frames where the forward pass missed them, up to
    REVISIT_FRAMES from a frame that has them: before they were first found (newcomers are searched for
    only every SEARCH_EVERY frames) and while they were lost (e.g. half behind someone). The look is in
    their crop of the nearest frame that has them, on the frame as it is and then with the people the
    missed frame has painted over (a skeleton mixed from two people paints over part of the one missed);
    a find is kept only if it is a new person whose centre stays in that crop and, where it overlaps
    someone the frame has, whose torso looks like theirs in that nearest frame."""
    height, width = rgb.shape[1:3]
    found = {track: [i for i, frame in enumerate(out) if track in frame] for track in {t for f in out for t in f}}
    for track in sorted(found):
        for i, nearest in _missed_near_sightings(found[track], len(out)):
            them = out[nearest][track]
            crop, colours = Crop.around(them.box(width, height)), _torso_colours(rgb[nearest], them)
            others = list(out[i].values())
            for image in (rgb[i], _hide(rgb[i], others)) if others else (rgb[i],):
                seen = _look(_holistic(True, settings), image, crop, settings.face)
                if seen is not None and _centre_inside(seen.box(width, height), crop.square) \
                        and _is_new(seen, rgb[i], others) \
                        and _looks_like_them(seen, rgb[i], colours, [other.box(width, height) for other in others]):
                    out[i][track] = seen
                    break


def _follow(tracks: dict[int, _Track], frame: np.ndarray, people: dict[int, Sighting],
            settings: DetectionSettings) -> None:
    """Each followed person's own graph looks in its own crop (oldest tracks first, so when two graphs
    land on one person the older id keeps them). A graph that lost its person (it landed on someone
    already found, or mixed two people) looks again once everyone else has looked, with all the people
    found in the frame painted over. Tracks unseen for TRACK_PATIENCE frames end."""
    lost = []
    for track_id in sorted(tracks):
        seen = _look(tracks[track_id].graph, frame, tracks[track_id].crop, settings.face)
        if seen is not None and _stayed(seen, track_id, tracks, frame, people.values()):
            _seen_again(tracks[track_id], frame, seen)
            people[track_id] = seen
        else:
            lost.append(track_id)
    for track_id in lost:
        track = tracks[track_id]
        seen = _look(track.graph, _hide(frame, people.values()), track.crop, settings.face) if people else None
        if seen is not None and _stayed(seen, track_id, tracks, frame, people.values()):
            _seen_again(track, frame, seen)
            people[track_id] = seen
            continue
        track.unseen += 1
        track.graph.reset()  # search its crop afresh next frame
        if track.unseen > TRACK_PATIENCE:
            track.graph.close()
            del tracks[track_id]


def _seen_again(track: _Track, frame: np.ndarray, seen: Sighting) -> None:
    """Move a track on to where its person was seen now: box, colours, and the crop if they reached its edge."""
    box = seen.box(*frame.shape[1::-1])
    track.box, track.unseen = box, 0
    colours = _torso_colours(frame, seen)
    if colours is not None:
        past = colours if track.colours is None else track.colours
        track.colours = (1 - COLOUR_MEMORY) * colours + COLOUR_MEMORY * past
    if not track.crop.holds(box):
        track.crop = Crop.around(box)
        track.graph.reset()


def _stayed(seen: Sighting, track_id: int, tracks: dict[int, _Track], frame: np.ndarray, people) -> bool:
    """Whether a track's graph still sees its own person: a new person (``_is_new``) who has not jumped out
    of the track's last box and, where they overlap someone else followed, whose torso still looks like
    theirs (a graph may land on a neighbour in its crop, at once or drifting over a few frames, or mix two
    overlapping people into one skeleton)."""
    track = tracks[track_id]
    return _centre_inside(seen.box(*frame.shape[1::-1]), track.box) and _is_new(seen, frame, people) \
        and _looks_like_them(seen, frame, track.colours, [t.box for other, t in tracks.items() if other != track_id])


def _looks_like_them(seen: Sighting, frame: np.ndarray, colours: np.ndarray | None, neighbours: list[Box]) -> bool:
    """Whether a sighting's torso shows a person's ``colours``, asked only where it overlaps one of the
    ``neighbours`` (someone Holistic could have mixed it with); alone, a person may change how they look
    (turning, backlit)."""
    box = seen.box(*frame.shape[1::-1])
    if not any(box.iou(other) > 0 for other in neighbours):
        return True
    return _colour_change(colours, _torso_colours(frame, seen)) < COLOUR_CHANGE


def _track_for(tracks: dict[int, _Track], seen: Sighting, frame: np.ndarray, new_ids: Iterator[int],
               settings: DetectionSettings) -> int:
    """The id of a newly found person: a lost track whose crop they stand in, else a new track. The
    track's graph looks once at this frame in its new crop, so that it can track from the next frame
    on instead of having to detect again."""
    box = seen.box(*frame.shape[1::-1])
    crop, colours = Crop.around(box), _torso_colours(frame, seen)
    for track_id, track in tracks.items():
        if track.unseen > 0 and _centre_inside(box, track.crop.square):
            track.crop, track.box, track.unseen = crop, box, 0
            track.colours = colours
            track.graph.reset()
            break
    else:
        track_id = next(new_ids)
        tracks[track_id] = track = _Track(_build_holistic(False, settings), crop, box, colours=colours)
    _look(track.graph, frame, crop, settings.face)
    return track_id


def _centre_inside(box: Box, other: Box) -> bool:
    x, y = (box.x0 + box.x1) / 2, (box.y0 + box.y1) / 2
    return other.x0 <= x <= other.x1 and other.y0 <= y <= other.y1


def _is_new(seen: Sighting, frame: np.ndarray, people) -> bool:
    """Whether a sighting is a clear person not already among ``people``. Crops overlap, so one person is
    often seen from two boxes; and Holistic mixes overlapping people (a head or an arm on the neighbour),
    so two skeletons of one person may differ. The same person: SAME_POINTS of the body points together,
    torso included (a skeleton that only borrowed a neighbour's head and arm is still someone else), or a
    sighting standing inside someone already found whose torso looks like theirs (``_colour_change``)."""
    height, width = frame.shape[:2]
    scale = np.array([width, height], np.float32)
    box, points = seen.box(width, height), seen.points[BODY_POINTS, :2] * scale
    if seen.visibility < MIN_VISIBILITY or max(box.x1 - box.x0, box.y1 - box.y0) < MIN_PERSON_SIZE * max(width, height):
        return False
    colours = None  # the sighting's torso colours, taken only once someone's box holds it
    for other in people:
        other_box = other.box(width, height)
        side = min(max(b.x1 - b.x0, b.y1 - b.y0) for b in (box, other_box))
        together = np.linalg.norm(points - other.points[BODY_POINTS, :2] * scale, axis=1) < NEAR * side
        if together.mean() >= SAME_POINTS and together[TORSO_INDEX].mean() >= SAME_TORSO:
            return False
        if _centre_inside(box, other_box):
            colours = _torso_colours(frame, seen) if colours is None else colours
            if _looks_alike(colours, _torso_colours(frame, other)):
                return False
    return True


def _torso_colours(frame: np.ndarray, seen: Sighting) -> np.ndarray | None:
    """A hue-saturation histogram (16 x 8 bins, summing to 1) of the middle of the torso: the quadrilateral
    of shoulders and hips shrunk to TORSO_CORE about its centre, so the background and arms stay out.
    None where no torso pixel is in the frame."""
    height, width = frame.shape[:2]
    quad = seen.points[TORSO_QUAD, :2] * np.array([width, height], np.float32)
    centre = quad.mean(0)
    quad = np.round(centre + TORSO_CORE * (quad - centre)).astype(np.int32)
    x0, y0 = np.clip(quad.min(0), 0, [width - 1, height - 1])
    x1, y1 = np.clip(quad.max(0) + 1, 1, [width, height])
    if x1 <= x0 or y1 <= y0:
        return None
    mask = np.zeros((y1 - y0, x1 - x0), np.uint8)
    cv2.fillConvexPoly(mask, quad - [x0, y0], 255)
    hsv = cv2.cvtColor(np.ascontiguousarray(frame[y0:y1, x0:x1]), cv2.COLOR_RGB2HSV)
    hist = cv2.calcHist([hsv], [0, 1], mask, [16, 8], [0, 180, 0, 256]).ravel()
    return hist / hist.sum() if hist.sum() > 0 else None


def _colour_change(before: np.ndarray | None, after: np.ndarray | None) -> float:
    """Bhattacharyya distance between two torso histograms: 0 the same colours, 1 nothing in common;
    0 where either torso was not in the picture (no evidence of a change)."""
    if before is None or after is None:
        return 0.0
    return float(np.sqrt(max(0.0, 1.0 - np.sqrt(before * after).sum())))


def _looks_alike(colours: np.ndarray | None, other: np.ndarray | None) -> bool:
    """Whether two torsos show the same colours (both in the picture, ``_colour_change`` < COLOUR_CHANGE)."""
    return colours is not None and other is not None and _colour_change(colours, other) < COLOUR_CHANGE


def _hide(frame: np.ndarray, people) -> np.ndarray:
    """A copy of the frame with each person painted over in grey: a filled torso, thick limbs and a
    head disc (a silhouette, not their box, so a person standing half behind them stays visible)."""
    height, width = frame.shape[:2]
    out = frame.copy()
    for seen in people:
        pixels = np.round(seen.points[:33, :2] * np.array([width, height])).astype(np.int32)
        torso = pixels[TORSO_QUAD]
        thickness = max(2, int(SILHOUETTE_WIDTH * np.linalg.norm(torso[:2].mean(0) - torso[2:].mean(0))))
        cv2.fillConvexPoly(out, torso, GREY)
        for a, b in MEDIAPIPE_33_BONES:
            cv2.line(out, tuple(map(int, pixels[a])), tuple(map(int, pixels[b])), GREY, thickness)
        cv2.circle(out, tuple(map(int, pixels[0])), thickness, GREY, -1)
    return out
