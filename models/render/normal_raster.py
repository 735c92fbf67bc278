"""Normal-map rendering of capsule skeletons, solid shapes (``normal_shapes``) and triangle meshes (numpy only).

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
from .normal_shapes import round_cone

__all__ = ["capsule_normals", "shape_normals", "mesh_normals", "encode_normals", "decode_normals"]

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


def _draw(depth, normals, shape):
    """z-buffer one shape (``normal_shapes`` protocol) into the canvas-sized depth and normal buffers."""
    height, width = depth.shape
    xmin, xmax, ymin, ymax = shape.box()
    # Pixels whose centre u + 0.5 lies within the shape's screen bounding box.
    x0, x1 = max(math.ceil(xmin - 0.5), 0), min(math.floor(xmax - 0.5), width - 1)
    y0, y1 = max(math.ceil(ymin - 0.5), 0), min(math.floor(ymax - 0.5), height - 1)
    if x0 > x1 or y0 > y1:
        return
    px = np.arange(x0, x1 + 1)[None, :] + 0.5
    py = np.arange(y0, y1 + 1)[:, None] + 0.5
    t, part = shape.hit(px, py)
    t = np.broadcast_to(t, (y1 - y0 + 1, x1 - x0 + 1))
    window = depth[y0:y1 + 1, x0:x1 + 1]
    win = t < window
    if not win.any():
        return
    hit = np.stack(np.broadcast_arrays(px, py, t), axis=-1)[win]
    window[win] = t[win]
    normals[y0:y1 + 1, x0:x1 + 1][win] = shape.normal(hit, np.broadcast_to(part, win.shape)[win])


def shape_normals(shapes, height, width):
    """Render solid shapes (``normal_shapes``: round cones, ellipsoids, elliptic frusta) with one
    z-buffer; returns (rgb [H,W,3] float32, mask [H,W] bool, depth [H,W]) like capsule_normals."""
    height, width = _check_size(height, width)
    depth = np.full((height, width), np.inf)
    normals = np.zeros((height, width, 3))
    for shape in shapes:
        shape.check()
        _draw(depth, normals, shape)
    mask = np.isfinite(depth)
    return _finish(normals[mask], mask, depth)


def capsule_normals(points, bones, radii, height, width, valid=None):
    """Render bones as capsules; returns (rgb [H,W,3] float32, mask [H,W] bool, depth [H,W]).

    points: [J, 3] pixel-space joints; bones: (i, j) index pairs; radii (pixels, > 0): a scalar, one
    per bone, or one (start, end) pair per bone for tapered capsules (round cones from joint i to
    joint j); valid: optional bool [J]. Bones touching an invalid or non-finite joint are skipped.
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
    r = np.asarray(radii, dtype=np.float64)
    if r.ndim == 0 or r.shape == (1,) or r.shape == (len(bones_a),):
        r_all = np.repeat(np.broadcast_to(r.reshape(-1, 1), (len(bones_a), 1)), 2, axis=1)
    elif r.shape == (len(bones_a), 2):
        r_all = r
    else:
        raise InputError("radii", f"expected a scalar, {len(bones_a)} values or {len(bones_a)} (start, end) pairs")
    if not np.all(np.isfinite(r_all) & (r_all > 0)):
        raise InputError("radii", "every radius must be a finite number > 0")
    ok = np.isfinite(pts).all(axis=1)
    if valid is not None:
        valid = np.asarray(valid, dtype=bool)
        if valid.shape != (len(pts),):
            raise InputError("valid", f"expected shape [{len(pts)}], got {valid.shape}")
        ok &= valid
    shapes = [round_cone(pts[i], pts[j], ra, rb)
              for (i, j), (ra, rb) in zip(bones_a.tolist(), r_all.tolist()) if ok[i] and ok[j]]
    return shape_normals(shapes, height, width)


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
