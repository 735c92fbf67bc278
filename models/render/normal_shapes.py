"""Solid shapes for normal maps and their exact ray hits: round cones, ellipsoids, elliptic frusta.

Frame (as in ``normal_raster``): pixel space, x right, y down, z away from the camera in pixels;
orthographic rays {(px, py, z)}, z increasing. Every shape answers

- ``box() -> (xmin, xmax, ymin, ymax)``: its screen bounding box in pixels,
- ``hit(px, py) -> (z, part)``: z of the first surface point along each ray (inf on a miss) and an
  int8 label of the sub-surface hit (for ``normal``), broadcast over the ``px``/``py`` grids,
- ``normal(points [N,3], part [N]) -> [N,3]``: unit outward normals in this (input) frame,
- ``check()``: raises ``InputError("shapes", ...)`` for non-finite or degenerate parameters.

Hits are closed-form (quadrics), so tests compare them with brute-force ray marching.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from ..core.errors import InputError

_FLAT = 1e-9  # |quadratic coefficient| below this (per unit length^2): the ray runs along the surface's rulings


def _vector(value) -> np.ndarray:
    return np.asarray(value, dtype=np.float64).reshape(3)


def _take(t, part, candidate, ok, label):
    """Keep ``candidate`` where it is valid and nearer than the current hit."""
    better = ok & (candidate < t)
    return np.where(better, candidate, t), np.where(better, np.int8(label), part)


def _sphere_entry(px, py, centre, r):
    """z of the first hit of rays (px, py, z) with a sphere; inf on a miss."""
    h = r * r - (px - centre[0]) ** 2 - (py - centre[1]) ** 2
    return np.where(h >= 0, centre[2] - np.sqrt(np.maximum(h, 0.0)), np.inf)


def _unit(n):
    return n / np.maximum(np.linalg.norm(n, axis=-1, keepdims=True), 1e-12)


class RoundCone(NamedTuple):
    """Convex hull of the spheres (a, ra) and (b, rb): a capsule when ra == rb, a tapered limb otherwise.

    Its side is the cone tangent to both spheres; with sin(beta) = (ra - rb) / |b - a| a side point p
    satisfies h sin(beta) + d cos(beta) = ra (h: p's coordinate along the axis from a, d: its distance
    from the axis), between the two tangent circles h = ra sin(beta) and h = |b - a| + rb sin(beta).
    """

    a: np.ndarray
    b: np.ndarray
    ra: float
    rb: float

    def check(self):
        if not (np.isfinite(self.a).all() and np.isfinite(self.b).all()):
            raise InputError("shapes", "round cone end points must be finite")
        if not (np.isfinite([self.ra, self.rb]).all() and self.ra > 0 and self.rb > 0):
            raise InputError("shapes", f"round cone radii must be finite and > 0, got {self.ra}, {self.rb}")

    def box(self):
        return (min(self.a[0] - self.ra, self.b[0] - self.rb), max(self.a[0] + self.ra, self.b[0] + self.rb),
                min(self.a[1] - self.ra, self.b[1] - self.rb), max(self.a[1] + self.ra, self.b[1] + self.rb))

    def _axis(self):
        """-> (unit axis, length, sin beta), or None when one sphere holds the other (no side)."""
        ab = self.b - self.a
        length = float(np.linalg.norm(ab))
        if length <= abs(self.ra - self.rb) + 1e-9:
            return None
        return ab / length, length, (self.ra - self.rb) / length

    def hit(self, px, py):
        a, ra = self.a, self.ra
        za, zb = _sphere_entry(px, py, a, ra), _sphere_entry(px, py, self.b, self.rb)
        t = np.minimum(za, zb)
        part = np.where(zb < za, np.int8(1), np.int8(0))
        axis = self._axis()
        if axis is None:
            return t, part
        u, length, sin = axis
        cos2 = 1.0 - sin * sin
        # Side quadric along the ray o + t (0, 0, 1), o = (px, py, 0) - a:
        # cos^2(|q|^2 - h^2) - (ra - h sin)^2 = 0 with q = o + t z_hat and h = q . u.
        ox, oy, oz = px - a[0], py - a[1], -a[2]
        h0 = u[0] * ox + u[1] * oy + u[2] * oz
        uz = u[2]
        qa = cos2 * (1.0 - uz * uz) - (sin * uz) ** 2
        if abs(qa) <= _FLAT:  # a capsule seen end-on: the spheres alone are the outline
            return t, part
        m = ra - sin * h0
        qb = 2.0 * (cos2 * (oz - h0 * uz) + sin * uz * m)
        qc = cos2 * (ox * ox + oy * oy + oz * oz - h0 * h0) - m * m
        disc = qb * qb - 4.0 * qa * qc
        root = np.sqrt(np.maximum(disc, 0.0))
        low, high = ra * sin, length + self.rb * sin  # the two tangent circles
        for candidate in ((-qb - root) / (2.0 * qa), (-qb + root) / (2.0 * qa)):
            h = h0 + candidate * uz
            t, part = _take(t, part, candidate, (disc >= 0) & (h >= low) & (h <= high), 2)
        return t, part

    def normal(self, points, part):
        n = np.where((part == 1)[:, None], (points - self.b) / self.rb, (points - self.a) / self.ra)
        axis = self._axis()
        side = part == 2
        if axis is not None and side.any():
            u, _, sin = axis
            q = points[side] - self.a
            away = _unit(q - np.outer(q @ u, u))
            n[side] = sin * u + np.sqrt(1.0 - sin * sin) * away
        return _unit(n)


class _Affine(NamedTuple):
    """Local coordinates q = inv(frame) (p - origin); frame columns are the local axes in pixels."""

    origin: np.ndarray
    inverse: np.ndarray

    @classmethod
    def of(cls, origin, columns):
        frame = np.asarray(columns, dtype=np.float64).T
        scale = np.prod(np.linalg.norm(frame, axis=0))
        if not np.isfinite(frame).all() or scale <= 0 or abs(np.linalg.det(frame)) <= 1e-9 * scale:
            raise InputError("shapes", "shape axes must be finite and span 3D (no two parallel, none zero)")
        return cls(_vector(origin), np.linalg.inv(frame))

    def ray(self, px, py):
        """Local start point (3 grids) and direction (3 numbers) of the rays (px, py, 0) + t (0, 0, 1)."""
        m, o = self.inverse, self.origin
        start = [m[i, 0] * (px - o[0]) + m[i, 1] * (py - o[1]) - m[i, 2] * o[2] for i in range(3)]
        return start, m[:, 2]

    def local(self, points):
        return (points - self.origin) @ self.inverse.T

    def world_normal(self, gradient):
        """A local gradient -> unit world normal (normals map by the inverse transpose)."""
        return _unit(gradient @ self.inverse)


class Ellipsoid(NamedTuple):
    """The points centre + axes.T @ s with |s| <= 1: the rows of ``axes`` are three semi-axis vectors
    (any three that span 3D, orthogonal or not: an affine image of the unit sphere)."""

    centre: np.ndarray
    axes: np.ndarray

    def check(self):
        if not np.isfinite(self.centre).all():
            raise InputError("shapes", "ellipsoid centre must be finite")
        _Affine.of(self.centre, self.axes)

    def box(self):
        half = np.linalg.norm(np.asarray(self.axes, dtype=np.float64), axis=0)
        return self.centre[0] - half[0], self.centre[0] + half[0], self.centre[1] - half[1], self.centre[1] + half[1]

    def hit(self, px, py):
        (x, y, z), d = _Affine.of(self.centre, self.axes).ray(px, py)
        qa = float(d @ d)
        qb = 2.0 * (x * d[0] + y * d[1] + z * d[2])
        disc = qb * qb - 4.0 * qa * (x * x + y * y + z * z - 1.0)
        t = np.where(disc >= 0, (-qb - np.sqrt(np.maximum(disc, 0.0))) / (2.0 * qa), np.inf)
        return t, np.zeros(np.shape(t), np.int8)

    def normal(self, points, part):
        frame = _Affine.of(self.centre, self.axes)
        return frame.world_normal(frame.local(points))


class EllipticFrustum(NamedTuple):
    """The solid between the ellipse centre0 + cos(f) axes0[0] + sin(f) axes0[1] and the same ellipse
    scaled by ``scale1`` around centre1, with flat ends. In local coordinates (x, y along the two
    semi-axes, z from 0 at centre0 to 1 at centre1) its side is x^2 + y^2 = (1 + (scale1 - 1) z)^2,
    a quadric (a cylinder when scale1 == 1). Parts: 0 the side, 1 the centre0 end, 2 the centre1 end."""

    centre0: np.ndarray
    centre1: np.ndarray
    axes0: np.ndarray
    scale1: float

    def _frame(self):
        return _Affine.of(self.centre0, [self.axes0[0], self.axes0[1], self.centre1 - self.centre0])

    def check(self):
        if not (np.isfinite(self.centre0).all() and np.isfinite(self.centre1).all()):
            raise InputError("shapes", "frustum centres must be finite")
        if not (np.isfinite(self.scale1) and self.scale1 > 0):
            raise InputError("shapes", f"frustum scale1 must be finite and > 0, got {self.scale1}")
        self._frame()

    def box(self):
        half = np.linalg.norm(np.asarray(self.axes0, dtype=np.float64)[:, :2], axis=0)
        ends = [(self.centre0, half), (self.centre1, half * self.scale1)]
        return (min(c[0] - h[0] for c, h in ends), max(c[0] + h[0] for c, h in ends),
                min(c[1] - h[1] for c, h in ends), max(c[1] + h[1] for c, h in ends))

    def hit(self, px, py):
        (x, y, z), d = self._frame().ray(px, py)
        g = self.scale1 - 1.0
        shape = np.broadcast_shapes(np.shape(x), np.shape(y))
        t, part = np.full(shape, np.inf), np.zeros(shape, np.int8)
        r0 = 1.0 + g * z
        qa = d[0] ** 2 + d[1] ** 2 - (g * d[2]) ** 2
        if abs(qa) > _FLAT:
            qb = 2.0 * (x * d[0] + y * d[1] - g * d[2] * r0)
            disc = qb * qb - 4.0 * qa * (x * x + y * y - r0 * r0)
            root = np.sqrt(np.maximum(disc, 0.0))
            for candidate in ((-qb - root) / (2.0 * qa), (-qb + root) / (2.0 * qa)):
                zc = z + candidate * d[2]
                t, part = _take(t, part, candidate, (disc >= 0) & (zc >= 0) & (zc <= 1), 0)
        if abs(d[2]) > 1e-12:  # the flat ends; a ray parallel to them meets them edge-on only
            for label, end, radius in ((1, 0.0, 1.0), (2, 1.0, self.scale1)):
                candidate = (end - z) / d[2]
                xc, yc = x + candidate * d[0], y + candidate * d[1]
                t, part = _take(t, part, candidate, xc * xc + yc * yc <= radius * radius, label)
        return t, part

    def normal(self, points, part):
        frame = self._frame()
        q = frame.local(points)
        g = self.scale1 - 1.0
        gradient = np.column_stack([q[:, 0], q[:, 1], -g * (1.0 + g * q[:, 2])])
        gradient[part == 1] = (0.0, 0.0, -1.0)
        gradient[part == 2] = (0.0, 0.0, 1.0)
        return frame.world_normal(gradient)


def round_cone(a, b, ra, rb) -> RoundCone:
    return RoundCone(_vector(a), _vector(b), float(ra), float(rb))


def ellipsoid(centre, axes) -> Ellipsoid:
    return Ellipsoid(_vector(centre), np.asarray(axes, dtype=np.float64).reshape(3, 3))


def elliptic_frustum(centre0, centre1, axes0, scale1) -> EllipticFrustum:
    return EllipticFrustum(_vector(centre0), _vector(centre1), np.asarray(axes0, dtype=np.float64).reshape(2, 3),
                           float(scale1))
