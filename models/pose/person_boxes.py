"""Where the people are: MediaPipe's BlazePose person detector, on the whole frame and on tiles.

The detector is ``pose_detection.tflite`` from the mediapipe wheel, run through the ``PoseDetectionCpu``
graph that the wheel registers (the first stage of MediaPipe's own pose pipeline). It sees the whole
frame letterboxed to 224 x 224, so a person far away shrinks to a few pixels; ``find_people`` therefore
also runs it on overlapping tiles (``TILE_GRID``) and merges what the tiles find, and ``find_someone``
(one person wanted) adds finer tiles only until someone is found.

A ``Box`` is (x0, y0, x1, y1) in pixels of the full frame and covers the whole body. For a detection it
is the detector's body circle: a square centred on its mid-hip keypoint, with a side of twice the
distance from there to its full-body keypoint.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass

import numpy as np
from google.protobuf import text_format
from mediapipe.framework import calculator_pb2
from mediapipe.python.solution_base import SolutionBase

MIN_SCORE = 0.5  # detector score below which a box is ignored
SAME_PERSON_IOU = 0.5  # boxes overlapping this much are one person (tiles see people twice)
TILE_GRID = 4  # the frame is also searched as 4 x 4 tiles with TILE_OVERLAP (people ~1/8 of 960 px tall)
TILE_OVERLAP = 0.25

_GRAPH_CONFIG = """
input_stream: "image"
output_stream: "detections"
node { calculator: "PoseDetectionCpu" input_stream: "IMAGE:image" output_stream: "DETECTIONS:detections" }
"""


@dataclass(frozen=True)
class Box:
    x0: float
    y0: float
    x1: float
    y1: float
    score: float = 1.0

    @property
    def area(self) -> float:
        return max(0.0, self.x1 - self.x0) * max(0.0, self.y1 - self.y0)

    def iou(self, other: Box) -> float:
        inter = Box(max(self.x0, other.x0), max(self.y0, other.y0), min(self.x1, other.x1), min(self.y1, other.y1))
        union = self.area + other.area - inter.area
        return inter.area / union if union > 0 else 0.0

    @classmethod
    def around(cls, points: np.ndarray, score: float = 1.0) -> Box:
        """The bounding box of [N, 2] pixel points."""
        low, high = points.min(0), points.max(0)
        return cls(float(low[0]), float(low[1]), float(high[0]), float(high[1]), score)


class PersonDetector:
    """BlazePose's person detector on one RGB uint8 image -> body boxes in that image's pixels."""

    def __init__(self):
        config = text_format.Parse(_GRAPH_CONFIG, calculator_pb2.CalculatorGraphConfig())
        self._graph = SolutionBase(graph_config=config, outputs=["detections"])

    def boxes(self, image: np.ndarray, offset: tuple[float, float] = (0.0, 0.0)) -> list[Box]:
        height, width = image.shape[:2]
        detections = self._graph.process(np.ascontiguousarray(image)).detections or []
        boxes = []
        for detection in detections:
            score = float(detection.score[0])
            if score < MIN_SCORE:
                continue
            hip, body = detection.location_data.relative_keypoints[:2]
            centre = np.array([hip.x * width, hip.y * height])
            half = float(np.hypot((body.x - hip.x) * width, (body.y - hip.y) * height))
            x, y = centre + offset
            boxes.append(Box(x - half, y - half, x + half, y + half, score))
        return boxes


def find_people(detector: PersonDetector, frame: np.ndarray, tiles: int = TILE_GRID) -> list[Box]:
    """Every person in the frame, best score first: the whole frame plus ``tiles`` x ``tiles`` tiles."""
    return merge_boxes(detector.boxes(frame) + tile_boxes(detector, frame, tiles))


def find_someone(detector: PersonDetector, frame: np.ndarray) -> list[Box]:
    """People, looked for in growing detail until someone is found: the whole frame, then 2 x 2 tiles,
    then ``TILE_GRID`` x ``TILE_GRID`` (each step costs 4x the one before)."""
    boxes = detector.boxes(frame)
    for tiles in (2, TILE_GRID):
        if boxes:
            break
        boxes = tile_boxes(detector, frame, tiles)
    return merge_boxes(boxes)


def tile_boxes(detector: PersonDetector, frame: np.ndarray, tiles: int) -> list[Box]:
    """The detector's boxes on ``tiles`` x ``tiles`` overlapping tiles of the frame (none for tiles < 2)."""
    height, width = frame.shape[:2]
    if tiles < 2:
        return []
    boxes = []
    tile_w, tile_h = (int(side / (tiles - (tiles - 1) * TILE_OVERLAP)) for side in (width, height))
    for row, col in itertools.product(range(tiles), repeat=2):
        x0 = min(int(col * tile_w * (1 - TILE_OVERLAP)), width - tile_w)
        y0 = min(int(row * tile_h * (1 - TILE_OVERLAP)), height - tile_h)
        boxes += detector.boxes(frame[y0:y0 + tile_h, x0:x0 + tile_w], offset=(x0, y0))
    return boxes


def merge_boxes(boxes: list[Box]) -> list[Box]:
    """Keep the best-scoring box of each group that overlaps by SAME_PERSON_IOU (greedy suppression)."""
    kept: list[Box] = []
    for box in sorted(boxes, key=lambda b: -b.score):
        if all(box.iou(other) < SAME_PERSON_IOU for other in kept):
            kept.append(box)
    return kept

