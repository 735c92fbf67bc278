"""Rotation helpers in torch (any float dtype, batched over leading dimensions, differentiable).

Conventions, used by ``humanml3d.py`` and anything that shares its features:
- quaternions are ``[..., 4]`` tensors ``(w, x, y, z)``, real part first, and rotate column vectors
  (``v' = q v q^-1``);
- rotation matrices are ``[..., 3, 3]`` and act on column vectors (``v' = R @ v``);
- the continuous 6D representation (Zhou et al. 2019, as HumanML3D stores it) is the first two
  *columns* of the matrix concatenated: ``(R00, R10, R20, R01, R11, R21)``; it maps back by
  Gram-Schmidt (normalise column 0, z = x cross column 1 normalised, y = z cross x);
- a yaw is a rotation about +y by an angle ``a`` in radians taking +z towards +x:
  ``(x, z) -> (x cos a + z sin a, z cos a - x sin a)``.
"""

from __future__ import annotations

import torch


def quat_multiply(q: torch.Tensor, r: torch.Tensor) -> torch.Tensor:
    """Hamilton product ``q r`` (apply ``r`` first, then ``q``)."""
    w1, x1, y1, z1 = q.unbind(-1)
    w2, x2, y2, z2 = r.unbind(-1)
    return torch.stack((
        w1 * w2 - x1 * x2 - y1 * y2 - z1 * z2,
        w1 * x2 + x1 * w2 + y1 * z2 - z1 * y2,
        w1 * y2 - x1 * z2 + y1 * w2 + z1 * x2,
        w1 * z2 + x1 * y2 - y1 * x2 + z1 * w2,
    ), dim=-1)


def quat_conjugate(q: torch.Tensor) -> torch.Tensor:
    """The inverse of a unit quaternion."""
    return q * q.new_tensor([1.0, -1.0, -1.0, -1.0])


def quat_between(u: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
    """Unit quaternion of the smallest rotation taking direction ``u`` to direction ``v`` ([..., 3]).

    Opposite directions have no unique smallest rotation: a half turn about an axis perpendicular to
    ``u`` is used there (the plain formula would divide by zero).
    """
    u = u / u.norm(dim=-1, keepdim=True)
    v = v / v.norm(dim=-1, keepdim=True)
    cross = torch.linalg.cross(u, v, dim=-1)
    q = torch.cat([1.0 + (u * v).sum(-1, keepdim=True), cross], dim=-1)
    norm = q.norm(dim=-1, keepdim=True)
    opposite = norm[..., 0] < 1e-6
    if bool(opposite.any()):
        # the unit axis least aligned with u, made perpendicular to it
        helper = torch.zeros_like(u)
        helper.scatter_(-1, u.abs().argmin(-1, keepdim=True), 1.0)
        axis = torch.linalg.cross(u, helper, dim=-1)
        axis = axis / axis.norm(dim=-1, keepdim=True)
        half_turn = torch.cat([torch.zeros_like(u[..., :1]), axis], dim=-1)
        q = torch.where(opposite[..., None], half_turn, q)
        norm = torch.where(opposite[..., None], torch.ones_like(norm), norm)
    return q / norm


def quat_to_matrix(q: torch.Tensor) -> torch.Tensor:
    """[..., 4] unit quaternions -> [..., 3, 3] rotation matrices."""
    w, x, y, z = q.unbind(-1)
    rows = (
        1 - 2 * (y * y + z * z), 2 * (x * y - w * z), 2 * (x * z + w * y),
        2 * (x * y + w * z), 1 - 2 * (x * x + z * z), 2 * (y * z - w * x),
        2 * (x * z - w * y), 2 * (y * z + w * x), 1 - 2 * (x * x + y * y),
    )
    return torch.stack(rows, dim=-1).reshape(q.shape[:-1] + (3, 3))


def matrix_to_cont6d(matrix: torch.Tensor) -> torch.Tensor:
    """[..., 3, 3] -> [..., 6]: column 0 then column 1."""
    return torch.cat([matrix[..., :, 0], matrix[..., :, 1]], dim=-1)


def cont6d_to_matrix(cont6d: torch.Tensor) -> torch.Tensor:
    """[..., 6] -> [..., 3, 3] by Gram-Schmidt (any 6 numbers with independent halves work)."""
    x = cont6d[..., 0:3]
    x = x / x.norm(dim=-1, keepdim=True)
    z = torch.linalg.cross(x, cont6d[..., 3:6], dim=-1)
    z = z / z.norm(dim=-1, keepdim=True)
    y = torch.linalg.cross(z, x, dim=-1)
    return torch.stack([x, y, z], dim=-1)


def yaw_rotate(vectors: torch.Tensor, angle: torch.Tensor) -> torch.Tensor:
    """Rotate ``vectors`` [..., 3] about +y by ``angle`` (broadcast against ``vectors[..., 0]``)."""
    cos, sin = torch.cos(angle), torch.sin(angle)
    x, y, z = vectors.unbind(-1)
    return torch.stack([x * cos + z * sin, y, z * cos - x * sin], dim=-1)


def yaw_matrix(angle: torch.Tensor) -> torch.Tensor:
    """[..., 3, 3] matrices of :func:`yaw_rotate`."""
    cos, sin = torch.cos(angle), torch.sin(angle)
    zero, one = torch.zeros_like(angle), torch.ones_like(angle)
    rows = (cos, zero, sin, zero, one, zero, -sin, zero, cos)
    return torch.stack(rows, dim=-1).reshape(angle.shape + (3, 3))
