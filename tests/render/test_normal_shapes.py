"""Round cones, ellipsoids and elliptic frusta (models/render/normal_shapes.py) against analytic normals
and brute-force ray marching, and their z-buffered composition (normal_raster.shape_normals)."""

import math

import numpy as np
import pytest
from posemotion.models.core.errors import InputError
from posemotion.models.render.normal_raster import capsule_normals, decode_normals, shape_normals
from posemotion.models.render.normal_shapes import ellipsoid, elliptic_frustum, round_cone


def _first_inside(x, y, inside, z_from=-120.0, z_to=160.0, step=0.5):
    """Ray march (x, y, z) for the first z where ``inside`` holds: coarse scan, then bisection."""
    z = np.arange(z_from, z_to, step)
    points = np.stack([np.full_like(z, x), np.full_like(z, y), z], -1)
    hits = np.nonzero(inside(points))[0]
    if not len(hits):
        return None
    k = hits[0]
    assert k > 0, "the ray must start outside"
    lo, hi = z[k - 1], z[k]
    for _ in range(40):
        mid = (lo + hi) / 2
        lo, hi = (lo, mid) if inside(np.array([[x, y, mid]]))[0] else (mid, hi)
    return hi


def _check_against_march(shape, inside, size=160, samples=40, seed=0):
    """Depth of random covered pixels equals the marched first hit; a ring of uncovered pixels is missed."""
    rgb, mask, depth = shape_normals([shape], size, size)
    assert mask.sum() > 200
    rng = np.random.default_rng(seed)
    ys, xs = np.nonzero(mask)
    for k in rng.choice(len(ys), samples, replace=False):
        z = _first_inside(xs[k] + 0.5, ys[k] + 0.5, inside)
        assert z is not None and depth[ys[k], xs[k]] == pytest.approx(z, abs=2e-3)
    edge = np.nonzero(~mask & np.roll(mask, 1, axis=1))  # just right of the silhouette
    for y, x in list(zip(*edge))[:: max(len(edge[0]) // 20, 1)]:
        assert _first_inside(x + 0.5, y + 0.5, inside) is None
    return rgb, mask, depth


# ---------------------------------------------------------------- round cones (tapered capsules)


def _nearest_inner_sphere(p, a, b, ra, rb):
    """-> (s*, gap) minimising gap(s) = |p - c(s)| - r(s) over the spheres c(s) = a + s (b - a),
    r(s) = ra + s (rb - ra); gap is convex in s, so a ternary search finds the minimum."""
    a, b = np.asarray(a, float), np.asarray(b, float)
    gap = lambda s: np.linalg.norm(p - (a + s[:, None] * (b - a)), axis=-1) - (ra + s * (rb - ra))  # noqa: E731
    lo, hi = np.zeros(len(p)), np.ones(len(p))
    for _ in range(40):
        m1, m2 = lo + (hi - lo) / 3, hi - (hi - lo) / 3
        left = gap(m1) < gap(m2)
        hi, lo = np.where(left, m2, hi), np.where(left, lo, m1)
    s = (lo + hi) / 2
    return s, gap(s)


def _round_cone_inside(a, b, ra, rb):
    """Inside the convex hull of two spheres = inside some sphere between them with a linearly
    interpolated radius (an independent definition from the renderer's tangent cone)."""
    return lambda p: _nearest_inner_sphere(p, a, b, ra, rb)[1] <= 0


def test_tapered_cone_side_on_profile():
    a, b, ra, rb = np.array([40.0, 80.0, 50.0]), np.array([140.0, 80.0, 50.0]), 24.0, 10.0
    rgb, mask, depth = shape_normals([round_cone(a, b, ra, rb)], 160, 180)
    n = decode_normals(rgb)
    sin = (ra - rb) / 100.0
    cos = math.sqrt(1 - sin * sin)
    for x in (50, 90, 130):  # columns on the side (between the tangent circles)
        h = x + 0.5 - a[0]
        radius = (ra - h * sin) / cos  # distance from the axis of the side at this column
        rows = np.nonzero(mask[:, x])[0]
        assert rows.min() == math.ceil(80 - radius - 0.5) and rows.max() == math.floor(80 + radius - 0.5)
        for y in rows:
            dy = y + 0.5 - 80.0
            assert depth[y, x] == pytest.approx(50 - math.sqrt(radius ** 2 - dy ** 2), abs=1e-4)
            # Output frame: x right, y up, z toward the viewer; the side leans towards the thin end.
            expect = np.array([sin, -cos * dy / radius, cos * math.sqrt(radius ** 2 - dy ** 2) / radius])
            np.testing.assert_allclose(n[y, x], expect, atol=1e-5)
    # The wide end is a sphere of radius ra, the thin end one of radius rb.
    assert mask[80, 40 - 23] and not mask[80, 40 - 25] and mask[80, 140 + 9] and not mask[80, 140 + 11]


def test_tapered_cone_matches_ray_march():
    a, b, ra, rb = [50.0, 40.0, 10.0], [115.0, 120.0, 70.0], 22.0, 8.0
    rgb, mask, _ = _check_against_march(round_cone(a, b, ra, rb), _round_cone_inside(a, b, ra, rb))
    assert (decode_normals(rgb[mask])[:, 2] >= -1e-6).all()


def test_round_cone_normals_point_from_the_nearest_inner_sphere():
    a, b, ra, rb = np.array([40.0, 50.0, 0.0]), np.array([120.0, 100.0, 40.0]), 12.0, 20.0
    rgb, mask, depth = shape_normals([round_cone(a, b, ra, rb)], 160, 160)
    ys, xs = np.nonzero(mask)
    p = np.stack([xs + 0.5, ys + 0.5, depth[mask]], -1)
    # The surface normal is p - c(s*) for the interpolated sphere whose surface p lies on.
    s, gap = _nearest_inner_sphere(p, a, b, ra, rb)
    assert np.abs(gap).max() < 1e-4  # the hits lie on the surface (depth is float32)
    nearest = a + s[:, None] * (b - a)
    expect = (p - nearest) / np.linalg.norm(p - nearest, axis=-1, keepdims=True) * [1, -1, -1]
    angle = np.degrees(np.arccos(np.clip(np.sum(decode_normals(rgb[mask]) * expect, -1), -1, 1)))
    assert np.median(angle) < 0.2 and angle.max() < 2.0


def test_round_cone_with_one_sphere_inside_the_other_is_that_sphere():
    _, mask, depth = shape_normals([round_cone([80, 80, 0], [85, 80, 0], 30.0, 10.0)], 160, 160)
    assert mask.sum() == pytest.approx(math.pi * 900, rel=0.03) and depth[80, 80] == pytest.approx(-30, abs=0.01)


def test_capsule_normals_takes_start_and_end_radii():
    pts = np.array([[40.0, 80.0, 50.0], [140.0, 80.0, 50.0]])
    _, tapered, _ = capsule_normals(pts, [(0, 1)], [[24.0, 10.0]], 160, 180)
    _, direct, _ = shape_normals([round_cone(pts[0], pts[1], 24.0, 10.0)], 160, 180)
    assert (tapered == direct).all() and tapered[:, 50].sum() > tapered[:, 130].sum()
    with pytest.raises(InputError, match="radii"):
        capsule_normals(pts, [(0, 1)], [[24.0, 10.0, 3.0]], 32, 32)


# ---------------------------------------------------------------- ellipsoids


def test_axis_aligned_ellipsoid_matches_analytic_normals():
    centre, radii = np.array([80.0, 70.0, 0.0]), np.array([50.0, 30.0, 20.0])
    rgb, mask, depth = shape_normals([ellipsoid(centre, np.diag(radii))], 140, 160)
    assert mask.sum() == pytest.approx(math.pi * 50 * 30, rel=0.02)
    ys, xs = np.nonzero(mask)
    q = np.stack([xs + 0.5 - centre[0], ys + 0.5 - centre[1]], -1) / radii[:2]
    dz = radii[2] * np.sqrt(np.maximum(1 - (q ** 2).sum(-1), 0))
    np.testing.assert_allclose(depth[mask], -dz, atol=1e-4)  # depth is float32
    gradient = np.stack([q[:, 0] / radii[0], q[:, 1] / radii[1], -dz / radii[2] ** 2], -1)  # input frame
    expect = gradient / np.linalg.norm(gradient, axis=-1, keepdims=True) * [1, -1, -1]
    np.testing.assert_allclose(decode_normals(rgb[mask]), expect, atol=1e-5)


def test_sheared_ellipsoid_matches_ray_march():
    centre = np.array([80.0, 80.0, 10.0])
    axes = np.array([[45.0, 10.0, 15.0], [-12.0, 30.0, 5.0], [20.0, 6.0, 25.0]])  # not orthogonal
    inverse = np.linalg.inv(axes.T)
    inside = lambda p: np.linalg.norm((p - centre) @ inverse.T, axis=-1) <= 1  # noqa: E731
    rgb, mask, depth = _check_against_march(ellipsoid(centre, axes), inside)
    # Normals are the implicit function's gradient (central differences at the hit points).
    ys, xs = np.nonzero(mask)
    p = np.stack([xs + 0.5, ys + 0.5, depth[mask]], -1)
    f = lambda q: np.sum(((q - centre) @ inverse.T) ** 2, axis=-1)  # noqa: E731
    eps = 1e-4
    grad = np.stack([(f(p + eps * e) - f(p - eps * e)) / (2 * eps) for e in np.eye(3)], -1)
    expect = grad / np.linalg.norm(grad, axis=-1, keepdims=True) * [1, -1, -1]
    np.testing.assert_allclose(decode_normals(rgb[mask]), expect, atol=1e-4)


# ---------------------------------------------------------------- elliptic frusta


def _frustum_inside(centre0, centre1, axes0, scale1):
    inverse = np.linalg.inv(np.column_stack([axes0[0], axes0[1], np.subtract(centre1, centre0)]))

    def inside(p):
        x, y, z = ((p - centre0) @ inverse.T).T
        return (z >= 0) & (z <= 1) & (x * x + y * y <= (1 + (scale1 - 1) * z) ** 2)
    return inside


def test_upright_cylinder_frustum_has_the_capsule_body_profile():
    # A circular frustum with scale1 = 1 lying across the image is a cylinder: same profile as a capsule body.
    frustum = elliptic_frustum([40, 80, 50], [140, 80, 50], [[0, 20, 0], [0, 0, 20]], 1.0)
    rgb, mask, depth = shape_normals([frustum], 160, 180)
    rows = np.nonzero(mask[:, 90])[0]
    assert rows.min() == 60 and rows.max() == 99
    dy = rows + 0.5 - 80
    expect = np.stack([0 * dy, -dy / 20, np.sqrt(400 - dy ** 2) / 20], -1)
    np.testing.assert_allclose(decode_normals(rgb[rows, 90]), expect, atol=1e-6)
    assert not mask[80, 39] and mask[80, 40] and mask[80, 139] and not mask[80, 140]  # flat ends


def test_oblique_frustum_matches_ray_march_and_shows_its_near_end():
    args = (np.array([60.0, 50.0, 40.0]), np.array([100.0, 110.0, 90.0]),
            np.array([[30.0, -8.0, 5.0], [6.0, 4.0, -14.0]]), 0.6)
    rgb, mask, depth = _check_against_march(elliptic_frustum(*args), _frustum_inside(*args))
    n = decode_normals(rgb[mask])
    assert (n[:, 2] >= -1e-6).all()
    # Looking down the axis (z grows towards centre1) the flat centre0 end faces the camera.
    down = elliptic_frustum([80, 80, 0], [80, 80, 60], [[30, 0, 0], [0, 20, 0]], 0.5)
    rgb, mask, depth = shape_normals([down], 160, 160)
    assert mask.sum() == pytest.approx(math.pi * 30 * 20, rel=0.03)
    np.testing.assert_allclose(decode_normals(rgb[mask]), np.broadcast_to([0, 0, 1], (mask.sum(), 3)), atol=1e-6)
    assert np.allclose(depth[mask], 0.0)


# ---------------------------------------------------------------- composition and errors


def test_shapes_share_one_z_buffer():
    far = elliptic_frustum([30, 80, 40], [130, 80, 40], [[0, 30, 0], [0, 0, 15]], 1.0)
    near = ellipsoid([80, 80, 0], np.diag([20.0, 20.0, 20.0]))
    for shapes in ([far, near], [near, far]):
        rgb, mask, depth = shape_normals(shapes, 160, 160)
        assert depth[80, 80] == pytest.approx(-math.sqrt(400 - 0.5), abs=1e-4)  # the sphere's front, whatever the order
        assert depth[80, 40] == pytest.approx(40 - 15 * math.sqrt(1 - (0.5 / 30) ** 2), abs=1e-3)


def test_degenerate_shapes_are_refused():
    with pytest.raises(InputError, match="shapes"):
        shape_normals([round_cone([0, 0, 0], [10, 0, 0], 0.0, 2.0)], 32, 32)
    with pytest.raises(InputError, match="shapes"):
        shape_normals([ellipsoid([5, 5, 0], [[3, 0, 0], [6, 0, 0], [0, 0, 2]])], 32, 32)
    with pytest.raises(InputError, match="shapes"):
        shape_normals([elliptic_frustum([5, 5, 0], [5, 20, 0], [[3, 0, 0], [0, 0, 2]], -1.0)], 32, 32)
    with pytest.raises(InputError, match="shapes"):
        shape_normals([ellipsoid([np.nan, 5, 0], np.eye(3))], 32, 32)
