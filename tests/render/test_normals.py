"""Geometry tests for models/normals.py (capsule and mesh normal maps)."""

import math

import numpy as np
import pytest
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
