"""MediaPipe detection on real photos and the real walking clip."""

import numpy as np
import pytest
import torch
from posemotion.models.core.errors import InputError
from posemotion.models.core.layouts import MEDIAPIPE_33, OPENPOSE_18
from posemotion.models.core.pose_keypoint import person_arrays
from posemotion.models.pose.detection import DetectionSettings, detect_poses


def test_astronaut_body_face_and_mask(astronaut_image):
    det = detect_poses(astronaut_image, DetectionSettings(face=True))
    assert len(det.pose_keypoint) == 1
    frame = det.pose_keypoint[0]
    assert (frame["canvas_width"], frame["canvas_height"]) == (512, 512)
    person = person_arrays(frame["people"][0])
    body = person["body"]
    nose = body[OPENPOSE_18.index("nose")]
    # Eileen Collins' face is in the upper middle of the photo, her shoulders below it
    assert nose[2] > 0.5 and 0.35 < nose[0] < 0.6 and 0.1 < nose[1] < 0.35
    for side in ("left", "right"):
        shoulder = body[OPENPOSE_18.index(f"{side}_shoulder")]
        assert shoulder[2] > 0.5 and shoulder[1] > nose[1]
    assert body[OPENPOSE_18.index("right_shoulder"), 0] < body[OPENPOSE_18.index("left_shoulder"), 0]
    assert person["face"].shape == (70, 3)
    assert np.abs(person["face"][:68, :2].mean(0) - nose[:2]).max() < 0.08
    # the selfie mask covers the person around the nose, not the top-right corner
    mask = det.masks[0]
    assert mask.shape == (512, 512) and mask.dtype == torch.float32
    assert mask[int(nose[1] * 512), int(nose[0] * 512)] > 0.5 and mask[5, 505] < 0.5
    assert det.landmarks.joints.shape == (1, 75, 3) and det.landmarks.canvas_size == (512, 512)


def test_empty_scene_gives_empty_people():
    rng = np.random.default_rng(0)
    frames = np.concatenate([np.full((1, 96, 128, 3), 128, np.uint8), rng.integers(0, 256, (1, 96, 128, 3), np.uint8)])
    det = detect_poses(frames)
    assert [f["people"] for f in det.pose_keypoint] == [[], []]
    assert det.landmarks.visibility().sum() == 0


def test_video_tracking_finds_the_walker_and_smoothing_steadies_it(walk_frames):
    frames, fps = walk_frames
    plain = detect_poses(frames, DetectionSettings(video=True, mask="none"), fps=fps)
    found = sum(bool(f["people"]) for f in plain.pose_keypoint)
    assert found >= 0.9 * len(frames)
    assert plain.landmarks.fps == pytest.approx(fps)
    smooth = detect_poses(frames, DetectionSettings(video=True, mask="none", smoothing=0.6), fps=fps)

    def jitter(motion):
        joints = motion.joints[:, :33, :2]
        seen = (motion.visibility()[:, :33] > 0)
        both = seen[1:] & seen[:-1]
        return (joints[1:] - joints[:-1]).norm(dim=-1)[both].mean().item()

    assert jitter(smooth.landmarks) < jitter(plain.landmarks)


def test_binary_confidence_for_controlnet_aux(astronaut_image):
    det = detect_poses(astronaut_image, DetectionSettings(binary_confidence=True, mask="none"))
    conf = person_arrays(det.pose_keypoint[0]["people"][0])["body"][:, 2]
    assert set(np.unique(conf)) <= {0.0, 1.0} and conf.sum() >= 5


@pytest.mark.parametrize("frames, message", [
    (torch.zeros(8, 8, 3), r"image: expected an IMAGE batch \[B,H,W,C\]"),
    (torch.zeros(0, 8, 8, 3), "image: empty batch"),
    (torch.full((1, 8, 8, 3), float("nan")), "image: frame 0 contains NaN"),
    (torch.zeros(2, 8, 8, 3).index_put_((torch.tensor([1]), torch.tensor([3])), torch.tensor(float("inf"))),
     "image: frame 1 contains NaN or infinite"),
    (torch.full((1, 8, 8, 3), 3e38).index_put_((torch.tensor([0]), torch.tensor([0])), torch.tensor(-float("inf"))),
     "image: frame 0 contains NaN or infinite"),
    (torch.zeros(2, 8, 8, 3), "image: 8x8 px is too small to find a person in"),
    (torch.zeros(1, 8, 8, 2), "image: expected an IMAGE batch"),
    ("picture.png", "image: expected an IMAGE tensor"),
])
def test_bad_images_are_named(frames, message):
    with pytest.raises(InputError, match=message):
        detect_poses(frames)


def test_a_single_channel_image_is_read_as_grey(astronaut_image):
    """ComfyUI's IMAGE may have one channel (a grey picture): it is detected like the RGB one."""
    grey = astronaut_image.mean(-1, keepdim=True)
    det = detect_poses(grey, DetectionSettings(mask="none"))
    nose = person_arrays(det.pose_keypoint[0]["people"][0])["body"][OPENPOSE_18.index("nose")]
    assert nose[2] > 0.5 and 0.35 < nose[0] < 0.6 and 0.1 < nose[1] < 0.35


def test_bad_settings():
    with pytest.raises(InputError, match="mask"):
        DetectionSettings(mask="magic")
    with pytest.raises(InputError, match="smoothing"):
        DetectionSettings(smoothing=1.0)


def test_interrupted_video_run_does_not_leak_into_the_next(walk_frames):
    frames = walk_frames[0][:12]
    settings = DetectionSettings(video=True, mask="none")
    fresh = detect_poses(frames, settings)

    class Interrupted(Exception):
        pass

    def cancel_at_frame_5(done, total):
        if done == 5:
            raise Interrupted

    with pytest.raises(Interrupted):
        detect_poses(frames[::-1].copy(), settings, progress=cancel_at_frame_5)
    again = detect_poses(frames, settings)
    assert again.pose_keypoint == fresh.pose_keypoint
    assert torch.equal(again.landmarks.joints, fresh.landmarks.joints)


def test_world_landmarks_are_hip_centred_metres_y_up_facing_the_camera(astronaut_image):
    world = detect_poses(astronaut_image).world
    assert world.layout == "mediapipe_33" and world.joints.shape == (1, 33, 3)
    points = world.joints[0].numpy()
    index = {name: k for k, name in enumerate(MEDIAPIPE_33)}
    hips = (points[index["left_hip"]] + points[index["right_hip"]]) / 2
    shoulders = (points[index["left_shoulder"]] + points[index["right_shoulder"]]) / 2
    assert np.abs(hips).max() < 0.05  # MediaPipe's world origin is the centre of the hips
    assert 0.3 < shoulders[1] - hips[1] < 0.8  # y up, metres
    # she faces the camera: her left shoulder is on the image's right (+x), her nose toward the camera (+z)
    assert points[index["left_shoulder"], 0] > points[index["right_shoulder"], 0]
    assert points[index["nose"], 2] > shoulders[2]
    assert world.visibility()[0, index["nose"]] > 0.5
