"""Retarget Pose To Reference on real detections: the walking clip driving the astronaut photo."""

import copy

import numpy as np
import pytest
from posemotion.models.core.errors import InputError
from posemotion.models.core.layouts import OPENPOSE_18, OPENPOSE_LIMBS
from posemotion.models.core.pose_keypoint import make_frame, make_person
from posemotion.models.pose.detection import DetectionSettings, detect_poses
from posemotion.models.pose.retarget import (
    CONFIDENT,
    WRISTS,
    retarget_landmarks,
    retarget_poses,
    retarget_sequence,
)

PIXEL = 1.0  # the tolerance for bone lengths
J = {name: index for index, name in enumerate(OPENPOSE_18)}


@pytest.fixture(scope="module")
def walk(walk_frames):
    frames, fps = walk_frames
    return detect_poses(frames, DetectionSettings(video=True, mask="none"), fps=fps)


@pytest.fixture(scope="module")
def astronaut_pose(astronaut_image):
    # full-frame landmarks: this test is about retargeting, not about finding a close-up person
    return detect_poses(astronaut_image, DetectionSettings(mask="none", person_crop=False)).pose_keypoint


def pixels(frame: dict, part: str = "pose_keypoints_2d", person: int = 0) -> np.ndarray:
    """[N, 3] points of one part in pixels of the frame's canvas (confidence kept)."""
    points = np.array(frame["people"][person][part], np.float64).reshape(-1, 3)
    return points * [frame["canvas_width"], frame["canvas_height"], 1]


def bone_vectors(body: np.ndarray):
    """[17, 2] bone vectors (child - parent) and [17] whether both ends are present."""
    parents, children = [p for p, _ in OPENPOSE_LIMBS], [c for _, c in OPENPOSE_LIMBS]
    present = (body[parents, 2] > 0) & (body[children, 2] > 0)
    return body[children, :2] - body[parents, :2], present


def figure(shift=(0.0, 0.0), angle: float = 0.0, size=(640, 480)) -> dict:
    """A standing OpenPose-18 figure in pixels, turned by ``angle`` about its neck and shifted, with hands."""
    body = np.array([(320, 100), (320, 140), (290, 140), (280, 190), (275, 235), (350, 140), (360, 190),
                     (365, 235), (300, 240), (300, 320), (300, 400), (340, 240), (340, 320), (340, 400),
                     (312, 92), (328, 92), (305, 96), (335, 96)], np.float64)
    hands = {side: body[WRISTS[side]] + np.array([(0, 0)] + [(dx, 4 + 3 * k) for dx in (-6, -3, 0, 3, 6)
                                                             for k in range(4)], np.float64)
             for side in WRISTS}
    turn = np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]])

    def place(points):
        moved = (points - body[J["neck"]]) @ turn.T + body[J["neck"]] + shift
        return np.concatenate([moved / size, np.ones((len(points), 1))], axis=1)

    return make_frame([make_person(body=place(body), left_hand=place(hands["left_hand"]),
                                   right_hand=place(hands["right_hand"]))], *size)


def test_exact_bone_lengths_equal_the_references_in_every_frame(walk, astronaut_pose):
    result = retarget_sequence(walk.pose_keypoint, astronaut_pose, bone_lengths="exact")
    reference = pixels(astronaut_pose[0])
    ref_vectors, ref_present = bone_vectors(reference)
    ref_lengths = np.linalg.norm(ref_vectors, axis=1)
    bone = {pair: k for k, pair in enumerate(OPENPOSE_LIMBS)}
    assert result.reference_bones[[bone[(1, 2)], bone[(1, 5)], bone[(1, 0)]]].all()  # clearly seen on the photo
    assert (result.reference_bones <= (ref_present & (np.minimum(reference[[p for p, _ in OPENPOSE_LIMBS], 2],
                                                                 reference[[c for _, c in OPENPOSE_LIMBS], 2])
                                                      >= CONFIDENT))).all()
    checked = 0
    for frame in result.pose_keypoint:
        if not frame["people"]:
            continue
        vectors, present = bone_vectors(pixels(frame))
        lengths = np.linalg.norm(vectors, axis=1)
        used = present & result.reference_bones
        assert np.abs(lengths[used] - ref_lengths[used]).max() < PIXEL
        checked += used.sum()
    assert checked > 100
    assert len(walk.pose_keypoint) == len(result.pose_keypoint) == sum(bool(f["people"]) for f in result.pose_keypoint)


def test_directions_are_kept_and_scaled_mode_keeps_foreshortening(walk, astronaut_pose):
    for mode in ("scaled", "exact"):
        result = retarget_sequence(walk.pose_keypoint, astronaut_pose, bone_lengths=mode)
        ratios = []
        for before, after in zip(walk.pose_keypoint, result.pose_keypoint):
            if not after["people"]:
                continue
            old, old_present = bone_vectors(pixels(before))
            new, new_present = bone_vectors(pixels(after))
            both = old_present & new_present & (np.linalg.norm(old, axis=1) > 1)
            cross = old[both, 0] * new[both, 1] - old[both, 1] * new[both, 0]
            sines = cross / (np.linalg.norm(old[both], axis=1) * np.linalg.norm(new[both], axis=1))
            assert np.abs(sines).max() < 1e-5 and ((old[both] * new[both]).sum(axis=1) > 0).all()
            ratio = np.full(len(OPENPOSE_LIMBS), np.nan)
            ratio[both] = np.linalg.norm(new[both], axis=1) / np.linalg.norm(old[both], axis=1)
            ratios.append(ratio)
        ratios = np.array(ratios)[:, np.isfinite(ratios).any(axis=0)]
        spread = np.nanmax(ratios, axis=0) - np.nanmin(ratios, axis=0)
        if mode == "scaled":  # each bone stretched by one factor in every frame: foreshortening kept
            assert np.nanmax(spread) < 1e-4
        else:  # the walker's bones change 2D length, so their stretch factors must change
            assert np.nanmax(spread) > 0.1


def test_the_figure_stands_on_the_reference_person_at_its_scale(walk, astronaut_pose):
    result = retarget_sequence(walk.pose_keypoint, astronaut_pose)
    first = next(frame for frame in result.pose_keypoint if frame["people"])
    assert np.abs(pixels(first)[J["neck"], :2] - pixels(astronaut_pose[0])[J["neck"], :2]).max() < 1e-3
    assert (first["canvas_width"], first["canvas_height"]) == (512, 512)
    # the walker is ~75 px tall in a 480 px frame; the astronaut's shoulders alone are ~190 px wide
    assert 4 < result.scale < 15
    # the root path is the walker's, scaled: neck displacements grow by the figure scale
    necks = [(pixels(a)[J["neck"]], pixels(b)[J["neck"]]) for a, b in zip(walk.pose_keypoint, result.pose_keypoint)
             if b["people"] and pixels(b)[J["neck"], 2] > 0]
    (old0, new0), (old1, new1) = necks[0], necks[-1]
    assert np.allclose(new1[:2] - new0[:2], result.scale * (old1[:2] - old0[:2]), atol=1e-3)
    fixed = retarget_poses(walk.pose_keypoint, astronaut_pose, root_motion="fixed")
    for frame in fixed:
        if frame["people"] and pixels(frame)[J["neck"], 2] > 0:
            assert np.abs(pixels(frame)[J["neck"], :2] - pixels(astronaut_pose[0])[J["neck"], :2]).max() < 1e-3


def test_each_real_frame_retargeted_to_itself_is_unchanged(walk):
    for frame in walk.pose_keypoint[::5]:
        for mode in ("scaled", "exact"):
            same = retarget_poses([frame], frame, bone_lengths=mode)[0]
            for part in ("pose_keypoints_2d", "hand_left_keypoints_2d", "hand_right_keypoints_2d"):
                if frame["people"][0][part] is None:
                    assert same["people"][0][part] is None
                else:
                    assert np.allclose(same["people"][0][part], frame["people"][0][part], atol=1e-6)


def test_a_moving_sequence_retargeted_to_its_first_frame_is_unchanged():
    sequence = [figure(shift=(4 * t, -2 * t), angle=0.03 * t) for t in range(12)]
    for mode in ("scaled", "exact"):
        for before, after in zip(sequence, retarget_poses(sequence, sequence[0], bone_lengths=mode)):
            for part in ("pose_keypoints_2d", "hand_left_keypoints_2d", "hand_right_keypoints_2d"):
                assert np.allclose(after["people"][0][part], before["people"][0][part], atol=1e-6)


@pytest.mark.parametrize("driving", ["walk", "figure"])
def test_hands_stay_attached_to_the_new_wrists(driving, walk):
    # a full-body reference on a large canvas, so that the walker's hands stay on it
    driving = walk.pose_keypoint if driving == "walk" else [figure(shift=(2 * t, 0), angle=0.1 * t) for t in range(8)]
    result = retarget_sequence(driving, figure(size=(1280, 960)), bone_lengths="exact")
    seen = 0
    for before, after in zip(driving, result.pose_keypoint):
        for side, key in (("left_hand", "hand_left_keypoints_2d"), ("right_hand", "hand_right_keypoints_2d")):
            if not after["people"] or after["people"][0][key] is None:
                continue
            old_body, new_body = pixels(before), pixels(after)
            old_hand, new_hand = pixels(before, key), pixels(after, key)
            wrist, scale = WRISTS[side], result.part_scales[side]
            if old_body[wrist, 2] <= 0 or new_body[wrist, 2] <= 0:
                continue
            kept = (old_hand[:, 2] > 0) & (new_hand[:, 2] > 0)
            offsets_old = old_hand[kept, :2] - old_body[wrist, :2]
            offsets_new = new_hand[kept, :2] - new_body[wrist, :2]
            assert np.allclose(offsets_new, scale * offsets_old, atol=1e-3)
            seen += 1
    assert seen >= 3, "the walking clip should give hands next to their wrists"
    assert result.part_scales["left_hand"] > 0 and result.part_scales["right_hand"] > 0


def test_missing_points_stay_missing_and_empty_frames_stay_empty():
    sequence = [figure(shift=(3 * t, 0)) for t in range(6)]
    sequence[2] = make_frame([], 640, 480)
    sequence[3] = copy.deepcopy(sequence[3])
    sequence[3]["people"][0]["pose_keypoints_2d"][3 * J["right_elbow"]:3 * J["right_elbow"] + 3] = [0.0, 0.0, 0.0]
    sequence[3]["people"][0]["hand_left_keypoints_2d"] = None
    out = retarget_poses(sequence, figure(size=(1280, 960)))
    assert out[2]["people"] == []
    body = pixels(out[3])
    assert body[J["right_elbow"]].tolist() == [0.0, 0.0, 0.0] and out[3]["people"][0]["hand_left_keypoints_2d"] is None
    # the wrist below the missing elbow still follows the shoulder, at the figure scale (here 1: same figure)
    old = pixels(sequence[3])
    assert np.allclose(body[J["right_wrist"], :2] - body[J["right_shoulder"], :2],
                       old[J["right_wrist"], :2] - old[J["right_shoulder"], :2], atol=1e-6)


def test_missing_or_implausible_reference_bones_fall_back_to_the_driving_proportion():
    driving = [figure(angle=0.05 * t) for t in range(4)]
    reference = figure(size=(640, 480))
    body = np.array(reference["people"][0]["pose_keypoints_2d"]).reshape(18, 3)
    body[J["left_knee"]] = body[J["left_hip"]] + 3 * (body[J["left_knee"]] - body[J["left_hip"]])  # thigh x3
    body[J["right_ankle"]] = 0.0  # not seen
    reference["people"][0]["pose_keypoints_2d"] = body.reshape(-1).tolist()
    result = retarget_sequence(driving, reference, bone_lengths="exact")
    bone = {pair: k for k, pair in enumerate(OPENPOSE_LIMBS)}
    fell_back = [bone[(11, 12)], bone[(12, 13)], bone[(9, 10)]]  # the thigh, the shin below it, the unseen shin
    assert not result.reference_bones[fell_back].any()
    assert result.reference_bones.sum() == len(OPENPOSE_LIMBS) - 3
    assert result.scale == pytest.approx(1.0)
    for before, after in zip(driving, result.pose_keypoint):  # same figure, scale 1: fallbacks keep the lengths
        old, _ = bone_vectors(pixels(before))
        new, _ = bone_vectors(pixels(after))
        assert np.allclose(np.linalg.norm(new, axis=1), np.linalg.norm(old, axis=1), atol=1e-6)


def test_points_that_land_off_the_reference_canvas_become_missing(walk, astronaut_pose):
    out = retarget_poses(walk.pose_keypoint, astronaut_pose)
    for frame in out:
        for person in frame["people"]:
            points = np.array(person["pose_keypoints_2d"]).reshape(-1, 3)
            shown = points[:, 2] > 0
            assert ((points[shown, :2] >= 0) & (points[shown, :2] <= 1)).all()
    # the walker's ankles land below the half-body photo
    assert all(np.array(f["people"][0]["pose_keypoints_2d"]).reshape(-1, 3)[J["left_ankle"], 2] == 0
               for f in out if f["people"])


def test_landmarks_follow_the_retargeted_keypoints(walk, astronaut_pose):
    result = retarget_sequence(walk.pose_keypoint, figure(size=(1280, 960)))
    moved = retarget_landmarks(walk.landmarks, result)
    assert moved.canvas_size == (1280, 960) and moved.num_frames == walk.landmarks.num_frames
    size = np.array([1280, 960])
    compared = 0
    for t, frame in enumerate(result.pose_keypoint):
        if not frame["people"]:
            continue
        visible = moved.visibility()[t].numpy() > 0
        for key, first in (("hand_left_keypoints_2d", 33), ("hand_right_keypoints_2d", 54)):
            hand = frame["people"][0][key]
            if hand is None:
                continue
            hand = np.array(hand).reshape(21, 3)
            shown = (hand[:, 2] > 0) & visible[first:first + 21]
            landmarks = moved.joints[t, first:first + 21, :2].numpy()
            assert np.abs((landmarks[shown] - hand[shown, :2]) * size).max(initial=0) < 1e-2
            compared += shown.sum()
        body = pixels(frame)
        shoulder = moved.joints[t, 11, :2].numpy() * size  # MediaPipe's left shoulder is OpenPose's
        if body[J["left_shoulder"], 2] > 0:
            assert np.abs(shoulder - body[J["left_shoulder"], :2]).max() < 1e-2
    assert compared >= 21
    with pytest.raises(InputError, match=r"landmarks_3d: has \d+ frames, the driving poses 3"):
        retarget_landmarks(walk.landmarks, retarget_sequence(walk.pose_keypoint[:3], astronaut_pose))


@pytest.mark.parametrize("driving, reference, message", [
    ([], None, "driving: empty"),
    ([make_frame([], 64, 64)], None, "driving: no frame has a person"),
    (None, [make_frame([], 64, 64)], "reference: no person in the reference's first frame"),
    (None, "no neck", "reference: the reference person's neck"),
])
def test_bad_input_gives_a_clear_error(driving, reference, message):
    good = [figure()]
    if reference == "no neck":
        reference = figure()
        reference["people"][0]["pose_keypoints_2d"][3 * J["neck"] + 2] = 0.0
    with pytest.raises(InputError, match=message):
        retarget_poses(good if driving is None else driving, good[0] if reference is None else reference)


def test_unknown_options_are_named():
    with pytest.raises(InputError, match="^bone_lengths"):
        retarget_poses([figure()], figure(), bone_lengths="stretch")
    with pytest.raises(InputError, match="^root_motion"):
        retarget_poses([figure()], figure(), root_motion="float")


def test_driving_placement_keeps_the_walkers_place_and_size(walk, astronaut_pose):
    result = retarget_sequence(walk.pose_keypoint, astronaut_pose, bone_lengths="exact", placement="driving")
    assert result.scale == 1.0 and result.reference_scale > 4
    reference_lengths = np.linalg.norm(bone_vectors(pixels(astronaut_pose[0]))[0], axis=1)
    for before, after in zip(walk.pose_keypoint, result.pose_keypoint):
        assert (after["canvas_width"], after["canvas_height"]) == (before["canvas_width"], before["canvas_height"])
        old, new = pixels(before), pixels(after)
        assert np.allclose(new[J["neck"]], old[J["neck"]], atol=1e-3)
        vectors, present = bone_vectors(new)
        used = present & result.reference_bones  # the reference's proportions at the walker's size
        lengths = np.linalg.norm(vectors[used], axis=1)
        assert np.allclose(lengths, reference_lengths[used] / result.reference_scale, atol=1e-3)
