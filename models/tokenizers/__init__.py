"""Motion tokenizers: VQ-VAE, residual VQ, part-aware body/hand VQ and PGR2M pose codes + residuals."""

import os

# Small tokenizers trained on the shipped mocap (scripts/reproduce_tokenizers.sh), offered by the
# Load Motion Tokenizer node as "[bundled] <file>".
BUNDLED_DIR = os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))),
                           "assets", "motion")
# Names the command line needs to build its options without importing torch.
BENCHMARKED_KINDS = ("vqvae", "rvq", "part_vq", "pgr2m")  # the tokenizers that motion-train and motion-bench cover
DATASET_DIR = os.path.join("data", "motion")  # where motion-data writes the dataset
