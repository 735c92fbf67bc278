"""A small synthetic SMPL model file (same keys and shapes as the real one, made-up numbers).

The real SMPL model cannot be redistributed; this one has SMPL's 6890 vertices (``smplx`` selects
extra joints by fixed vertex ids), 24 joints at plausible rest positions (metres, y up, pelvis at
y = -0.2 like SMPL's template, which sits above the origin) and joint vertices that the joint
regressor picks one-to-one, so the rest joints are exactly ``REST_JOINTS`` plus the shape offsets.
"""

import numpy as np

VERTICES = 6890
SMPL_PARENTS = (-1, 0, 0, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 9, 9, 12, 13, 14, 16, 17, 18, 19, 20, 21)
REST_JOINTS = np.array([
    (0, -0.2, 0), (0.06, -0.29, 0), (-0.06, -0.29, 0), (0, -0.09, 0), (0.1, -0.67, 0), (-0.1, -0.67, 0),
    (0, 0.05, 0), (0.09, -1.07, -0.04), (-0.09, -1.07, -0.04), (0, 0.1, 0), (0.11, -1.12, 0.08),
    (-0.11, -1.12, 0.08), (0, 0.3, 0), (0.08, 0.2, 0), (-0.08, 0.2, 0), (0, 0.4, 0.05), (0.18, 0.23, 0),
    (-0.18, 0.23, 0), (0.43, 0.21, 0), (-0.43, 0.21, 0), (0.68, 0.21, 0), (-0.68, 0.21, 0), (0.76, 0.2, 0),
    (-0.76, 0.2, 0)], dtype=np.float64)


def synthetic_smpl_arrays(seed: int = 0) -> dict:
    rng = np.random.default_rng(seed)
    joints = len(SMPL_PARENTS)
    owner = np.arange(VERTICES) % joints  # vertex i moves with joint i % 24; vertices 0..23 are the joints
    v_template = REST_JOINTS[owner] + np.where(np.arange(VERTICES)[:, None] < joints, 0.0,
                                               rng.normal(0, 0.03, (VERTICES, 3)))
    weights = np.zeros((VERTICES, joints))
    weights[np.arange(VERTICES), owner] = 1.0
    regressor = np.zeros((joints, VERTICES))
    regressor[np.arange(joints), np.arange(joints)] = 1.0
    kintree = np.stack([np.array(SMPL_PARENTS, dtype=np.int64) % 2**32, np.arange(joints)])
    return {"v_template": v_template, "shapedirs": rng.normal(0, 0.02, (VERTICES, 3, 10)),
            "posedirs": rng.normal(0, 0.001, (VERTICES, 3, 207)).astype(np.float32), "J_regressor": regressor,
            "weights": weights, "kintree_table": kintree, "f": np.arange(VERTICES - VERTICES % 3).reshape(-1, 3)}
