"""GENMO multimodal motion diffusion (GEM's design): one denoiser for generation and estimation.

- ``conditions``: the condition types every part shares (text timeline, 2D keypoints, music);
- ``attention``: RoPE and sliding-window self-attention whose cost grows linearly with length;
- ``denoiser``: the transformer (additive condition fusion, multi-text injection, zero-gated blocks);
- ``diffusion``: cosine schedule, DDIM with classifier-free guidance, keyframe inpainting, estimation;
- ``timeline`` / ``keypoints2d`` / ``music`` / ``keyframes``: user inputs -> conditions;
- ``smpl151``: GEM's 151-d SMPL motion representation (decoded with ``smplx``);
- ``model`` / ``training`` / ``data``: the demo model on the HumanML3D-layout corpus;
- ``official`` / ``gem_stats``: NVIDIA's ``gem_smpl.ckpt`` key map, and its feature statistics and fps.
"""

import os

BUNDLED_DIR = os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))),
                           "assets", "genmo")
# The demo model `python -m posemotion genmo-train` made (its .json records the command): HumanML3D
# 263-d motion, MiniLM text, trained on the pack's motion-text corpus.
DEMO_MODEL = os.path.join(BUNDLED_DIR, "genmo_demo.safetensors")
DEFAULT_CORPUS = os.path.join("data", "motion_corpus")  # where motion-corpus writes its folder
