"""Square crops around a person, upscaled for the landmark models, and the way back to the full frame.

MediaPipe's landmark models see their region of interest at a fixed size (256 px for the body), but
they find that region with a detector that sees the whole frame at 224 px, where a distant person is a
few pixels tall. Running them on a crop around the person's box, upscaled to at least ``CROP_SIDE``,
lets the detector see the person large. Points come back in the crop's normalised coordinates (x and y in 0..1
of the crop, z in crop widths); ``Crop.to_frame`` maps them to the frame's (x by frame width, y by frame
height, z by frame width: MediaPipe's convention).
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from .person_boxes import Box

CROP_SIDE = 256  # pixels: smaller crops are upscaled to this (the body landmark model's input size); larger
# ones keep their own resolution, so a large person's hands lose no detail
CROP_MARGIN = 1.6  # crop side / the person's longer box side: room to move before the crop must follow
MIN_CROP_SIDE = 48.0  # pixels of the frame; smaller boxes are noise
KEEP_INSIDE = 0.02  # the crop is kept while the box stays this far (fraction of the side) from its edges
KEEP_MIN_FILL = 0.35  # ... and fills at least this fraction of its side (else the person walked away)


@dataclass(frozen=True)
class Crop:
    x0: float  # top-left corner in frame pixels; the square may reach past the frame (padded black)
    y0: float
    side: float  # in frame pixels

    @classmethod
    def around(cls, box: Box) -> Crop:
        side = max(MIN_CROP_SIDE, CROP_MARGIN * max(box.x1 - box.x0, box.y1 - box.y0))
        cx, cy = (box.x0 + box.x1) / 2, (box.y0 + box.y1) / 2
        return cls(cx - side / 2, cy - side / 2, side)

    @property
    def pixels(self) -> int:
        """Side of the image ``cut`` returns."""
        return max(CROP_SIDE, round(self.side))

    @property
    def square(self) -> Box:
        """The crop as a box in frame pixels."""
        return Box(self.x0, self.y0, self.x0 + self.side, self.y0 + self.side)

    def cut(self, frame: np.ndarray) -> np.ndarray:
        """The crop of an [H, W, C] uint8 frame, ``pixels`` x ``pixels``."""
        scale = self.pixels / self.side
        matrix = np.array([[scale, 0, -self.x0 * scale], [0, scale, -self.y0 * scale]], np.float64)
        return cv2.warpAffine(frame, matrix, (self.pixels, self.pixels), flags=cv2.INTER_LINEAR,
                              borderMode=cv2.BORDER_CONSTANT, borderValue=0)

    def paste(self, image: np.ndarray, width: int, height: int) -> np.ndarray:
        """A float image of the crop (e.g. a segmentation mask) back on a width x height frame."""
        scale = self.side / image.shape[1]
        matrix = np.array([[scale, 0, self.x0], [0, scale, self.y0]], np.float64)
        return cv2.warpAffine(image.astype(np.float32), matrix, (width, height), flags=cv2.INTER_LINEAR,
                              borderMode=cv2.BORDER_CONSTANT, borderValue=0)

    def to_frame(self, points: np.ndarray, width: int, height: int) -> np.ndarray:
        """[..., >=3] crop-normalised (x, y, z, ...) -> frame-normalised; other columns pass through."""
        out = points.copy()
        out[..., 0] = (self.x0 + points[..., 0] * self.side) / width
        out[..., 1] = (self.y0 + points[..., 1] * self.side) / height
        out[..., 2] = points[..., 2] * self.side / width
        return out

    def holds(self, box: Box) -> bool:
        """Whether the crop still frames the box well enough to keep it (and the tracker's state)."""
        inset = KEEP_INSIDE * self.side
        inside = (box.x0 >= self.x0 + inset and box.y0 >= self.y0 + inset
                  and box.x1 <= self.x0 + self.side - inset and box.y1 <= self.y0 + self.side - inset)
        return inside and max(box.x1 - box.x0, box.y1 - box.y0) >= KEEP_MIN_FILL * self.side
