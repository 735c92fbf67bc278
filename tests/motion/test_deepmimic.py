"""DeepMimic reference motions (models/motion/deepmimic.py) on the real clips from the pybullet wheel.

``scripts/fetch_mocap.sh`` puts them in data/mocap/deepmimic (or $POSEMOTION_MOCAP_DIR/deepmimic);
without them the tests that read real clips are skipped.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from posemotion.models.core.errors import InputError
from posemotion.models.motion.deepmimic import FRAME_VALUES, URDF_SCALE, read_deepmimic, read_urdf
from posemotion.models.motion.io import read_motion
from posemotion.models.motion.rigs import detect_rig, rig_to_openpose_18

REPO = Path(__file__).resolve().parents[2]
BONE_TOLERANCE = 0.001  # m: rigid bones stay this constant
FLOOR_TOLERANCE = 0.03  # m: the lowest foot point of a walking frame is this close to y = 0
HEIGHT_RANGE = (1.5, 1.9)  # m: floor to crown of an upright adult


@pytest.fixture(scope="module")
def deepmimic_dir(mocap_dir) -> Path:
    return mocap_dir / "deepmimic"  # conftest's mocap_dir fails with the fetch command when clips are missing


@pytest.fixture(scope="module")
def walk(deepmimic_dir):
    return read_deepmimic(deepmimic_dir / "humanoid3d_walk.txt")


def _bone_lengths(clip) -> np.ndarray:
    child = [j for j, p in enumerate(clip.parents) if p >= 0]
    parent = [clip.parents[j] for j in child]
    return np.linalg.norm(clip.positions[:, child] - clip.positions[:, parent], axis=-1)


def test_urdf_parse(deepmimic_dir):
    skeleton = read_urdf(deepmimic_dir / "humanoid.urdf")
    by_name = {j.name: j for j in skeleton.joints}
    assert by_name["right_knee"].kind == "revolute"
    np.testing.assert_allclose(by_name["right_knee"].axis, [0, 0, 1])
    assert (by_name["right_knee"].parent, by_name["right_knee"].child) == ("right_hip", "right_knee")
    np.testing.assert_allclose(by_name["left_hip"].origin, [0, 0, -0.339548])
    assert by_name["right_wrist"].kind == "fixed"
    order = [j.child for j in skeleton.joints]
    assert all(order.index(j.parent) < order.index(j.child) for j in skeleton.joints if j.parent in order)
    assert "neck" in skeleton.spheres and "right_ankle" in skeleton.boxes


def test_walk_clip(walk):
    assert walk.fps == 30.0
    assert walk.positions.shape == (39, 21, 3) and walk.positions.dtype == np.float32
    lengths = _bone_lengths(walk)
    assert (lengths.max(axis=0) - lengths.min(axis=0)).max() < BONE_TOLERANCE
    names = walk.joint_names
    # the thigh is the URDF's hip->knee offset at the environment's scale
    thigh = lengths[0, [j for j, p in enumerate(walk.parents) if p >= 0].index(names.index("right_knee"))]
    assert thigh == pytest.approx(1.686184 * URDF_SCALE, abs=1e-4)
    height = walk.positions[:, names.index("head_top"), 1] - walk.positions[:, :, 1].min(axis=1)
    assert HEIGHT_RANGE[0] < height.max() < HEIGHT_RANGE[1]
    # every frame of a walk has a foot on the floor
    feet = [names.index(n) for n in ("right_ankle", "left_ankle", "right_toe", "left_toe")]
    assert np.abs(walk.positions[:, feet, 1].min(axis=1)).max() < FLOOR_TOLERANCE


def test_walk_travels_along_its_facing(walk):
    names = walk.joint_names
    root = walk.positions[:, names.index("root")]
    travel = root[-1] - root[0]
    right = walk.positions[:, names.index("right_hip")] - walk.positions[:, names.index("left_hip")]
    facing = np.cross([0.0, 1.0, 0.0], right.mean(axis=0))  # up x right = forward (y up, right-handed)
    facing /= np.linalg.norm(facing)
    assert travel @ facing > 1.0  # metres in one 1.27 s cycle
    assert abs(travel[1]) < 0.05
    # while the foot is on the floor its toes point forward (in the swing the foot points down)
    toe, ankle = walk.positions[:, names.index("right_toe")], walk.positions[:, names.index("right_ankle")]
    stance = toe[:, 1] < FLOOR_TOLERANCE
    assert stance.sum() >= 10 and ((toe - ankle)[stance] @ facing > 0.05).all()


def test_cycles_repeat_a_wrap_clip_continuously(deepmimic_dir, walk):
    three = read_deepmimic(deepmimic_dir / "humanoid3d_walk.txt", cycles=3)
    n = walk.num_frames
    assert three.num_frames == 3 * n - 2  # each seam frame is shared
    np.testing.assert_array_equal(three.positions[:n], walk.positions)
    root = three.positions[:, three.joint_names.index("root")]
    steps = np.linalg.norm(np.diff(root, axis=0), axis=-1)
    assert steps.max() < 2.0 * np.median(steps)  # no jump at the seams
    assert np.linalg.norm(root[-1] - root[0]) > 2.5 * np.linalg.norm(root[n - 1] - root[0]) * 0.95
    lengths = _bone_lengths(three)
    assert (lengths.max(axis=0) - lengths.min(axis=0)).max() < BONE_TOLERANCE


def test_a_turning_cycle_keeps_turning(deepmimic_dir):
    one = read_deepmimic(deepmimic_dir / "walker" / "turn_left1.txt")
    three = read_deepmimic(deepmimic_dir / "walker" / "turn_left1.txt", cycles=3)

    def heading(clip):
        right = clip.positions[:, clip.joint_names.index("right_hip")] - clip.positions[:, clip.joint_names.index("left_hip")]
        return np.unwrap(np.arctan2(right[:, 0], right[:, 2]))

    assert abs(heading(three)[-1] - heading(three)[0]) == pytest.approx(3 * abs(heading(one)[-1] - heading(one)[0]),
                                                                        rel=0.05)


def test_read_motion_gives_smpl_and_openpose(deepmimic_dir, walk):
    motion = read_motion(deepmimic_dir / "humanoid3d_walk.txt")
    assert motion.layout == "smpl_22" and motion.fps == 30.0 and tuple(motion.joints.shape) == (39, 22, 3)
    assert float(motion.joints[..., 1].min()) == 0.0
    assert detect_rig(walk.joint_names) == "deepmimic"
    points, valid = rig_to_openpose_18(walk.positions, walk.joint_names)
    assert valid.sum() == 14  # body and nose; eyes and ears have no source
    assert np.isfinite(points).all()


def test_cycles_refused_on_a_one_shot_clip(deepmimic_dir):
    with pytest.raises(InputError, match="humanoid3d_kick.txt"):
        read_deepmimic(deepmimic_dir / "humanoid3d_kick.txt", cycles=2)



def test_loop_seconds_repeats_only_clips_that_loop(deepmimic_dir):
    walk = read_motion(deepmimic_dir / "humanoid3d_walk.txt", loop_seconds=4.0)  # 38-frame cycle at 30 fps
    assert walk.num_frames == 4 * 38 + 1 and walk.num_frames / walk.fps >= 4.0
    kick = read_motion(deepmimic_dir / "humanoid3d_kick.txt", loop_seconds=4.0)  # "Loop": "none": as it is
    assert kick.num_frames == read_motion(deepmimic_dir / "humanoid3d_kick.txt").num_frames
    with pytest.raises(InputError, match="loop_seconds"):
        read_deepmimic(deepmimic_dir / "humanoid3d_walk.txt", loop_seconds=-1.0)


def _write(path: Path, frames, loop="wrap") -> Path:
    path.write_text(json.dumps({"Loop": loop, "Frames": frames}))
    return path


def test_bad_files_name_the_file(tmp_path, deepmimic_dir):
    urdf = deepmimic_dir / "humanoid.urdf"
    with pytest.raises(InputError, match="missing.txt"):
        read_deepmimic(tmp_path / "missing.txt", urdf)
    short = _write(tmp_path / "short.txt", [[0.0333] + [0.0] * (FRAME_VALUES - 2)])
    with pytest.raises(InputError, match=r"short.txt: frame 0 has 43 values, expected 44"):
        read_deepmimic(short, urdf)
    text = tmp_path / "notes.txt"
    text.write_text("walk forward\n")
    with pytest.raises(InputError, match="notes.txt: not a DeepMimic motion"):
        read_motion(text)
    with pytest.raises(InputError, match="urdf_path"):
        read_deepmimic(_write(tmp_path / "alone.txt", [[0.0333] + [0.0] * (FRAME_VALUES - 1)]))
