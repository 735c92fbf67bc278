"""2D-only training data and the reprojection loss (GENMO sec. 3.2, Eq. 6).

Motions are real mocap clips (data/mocap); the 2D-only items are their projections through the
render path (``project_motion``) written in the corpus's ``poses_2d`` layout, standing in for poses a
detector found in a video."""

import json
import math

import numpy as np
import pytest
import torch
from posemotion.models.core.errors import InputError
from posemotion.models.core.motion import Motion
from posemotion.models.genmo.data import MIN_CROP, GenmoData
from posemotion.models.genmo.keypoints2d import keep_training_joints, project_joints_to_coco
from posemotion.models.genmo.model import GenmoModel
from posemotion.models.genmo.reprojection import reprojection_error
from posemotion.models.genmo.text_encoders import MINILM_ID, open_text_encoder
from posemotion.models.genmo.training import reprojection_loss, train_genmo
from posemotion.models.motion.dataset_folder import format_text_line, write_item, write_split, write_stats, write_texts
from posemotion.models.motion.humanml3d import FeatureStats, joints_to_features
from posemotion.models.motion.io import read_motion
from posemotion.models.motion.resample import resample
from posemotion.models.motion_text.corpus import POSES_2D_DIR, SOURCES_FILE
from posemotion.models.render.motion_view import project_motion
from support.genmo_tiny import TINY_CONFIG

pytestmark = pytest.mark.usefixtures("one_torch_thread")
ITEM_FRAMES = 61
ASPECT = 16 / 9  # the 2D items' canvas, width / height, as a landscape video


@pytest.fixture(scope="module")
def walk(mocap_dir):
    motion = resample(read_motion(str(mocap_dir / "test.asf"), str(mocap_dir / "test.amc")), 20.0)
    return motion.joints.numpy()


def _openpose_array(joints: np.ndarray, yaw: float) -> np.ndarray:
    """[T, 18, 3] OpenPose-18 of the joints seen from ``yaw``, normalised to a 16:9 canvas (as the corpus)."""
    height = 360
    frames = project_motion(Motion(joints=torch.from_numpy(joints), fps=20.0, layout="smpl_22"), yaw_degrees=yaw,
                            width=round(height * ASPECT), height=height)
    return np.array([np.reshape(f["people"][0]["pose_keypoints_2d"], (18, 3)) for f in frames], np.float32)


@pytest.fixture(scope="module")
def corpus(walk, tmp_path_factory):
    folder = tmp_path_factory.mktemp("genmo_2d_corpus")
    names, features = [], []
    for start in range(0, 4 * ITEM_FRAMES, ITEM_FRAMES):
        part = walk[start:start + ITEM_FRAMES]
        rows = joints_to_features(part)
        names.append(f"walk_{start:04d}")
        write_item(str(folder), names[-1], rows, part, [format_text_line("a person jumps around", [])])
        features.append(rows)
    write_split(str(folder), "train", names)
    stats = FeatureStats.compute(features)
    write_stats(str(folder), stats.mean, stats.std)
    (folder / POSES_2D_DIR).mkdir()
    items = {}
    for k, yaw in enumerate((30.0, 200.0)):
        name = f"video_{k}_2d"
        np.save(folder / POSES_2D_DIR / f"{name}.npy", _openpose_array(walk[k * 80:k * 80 + 100], yaw))
        write_texts(str(folder), name, [format_text_line("someone is seen jumping", [])])
        items[name] = {"kind": "2d", "aspect": ASPECT}
    write_split(str(folder), "train_2d", list(items))
    (folder / SOURCES_FILE).write_text(json.dumps({"items": items}))
    return folder


@pytest.fixture(scope="module")
def data(corpus):
    return GenmoData.from_folder(str(corpus), "train", text_encoder=open_text_encoder(MINILM_ID))


def _batch(joints: np.ndarray, yaw: float, elevation: float, distance_scale: float = 1.1):
    keypoints, bbox, present = project_joints_to_coco(joints, yaw, elevation, distance_scale)
    return keep_training_joints(keypoints)[None], present[None]


def test_a_motion_reprojects_onto_its_own_projection_and_not_onto_others(walk):
    clip = walk[:60]
    # off the search grid, through the render path's pinhole camera, far enough for weak perspective to hold
    keypoints, present = _batch(clip, 33.0, 12.0, distance_scale=5.0)
    own, fitted = reprojection_error(torch.from_numpy(clip)[None], keypoints, present)
    assert bool(fitted.all()) and math.sqrt(float(own)) < 0.015  # RMS under 0.75 % of the box
    near, _ = _batch(clip, 33.0, 12.0)  # the default close camera: perspective the weak model cannot show
    assert math.sqrt(float(reprojection_error(torch.from_numpy(clip)[None], near, present)[0])) < 0.05
    later = torch.from_numpy(walk[150:210])[None]  # the same body doing something else
    assert float(reprojection_error(later, keypoints, present)[0]) > 10 * float(own)
    # upside down: only a negative scale (a camera on its head) would fit, and the scale may not go negative
    upside_down = clip * np.array([1.0, -1.0, 1.0], np.float32)
    assert float(reprojection_error(torch.from_numpy(upside_down)[None], keypoints, present)[0]) > 100 * float(own)
    # a mirrored body is the depth-flipped body seen from behind: weak perspective cannot tell them apart
    mirrored = clip * np.array([-1.0, 1.0, 1.0], np.float32)
    assert float(reprojection_error(torch.from_numpy(mirrored)[None], keypoints, present)[0]) == \
        pytest.approx(float(own), rel=0.05)


def test_the_error_is_differentiable_and_descends(walk):
    keypoints, present = _batch(walk[:40], 90.0, 0.0)
    joints = torch.from_numpy(walk[150:190]).clone().requires_grad_(True)
    optimiser = torch.optim.Adam([joints], lr=0.01)
    errors = []
    for _ in range(30):
        error = reprojection_error(joints[None], keypoints, present)[0].sum()
        optimiser.zero_grad()
        error.backward()
        optimiser.step()
        errors.append(float(error.detach()))
    assert errors[-1] < 0.5 * errors[0]


def test_frames_without_a_person_do_not_count(walk):
    keypoints, present = _batch(walk[:30], 0.0, 10.0)
    gone = present.clone()
    gone[:, 10:] = False
    full = reprojection_error(torch.from_numpy(walk[:30])[None], keypoints, present)[0]
    wrong_tail = torch.from_numpy(np.concatenate([walk[:10], walk[200:220]]))[None]
    assert float(reprojection_error(wrong_tail, keypoints, gone)[0]) == pytest.approx(
        float(reprojection_error(wrong_tail[:, :10], keypoints[:, :10], gone[:, :10])[0]), rel=1e-5)
    nobody = torch.zeros_like(present)
    error, fitted = reprojection_error(torch.from_numpy(walk[:30])[None], keypoints, nobody)
    assert not bool(fitted.any()) and float(error) == 0.0 and float(full) > 0.0


def test_shapes_are_checked(walk):
    keypoints, present = _batch(walk[:20], 0.0, 10.0)
    with pytest.raises(InputError, match="joints"):
        reprojection_error(torch.zeros(1, 20, 24, 3), keypoints, present)
    with pytest.raises(InputError, match="keypoints"):
        reprojection_error(torch.from_numpy(walk[:19])[None], keypoints, present)


def test_2d_only_items_are_loaded_as_detections_and_cropped(data):
    assert len(data) == 4 and data.names_2d == ["video_0_2d", "video_1_2d"]
    keypoints, bbox, present = data.detections_2d[0]
    assert keypoints.shape == (100, 17, 3) and bool(present.all())
    assert float(keypoints[:, 1:5].abs().sum()) == 0.0  # eyes and ears zeroed, as for a detection
    assert "someone is seen jumping" in data.captions
    batch = data.batch_2d(torch.tensor([0, 1, 1]), torch.Generator().manual_seed(0))
    conditions = batch.conditions
    assert batch.x0 is None and conditions.batch == 3 and MIN_CROP <= conditions.length <= 100
    assert bool((conditions.text.present.sum(1) == 1).all())  # one prompt per crop, never two clips joined
    assert bool((conditions.keypoints_mask == conditions.frame_mask).all())


def test_reprojection_loss_trains_both_modes_and_reaches_the_weights(data):
    torch.manual_seed(0)
    model = GenmoModel(TINY_CONFIG, data.stats).train()
    generator = torch.Generator().manual_seed(3)
    batch = data.batch_2d(torch.tensor([0, 1, 0, 1, 0, 1]), generator)
    loss, parts = reprojection_loss(model, batch, generator)
    assert math.isfinite(float(loss)) and float(loss) > 0
    assert float(parts["reprojection_estimation"]) > 0 and float(parts["reprojection_generation"]) > 0
    loss.backward()
    assert float(model.denoiser.final_layer.fc2.weight.grad.abs().sum()) > 0


def test_training_uses_the_2d_items_unless_told_not_to(corpus, data):
    _, history = train_genmo(str(corpus), 2, config=TINY_CONFIG, batch_size=4, data=data)
    assert history["items_2d"] == 2 and "reprojection" in history["history"][-1]
    _, without = train_genmo(str(corpus), 2, config=TINY_CONFIG, batch_size=4, data=data, batch_2d_size=0)
    assert without["items_2d"] == 0 and "reprojection" not in without["history"][-1]
