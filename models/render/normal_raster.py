"""Normal-map rendering of capsule skeletons and triangle meshes (numpy only).

Input points are in *pixel space*: x right and y down in pixels, z = depth away from the camera in
the same units (smaller z = closer), i.e. MediaPipe landmarks with x, z scaled by the image width
and y by the height. Projection is orthographic along +z: pixel (u, v) looks along the ray
{(u + 0.5, v + 0.5, z)} and the nearest surface (smallest z) wins.

Outputs are camera-space unit normals in the usual normal-map (OpenGL) convention: x right, y UP,
z TOWARD the viewer, so n_out = (nx, -ny, -nz) of the input-frame normal. They are encoded as
RGB = n * 0.5 + 0.5 (float32 in [0, 1]); a surface facing the camera is (0.5, 0.5, 1.0).
Background pixels are 0, ``mask`` marks covered pixels and ``depth`` holds the input-frame z of
the visible surface (inf where empty).

Mesh winding: the face normal is cross(v1 - v0, v2 - v0) computed in pixel space (both frames
are right-handed, so this is the same rule as OpenGL's). A face is front-facing (output z > 0)
when its vertices run counter-clockwise as seen in the image; with pixel y pointing down that is
a negative signed area (x1 - x0)(y2 - y0) - (y1 - y0)(x2 - x0) < 0. A closed mesh wound so that
the cross product points outward therefore shows normals with output z > 0. No face is culled or
re-oriented: back faces hidden by the z-buffer simply do not show.
"""

import math

import numpy as np

from ..core.errors import InputError

__all__ = ["capsule_normals", "mesh_normals", "encode_normals", "decode_normals"]

_FLIP = np.array([1.0, -1.0, -1.0])  # input frame (y down, z away) -> output (y up, z toward)


def encode_normals(n):
    """Unit normals [..., 3] (output convention) -> RGB float32 in [0, 1]."""
    return (np.asarray(n, dtype=np.float64) * 0.5 + 0.5).astype(np.float32)


def decode_normals(rgb):
    """Inverse of encode_normals (background pixels decode to (-1, -1, -1))."""
    return np.asarray(rgb, dtype=np.float64) * 2.0 - 1.0


def _check_size(height, width):
    for name, v in (("height", height), ("width", width)):
        if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v < 1:
            raise InputError(name, f"expected an integer >= 1, got {v!r}")
    return int(height), int(width)


def _finish(normals_in, mask, depth):
    """Input-frame normals on covered pixels -> (rgb, mask, depth) outputs."""
    h, w = mask.shape
    rgb = np.zeros((h, w, 3), np.float32)
    n = normals_in * _FLIP
    n /= np.maximum(np.linalg.norm(n, axis=-1, keepdims=True), 1e-12)
    rgb[mask] = encode_normals(n)
    return rgb, mask, depth.astype(np.float32)


def _sphere_entry(px, py, centre, r):
    """z of the first hit of rays (px, py, z) with a sphere; inf on a miss."""
    d2 = (px - centre[0]) ** 2 + (py - centre[1]) ** 2
    h = r * r - d2
    return np.where(h >= 0, centre[2] - np.sqrt(np.maximum(h, 0.0)), np.inf)


def _capsule_hit(px, py, a, b, r):
    """z of the first hit of rays (px, py, z), z increasing, with capsule a-b of radius r.

    The capsule is the union of the finite cylinder body and the two end spheres, so its entry
    point is the smallest entry point of the three parts.
    """
    t = np.minimum(_sphere_entry(px, py, a, r), _sphere_entry(px, py, b, r))
    ba = b - a
    baba = float(ba @ ba)
    # Body quadratic with ray origin (px, py, 0) and direction (0, 0, 1); it degenerates when the
    # bone has no length or points along the view ray, and then the spheres alone are the outline.
    k = baba - ba[2] ** 2
    if baba > 1e-12 and k > 1e-9 * baba:
        ox, oy, oz = px - a[0], py - a[1], -a[2]
        baoa = ba[0] * ox + ba[1] * oy + ba[2] * oz
        qb = baba * oz - baoa * ba[2]
        qc = baba * (ox * ox + oy * oy + oz * oz) - baoa * baoa - r * r * baba
        disc = qb * qb - k * qc
        tc = (-qb - np.sqrt(np.maximum(disc, 0.0))) / k
        s = baoa + tc * ba[2]  # projection of the hit on the axis, scaled by baba
        body = (disc >= 0) & (s >= 0) & (s <= baba)
        t = np.where(body, np.minimum(t, tc), t)
    return t


def capsule_normals(points, bones, radii, height, width, valid=None):
    """Render bones as capsules; returns (rgb [H,W,3] float32, mask [H,W] bool, depth [H,W]).

    points: [J, 3] pixel-space joints; bones: (i, j) index pairs; radii: scalar or one per bone
    (pixels, > 0); valid: optional bool [J]. Bones touching an invalid or non-finite joint are
    skipped.
    """
    height, width = _check_size(height, width)
    pts = np.asarray(points, dtype=np.float64)
    if pts.ndim != 2 or pts.shape[1] != 3:
        raise InputError("points", f"expected shape [J, 3], got {pts.shape}")
    bones_a = np.asarray(bones).reshape(-1, 2) if len(bones) else np.zeros((0, 2), np.int64)
    if bones_a.size and not np.issubdtype(bones_a.dtype, np.integer):
        raise InputError("bones", "expected integer (i, j) joint index pairs")
    if bones_a.size and (bones_a.min() < 0 or bones_a.max() >= len(pts)):
        raise InputError("bones", f"joint index out of range [0, {len(pts)})")
    if np.ndim(radii) not in (0, 1) or np.size(radii) not in (1, len(bones_a)):
        raise InputError("radii", f"expected a scalar or {len(bones_a)} values")
    r_all = np.broadcast_to(np.asarray(radii, dtype=np.float64), (len(bones_a),))
    if not np.all(np.isfinite(r_all) & (r_all > 0)):
        raise InputError("radii", "every radius must be a finite number > 0")
    ok = np.isfinite(pts).all(axis=1)
    if valid is not None:
        valid = np.asarray(valid, dtype=bool)
        if valid.shape != (len(pts),):
            raise InputError("valid", f"expected shape [{len(pts)}], got {valid.shape}")
        ok &= valid

    depth = np.full((height, width), np.inf)
    normals = np.zeros((height, width, 3))
    for (i, j), r in zip(bones_a.tolist(), r_all.tolist()):
        if not (ok[i] and ok[j]):
            continue
        a, b = pts[i], pts[j]
        # Pixels whose centre u + 0.5 lies within the bone's screen bounding box.
        x0 = max(math.ceil(min(a[0], b[0]) - r - 0.5), 0)
        x1 = min(math.floor(max(a[0], b[0]) + r - 0.5), width - 1)
        y0 = max(math.ceil(min(a[1], b[1]) - r - 0.5), 0)
        y1 = min(math.floor(max(a[1], b[1]) + r - 0.5), height - 1)
        if x0 > x1 or y0 > y1:
            continue
        px = np.arange(x0, x1 + 1)[None, :] + 0.5
        py = np.arange(y0, y1 + 1)[:, None] + 0.5
        t = _capsule_hit(px, py, a, b, r)
        win = t < depth[y0:y1 + 1, x0:x1 + 1]
        if not win.any():
            continue
        hit = np.stack(np.broadcast_arrays(px, py, t), axis=-1)[win]
        ba = b - a
        baba = float(ba @ ba)
        s = np.clip((hit - a) @ ba / baba, 0.0, 1.0) if baba > 1e-12 else 0.0
        axis = a + np.multiply.outer(s, ba)
        depth[y0:y1 + 1, x0:x1 + 1][win] = t[win]
        normals[y0:y1 + 1, x0:x1 + 1][win] = (hit - axis) / r
    mask = np.isfinite(depth)
    return _finish(normals[mask], mask, depth)


def mesh_normals(vertices, faces, height, width):
    """Rasterise a triangle mesh with smooth (area-weighted vertex) normals and a z-buffer.

    vertices: [V, 3] pixel space; faces: [F, 3] vertex indices (winding: see module docstring).
    Faces touching a non-finite vertex are skipped. Returns (rgb, mask, depth) like
    capsule_normals.
    """
    height, width = _check_size(height, width)
    v = np.asarray(vertices, dtype=np.float64)
    if v.ndim != 2 or v.shape[1] != 3:
        raise InputError("vertices", f"expected shape [V, 3], got {v.shape}")
    f = np.asarray(faces)
    if f.size == 0:
        f = np.zeros((0, 3), np.int64)
    if f.ndim != 2 or f.shape[1] != 3 or not np.issubdtype(f.dtype, np.integer):
        raise InputError("faces", f"expected integer shape [F, 3], got {f.dtype} {f.shape}")
    if f.size and (f.min() < 0 or f.max() >= len(v)):
        raise InputError("faces", f"vertex index out of range [0, {len(v)})")
    f = f[np.isfinite(v[f]).all(axis=(1, 2))]

    # Unnormalised face normals have length 2 * area, which gives the area weighting for free.
    p0, p1, p2 = v[f[:, 0]], v[f[:, 1]], v[f[:, 2]]
    fn = np.cross(p1 - p0, p2 - p0)
    vn = np.zeros_like(v)
    for k in range(3):
        np.add.at(vn, f[:, k], fn)

    # Barycentric coordinates as affine functions of the pixel centre: b_k = A_k x + B_k y + C_k.
    area2 = (p1[:, 0] - p0[:, 0]) * (p2[:, 1] - p0[:, 1]) - (p1[:, 1] - p0[:, 1]) * (p2[:, 0] - p0[:, 0])
    lo = np.minimum(np.minimum(p0, p1), p2)
    hi = np.maximum(np.maximum(p0, p1), p2)
    x0 = np.maximum(np.ceil(lo[:, 0] - 0.5), 0)
    x1 = np.minimum(np.floor(hi[:, 0] - 0.5), width - 1)
    y0 = np.maximum(np.ceil(lo[:, 1] - 0.5), 0)
    y1 = np.minimum(np.floor(hi[:, 1] - 0.5), height - 1)
    # Edge-on (zero screen area) faces cover no pixel centre; faces off canvas are skipped early.
    keep = (np.abs(area2) > 1e-12) & (x0 <= x1) & (y0 <= y1)
    idx = np.nonzero(keep)[0]
    coef = []
    for a, b in ((p1, p2), (p2, p0), (p0, p1)):  # edge opposite vertex k
        ex, ey = b[idx, 0] - a[idx, 0], b[idx, 1] - a[idx, 1]
        d = area2[idx]
        coef.append(np.stack([-ey / d, ex / d, (ey * a[idx, 0] - ex * a[idx, 1]) / d], axis=1))
    coef = np.stack(coef, axis=1)  # [K, 3 barycentrics, (A, B, C)]
    zs = np.stack([p0[idx, 2], p1[idx, 2], p2[idx, 2]], axis=1)
    boxes = np.stack([x0[idx], x1[idx], y0[idx], y1[idx]], axis=1).astype(np.int64)

    depth = np.full((height, width), np.inf)
    face_id = np.full((height, width), -1, np.int64)
    bary = np.zeros((height, width, 3))
    eps = -1e-9  # tolerate rounding on shared edges so meshes have no cracks
    for k, (bx0, bx1, by0, by1) in enumerate(boxes.tolist()):
        px = np.arange(bx0, bx1 + 1, dtype=np.float64)[None, :, None] + 0.5
        py = np.arange(by0, by1 + 1, dtype=np.float64)[:, None, None] + 0.5
        c = coef[k]
        bc = c[:, 0] * px + c[:, 1] * py + c[:, 2]  # [h, w, 3]
        z = bc @ zs[k]
        sub = depth[by0:by1 + 1, bx0:bx1 + 1]
        win = (bc >= eps).all(axis=-1) & (z < sub)
        if not win.any():
            continue
        sub[win] = z[win]
        face_id[by0:by1 + 1, bx0:bx1 + 1][win] = idx[k]
        bary[by0:by1 + 1, bx0:bx1 + 1][win] = bc[win]

    mask = face_id >= 0
    fv = f[face_id[mask]]  # [N, 3] vertex ids of the visible face per pixel
    b = np.clip(bary[mask], 0.0, None)
    n = np.einsum("nk,nkc->nc", b, vn[fv])
    return _finish(n, mask, depth)
