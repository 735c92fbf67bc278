"""glTF 2.0 binary (``.glb``) motion files: one writer (:func:`write_glb`) and one reader (:func:`read_glb`).

Writing
    An ``smpl_22``/``smpl_52`` MOTION becomes the same skeleton as the BVH export (``bvh.py``): one
    node per joint, named with SMPL joint names and nested as the joint tree, translated by the rest
    offsets of ``retarget.rest_offsets`` (mean bone lengths along T-pose directions), with the local
    rotations of ``retarget.fit_rotations``. One animation ("motion") holds a rotation channel per
    joint (quaternions x, y, z, w) and a translation channel per joint (the pelvis's world position;
    every other joint's offset from its parent in the parent's rotated frame), one keyframe per
    frame at the motion's fps, linear interpolation. The translations carry the clip's own bone
    lengths frame by frame (retargeted mocap stretches a little: up to 28 mm on the CMU clip), so
    the file reproduces the MOTION's joints exactly, not only the mean-length skeleton the BVH export
    holds. The nodes' own transforms are frame 0, for viewers that do not play animations. Metres,
    y up, as glTF wants.

    So that a viewer shows a figure, every bone carries a box: a child node of the parent joint
    (one shared unit-box mesh, scaled and turned onto the bone), and every leaf a box half its
    incoming bone long (the BVH export's End Site), the head a head-sized one pointing up at rest. The boxes move with their joint nodes, so any
    player that animates node transforms (three.js's GLTFLoader + AnimationMixer, which ComfyUI's
    Load 3D / Preview 3D nodes use; Blender) plays the file; no skin is needed.

Reading
    :func:`read_glb` samples the animation at its keyframes and runs forward kinematics over the
    joint nodes, giving the joint positions as a MOTION: the check that the file holds the motion.
"""

from __future__ import annotations

import os

import numpy as np
import pygltflib
import torch

from ..core.errors import InputError
from ..core.layouts import SMPL_22, SMPL_52, layout_names, layout_parents
from ..core.motion import Motion, validate_motion
from .euler import matrix_to_quaternion
from .retarget import fit_rotations, rest_offsets

ANIMATION_NAME = "motion"
BONE_COLOR = (0.62, 0.70, 0.82, 1.0)  # light steel blue, readable on the viewers' grey backgrounds
# Box widths (metres) of the trunk's bones, by the joint a bone ends at, so the figure reads as a body;
# limbs and fingers get a quarter of their length (1.2 to 5 cm).
TRUNK_WIDTHS = {"spine1": 0.13, "spine2": 0.14, "spine3": 0.15, "neck": 0.08, "left_hip": 0.09, "right_hip": 0.09,
                "left_collar": 0.07, "right_collar": 0.07}
HEAD_BOX = (0.2, 0.14)  # length, width: SMPL's head joint sits low in the skull, so the box rises from it

# Unit box along +y from y = 0 to 1, |x|, |z| <= 0.5: 4 corners per face so each face keeps its own
# flat normal.
_FACES = ((0, 1), (0, -1), (1, 1), (1, -1), (2, 1), (2, -1))  # (axis, side)


def _unit_box() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    positions, normals, indices = [], [], []
    for axis, side in _FACES:
        u, v = [a for a in range(3) if a != axis]
        normal = np.zeros(3)
        normal[axis] = side
        base = len(positions)
        for su, sv in ((-1, -1), (1, -1), (1, 1), (-1, 1)):
            corner = np.zeros(3)
            corner[axis], corner[u], corner[v] = side * 0.5, su * 0.5, sv * 0.5
            positions.append(corner)
            normals.append(normal)
        quad = [base, base + 1, base + 2, base, base + 2, base + 3]
        # counter-clockwise seen from outside: flip the winding where (u, v, axis) is left-handed
        if np.dot(np.cross(np.eye(3)[u], np.eye(3)[v]), normal) < 0:
            quad = [base, base + 2, base + 1, base, base + 3, base + 2]
        indices.extend(quad)
    positions = np.asarray(positions, np.float32)
    positions[:, 1] += 0.5
    return positions, np.asarray(normals, np.float32), np.asarray(indices, np.uint16)


def _bone_transform(vector: np.ndarray, width: float | None) -> tuple[list[float], list[float], list[float]]:
    """Translation, rotation (x, y, z, w) and scale that lay the unit box along ``vector``."""
    length = float(np.linalg.norm(vector))
    width = float(np.clip(0.25 * length, 0.012, 0.05)) if width is None else width
    direction = vector / max(length, 1e-9)
    axis = np.cross([0.0, 1.0, 0.0], direction)
    sin, cos = float(np.linalg.norm(axis)), float(direction[1])
    if sin < 1e-9:  # along +y already, or straight down: half turn about x
        quat = [0.0, 0.0, 0.0, 1.0] if cos > 0 else [1.0, 0.0, 0.0, 0.0]
    else:
        half = 0.5 * np.arctan2(sin, cos)
        quat = [*(axis / sin * np.sin(half)), float(np.cos(half))]
    return [0.0, 0.0, 0.0], [float(q) for q in quat], [width, max(length, 1e-6), width]


class _BinaryWriter:
    """Accessors over one binary buffer (each in its own 4-byte aligned buffer view)."""

    def __init__(self, gltf: pygltflib.GLTF2):
        self.gltf, self.blob = gltf, bytearray()

    def add(self, array: np.ndarray, kind: str, target: int | None = None, bounds: bool = False) -> int:
        array = np.ascontiguousarray(array)
        component = pygltflib.UNSIGNED_SHORT if array.dtype == np.uint16 else pygltflib.FLOAT
        self.blob.extend(b"\0" * (-len(self.blob) % 4))
        self.gltf.bufferViews.append(pygltflib.BufferView(buffer=0, byteOffset=len(self.blob),
                                                          byteLength=array.nbytes, target=target))
        self.blob.extend(array.tobytes())
        rows = array.reshape(array.shape[0], -1)
        accessor = pygltflib.Accessor(bufferView=len(self.gltf.bufferViews) - 1, componentType=component,
                                      count=array.shape[0], type=kind)
        if bounds:  # required for POSITION and animation inputs
            accessor.min, accessor.max = rows.min(0).tolist(), rows.max(0).tolist()
        self.gltf.accessors.append(accessor)
        return len(self.gltf.accessors) - 1


def _continuous(quats: np.ndarray) -> np.ndarray:
    """Flip signs so consecutive quaternions [T, J, 4] lie in the same hemisphere (shortest blends)."""
    out = quats.copy()
    for t in range(1, out.shape[0]):
        flip = np.sum(out[t] * out[t - 1], axis=-1) < 0
        out[t, flip] *= -1
    return out


def _local_translations(positions: np.ndarray, local: np.ndarray, parents) -> np.ndarray:
    """[T, J, 3] node translations that place every joint exactly: the root's world position, and each
    joint's offset from its parent expressed in the parent's world rotation (from the local rotations)."""
    world = np.empty_like(local)
    out = np.empty_like(positions)
    for j, parent in enumerate(parents):  # parents come before their children in SMPL order
        if parent < 0:
            world[:, j], out[:, j] = local[:, j], positions[:, j]
        else:
            world[:, j] = world[:, parent] @ local[:, j]
            out[:, j] = np.einsum("tji,tj->ti", world[:, parent], positions[:, j] - positions[:, parent])
    return out


def write_glb(motion: Motion, path) -> str:
    """Write an ``smpl_22``/``smpl_52`` motion as a binary glTF; returns the path."""
    motion = validate_motion(motion)
    if motion.layout not in ("smpl_22", "smpl_52"):
        raise InputError("motion", f"glTF export needs an smpl_22 or smpl_52 motion, got {motion.layout!r}")
    names, parents = layout_names(motion.layout), layout_parents(motion.layout)
    positions = motion.joints.numpy().astype(np.float64)
    offsets = rest_offsets(positions, motion.layout)
    local = fit_rotations(positions, motion.layout, offsets)
    quats = _continuous(matrix_to_quaternion(local)[..., [1, 2, 3, 0]])  # (w, x, y, z) -> glTF's (x, y, z, w)
    if not (np.isfinite(quats).all() and np.isfinite(offsets).all()):
        raise InputError("motion", "the joint rotations could not be fitted (non-finite values)")
    translations = _local_translations(positions, local, parents)

    gltf = pygltflib.GLTF2(asset=pygltflib.Asset(generator="PoseMotion", version="2.0"))
    data = _BinaryWriter(gltf)
    box_positions, box_normals, box_indices = _unit_box()
    gltf.materials.append(pygltflib.Material(name="bone", pbrMetallicRoughness=pygltflib.PbrMetallicRoughness(
        baseColorFactor=list(BONE_COLOR), metallicFactor=0.0, roughnessFactor=0.8)))
    attributes = pygltflib.Attributes(
        POSITION=data.add(box_positions, pygltflib.VEC3, pygltflib.ARRAY_BUFFER, bounds=True),
        NORMAL=data.add(box_normals, pygltflib.VEC3, pygltflib.ARRAY_BUFFER))
    indices = data.add(box_indices, pygltflib.SCALAR, pygltflib.ELEMENT_ARRAY_BUFFER)
    gltf.meshes.append(pygltflib.Mesh(name="bone_box", primitives=[
        pygltflib.Primitive(attributes=attributes, indices=indices, material=0)]))

    # joint nodes first (node j = joint j), then one box node per bone or leaf
    for j, name in enumerate(names):
        translation = translations[0, j]
        gltf.nodes.append(pygltflib.Node(name=name, translation=[float(v) for v in translation],
                                         rotation=[float(v) for v in quats[0, j]], children=[]))
    for j, parent in enumerate(parents):
        if parent >= 0:
            gltf.nodes[parent].children.append(j)
    for j, name in enumerate(names):
        bones = [(f"{name}_to_{names[c]}", offsets[c], TRUNK_WIDTHS.get(names[c]))
                 for c in range(len(names)) if parents[c] == j]
        if name == "head":  # straight up in the rest pose (joint frames are world-aligned at rest)
            bones = [(f"{name}_end", np.array([0.0, HEAD_BOX[0], 0.0]), HEAD_BOX[1])]
        elif not bones and parents[j] >= 0:  # a leaf's local frame is its parent's: extend its bone
            bones = [(f"{name}_end", 0.5 * offsets[j], None)]
        for bone_name, vector, width in bones:
            translation, rotation, scale = _bone_transform(vector, width)
            gltf.nodes.append(pygltflib.Node(name=bone_name, mesh=0, translation=translation,
                                             rotation=rotation, scale=scale))
            gltf.nodes[j].children.append(len(gltf.nodes) - 1)
    gltf.scenes.append(pygltflib.Scene(name=ANIMATION_NAME, nodes=[0]))
    gltf.scene = 0

    times = data.add(np.arange(motion.num_frames, dtype=np.float32) / np.float32(motion.fps),
                     pygltflib.SCALAR, bounds=True)
    samplers, channels = [], []
    for j in range(len(names)):
        for values, kind, target in ((translations[:, j], pygltflib.VEC3, "translation"),
                                     (quats[:, j], pygltflib.VEC4, "rotation")):
            samplers.append(pygltflib.AnimationSampler(
                input=times, output=data.add(values.astype(np.float32), kind), interpolation=pygltflib.LINEAR))
            channels.append(pygltflib.AnimationChannel(
                sampler=len(samplers) - 1, target=pygltflib.AnimationChannelTarget(node=j, path=target)))
    gltf.animations.append(pygltflib.Animation(name=ANIMATION_NAME, samplers=samplers, channels=channels))

    gltf.buffers.append(pygltflib.Buffer(byteLength=len(data.blob)))
    gltf.set_binary_blob(bytes(data.blob))
    path = os.fspath(path)
    gltf.save_binary(path)
    return path


# --------------------------------------------------------------------------------------------
# reading

def _accessor_array(gltf: pygltflib.GLTF2, blob: bytes, index: int) -> np.ndarray:
    accessor = gltf.accessors[index]
    view = gltf.bufferViews[accessor.bufferView]
    width = {pygltflib.SCALAR: 1, pygltflib.VEC3: 3, pygltflib.VEC4: 4}[accessor.type]
    dtype = np.uint16 if accessor.componentType == pygltflib.UNSIGNED_SHORT else np.float32
    start = (view.byteOffset or 0) + (accessor.byteOffset or 0)
    return np.frombuffer(blob, dtype, accessor.count * width, start).reshape(accessor.count, width)


def _matrices(quats: np.ndarray) -> np.ndarray:
    """Rotation matrices [..., 3, 3] of unit quaternions [..., 4] in glTF order (x, y, z, w)."""
    x, y, z, w = np.moveaxis(quats / np.linalg.norm(quats, axis=-1, keepdims=True), -1, 0)
    return np.stack([
        np.stack([1 - 2 * (y * y + z * z), 2 * (x * y - z * w), 2 * (x * z + y * w)], -1),
        np.stack([2 * (x * y + z * w), 1 - 2 * (x * x + z * z), 2 * (y * z - x * w)], -1),
        np.stack([2 * (x * z - y * w), 2 * (y * z + x * w), 1 - 2 * (x * x + y * y)], -1),
    ], -2)


def read_glb(path) -> Motion:
    """Joint positions of a ``.glb`` written by :func:`write_glb`, one frame per keyframe."""
    path = os.fspath(path)
    name = os.path.basename(path)
    if not os.path.isfile(path):
        raise InputError("glb", f"file not found: {path!r}")
    try:
        gltf = pygltflib.GLTF2().load_binary(path)
        blob = gltf.binary_blob()
    except Exception as exc:  # pygltflib reports malformed files with assorted exception types
        raise InputError("glb", f"{name}: not a readable binary glTF ({exc})") from None
    by_name = {node.name: i for i, node in enumerate(gltf.nodes)}
    layout = "smpl_52" if all(n in by_name for n in SMPL_52) else "smpl_22"
    missing = [n for n in SMPL_22 if n not in by_name]
    if missing or not gltf.animations or blob is None:
        raise InputError("glb", f"{name}: expected SMPL-named joint nodes and an animation (missing {missing})")
    names, parents = layout_names(layout), layout_parents(layout)
    nodes = [by_name[n] for n in names]

    animation = gltf.animations[0]
    inputs = {animation.samplers[c.sampler].input for c in animation.channels}
    if len(inputs) != 1:
        raise InputError("glb", f"{name}: expected one keyframe time line shared by all channels")
    times = _accessor_array(gltf, blob, inputs.pop())[:, 0]
    fps = 1.0 / float(np.median(np.diff(times))) if len(times) > 1 else 1.0
    rotations = np.array([gltf.nodes[i].rotation or [0.0, 0.0, 0.0, 1.0] for i in nodes])[None].repeat(len(times), 0)
    translations = np.array([gltf.nodes[i].translation or [0.0, 0.0, 0.0] for i in nodes])[None].repeat(len(times), 0)
    for channel in animation.channels:
        if channel.target.node not in nodes or channel.target.path not in ("rotation", "translation"):
            continue
        j = nodes.index(channel.target.node)
        values = _accessor_array(gltf, blob, animation.samplers[channel.sampler].output)
        (rotations if channel.target.path == "rotation" else translations)[:, j] = values

    world = _matrices(rotations)
    joints = np.zeros((len(times), len(names), 3))
    for j, parent in enumerate(parents):  # parents come first
        if parent < 0:
            joints[:, j] = translations[:, j]
        else:
            joints[:, j] = joints[:, parent] + np.einsum("tij,tj->ti", world[:, parent], translations[:, j])
            world[:, j] = world[:, parent] @ world[:, j]
    fps = float(round(fps)) if abs(fps - round(fps)) < 1e-3 else fps  # float32 times: 20.000002 -> 20
    return Motion(torch.from_numpy(joints.astype(np.float32)), fps, layout)
