"""2D keypoint condition: POSE_KEYPOINT -> COCO-17 in the person box, projections of real mocap,
resampling to the motion's frame rate, a real MediaPipe detection, and the camera fit."""

import math

import numpy as np
import pytest
import torch
from posemotion.models.core.errors import InputError
from posemotion.models.core.layouts import COCO_17, SMPL_22
from posemotion.models.core.motion import Motion
from posemotion.models.core.pose_keypoint import make_frame, make_person
from posemotion.models.genmo.conditions import GenmoConditions
from posemotion.models.genmo.keypoints2d import (
    BOX_ENLARGE,
    NOMINAL_FOV_DEGREES,
    TRAINING_JOINTS,
    fit_camera,
    keep_training_joints,
    keypoint_condition,
    pose_keypoint_to_coco,
    project_joints_to_coco,
    to_camera_frame,
)
from posemotion.models.motion.io import read_motion
from posemotion.models.motion.resample import resample
from posemotion.models.pose.detection import DetectionSettings, detect_poses

EYES_EARS = [COCO_17.index(n) for n in ("left_eye", "right_eye", "left_ear", "right_ear")]


@pytest.fixture(scope="module")
def walk(mocap_dir):
    """120 frames of the real CMU walk (smpl_22 world joints)."""
    return read_motion(str(mocap_dir / "test.asf"), str(mocap_dir / "test.amc"))


def _frame(points18: np.ndarray, width=640, height=480, people=1) -> dict:
    return make_frame([make_person(body=points18)] * people, width, height)


def _standing_body() -> np.ndarray:
    """OpenPose-18 points of a person standing in the left half of a 640 x 480 image."""
    body = np.zeros((18, 3))
    body[:, 2] = 1.0
    body[:, 0] = np.linspace(0.2, 0.3, 18)
    body[:, 1] = np.linspace(0.2, 0.8, 18)
    return body


def test_box_normalisation_follows_the_documented_formula():
    body = _standing_body()
    keypoints, bbox, present = pose_keypoint_to_coco([_frame(body)])
    pixels = body[:, :2] * [640, 480]
    height = np.ptp(pixels[:, 1])
    side = height * BOX_ENLARGE  # tall person: the side follows the height
    centre = (pixels.min(0) + pixels.max(0)) / 2
    torch.testing.assert_close(bbox[0], torch.tensor([*(centre / 640), side / 640], dtype=torch.float32))
    nose = 2 * (pixels[0] - centre) / side
    torch.testing.assert_close(keypoints[0, 0], torch.tensor([*nose, 1.0], dtype=torch.float32))
    assert present.tolist() == [True]
    assert keypoints[0, :, :2].abs().max() <= 1 / BOX_ENLARGE + 1e-5  # the extent fills 1/1.2 of the box


def test_missing_people_and_low_confidence_frames_are_absent():
    body = _standing_body()
    weak = body.copy()
    weak[:, 2] = 0.3  # below KEYPOINT_MIN_CONFIDENCE: no box can be placed
    one_joint = np.zeros((18, 3))
    one_joint[1] = [0.5, 0.5, 1.0]
    frames = [_frame(body), make_frame([], 640, 480), _frame(weak), _frame(one_joint), _frame(body, people=2)]
    keypoints, bbox, present = pose_keypoint_to_coco(frames, person=1)
    assert present.tolist() == [False, False, False, False, True]
    assert keypoints[:4].abs().sum() == 0 and bbox[:4].abs().sum() == 0
    with pytest.raises(InputError, match="person"):
        pose_keypoint_to_coco(frames, person=-1)
    with pytest.raises(InputError, match="poses"):
        pose_keypoint_to_coco([{"people": "nobody"}])


def test_projection_of_real_mocap_is_a_front_view_in_the_box(walk):
    keypoints, bbox, present = project_joints_to_coco(walk.joints[:120], 0.0, 10.0)
    assert keypoints.shape == (120, 17, 3) and bbox.shape == (120, 3) and present.all()
    assert keypoints[..., :2].abs().max() <= 1.0
    assert (keypoints[:, EYES_EARS] == 0).all()  # SMPL has no eyes or ears
    assert (keypoints[:, list(TRAINING_JOINTS), 2] == 1).all()
    # front view: the subject's left shoulder is on the image right, the head above the ankles
    left, right = COCO_17.index("left_shoulder"), COCO_17.index("right_shoulder")
    assert (keypoints[:, left, 0] > keypoints[:, right, 0]).float().mean() > 0.9
    assert (keypoints[:, 0, 1] < keypoints[:, COCO_17.index("left_ankle"), 1]).all()
    back, _, _ = project_joints_to_coco(walk.joints[:120], 180.0, 10.0)
    assert (back[:, left, 0] < back[:, right, 0]).float().mean() > 0.9
    GenmoConditions(batch=1, length=120, keypoints=keypoints[None], bbox=bbox[None], keypoints_mask=present[None])


def test_keypoint_condition_resamples_by_time_and_warns_when_short(walk):
    frames_30 = [_frame(_standing_body() * [1 + 0.01 * t, 1, 1]) for t in range(30)]  # 1 s at 30 fps
    with pytest.warns(UserWarning, match="shorter than the motion"):
        keypoints, bbox, mask = keypoint_condition(frames_30, fps=30.0, num_frames=40, motion_fps=20.0)
    assert keypoints.shape == (1, 40, 17, 3) and bbox.shape == (1, 40, 3) and mask.shape == (1, 40)
    assert mask[0].tolist() == [True] * 20 + [False] * 20  # source frame round(i * 1.5) < 30 up to i = 19
    full, full_bbox, _ = pose_keypoint_to_coco(frames_30)
    torch.testing.assert_close(bbox[0, 7], full_bbox[11])  # 7 / 20 s is pose frame 10.5: ties go to the later
    assert (keypoints[0, :, EYES_EARS] == 0).all() and (full[:, EYES_EARS, 2] > 0).all()
    assert keypoints[0, 20:].abs().sum() == 0


@pytest.mark.parametrize("fps", [0, -5, float("nan")])
def test_keypoint_condition_bad_fps(fps):
    with pytest.raises(InputError, match="fps"):
        keypoint_condition([_frame(_standing_body())], fps=fps, num_frames=10)


def test_keypoint_condition_without_any_person():
    with pytest.raises(InputError, match="poses: no person"):
        keypoint_condition([make_frame([], 64, 64)] * 3, fps=20.0, num_frames=3)


def test_keep_training_joints_only_zeroes_eyes_and_ears():
    keypoints = torch.rand(2, 17, 3)
    kept = keep_training_joints(keypoints)
    assert (kept[:, EYES_EARS] == 0).all()
    torch.testing.assert_close(kept[:, list(TRAINING_JOINTS)], keypoints[:, list(TRAINING_JOINTS)])


def test_real_detection_becomes_a_condition(walk_frames):
    frames, fps = walk_frames
    detection = detect_poses(frames[:10], DetectionSettings(video=True, hands=False, mask="none"), fps=fps)
    keypoints, bbox, present = pose_keypoint_to_coco(detection.pose_keypoint)
    people = torch.tensor([len(frame["people"]) > 0 for frame in detection.pose_keypoint])
    assert present.sum() >= 5 and (present == people).all()  # MediaPipe finds the walker after a few frames
    seen = keypoints[present]
    assert seen[..., :2].abs().max() <= 1.0 and (seen[:, list(TRAINING_JOINTS), 2] > 0).float().mean() > 0.8
    assert ((bbox[present, :2] > 0) & (bbox[present, :2] < 1)).all() and (bbox[present, 2] > 0.05).all()
    assert keypoints[~present].abs().sum() == 0
    condition = keypoint_condition(detection.pose_keypoint, fps=fps, num_frames=6, motion_fps=20.0)
    GenmoConditions(batch=1, length=6, keypoints=condition[0], bbox=condition[1], keypoints_mask=condition[2])


YAW_TOLERANCE, ELEVATION_TOLERANCE = 6.0, 5.0  # degrees: weak perspective vs the renderer's pinhole
REPROJECTION_TOLERANCE = 0.15  # of the person box side, mean over joints: walking in depth changes the scale


@pytest.mark.parametrize("yaw, elevation", [(40.0, 10.0), (220.0, 0.0), (90.0, 25.0)])
def test_fit_camera_recovers_the_projecting_camera(mocap_dir, yaw, elevation):
    walk20 = resample(read_motion(str(mocap_dir / "test.asf"), str(mocap_dir / "test.amc")), 20.0)
    joints = walk20.joints[:120]
    keypoints, bbox, present = project_joints_to_coco(joints, yaw, elevation, relative_to_facing=False)
    fit = fit_camera(joints, keypoints[None], bbox[None], present[None])
    assert abs((fit["yaw"] - yaw + 180) % 360 - 180) <= YAW_TOLERANCE
    assert abs(fit["elevation"] - elevation) <= ELEVATION_TOLERANCE
    # the camera-frame motion seen through the nominal pinhole lands on the projected joints
    camera = to_camera_frame(Motion(joints=joints.clone(), fps=20.0, layout="smpl_22"), fit).joints.numpy()
    assert (camera[..., 2] < 0).all()  # in front of the camera
    focal = 0.5 / math.tan(math.radians(NOMINAL_FOV_DEGREES) / 2)
    image = np.stack([fit["centre"][0] + focal * camera[..., 0] / -camera[..., 2],
                      fit["centre"][1] - focal * camera[..., 1] / -camera[..., 2]], axis=-1)
    coco = list(TRAINING_JOINTS)
    smpl = [SMPL_22.index("head" if COCO_17[k] == "nose" else COCO_17[k]) for k in coco]
    detected = bbox[:, None, :2].numpy() + keypoints[:, coco, :2].numpy() * bbox[:, None, 2:].numpy() / 2
    error = np.linalg.norm(image[:, smpl] - detected, axis=-1).mean()
    assert error < REPROJECTION_TOLERANCE * bbox[:, 2].mean().item()


def test_fit_camera_errors(walk):
    keypoints, bbox, present = project_joints_to_coco(walk.joints[:20], 0.0)
    with pytest.raises(InputError, match="joints"):
        fit_camera(walk.joints[:19], keypoints, bbox, present)
    with pytest.raises(InputError, match="nothing to fit"):
        fit_camera(walk.joints[:20], keypoints, bbox, torch.zeros(20, dtype=torch.bool))
    with pytest.raises(InputError, match="fit"):
        to_camera_frame(Motion(joints=walk.joints[:20].clone(), fps=20.0, layout="smpl_22"), {"yaw": 0})
