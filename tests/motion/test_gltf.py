"""glTF export: the file's keyframes reproduce the motion, its node tree is the SMPL joint tree, bad input.

Real clips (fixture ``mocap_dir``): CMU ASF/AMC, MocapBank BVH and a Mixamo BVH with fingers, at 20 fps.
"""

from __future__ import annotations

import numpy as np
import pygltflib
import pytest
import torch
from posemotion.models.core.errors import InputError
from posemotion.models.core.layouts import SMPL_52, SMPL_52_PARENTS, layout_names, layout_parents
from posemotion.models.core.motion import Motion
from posemotion.models.motion import gltf, retarget
from posemotion.models.motion import io as motion_io
from posemotion.models.motion.resample import resample
from scipy.spatial.transform import Rotation

CLIPS = {"cmu": ("test.asf", "test.amc"), "mocapbank": ("test_mocapbank.bvh", None),
         "mixamo": ("test_freebvh.bvh", None)}


@pytest.fixture(scope="module")
def at_20fps(mocap_dir) -> dict[str, Motion]:
    return {name: resample(motion_io.read_motion(mocap_dir / file, amc_path=amc and mocap_dir / amc), 20)
            for name, (file, amc) in CLIPS.items()}


def _node_matrix(node: pygltflib.Node) -> np.ndarray:
    out = np.eye(4)
    x, y, z, w = node.rotation or (0.0, 0.0, 0.0, 1.0)
    out[:3, :3] = Rotation.from_quat([x, y, z, w]).as_matrix() * np.asarray(node.scale or (1.0, 1.0, 1.0))
    out[:3, 3] = node.translation or (0.0, 0.0, 0.0)
    return out


@pytest.mark.parametrize("name", list(CLIPS))
def test_glb_keyframes_reproduce_the_motion(at_20fps, tmp_path, name):
    motion = at_20fps[name]
    path = motion_io.write_motion(motion, tmp_path / f"{name}.glb")
    back = gltf.read_glb(path)
    assert (back.layout, back.num_frames, back.fps) == (motion.layout, motion.num_frames, 20.0)

    # per-joint translation keyframes carry the clip's own bone lengths, so the file's forward
    # kinematics give back the motion's joints: measured worst 0.0001 mm on all three clips (float32 keyframes)
    error = (back.joints - motion.joints).norm(dim=-1)
    assert error.max() < 0.001, (error.mean(), error.max())


def test_glb_of_a_rigid_skeleton_is_exact(tmp_path):
    # joints posed by random rotations of fixed bones (SMPL's rest skeleton, plus a hand): the bones
    # keep their lengths, so the keyframes must reproduce every joint to float32 precision
    rng = np.random.default_rng(0)
    rest = np.concatenate([retarget.SMPL_22_REST, np.zeros((30, 3))])
    parents = SMPL_52_PARENTS
    for j in range(22, 52):  # fingers: 3-4 cm bones fanning out from the wrist
        rest[j] = rest[parents[j]] + np.array([0.035 * np.sign(rest[parents[j], 0]), -0.01 * (j % 3), 0.01 * (j % 5 - 2)])
    offsets = np.array([rest[j] - rest[q] if q >= 0 else np.zeros(3) for j, q in enumerate(parents)])
    local = Rotation.from_rotvec(Rotation.random(12 * 52, random_state=1).as_rotvec() * 0.4).as_matrix()
    joints = retarget.forward_kinematics(rng.normal(size=(12, 3)) * 0.2 + [0, 1, 0], local.reshape(12, 52, 3, 3),
                                         offsets, "smpl_52")
    motion = Motion(torch.from_numpy(joints.astype(np.float32)), 30.0, "smpl_52")
    back = gltf.read_glb(gltf.write_glb(motion, tmp_path / "rigid.glb"))
    assert back.fps == 30.0
    assert (back.joints - motion.joints).norm(dim=-1).max() < 1e-5


def test_glb_structure_joint_tree_animation_and_bone_boxes(at_20fps, tmp_path):
    motion = at_20fps["mixamo"]
    doc = pygltflib.GLTF2().load_binary(gltf.write_glb(motion, tmp_path / "mixamo.glb"))
    names, parents = layout_names(motion.layout), layout_parents(motion.layout)
    assert names == SMPL_52
    nodes = {node.name: i for i, node in enumerate(doc.nodes)}
    assert doc.scenes[doc.scene].nodes == [nodes["pelvis"]]
    for j, parent in enumerate(parents):  # joint nodes nest as the SMPL tree
        if parent >= 0:
            assert nodes[names[j]] in doc.nodes[nodes[names[parent]]].children

    # the nodes' own transforms (read with scipy's x, y, z, w quaternions) pose frame 0
    world = {nodes["pelvis"]: _node_matrix(doc.nodes[nodes["pelvis"]])}
    for j, parent in enumerate(parents[1:], start=1):
        world[nodes[names[j]]] = world[nodes[names[parent]]] @ _node_matrix(doc.nodes[nodes[names[j]]])
    frame0 = np.array([world[nodes[n]][:3, 3] for n in names])
    assert np.linalg.norm(frame0 - motion.joints[0].numpy(), axis=-1).max() < 0.001

    (animation,) = doc.animations
    targets = sorted((doc.nodes[c.target.node].name, c.target.path) for c in animation.channels)
    assert targets == sorted([(n, path) for n in names for path in ("rotation", "translation")])
    times = doc.accessors[animation.samplers[0].input]
    assert (times.count, times.min, times.max) == (motion.num_frames, [0.0], [pytest.approx((motion.num_frames - 1) / 20)])

    # every bone has a box from its parent joint to the child's rest offset; leaves extend their bone
    offsets = retarget.rest_offsets(motion.joints.numpy().astype(np.float64), motion.layout)
    top = np.array([0.0, 1.0, 0.0, 1.0])  # the unit box's far end
    for j, parent in enumerate(parents):
        if parent < 0:
            continue
        box = doc.nodes[nodes[f"{names[parent]}_to_{names[j]}"]]
        assert box.mesh == 0 and nodes[box.name] in doc.nodes[nodes[names[parent]]].children
        np.testing.assert_allclose((_node_matrix(box) @ top)[:3], offsets[j], atol=1e-6)
        if j not in parents:
            leaf = doc.nodes[nodes[f"{names[j]}_end"]]
            end = [0.0, gltf.HEAD_BOX[0], 0.0] if names[j] == "head" else 0.5 * offsets[j]
            np.testing.assert_allclose((_node_matrix(leaf) @ top)[:3], end, atol=1e-6)
    positions = doc.accessors[doc.meshes[0].primitives[0].attributes.POSITION]
    assert (positions.min, positions.max) == ([-0.5, 0.0, -0.5], [0.5, 1.0, 0.5])


def test_glb_bad_input(tmp_path):
    with pytest.raises(InputError, match=r"motion: glTF export needs an smpl_22 or smpl_52 motion, got 'openpose_18'"):
        motion_io.write_motion(Motion(torch.zeros(2, 18, 3), 30.0, "openpose_18"), tmp_path / "x.glb")
    motion = Motion(torch.zeros(3, 22, 3), 20.0, "smpl_22")
    motion.joints[1, 4, 0] = float("nan")  # tensors stay mutable inside a frozen Motion
    with pytest.raises(InputError, match="motion: joints contain NaN"):
        gltf.write_glb(motion, tmp_path / "nan.glb")
    assert not (tmp_path / "nan.glb").exists() and not (tmp_path / "x.glb").exists()
    with pytest.raises(InputError, match=r"expected one of \['.npz', '.bvh', '.glb'\]"):
        motion_io.write_motion(Motion(torch.zeros(2, 22, 3), 20.0, "smpl_22"), tmp_path / "x.fbx")

    (tmp_path / "junk.glb").write_bytes(b"not a glTF file")
    with pytest.raises(InputError, match=r"glb: junk\.glb: not a readable binary glTF"):
        gltf.read_glb(tmp_path / "junk.glb")
    with pytest.raises(InputError, match="glb: file not found"):
        gltf.read_glb(tmp_path / "gone.glb")
