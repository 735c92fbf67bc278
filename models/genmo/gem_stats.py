"""What NVIDIA's gem_smpl.ckpt needs besides its weights: its feature statistics and its frame rate.

GEM normalises its 151-d motion features (``smpl151``) in its ``EnDecoder``, which is not part of
the checkpoint. GEM-SMPL builds it as ``EnDecoder(stats_name="MM_V1_AMASS_LOCAL_BEDLAM_CAM",
encode_type="gvhmr", feat_dim=151, clip_std=True)``. The numbers below are transcribed from that block
of GEM's ``gem/network/stats_compose.py`` (repository XiaoxiaoKuankuan/GENMO, commit 4ac0771d): the
pose, shape and root-velocity columns are AMASS statistics, the two root orientations BEDLAM's.
``clip_std=True`` raises every std below 1 to 1 before use (so only six beta columns keep their own
std); normalise = (x - mean) / std, de-normalise = x_norm * std + mean.
"""

from __future__ import annotations

import numpy as np

from ..motion.humanml3d import FeatureStats
from .smpl151 import FEATURE_DIM, SLICES

# GEM's motion runs at 30 fps, as GVHMR's does: its static-joint labels divide a frame step by
# 0.033 s ("30 fps assumed", gem/utils/motion_utils.py get_static_joint_mask) and its text demo
# writes motions at --fps 30 (scripts/demo/demo_smpl_text.py).
GEM_FPS = 30.0
STATS_NAME = "MM_V1_AMASS_LOCAL_BEDLAM_CAM"
STD_CLIP = 1.0  # clip_std: std[std < 1] = 1

# Per section of smpl151.SLICES; body_pose is 21 joints x 6 (GEM's 6D: first two matrix rows).
MEAN = {
    "body_pose": (
        0.96969, -0.059719, -0.0377, 0.058256, 0.908, 0.10972,
        0.97636, 0.043401, 0.004311, -0.043032, 0.90261, 0.14478,
        0.99288, 0.0035673, 0.016264, -0.002226, 0.9347, -0.23495,
        0.97147, 0.052553, -0.093666, -0.05455, 0.83321, -0.24246,
        0.97971, -0.038429, 0.0053575, 0.015537, 0.81449, -0.30926,
        0.99532, -0.0094398, -0.038328, 0.0085141, 0.9888, 0.0001998,
        0.95602, -0.039528, 0.20017, 0.010363, 0.95965, 0.1377,
        0.96223, -0.046278, -0.15177, 0.066705, 0.95545, 0.12519,
        0.99767, -0.012616, -0.0002544, 0.011661, 0.99376, -0.036222,
        0.99511, -0.010583, 0.01213, 0.0076461, 0.99137, 0.020029,
        0.99295, 0.0072917, 0.0049454, -0.0080286, 0.99137, 0.0023707,
        0.97698, 0.019943, 0.0013808, -0.022006, 0.97375, -0.067936,
        0.92804, 0.25005, -0.057167, -0.24047, 0.94246, 0.025863,
        0.92957, -0.21329, 0.11112, 0.20741, 0.94876, 0.029901,
        0.97683, -0.04121, 0.0023248, 0.040967, 0.97365, 0.0057309,
        0.64513, 0.61999, -0.25469, -0.62342, 0.68177, 0.035524,
        0.66192, -0.59341, 0.27136, 0.59269, 0.68966, 0.031309,
        0.68946, -0.11676, -0.49859, 0.040969, 0.93656, -0.14875,
        0.62787, 0.13793, 0.54289, -0.091946, 0.92868, -0.11927,
        0.93012, -0.08381, -0.11951, 0.097211, 0.89118, 0.059887,
        0.93033, 0.071047, 0.075264, -0.080679, 0.88562, 0.04896,
    ),
    "betas": (0.231, 0.175, 0.2931, -0.1859, -1.1163, -1.1028, -0.2573, 0.3555, 0.3732, 0.2852),
    "global_orient": (-0.0049862, -0.0008714, -0.0014187, 0.014825, -0.94419, -0.051653),
    "global_orient_gv": (0.0003602, -0.0002233, 0.0022316, -0.044879, -0.97435, 0.10021),
    "local_transl_vel": (-0.0002, -0.0006, 0.0069),
}
STD = {
    "body_pose": (
        0.0612, 0.139, 0.1779, 0.1415, 0.1826, 0.3268,
        0.044, 0.1382, 0.1542, 0.1348, 0.193, 0.3272,
        0.0132, 0.0801, 0.0855, 0.0729, 0.1255, 0.2238,
        0.0554, 0.1088, 0.1727, 0.0939, 0.3294, 0.3559,
        0.0532, 0.1082, 0.1554, 0.0768, 0.3446, 0.3407,
        0.012, 0.065, 0.0584, 0.0632, 0.0198, 0.1335,
        0.0631, 0.125, 0.1574, 0.1047, 0.073, 0.2091,
        0.0759, 0.1241, 0.1667, 0.1112, 0.0831, 0.2185,
        0.006, 0.0441, 0.0502, 0.0441, 0.0102, 0.0946,
        0.0237, 0.0722, 0.061, 0.0738, 0.0479, 0.0949,
        0.0369, 0.0943, 0.061, 0.0966, 0.0498, 0.0729,
        0.0425, 0.1001, 0.1824, 0.0972, 0.0408, 0.1887,
        0.0594, 0.1842, 0.1884, 0.202, 0.0457, 0.1018,
        0.064, 0.199, 0.1854, 0.2133, 0.0467, 0.091,
        0.0392, 0.1049, 0.1776, 0.1037, 0.0413, 0.1945,
        0.1733, 0.2612, 0.1905, 0.2963, 0.1512, 0.1861,
        0.171, 0.2663, 0.1896, 0.3135, 0.1568, 0.2219,
        0.3976, 0.1594, 0.281, 0.1855, 0.0845, 0.2398,
        0.4398, 0.1629, 0.2685, 0.199, 0.0998, 0.2556,
        0.1137, 0.2837, 0.1419, 0.2761, 0.1678, 0.2973,
        0.1172, 0.301, 0.1394, 0.291, 0.1724, 0.3039,
    ),
    "betas": (0.8831, 0.7965, 1.0899, 1.1788, 1.2128, 1.1081, 0.978, 1.1434, 0.8498, 1.1462),
    "global_orient": (0.7048, 0.1713, 0.6884, 0.1548, 0.1546, 0.2403),
    "global_orient_gv": (0.607, 0.5355, 0.5873, 0.6285, 0.2336, 0.7675),
    "local_transl_vel": (0.0064, 0.007, 0.0138),
}


def _joined(sections: dict) -> np.ndarray:
    """The sections in ``smpl151.SLICES`` order -> [151] (each checked against its slice's width)."""
    for name, part in SLICES.items():
        assert len(sections[name]) == part.stop - part.start, f"{name}: {len(sections[name])} numbers"
    values = np.concatenate([np.asarray(sections[name], np.float32) for name in SLICES])
    assert values.shape == (FEATURE_DIM,)
    return values


def gem_feature_stats(clip_std: bool = True) -> FeatureStats:
    """GEM-SMPL's statistics as ``FeatureStats``; ``clip_std`` as GEM builds them (std below 1 -> 1)."""
    std = _joined(STD)
    if clip_std:
        std = np.maximum(std, STD_CLIP)
    return FeatureStats(_joined(MEAN), std)
