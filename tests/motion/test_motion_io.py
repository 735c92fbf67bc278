"""Motion files: bvhio reading, retargeting to SMPL joints, resampling, .npz/.npy, BVH export, bad input.

Real clips (fixture ``mocap_dir``): CMU ASF/AMC (31 bones, 120 fps), MocapBank BVH (19 joints,
30 fps) and a Mixamo BVH with fingers (69 frames, 30 fps).
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
from posemotion.models.core.errors import InputError
from posemotion.models.core.layouts import (
    SMPL_22,
    SMPL_22_PARENTS,
    SMPL_52,
    SMPL_52_PARENTS,
    layout_bones,
    layout_parents,
)
from posemotion.models.core.motion import Motion
from posemotion.models.motion import bvh, retarget
from posemotion.models.motion import io as motion_io
from posemotion.models.motion.resample import resample
from scipy.spatial.transform import Rotation

J = {name: i for i, name in enumerate(SMPL_52)}
CLIPS = {  # name: (file, amc file, source frames, fps, layout)
    "cmu": ("test.asf", "test.amc", 2751, 120.0, "smpl_22"),
    "mocapbank": ("test_mocapbank.bvh", None, 455, 30.0, "smpl_22"),
    "mixamo": ("test_freebvh.bvh", None, 69, 30.0, "smpl_52"),
}


@pytest.fixture(scope="module")
def motions(mocap_dir) -> dict[str, Motion]:
    out = {}
    for name, (file, amc, *_rest) in CLIPS.items():
        out[name] = motion_io.read_motion(mocap_dir / file, amc_path=amc and mocap_dir / amc)
    return out


@pytest.fixture(scope="module")
def at_20fps(motions) -> dict[str, Motion]:
    return {name: resample(m, 20) for name, m in motions.items()}


def test_smpl_layouts_are_trees_in_smpl_order():
    assert SMPL_52[:22] == SMPL_22 and SMPL_52_PARENTS[:22] == SMPL_22_PARENTS
    assert len(SMPL_52) == 52 and len(set(SMPL_52)) == 52
    for parents in (SMPL_22_PARENTS, SMPL_52_PARENTS):
        assert parents[0] == -1 and all(0 <= p < j for j, p in enumerate(parents) if j)
    names = SMPL_52
    assert names[SMPL_52_PARENTS[J["left_index1"]]] == "left_wrist"
    assert names[SMPL_52_PARENTS[J["right_thumb3"]]] == "right_thumb2"
    assert names[SMPL_22_PARENTS[J["left_shoulder"]]] == "left_collar"
    assert names[SMPL_22_PARENTS[J["head"]]] == "neck"
    assert len(layout_bones("smpl_52")) == 51 and layout_parents("smpl_22") == SMPL_22_PARENTS
    with pytest.raises(InputError, match="no kinematic tree"):
        layout_parents("openpose_18")


@pytest.mark.parametrize("file", ["test_mocapbank.bvh", "test_freebvh.bvh"])
def test_bvhio_forward_kinematics_matches_our_parser(mocap_dir, file):
    ours = bvh.read_bvh(mocap_dir / file, kinematics="numpy")
    theirs = bvh.read_bvh(mocap_dir / file)
    assert theirs.joint_names == ours.joint_names and theirs.parents == ours.parents
    assert theirs.fps == ours.fps == 30.0
    assert np.abs(theirs.positions - ours.positions).max() < 1e-4  # metres, end sites included


def test_bvh_layouts_bvhio_refuses_fall_back_to_our_reader(tmp_path):
    # a brace on the joint's line and a name with a space are valid BVH that bvhio's grammar rejects
    text = ("HIERARCHY\nROOT My Hips {\n OFFSET 0 0 0\n CHANNELS 6 Xposition Yposition Zposition Zrotation "
            "Xrotation Yrotation\n JOINT Up {\n  OFFSET 0 10 0\n  CHANNELS 3 Zrotation Xrotation Yrotation\n"
            "  End Site { OFFSET 0 5 0 }\n }\n}\nMOTION\nFrames: 2\nFrame Time: 0.1\n"
            "0 90 0 0 0 0 0 0 0\n1 90 0 0 0 90 0 0 0\n")
    path = tmp_path / "odd.bvh"
    path.write_text(text)
    clip = bvh.read_bvh(path)
    assert clip.joint_names == ["My Hips", "Up", "Up_End"]
    np.testing.assert_allclose(clip.positions, bvh.read_bvh(path, kinematics="numpy").positions)


@pytest.mark.parametrize("name", list(CLIPS))
def test_real_clips_retarget_to_smpl(motions, mocap_dir, name):
    file, amc, frames, fps, layout = CLIPS[name]
    motion = motions[name]
    assert (motion.layout, motion.num_frames, motion.fps) == (layout, frames, fps)
    p = motion.joints.numpy().astype(np.float64)
    feet = p[:, [J["left_ankle"], J["right_ankle"], J["left_foot"], J["right_foot"]], 1]
    assert abs(feet.min()) < 1e-6  # the lowest foot joint is the floor

    # straightened height from the floor to the head joint (0.1-0.2 m below the crown): mean bone
    # lengths up the left leg and the spine, plus the ankle's height when it is lowest
    def length(a, b):
        return np.linalg.norm(p[:, J[a]] - p[:, J[b]], axis=-1).mean()
    chain = ["left_ankle", "left_knee", "left_hip", "pelvis", "spine1", "spine2", "spine3", "neck", "head"]
    height = sum(length(a, b) for a, b in zip(chain, chain[1:])) + p[:, J["left_ankle"], 1].min()
    assert 1.3 < height < 1.9, height

    # left and right are not swapped: facing comes from the toes (label-free: the mean of both feet),
    # the body's left is up x forward, and the left hip / shoulder must lie on that side
    forward = (p[:, J["left_foot"]] - p[:, J["left_ankle"]]) + (p[:, J["right_foot"]] - p[:, J["right_ankle"]])
    forward[:, 1] = 0
    left = np.cross([0.0, 1.0, 0.0], forward)
    assert (np.sum((p[:, J["left_hip"]] - p[:, J["pelvis"]]) * left, -1) > 0).mean() > 0.95
    assert (np.sum((p[:, J["left_shoulder"]] - p[:, J["right_shoulder"]]) * left, -1) > 0).mean() > 0.95

    # synthesised joints sit where they belong on a standing first frame
    heights = p[0, [J[n] for n in ("pelvis", "spine1", "spine2", "spine3", "neck", "head")], 1]
    assert np.all(np.diff(heights) > 0), heights
    for side in ("left", "right"):
        lateral = left[0] * (1 if side == "left" else -1)
        collar = np.dot(p[0, J[f"{side}_collar"]] - p[0, J["spine3"]], lateral)
        shoulder = np.dot(p[0, J[f"{side}_shoulder"]] - p[0, J["spine3"]], lateral)
        assert 0 < collar < shoulder

    # copied joints are the source's points, only lifted onto the floor
    clip = motion_io.read_clip(mocap_dir / file, amc_path=amc and mocap_dir / amc)
    source = {"cmu": "lfemur", "mocapbank": "LeftKnee", "mixamo": "mixamorig:LeftLeg"}[name]
    lift = p[:, J["left_knee"]] - clip.positions[:, clip.joint_names.index(source)]
    np.testing.assert_allclose(lift - lift[0], 0, atol=1e-5)
    np.testing.assert_allclose(lift[0, [0, 2]], 0, atol=1e-5)


def test_mixamo_fingers_become_smplh_hands(motions, mocap_dir):
    motion = motions["mixamo"]
    p = motion.joints.numpy()
    for side, other in (("left", "right"), ("right", "left")):
        for finger in ("index", "middle", "pinky", "ring", "thumb"):
            chain = [f"{side}_wrist"] + [f"{side}_{finger}{k}" for k in (1, 2, 3)]
            bones = np.stack([np.linalg.norm(p[:, J[b]] - p[:, J[a]], axis=-1) for a, b in zip(chain, chain[1:])])
            lower, upper = np.array([[0.03], [0.01], [0.01]]), np.array([[0.15], [0.06], [0.06]])
            assert np.all((bones > lower) & (bones < upper)), (side, finger, bones.mean(1))
            assert bones.std(axis=1).max() < 1e-3  # rigid finger bones: copied, not synthesised
            tip = p[:, J[chain[-1]]]
            own = np.linalg.norm(tip - p[:, J[f"{side}_wrist"]], axis=-1)
            assert np.all(own < np.linalg.norm(tip - p[:, J[f"{other}_wrist"]], axis=-1))
    body = motion_io.read_motion(mocap_dir / "test_freebvh.bvh", layout="smpl_22")
    assert body.layout == "smpl_22" and torch.equal(body.joints, motion.joints[:, :22])


def test_resample_frame_counts_and_values(motions):
    cmu = resample(motions["cmu"], 20)
    assert (cmu.num_frames, cmu.fps) == (2750 // 6 + 1, 20.0)
    torch.testing.assert_close(cmu.joints[7], motions["cmu"].joints[42])  # 120 / 20: every 6th frame
    mixamo = resample(motions["mixamo"], 20)
    assert mixamo.num_frames == 68 * 2 // 3 + 1 and mixamo.layout == "smpl_52"
    src = motions["mixamo"].joints
    torch.testing.assert_close(mixamo.joints[1], (src[1] + src[2]) / 2)  # t = 1.5 source frames
    # float params are interpolated, the others take the nearest frame
    motion = Motion(torch.zeros(5, 22, 3), 10.0, "smpl_22",
                    {"visibility": torch.arange(5.0)[:, None].expand(5, 22), "label": torch.arange(5)})
    up = resample(motion, 20)
    assert up.num_frames == 9
    assert torch.equal(up.params["visibility"][:, 0], torch.arange(9.0) / 2)
    assert up.params["label"].dtype == torch.int64 and up.params["label"][2] == 1
    with pytest.raises(InputError, match="fps"):
        resample(motion, 0)


def test_npz_round_trip_is_exact(motions, tmp_path):
    motion = motions["mixamo"]
    vis = torch.rand(motion.num_frames, 52)
    motion = Motion(motion.joints, 29.97, motion.layout, {"visibility": vis})
    back = motion_io.read_motion(motion_io.write_npz(motion, tmp_path / "clip.npz"))
    assert torch.equal(back.joints, motion.joints) and torch.equal(back.params["visibility"], vis)
    assert (back.fps, back.layout, back.canvas_size) == (29.97, "smpl_52", None)
    image = Motion(torch.rand(3, 75, 3), 30.0, "mediapipe_holistic_75_image", canvas_size=(640, 480))
    back = motion_io.read_npz(motion_io.write_npz(image, tmp_path / "image.npz"))
    assert torch.equal(back.joints, image.joints) and back.canvas_size == (640, 480)


def test_humanml3d_new_joints_npy(tmp_path):
    joints = np.random.default_rng(0).normal(size=(30, 22, 3)).astype(np.float32)
    np.save(tmp_path / "000001.npy", joints)
    motion = motion_io.read_motion(tmp_path / "000001.npy")
    assert (motion.layout, motion.fps) == ("smpl_22", 20.0)
    assert np.array_equal(motion.joints.numpy(), joints)
    np.save(tmp_path / "features.npy", np.zeros((30, 263), np.float32))
    with pytest.raises(InputError, match="new_joint_vecs"):
        motion_io.read_motion(tmp_path / "features.npy")


@pytest.mark.parametrize("name", list(CLIPS))
def test_bvh_export_round_trip(at_20fps, tmp_path, name):
    motion = at_20fps[name]
    path = bvh.write_bvh(motion, tmp_path / f"{name}.bvh")
    back = motion_io.read_motion(path)
    assert (back.layout, back.num_frames, back.fps) == (motion.layout, motion.num_frames, 20.0)
    error = (back.joints - motion.joints).norm(dim=-1)
    # measured mean / worst: 1.3 / 28 mm (CMU), 0.1 / 1.5 mm (MocapBank), 0.2 / 2.2 mm (Mixamo); what
    # remains comes from synthesised joints (spine1, collars) moving against their siblings
    assert error.mean() < 0.005 and error.max() < 0.04, (error.mean(), error.max())

    # our own parser (not bvhio) reads the same skeleton: SMPL names, centimetres, mean bone lengths
    data = bvh.parse_bvh(path)
    layout_order = list(SMPL_52 if motion.layout == "smpl_52" else SMPL_22)
    assert sorted(n for n, end in zip(data.joint_names, data.is_end_site) if not end) == sorted(layout_order)
    names = layout_order  # the file lists joints depth first; compare them in layout order
    assert data.metres_per_unit() == 0.01
    p = motion.joints.numpy().astype(np.float64)
    parents = layout_parents(motion.layout)
    lengths = np.array([np.linalg.norm(p[:, j] - p[:, q], axis=-1).mean() for j, q in enumerate(parents) if q >= 0])
    offsets = np.linalg.norm(data.offsets[[data.joint_names.index(n) for n in names]], axis=-1)[1:] * 0.01
    np.testing.assert_allclose(offsets, lengths, atol=1e-6)
    own = bvh.read_bvh(path, kinematics="numpy")
    ours = own.positions[:, [own.joint_names.index(n) for n in names]]
    ours[..., 1] -= ours[:, [J["left_ankle"], J["right_ankle"], J["left_foot"], J["right_foot"]], 1].min()
    np.testing.assert_allclose(ours, back.joints.numpy(), atol=1e-4)


def test_bvh_export_of_a_rigid_skeleton_is_exact(tmp_path):
    # joints posed by random rotations of fixed bones (SMPL's rest skeleton, plus a hand): the fit
    # must find rotations that reproduce them up to the file's 6 decimals

    rng = np.random.default_rng(0)
    rest = np.concatenate([retarget.SMPL_22_REST, np.zeros((30, 3))])
    parents = SMPL_52_PARENTS
    for j in range(22, 52):  # fingers: 3-4 cm bones fanning out from the wrist
        rest[j] = rest[parents[j]] + np.array([0.035 * np.sign(rest[parents[j], 0]), -0.01 * (j % 3), 0.01 * (j % 5 - 2)])
    offsets = np.array([rest[j] - rest[q] if q >= 0 else np.zeros(3) for j, q in enumerate(parents)])
    local = Rotation.random(12 * 52, random_state=1).as_matrix().reshape(12, 52, 3, 3)
    local = Rotation.from_matrix(local).as_rotvec() * 0.4  # moderate poses, no half turns
    local = Rotation.from_rotvec(local.reshape(-1, 3)).as_matrix().reshape(12, 52, 3, 3)
    root = rng.normal(size=(12, 3)) * 0.2 + [0, 1, 0]
    joints = retarget.forward_kinematics(root, local, offsets, "smpl_52")
    joints[..., 1] -= joints[:, [J["left_ankle"], J["right_ankle"], J["left_foot"], J["right_foot"]], 1].min()
    motion = Motion(torch.from_numpy(joints.astype(np.float32)), 30.0, "smpl_52")
    back = motion_io.read_motion(bvh.write_bvh(motion, tmp_path / "rigid.bvh"))
    assert (back.joints - motion.joints).norm(dim=-1).max() < 1e-4


def test_bvh_export_refuses_other_layouts(tmp_path):
    with pytest.raises(InputError, match="smpl_22 or smpl_52"):
        bvh.write_bvh(Motion(torch.zeros(2, 18, 3), 30.0, "openpose_18"), tmp_path / "x.bvh")


# --------------------------------------------------------------------------------------------
# bad input: one clear InputError each

def test_truncated_bvh(mocap_dir, tmp_path):
    lines = (mocap_dir / "test_mocapbank.bvh").read_text().splitlines(keepends=True)
    motion_at = next(i for i, line in enumerate(lines) if line.strip() == "MOTION")
    cut = tmp_path / "cut.bvh"
    cut.write_text("".join(lines[: motion_at + 100]))  # bvhio alone would wait forever for more lines
    with pytest.raises(InputError, match=r"bvh: cut\.bvh.*only 97 of the 455 frames.*truncated"):
        motion_io.read_motion(cut)
    cut.write_text("".join(lines[:20]))
    with pytest.raises(InputError, match=r"bvh: cut\.bvh.*MOTION"):
        motion_io.read_motion(cut)


def test_malformed_amc(mocap_dir, tmp_path):
    lines = (mocap_dir / "test.amc").read_text().splitlines(keepends=True)
    bad_line = next(i for i, line in enumerate(lines) if line.startswith("lfemur"))
    lines[bad_line] = "lfemur 1.0 two 3.0\n"
    bad = tmp_path / "bad.amc"
    bad.write_text("".join(lines[:2000]))
    with pytest.raises(InputError, match=rf"amc: bad\.amc line {bad_line + 1}: lfemur: expected numbers"):
        motion_io.read_motion(mocap_dir / "test.asf", amc_path=bad)


def test_unknown_joint_names(mocap_dir, tmp_path):
    renamed = tmp_path / "renamed.bvh"
    renamed.write_text((mocap_dir / "test_mocapbank.bvh").read_text().replace("Left", "Port"))
    with pytest.raises(InputError, match=r"joint_names: .*'mocapbank_bvh'.*needs joints \['LeftHip', 'LeftKnee'"):
        motion_io.read_motion(renamed)


def test_smpl_52_needs_fingers(mocap_dir):
    with pytest.raises(InputError, match="smpl_52 needs finger joints"):
        motion_io.read_motion(mocap_dir / "test_mocapbank.bvh", layout="smpl_52")


def test_bad_npz_files(tmp_path):
    path = tmp_path / "m.npz"
    np.savez(path, joints=np.zeros((4, 21, 3), np.float32), fps=20.0, layout="smpl_22")
    with pytest.raises(InputError, match=r"npz: m\.npz: joints must be \[T, 22, 3\], got \[4, 21, 3\]"):
        motion_io.read_motion(path)
    joints = np.zeros((4, 22, 3), np.float32)
    joints[2, 5, 1] = np.nan
    np.savez(path, joints=joints, fps=20.0, layout="smpl_22")
    with pytest.raises(InputError, match="NaN"):
        motion_io.read_motion(path)
    np.savez(path, joints=np.zeros((4, 22, 3), np.float32), layout="smpl_22")
    with pytest.raises(InputError, match=r"missing arrays \['fps'\]"):
        motion_io.read_motion(path)
    np.savez(path, joints=np.zeros((4, 22, 3), np.float32), fps=20.0, layout="smpl_99")
    with pytest.raises(InputError, match="unknown layout 'smpl_99'"):
        motion_io.read_motion(path)
    path.write_bytes(b"not a zip file")
    with pytest.raises(InputError, match=r"npz: m\.npz: not a readable"):
        motion_io.read_motion(path)


def test_missing_and_unsupported_files(mocap_dir, tmp_path):
    for name, kind in (("gone.bvh", "bvh"), ("gone.npz", "npz"), ("gone.npy", "npy"), ("gone.asf", "asf")):
        with pytest.raises(InputError, match=rf"{kind}: file not found: .*{name}"):
            motion_io.read_motion(tmp_path / name, amc_path=mocap_dir / "test.amc")
    with pytest.raises(InputError, match="needs its AMC motion file"):
        motion_io.read_motion(mocap_dir / "test.asf")
    with pytest.raises(InputError, match=r"expected one of \['.bvh'"):
        motion_io.read_motion(tmp_path / "clip.fbx")
    with pytest.raises(InputError, match="units"):
        motion_io.read_motion(mocap_dir / "test_mocapbank.bvh", units="furlong")
