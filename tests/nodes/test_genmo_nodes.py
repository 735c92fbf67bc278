"""GENMO nodes on the tiny random GENMO model (support/genmo_tiny.py) installed in models/genmo, with the
real mocap clips, a synthetic click track and real video frames: the happy paths through Load GENMO ->
conditions -> GENMO Sample / Estimate 3D Motion, and each bad input refused by one error that names
the input. The tiny model's motions are meaningless: only lengths, layouts, finiteness, determinism,
which conditions change the result, and the errors are checked here."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from posemotion.models.core.errors import InputError, ModelFileError
from posemotion.models.core.layouts import SMPL_22_PARENTS
from posemotion.models.core.motion import Motion
from posemotion.models.forecasting.model import OneStageForecaster
from posemotion.models.forecasting.training import save_forecaster
from posemotion.models.genmo.denoiser import GenmoConfig
from posemotion.models.genmo.keypoints2d import keypoint_condition
from posemotion.models.genmo.model import MAX_SECONDS, GenmoModel, save_genmo
from posemotion.models.genmo.pipeline import MusicInput
from posemotion.models.motion.io import read_motion
from posemotion.models.motion.resample import resample
from posemotion.models.render.motion_view import project_motion
from posemotion.nodes import NODE_CLASS_MAPPINGS as NODES
from posemotion.nodes import bridge
from posemotion.nodes.genmo_nodes import EMBEDDED_TEXT
from support.genmo_tiny import TINY_NAME, save_tiny_genmo

pytestmark = pytest.mark.usefixtures("one_torch_thread")
FAST = {"steps": 4, "cfg": 2.5, "window": 16}  # a few DDIM steps: the tiny model samples 1 s in ~0.03 s
SAMPLE_RATE = 22050
CLICK_BPM = 120.0
T5_GENMO = "t5_genmo.safetensors"  # a GENMO checkpoint that records a T5 text encoder
NOT_GENMO = "pose_forecaster.safetensors"  # a real checkpoint of another family, misplaced in models/genmo


@pytest.fixture(scope="module")
def models_dir(tmp_path_factory):
    """models/genmo with the tiny model, a GENMO checkpoint trained with T5 and a misplaced forecaster,
    seen through the bridge's no-ComfyUI fallback for the whole module."""
    root = tmp_path_factory.mktemp("genmo_models")
    save_tiny_genmo(root / "genmo")
    t5_model = GenmoModel(GenmoConfig(width=32, layers=1, heads=2, mlp_ratio=2.0, dropout=0.0, window=16,
                                      text_dim=64, text_encoder="t5:t5-small"))
    save_genmo(t5_model, str(root / "genmo" / T5_GENMO), record={"what": "T5 text encoder test model"})
    forecaster = OneStageForecaster(num_joints=18, cond_dim=32, layout="openpose_18", encoder="text", max_horizon=8,
                                    d_model=32, num_layers=1, num_heads=2, ffn_dim=64)
    save_forecaster(forecaster, str(root / "genmo" / NOT_GENMO))
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("POSEMOTION_MODELS_DIR", str(root))
        yield root


@pytest.fixture(scope="module")
def genmo(models_dir):
    return NODES["PoseMotionLoadGenmo"]().load(checkpoint=TINY_NAME, text_encoder=EMBEDDED_TEXT)["result"][0]


@pytest.fixture(scope="module")
def walk(mocap_dir) -> Motion:
    return read_motion(mocap_dir / "test_mocapbank.bvh")  # smpl_22, 15 s


def click_track(seconds: float, bpm: float = CLICK_BPM, channels: int = 2) -> dict:
    """ComfyUI AUDIO: 10 ms decaying 1 kHz clicks on every beat."""
    time = np.arange(int(seconds * SAMPLE_RATE)) / SAMPLE_RATE
    since_beat = np.mod(time, 60.0 / bpm)
    wave = np.where(since_beat < 0.01, np.sin(2 * np.pi * 1000 * time) * np.exp(-since_beat * 300), 0.0)
    waveform = torch.from_numpy(np.tile(wave, (channels, 1))).float()[None]
    return {"waveform": 0.5 * waveform, "sample_rate": SAMPLE_RATE}


def bone_angles(pose: torch.Tensor) -> torch.Tensor:
    """Cosines between every two bones of one smpl_22 pose [22, 3]: the pose's shape, whatever its facing,
    place and bone lengths (Sample holds bones at their median length over the clip)."""
    bones = pose[1:] - pose[list(SMPL_22_PARENTS[1:])]
    bones = bones / bones.norm(dim=-1, keepdim=True)
    return bones @ bones.T


def timeline(text: str) -> list:
    return NODES["PoseMotionGenmoTimeline"]().build(text=text)["result"][0]


def sample(genmo, seconds=1.0, seed=0, node=None, **inputs) -> Motion:
    node = node or NODES["PoseMotionGenmoSample"]()
    out = node.sample(genmo=genmo, seconds=seconds, seed=seed, **{**FAST, **inputs})
    motion, fps = out["result"]
    assert fps == motion.fps == 20.0
    assert out["ui"]["text"] == [f"{motion.num_frames} frames at 20 fps"]
    return motion


def input_error(name: str, call, match: str = "") -> InputError:
    """``call`` raises one InputError whose message starts with the input ``name``."""
    with pytest.raises(InputError) as caught:
        call()
    assert caught.value.input_name == name and str(caught.value).startswith(f"{name}: ")
    assert match in str(caught.value), str(caught.value)
    return caught.value


# ----------------------------------------------------------------------------- happy paths

def test_text_timeline_samples_a_deterministic_motion_of_the_requested_length(genmo):
    choices = NODES["PoseMotionLoadGenmo"].INPUT_TYPES()["required"]["checkpoint"][0]
    assert choices[:3] == [NOT_GENMO, T5_GENMO, TINY_NAME]
    built = NODES["PoseMotionGenmoTimeline"]().build(text="0-1: a person walks forward\n\n1-2.5: a person waves")
    assert built["ui"]["text"] == ["2 prompt(s)"]
    prompts = built["result"][0]

    for seconds, inputs in ((2.5, {"timeline": prompts}), (1.23, {})):  # round(seconds * 20) frames; no text works
        motion = sample(genmo, seconds=seconds, **inputs)
        assert (motion.num_frames, motion.layout, motion.joints.shape[1:]) == (round(seconds * 20), "smpl_22", (22, 3))
        assert torch.isfinite(motion.joints).all()
    first = sample(genmo, seconds=2.5, seed=7, timeline=prompts)
    assert torch.equal(first.joints, sample(genmo, seconds=2.5, seed=7, timeline=prompts).joints)
    other = sample(genmo, seconds=2.5, seed=8, timeline=prompts)
    assert (first.joints - other.joints).abs().max() > 1e-3


def test_overlapping_windows_are_allowed_and_both_prompts_act(genmo):
    both = sample(genmo, seed=3, timeline=timeline("0-1: a person walks forward\n0.3-0.8: a person jumps"))
    walks = sample(genmo, seed=3, timeline=timeline("0-1: a person walks forward"))
    jumps = sample(genmo, seed=3, timeline=timeline("0.3-0.8: a person jumps"))
    assert both.num_frames == 20 and torch.isfinite(both.joints).all()
    assert (both.joints - walks.joints).abs().max() > 1e-4  # the second prompt changes the motion
    assert (both.joints - jumps.joints).abs().max() > 1e-4  # and so does the first


def test_pose_music_and_keyframes_condition_one_sample(genmo, walk):
    clip = resample(walk, 30.0)
    pose_keypoint = project_motion(Motion(joints=clip.joints[:45].contiguous(), fps=30.0, layout=clip.layout),
                                   yaw_degrees=30.0)
    pose_2d = NODES["PoseMotionGenmoPose2D"]().build(pose_keypoint=pose_keypoint, fps=30.0, person=0)
    assert pose_2d["ui"]["text"] == ["person 0 in 45/45 frames"]
    music = NODES["PoseMotionGenmoMusic"]().build(audio=click_track(3.0))
    frames = len(music["result"][0].features)
    assert abs(frames - 60) <= 1 and music["ui"]["text"] == [f"{frames} frames of music features at 20 fps"]  # 3 s
    keyframes = NODES["PoseMotionGenmoKeyframes"]().build(motion=resample(walk, 20.0), frames="0, 19")
    conditions = {"pose_2d": pose_2d["result"][0], "music": music["result"][0], "keyframes": keyframes["result"][0]}

    plain = sample(genmo, seconds=1.5, seed=2, timeline=timeline("a person walks"))
    conditioned = sample(genmo, seconds=1.5, seed=2, timeline=timeline("a person walks"), **conditions)
    assert conditioned.num_frames == 30 and torch.isfinite(conditioned.joints).all()
    assert (plain.joints - conditioned.joints).abs().max() > 1e-3
    at_20 = resample(walk, 20.0)
    for frame in (0, 19):  # the keyframes' poses are kept exactly (inpainting), the others are free
        torch.testing.assert_close(bone_angles(conditioned.joints[frame]), bone_angles(at_20.joints[frame]),
                                   atol=1e-4, rtol=0)
    assert (bone_angles(conditioned.joints[10]) - bone_angles(at_20.joints[10])).abs().max() > 0.1
    for name in conditions:  # each condition on its own changes the motion too
        alone = sample(genmo, seconds=1.5, seed=2, timeline=timeline("a person walks"), **{name: conditions[name]})
        assert (plain.joints - alone.joints).abs().max() > 1e-4, name


def test_pose_2d_at_30_fps_is_resampled_to_the_motion_length(genmo, walk):
    clip = resample(walk, 30.0)
    pose_keypoint = project_motion(Motion(joints=clip.joints[:60].contiguous(), fps=30.0, layout=clip.layout))
    pose_2d = NODES["PoseMotionGenmoPose2D"]().build(pose_keypoint=pose_keypoint, fps=30.0, person=0)["result"][0]
    keypoints, bbox, mask = keypoint_condition(pose_2d.frames, pose_2d.fps, 40)  # what Sample builds for 2 s
    assert (keypoints.shape, bbox.shape, mask.shape) == ((1, 40, 17, 3), (1, 40, 3), (1, 40))
    assert bool(mask.all())  # 60 frames at 30 fps cover the 2 s exactly
    assert sample(genmo, seconds=2.0, pose_2d=pose_2d).num_frames == 40
    with pytest.warns(UserWarning, match="poses: 60 frames at 30 fps cover 2.00 s"):  # longer motion: rest free
        assert sample(genmo, seconds=3.0, pose_2d=pose_2d).num_frames == 60


def test_estimate_3d_motion_from_real_video_frames(genmo, walk_frames):
    frames, fps = walk_frames
    images = torch.from_numpy(frames[:12]).float().div(255)  # ComfyUI IMAGE [12, H, W, 3]
    # Seed 2: the random model's estimates are upside down, and for most seeds (0, 1, 3, 5, 7 here) no unmirrored
    # camera fits them: fit_camera then returns a negative scale that to_camera_frame refuses (reported).
    out = NODES["PoseMotionEstimateMotion"]().estimate(genmo=genmo, frames=images, fps=float(fps), seed=2, window=16)
    motion, camera_motion, pose_keypoint = out["result"]
    length = round(12 / fps * 20)
    assert (motion.num_frames, camera_motion.num_frames) == (length, length)
    assert motion.layout == camera_motion.layout == "smpl_22" and motion.fps == camera_motion.fps == 20.0
    assert torch.isfinite(motion.joints).all() and torch.isfinite(camera_motion.joints).all()
    assert len(pose_keypoint) == 12 and sum(bool(frame["people"]) for frame in pose_keypoint) >= 8  # walks in at 3
    assert not torch.allclose(motion.joints, camera_motion.joints)  # placed in the camera's frame


# ----------------------------------------------------------------------------- bad input

def test_timeline_errors_name_the_text_and_the_prompt(genmo):
    build = NODES["PoseMotionGenmoTimeline"]().build
    input_error("text", lambda: build(text=""), "the timeline is empty")
    input_error("text", lambda: build(text="  \n\n "), "the timeline is empty")
    input_error("text", lambda: build(text="0-2: walks\n2-3:   "), "prompt 2 ('2-3:'): the prompt text is empty")
    input_error("text", lambda: build(text="3-1: walks"), "prompt 1")
    out_of_range = timeline("0-1: walks\n0.5-4: sits down")  # windows are checked against the length at sampling
    input_error("text", lambda: sample(genmo, seconds=2.0, timeline=out_of_range),
                "prompt 2 ('0.5-4: sits down'): ends at 4 s, after the motion's 2 s")
    assert sample(genmo, seconds=4.0, timeline=out_of_range).num_frames == 80


@pytest.mark.parametrize("seconds, match", [(0.0, "outside the allowed range"), (float("nan"), "finite"),
                                            (MAX_SECONDS + 1, f"allowed range 0.05..{MAX_SECONDS}")])
def test_length_zero_nan_or_beyond_the_maximum_names_seconds(genmo, seconds, match):
    input_error("seconds", lambda: sample(genmo, seconds=seconds), match)


def test_keyframes_outside_the_length_name_frames(genmo, walk):
    build = NODES["PoseMotionGenmoKeyframes"]().build
    input_error("frames", lambda: build(motion=walk, frames="0, x"), "whole frame numbers")
    keyframes = build(motion=resample(walk, 20.0), frames="0, 30")["result"][0]
    input_error("frames", lambda: sample(genmo, seconds=1.0, keyframes=keyframes), "frame 30 is outside")
    assert sample(genmo, seconds=2.0, keyframes=keyframes).num_frames == 40
    two_poses = Motion(joints=walk.joints[[5, 40]].contiguous(), fps=walk.fps, layout=walk.layout)
    in_order = build(motion=two_poses, frames="3, 25")["result"][0]  # one pose per keyframe, in order
    motion = sample(genmo, seconds=1.5, keyframes=in_order)
    for frame, pose in ((3, 5), (25, 40)):
        torch.testing.assert_close(bone_angles(motion.joints[frame]), bone_angles(walk.joints[pose]), atol=1e-4, rtol=0)
    input_error("frames", lambda: sample(genmo, seconds=1.0, keyframes=in_order), "frame 25 is outside")


def test_short_audio_is_padded_with_a_warning_and_silent_audio_is_refused(genmo):
    build = NODES["PoseMotionGenmoMusic"]().build
    music = build(audio=click_track(1.0))["result"][0]
    assert abs(music.features.shape[0] - 20) <= 1 and music.features.shape[1] == 35
    with pytest.warns(UserWarning, match=r"music: the track covers 1\.0\d s of the motion's 2\.00 s"):
        assert sample(genmo, seconds=2.0, music=music).num_frames == 40
    silent = {"waveform": torch.zeros(1, 2, 2 * SAMPLE_RATE), "sample_rate": SAMPLE_RATE}
    input_error("audio", lambda: build(audio=silent), "the track is silent")
    noisy = click_track(2.0)
    noisy["waveform"][0, 0, 100] = float("nan")
    input_error("audio", lambda: build(audio=noisy), "NaN")


def test_music_at_another_fps_than_the_model_names_music(genmo):
    music = NODES["PoseMotionGenmoMusic"]().build(audio=click_track(2.0))["result"][0]
    at_30 = MusicInput(music.features, 30.0)  # e.g. features computed by another tool at the video's rate
    input_error("music", lambda: sample(genmo, seconds=1.0, music=at_30), "at 30 fps but the model runs at 20 fps")


def test_poses_without_a_person_are_refused(genmo, walk):
    build = NODES["PoseMotionGenmoPose2D"]().build
    seen = project_motion(Motion(joints=walk.joints[:4].contiguous(), fps=walk.fps, layout=walk.layout))
    empty = [{**frame, "people": []} for frame in seen]
    input_error("pose_keypoint", lambda: build(pose_keypoint=empty, fps=30.0, person=0), "person 0 is in none")
    input_error("pose_keypoint", lambda: build(pose_keypoint=seen, fps=30.0, person=1), "person 1 is in none")
    input_error("pose_keypoint", lambda: build(pose_keypoint=[], fps=30.0, person=0))
    unseen = [{**frame, "people": [{**frame["people"][0], "pose_keypoints_2d": [0.0] * 54}]} for frame in seen]
    input_error("pose_keypoint", lambda: build(pose_keypoint=unseen, fps=30.0, person=0), "too few confident joints")


def test_wrong_checkpoint_and_text_encoder_are_named(models_dir):
    load = NODES["PoseMotionLoadGenmo"]().load
    with pytest.raises(ModelFileError, match=r"^checkpoint: ") as caught:
        load(checkpoint=NOT_GENMO, text_encoder=EMBEDDED_TEXT)
    assert NOT_GENMO in str(caught.value)
    (models_dir / "genmo" / "damaged.ckpt").write_bytes(b"not a Lightning checkpoint" * 10)  # routed to GEM's loader
    with pytest.raises(ModelFileError, match=r"^checkpoint: .*damaged.ckpt: not a readable GEM checkpoint"):
        load(checkpoint="damaged.ckpt", text_encoder=EMBEDDED_TEXT)
    with pytest.raises(ModelFileError, match=r"^checkpoint: file not found: 'missing.safetensors'"):
        load(checkpoint="missing.safetensors", text_encoder=EMBEDDED_TEXT)
    input_error("text_encoder", lambda: load(checkpoint=T5_GENMO, text_encoder=EMBEDDED_TEXT),
                "trained with 't5:t5-small'")
    with pytest.raises(ModelFileError, match=r"^text_encoder: folder not found: 't5-small'"):
        load(checkpoint=T5_GENMO, text_encoder="t5-small")


def test_a_failed_call_leaves_the_node_and_model_as_they_were(genmo, walk, monkeypatch):
    prompts = timeline("0-1: a person walks forward")
    node = NODES["PoseMotionGenmoSample"]()
    before = sample(genmo, seed=11, node=node, timeline=prompts)
    keyframes = NODES["PoseMotionGenmoKeyframes"]().build(motion=resample(walk, 20.0), frames="0, 30")["result"][0]
    music = NODES["PoseMotionGenmoMusic"]().build(audio=click_track(2.0))["result"][0]
    failures = [({"keyframes": keyframes}, "frames"), ({"music": MusicInput(music.features, 25.0)}, "music"),
                ({"timeline": timeline("0-3: sits")}, "text"), ({"seconds": math.inf}, "seconds")]
    for inputs, name in failures:
        input_error(name, lambda: sample(genmo, **{"seed": 11, "node": node, "timeline": prompts, **inputs}))

    class Interrupted(Exception):
        pass

    checks = []

    def cancel_at_third_step():  # stands in for ComfyUI's Cancel (the bridge's seam), checked once per step
        checks.append(1)
        if len(checks) == 3:
            raise Interrupted()

    with monkeypatch.context() as patch:
        patch.setattr(bridge, "check_interrupt", cancel_at_third_step)
        with pytest.raises(Interrupted):
            sample(genmo, seed=11, node=node, timeline=prompts)
    assert len(checks) == 3
    after = sample(genmo, seed=11, node=node, timeline=prompts)
    fresh = sample(genmo, seed=11, timeline=prompts)
    assert torch.equal(after.joints, before.joints) and torch.equal(fresh.joints, before.joints)
    assert not genmo.model.training
