"""Template-browser thumbnails: every UI workflow has one, and the build command renders them.

The committed .jpg files are not compared byte for byte (JPEG encoding and MediaPipe may differ a
little across machines); one cheap workflow is rendered again and must come out close to its file.
"""

import cv2
import numpy as np
import pytest
from posemotion.workflows.source.build import ROOT
from posemotion.workflows.source.graphs import GRAPHS
from posemotion.workflows.source.thumbnails import RECIPES, WIDTH, write_thumbnails

UI_FILES = sorted((ROOT / "workflows").glob("*.json"))


def test_every_workflow_has_a_thumbnail_recipe():
    assert set(RECIPES) == set(GRAPHS)


@pytest.mark.parametrize("path", UI_FILES, ids=lambda p: p.stem)
def test_ui_workflow_has_a_thumbnail(path):
    thumbnail = path.with_suffix(".jpg")
    assert thumbnail.is_file(), f"no {thumbnail.name}: run python -m posemotion.workflows.source --thumbnails {path.stem}"
    image = cv2.imread(str(thumbnail))
    assert image is not None, f"{thumbnail.name} is not a readable image"
    height, width = image.shape[:2]
    assert width == WIDTH and 128 <= height <= 2 * WIDTH, f"{thumbnail.name} is {width}x{height}"
    assert image.std() > 20, f"{thumbnail.name} is nearly flat"


def test_the_build_command_renders_a_thumbnail_like_the_committed_one(tmp_path, mocap_dir):
    written = write_thumbnails(["pose_from_image"], folder=tmp_path, mocap_dir=mocap_dir)
    assert written == [tmp_path / "pose_from_image.jpg"]
    fresh = cv2.imread(str(written[0])).astype(np.float32)
    committed = cv2.imread(str(ROOT / "workflows" / "pose_from_image.jpg")).astype(np.float32)
    assert fresh.shape == committed.shape
    difference = np.abs(fresh - committed).mean()
    assert difference < 6, f"mean difference {difference:.1f} levels: the committed thumbnail is stale"
