"""Geometry tests for models/render/normal_raster.py (capsule and mesh normal maps) and the body and hand
normal maps of models/render/normal_maps.py on a synthetic standing person."""

import math

import numpy as np
import pytest
import torch
from posemotion.models.core.errors import InputError
from posemotion.models.core.motion import Motion
from posemotion.models.render.normal_maps import frame_shapes, render_motion_normals
from posemotion.models.render.normal_raster import capsule_normals, decode_normals, encode_normals, mesh_normals


def _unit_normals(rgb, mask):
    n = decode_normals(rgb[mask])
    np.testing.assert_allclose(np.linalg.norm(n, axis=-1), 1.0, atol=1e-3)
    return n


def _uv_sphere(centre, r, n_lon=40, n_lat=20):
    """Closed UV sphere with outward winding (cross(v1 - v0, v2 - v0) points outward).

    Poles lie on the view axis (z), so the silhouette is the equator ring.
    """
    th = np.linspace(0, math.pi, n_lat + 1)[1:-1]
    ph = np.linspace(0, 2 * math.pi, n_lon, endpoint=False)
    T, P = np.meshgrid(th, ph, indexing="ij")
    ring = np.stack([np.sin(T) * np.cos(P), np.sin(T) * np.sin(P), np.cos(T)], -1).reshape(-1, 3)
    verts = np.concatenate([[[0, 0, 1]], ring, [[0, 0, -1]]]) * r + np.asarray(centre, float)
    north, south = 0, len(verts) - 1
    rid = lambda i, j: 1 + i * n_lon + (j % n_lon)  # noqa: E731
    faces = []
    for j in range(n_lon):
        faces.append((north, rid(0, j), rid(0, j + 1)))
        faces.append((rid(n_lat - 2, j), south, rid(n_lat - 2, j + 1)))
        for i in range(n_lat - 2):
            a, b, c, d = rid(i, j), rid(i + 1, j), rid(i + 1, j + 1), rid(i, j + 1)
            faces += [(a, b, c), (a, c, d)]
    faces = np.array(faces)
    v0, v1, v2 = verts[faces[:, 0]], verts[faces[:, 1]], verts[faces[:, 2]]
    outward = np.einsum("ij,ij->i", np.cross(v1 - v0, v2 - v0), (v0 + v1 + v2) / 3 - centre)
    assert (outward > 0).all()  # the helper itself must be right for the tests to mean anything
    return verts, faces


# ---------------------------------------------------------------- capsules


def test_capsule_side_on_profile():
    pts = np.array([[60.0, 100.0, 50.0], [200.0, 100.0, 50.0]])
    rgb, mask, depth = capsule_normals(pts, [(0, 1)], 20.0, 256, 256)
    assert rgb.dtype == np.float32 and rgb.shape == (256, 256, 3) and mask.dtype == bool
    n_all = _unit_normals(rgb, mask)
    assert (rgb[~mask] == 0).all() and np.isinf(depth[~mask]).all()
    assert (n_all[:, 2] >= -1e-6).all()  # the visible half always faces the viewer

    col = mask[:, 130]
    rows = np.nonzero(col)[0]
    assert rows.min() == 80 and rows.max() == 119  # centres 80.5..119.5 lie within 100 +- 20
    n = decode_normals(rgb[:, 130])
    for r in (99, 100):  # the two rows straddling the axis face the camera
        np.testing.assert_allclose(n[r], [0, 0, 1], atol=0.03)
        assert depth[r, 130] == pytest.approx(50 - math.sqrt(400 - 0.25), abs=1e-3)
    assert n[80, 1] > 0.9 and n[119, 1] < -0.9  # top edge points up, bottom edge down (y up)
    np.testing.assert_allclose(n[rows, 0], 0.0, atol=1e-6)  # the body has no x component
    # Exact cylinder profile: n_out = (0, -(y - 100), -(z - 50)) / r.
    dy = rows + 0.5 - 100.0
    np.testing.assert_allclose(n[rows, 1], -dy / 20.0, atol=1e-5)


def test_capsule_end_caps_point_outward():
    pts = np.array([[60.0, 100.0, 50.0], [200.0, 100.0, 50.0]])
    rgb, mask, _ = capsule_normals(pts, [(0, 1)], 20.0, 256, 256)
    n = decode_normals(rgb)
    assert mask[100, 215] and mask[100, 44] and not mask[100, 220] and not mask[100, 39]
    assert n[100, 215, 0] > 0.7 and n[100, 44, 0] < -0.7
    # Sphere cap normal: (dx, -dy, sqrt(r^2 - dx^2 - dy^2)) / r in the output frame.
    dx, dy = 215.5 - 200.0, 100.5 - 100.0
    expect = np.array([dx, -dy, math.sqrt(400 - dx * dx - dy * dy)]) / 20.0
    np.testing.assert_allclose(n[100, 215], expect, atol=1e-5)


def test_bone_along_view_axis_is_a_disc():
    for pts in ([[128.0, 128.0, 100.0], [128.0, 128.0, 10.0]], [[128.0, 128.0, 10.0]] * 2):
        rgb, mask, depth = capsule_normals(np.array(pts), [(0, 1)], 30.0, 256, 256)
        _unit_normals(rgb, mask)
        assert mask.sum() == pytest.approx(math.pi * 900, rel=0.03)
        n = decode_normals(rgb)
        np.testing.assert_allclose(n[127:129, 127:129], np.broadcast_to([0, 0, 1], (2, 2, 3)), atol=0.03)
        assert depth[128, 128] == pytest.approx(10 - 30, abs=0.05)  # the near end sphere wins
        assert n[128, 155, 0] > 0.8 and n[100, 128, 1] > 0.8  # the rim points outward


def test_oblique_capsule_matches_brute_force_ray_march():
    a, b, r = np.array([40.0, 50.0, 10.0]), np.array([110.0, 90.0, 80.0]), 15.0
    _, mask, depth = capsule_normals(np.stack([a, b]), np.array([[0, 1]]), [r], 128, 128)
    rng = np.random.default_rng(0)
    ys, xs = np.nonzero(mask)
    pick = rng.choice(len(ys), 40, replace=False)
    z = np.arange(-50.0, 150.0, 0.005)
    ba = b - a
    for y, x in zip(ys[pick], xs[pick]):
        p = np.stack([np.full_like(z, x + 0.5), np.full_like(z, y + 0.5), z], -1)
        s = np.clip((p - a) @ ba / (ba @ ba), 0, 1)
        inside = np.linalg.norm(p - (a + s[:, None] * ba), axis=-1) <= r
        assert inside.any()
        assert depth[y, x] == pytest.approx(z[np.argmax(inside)], abs=0.01)
    # And pixels outside the mask are truly missed (sample just beyond the silhouette).
    assert not mask[50, 20] and mask[50, 40]


def test_nearer_capsule_wins_at_crossing():
    pts = np.array([[28.0, 128.0, 50.0], [228.0, 128.0, 50.0],   # far, horizontal
                    [128.0, 28.0, 0.0], [128.0, 228.0, 0.0]])    # near, vertical
    for bones, radii in (([(0, 1), (2, 3)], [15.0, 10.0]), ([(2, 3), (0, 1)], [10.0, 15.0])):
        rgb, mask, depth = capsule_normals(pts, bones, radii, 256, 256)
        n = decode_normals(rgb)
        # At the crossing, row 128 belongs to the vertical bone: normals vary along x, not y.
        assert depth[128, 128] == pytest.approx(-10, abs=0.05)
        assert n[128, 136, 0] > 0.7 and abs(n[128, 136, 1]) < 1e-6
        # Just outside the vertical bone the far capsule is visible, profile along y.
        assert depth[140, 100] == pytest.approx(50 - math.sqrt(225 - 12.5 ** 2), abs=1e-3)
        assert n[140, 100, 1] < -0.8 and abs(n[140, 100, 0]) < 1e-6


def test_invalid_joints_skip_bones():
    pts = np.array([[50.0, 50.0, 0.0], [100.0, 50.0, 0.0], [np.nan, 1.0, 0.0]])
    _, mask_all, _ = capsule_normals(pts, [(0, 1), (1, 2)], 10, 128, 128)
    assert mask_all.any()
    _, mask, _ = capsule_normals(pts, [(0, 1)], 10, 128, 128, valid=[True, False, True])
    assert not mask.any()
    rgb, mask, depth = capsule_normals(pts, [], 10, 64, 32)
    assert rgb.shape == (64, 32, 3) and not mask.any() and np.isinf(depth).all()


def test_capsule_bad_inputs():
    pts = np.zeros((3, 3))
    with pytest.raises(ValueError, match="points"):
        capsule_normals(np.zeros((3, 2)), [(0, 1)], 5, 32, 32)
    with pytest.raises(ValueError, match="bones"):
        capsule_normals(pts, [(0, 3)], 5, 32, 32)
    with pytest.raises(ValueError, match="bones"):
        capsule_normals(pts, [(-1, 0)], 5, 32, 32)
    with pytest.raises(ValueError, match="radii"):
        capsule_normals(pts, [(0, 1)], 0.0, 32, 32)
    with pytest.raises(ValueError, match="radii"):
        capsule_normals(pts, [(0, 1), (1, 2)], [5.0, -1.0], 32, 32)
    with pytest.raises(ValueError, match="radii"):
        capsule_normals(pts, [(0, 1), (1, 2)], [5.0, 5.0, 5.0], 32, 32)
    with pytest.raises(ValueError, match="height"):
        capsule_normals(pts, [(0, 1)], 5, 0, 32)
    with pytest.raises(ValueError, match="width"):
        capsule_normals(pts, [(0, 1)], 5, 32, 0)
    with pytest.raises(ValueError, match="valid"):
        capsule_normals(pts, [(0, 1)], 5, 32, 32, valid=[True])


# ---------------------------------------------------------------- meshes


def test_mesh_sphere_matches_analytic_normals():
    centre, r = np.array([128.0, 128.0, 0.0]), 100.0
    verts, faces = _uv_sphere(centre, r)
    # Shuffle the face order: visibility must come from the z-buffer, not from drawing order.
    faces = faces[np.random.default_rng(1).permutation(len(faces))]
    rgb, mask, depth = mesh_normals(verts, faces, 256, 256)
    assert mask.sum() == pytest.approx(math.pi * r * r, rel=0.03)
    n = _unit_normals(rgb, mask)
    assert (n[:, 2] > 0).all()
    ys, xs = np.nonzero(mask)
    dx, dy = xs + 0.5 - centre[0], ys + 0.5 - centre[1]
    dz = np.sqrt(np.maximum(r * r - dx * dx - dy * dy, 0.0))
    expect = np.stack([dx, -dy, dz], -1) / r
    ang = np.degrees(np.arccos(np.clip(np.einsum("ij,ij->i", n, expect), -1, 1)))
    assert ang.mean() < 3.0
    # Smooth shading: away from the rim, neighbouring pixels never jump by a facet angle (~9 deg).
    full = decode_normals(rgb)
    yy, xx = np.mgrid[0:256, 0:256]
    inner = mask & (np.hypot(xx + 0.5 - centre[0], yy + 0.5 - centre[1]) < 0.8 * r)
    pair = inner[:, 1:] & inner[:, :-1]
    step = np.degrees(np.arccos(np.clip(np.sum(full[:, 1:] * full[:, :-1], -1), -1, 1)))[pair]
    assert step.max() < 6.0
    # Depth of the front surface is the near hemisphere (smaller z), within facet error.
    assert depth[128, 128] == pytest.approx(-r, abs=1.0)


def test_mesh_reversed_winding_faces_away():
    verts, faces = _uv_sphere(np.array([64.0, 64.0, 0.0]), 40.0)
    rgb, mask, _ = mesh_normals(verts, faces[:, ::-1], 128, 128)
    assert (decode_normals(rgb[mask])[:, 2] < 0).all()


def test_mesh_tilted_plane_depth_and_normal():
    # Plane z = 0.5 x + 10, wound counter-clockwise as seen in the image (down, then right).
    quad = np.array([[10.0, 10.0], [10.0, 70.0], [90.0, 70.0], [90.0, 10.0]])
    verts = np.column_stack([quad, 0.5 * quad[:, 0] + 10])
    faces = np.array([[0, 1, 2], [0, 2, 3]])
    rgb, mask, depth = mesh_normals(verts, faces, 100, 120)
    assert mask.sum() == 80 * 60  # pixel centres 10.5..89.5 x 10.5..69.5, no cracks on the diagonal
    ys, xs = np.nonzero(mask)
    np.testing.assert_allclose(depth[mask], 0.5 * (xs + 0.5) + 10, atol=1e-4)
    np.testing.assert_allclose(decode_normals(rgb[mask]), np.broadcast_to([0.5, 0, 1] / np.sqrt(1.25), (len(xs), 3)),
                               atol=1e-5)


def test_mesh_offscreen_and_bad_inputs():
    verts = np.array([[-50.0, -50.0, 0], [-10, -50, 0], [-10, -10, 0]])
    rgb, mask, depth = mesh_normals(verts, [[0, 1, 2]], 16, 16)
    assert not mask.any() and not rgb.any() and np.isinf(depth).all()
    with pytest.raises(ValueError, match="vertices"):
        mesh_normals(np.zeros((3, 2)), [[0, 1, 2]], 16, 16)
    with pytest.raises(ValueError, match="faces"):
        mesh_normals(verts, [[0, 1, 3]], 16, 16)
    with pytest.raises(ValueError, match="faces"):
        mesh_normals(verts, [[0, 1]], 16, 16)
    with pytest.raises(ValueError, match="height"):
        mesh_normals(verts, [[0, 1, 2]], 0, 16)


def test_mesh_of_body_model_size_512():
    """A mesh as dense as an SMPL-X body (14k faces) covers its silhouette without cracks."""
    verts, faces = _uv_sphere(np.array([256.0, 256.0, 0.0]), 240.0, n_lon=120, n_lat=60)
    assert len(faces) > 14000
    _, mask, _ = mesh_normals(verts, faces, 512, 512)
    assert mask.sum() == pytest.approx(math.pi * 240 ** 2, rel=0.01)


def test_encode_decode_roundtrip():
    n = np.array([[0.0, 0.0, 1.0], [0.6, -0.8, 0.0]])
    np.testing.assert_allclose(encode_normals(n)[0], [0.5, 0.5, 1.0])
    np.testing.assert_allclose(decode_normals(encode_normals(n)), n, atol=1e-6)


# ---------------------------------------------------------------- body and hand normal maps

W, H = 400, 600
_BODY = {  # a person facing the camera, pixels (x right, y down), all at depth 0
    0: (200, 100), 2: (208, 92), 5: (192, 92), 7: (218, 98), 8: (182, 98), 9: (205, 115), 10: (195, 115),
    11: (240, 160), 12: (160, 160), 13: (255, 240), 14: (145, 240), 15: (262, 310), 16: (138, 310),
    17: (258, 335), 18: (142, 335), 19: (268, 335), 20: (132, 335), 21: (272, 320), 22: (128, 320),
    23: (225, 320), 24: (175, 320), 25: (228, 430), 26: (172, 430), 27: (230, 530), 28: (170, 530),
    29: (228, 545), 30: (172, 545), 31: (240, 555), 32: (160, 555),
}
# The left hand hanging from its wrist, palm to the camera: wrist, thumb (4), then index..pinky (4 each).
_HAND = [(0, 0), (10, 8), (18, 18), (24, 28), (28, 36)] + [
    (x, 40 + 12 * k) for x in (12, 3, -6, -15) for k in range(4)]


def _person(hands=True, scale=1.0):
    """-> (points [75, 3] in pixels, visible [75]) of the synthetic person, sizes times ``scale``."""
    points = np.zeros((75, 3))
    visible = np.zeros(75, bool)
    for j, xy in _BODY.items():
        points[j, :2] = xy
        visible[j] = True
    if hands:
        wrist = points[15, :2]
        points[33:54, :2] = wrist + np.array(_HAND, float) * [1, 1]
        visible[33:54] = True
    points[:, :2] = (points[:, :2] - [200, 300]) * scale + [200, 300]
    return points, visible


def _motion(frames):
    joints = np.stack([p / [W, H, W] for p, _ in frames]).astype(np.float32)
    visibility = np.stack([v for _, v in frames]).astype(np.float32)
    return Motion(joints=torch.from_numpy(joints), fps=30.0, layout="mediapipe_holistic_75_image",
                  params={"visibility": torch.from_numpy(visibility)}, canvas_size=(W, H))


def _runs(column):
    """Number of separate covered stretches in a mask column or row."""
    return int(np.count_nonzero(np.diff(column.astype(np.int8)) == 1) + column[0])


def test_body_has_a_filled_torso_a_neck_and_a_head():
    rgb, mask = render_motion_normals(_motion([_person(hands=False)]), "body")
    mask, n = mask[0], decode_normals(rgb[0])
    # The torso is a surface: every pixel inside the shoulder-hip quadrilateral is covered, and its
    # middle faces the camera (a stick-figure torso is four capsules around an empty middle).
    assert mask[165:315, 170:230].all()
    assert n[240, 200, 2] > 0.95 and abs(n[240, 200, 0]) < 0.02
    assert n[240, 232, 0] > 0.3 and n[240, 168, 0] < -0.3  # its sides turn away, like a chest
    # Head to hips is one connected column (the head sits on a neck), and the neck is narrower
    # than the head above it and the shoulders below it.
    top = np.nonzero(mask[:, 200])[0].min()
    assert top < 75 and _runs(mask[top:330, 200]) == 1
    widths = mask[:, 150:250].sum(axis=1)  # between the upper arms
    assert widths[140] < 0.7 * widths[98] and widths[140] < 0.5 * widths[170]
    head = np.nonzero(mask[98, 150:250])[0]
    assert head.max() - head.min() + 1 == pytest.approx(2 * 0.17 * 160, abs=2)  # HEAD_RADII[0] x torso length
    # Limbs taper: the thigh is wider at the hip than the shin at the ankle.
    assert mask[345, 150:200].sum() > 1.8 * mask[515, 150:200].sum()


def test_hand_has_a_palm_and_tapered_fingers():
    rgb, mask = render_motion_normals(_motion([_person()]), "hands")
    mask, n = mask[0], decode_normals(rgb[0])
    wrist = np.array(_BODY[15])
    palm = wrist + [0, 22]  # between the wrist and the knuckles
    assert mask[palm[1] - 6:palm[1] + 6, palm[0] - 8:palm[0] + 8].all()  # a filled palm
    assert n[palm[1], palm[0], 2] > 0.9  # facing the camera
    # Fingers are round cones: the index finger is wider at its knuckle than at its tip.
    row = lambda y: np.nonzero(mask[wrist[1] + y, wrist[0] + 6:wrist[0] + 20])[0]  # noqa: E731
    assert len(row(46)) > len(row(74)) >= 4
    assert not mask[240, 200]  # "hands" draws no body


def test_whole_draws_the_detailed_hand_instead_of_the_body_hand():
    body_only = frame_shapes(*_person(hands=False), part="whole")
    with_hand = frame_shapes(*_person(), part="whole")
    assert len(with_hand) > len(body_only)  # palm and fingers of the left hand...
    hands_only = frame_shapes(*_person(), part="hands")
    assert len(body_only) - 2 == len(with_hand) - len(hands_only)  # ...replace the left body hand and thumb


def test_thickness_and_size_scale_the_render():
    small, large = _person(hands=True, scale=0.5), _person(hands=True)
    areas = [render_motion_normals(_motion([large]), "whole", thickness=t)[1].sum() for t in (0.5, 1.0, 2.0)]
    assert areas[0] < areas[1] < areas[2]
    # Sizes follow the skeleton: a person half as large covers about a quarter of the pixels.
    half = render_motion_normals(_motion([small]), "whole")[1].sum()
    assert half == pytest.approx(areas[1] / 4, rel=0.1)


def test_degenerate_and_missing_landmarks_render_without_errors():
    collapsed = (np.full((75, 3), 50.0), np.ones(75, bool))  # every landmark on one spot
    nobody = (np.zeros((75, 3)), np.zeros(75, bool))
    no_hips = _person()
    no_hips[1][[23, 24]] = False
    rgb, mask = render_motion_normals(_motion([collapsed, nobody, no_hips]), "whole")
    assert not mask[1].any()
    assert not mask[2, 240, 200] and not mask[2, 345, 165:235].any()  # no hips: no torso and no thighs...
    assert mask[2, 140:160, 200].all()  # ...but the head, neck and arms are still there
    normals = decode_normals(rgb[mask])
    np.testing.assert_allclose(np.linalg.norm(normals, axis=-1), 1.0, atol=1e-3)


def test_normal_map_bad_inputs():
    motion = _motion([_person()])
    with pytest.raises(InputError, match="part"):
        render_motion_normals(motion, "feet")
    with pytest.raises(InputError, match="thickness"):
        render_motion_normals(motion, "body", thickness=0.0)
