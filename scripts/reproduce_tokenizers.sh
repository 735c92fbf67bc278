#!/usr/bin/env bash
# Reproduce the motion-tokenizer tables from a fresh clone:
#   pip install torch==2.13.0 && pip install -e .
#   bash scripts/reproduce_tokenizers.sh [STEPS]        (THREADS=N sets torch's CPU threads; default 1,
#   which was the fastest for these small models on a 2-core machine, and makes the throughput
#   table a one-core figure; THREADS=0 lets torch choose)
# Fetches the mocap clips (scripts/fetch_mocap.sh), builds the 20 fps HumanML3D-feature dataset
# (with left/right mirrors), trains the small configuration of every tokenizer kind (PGR2M at
# tau 0, 0.1 and 0.5) with the same loop, and prints the benchmark tables (reconstruction, PGR2M
# trade-off, throughput). Checkpoints go to data/motion/checkpoints/. Time on 2 CPU cores: see
# benchmarks/README.md.
set -euo pipefail
cd "$(dirname "$0")/.."
steps="${1:-1000}"
threads="${THREADS:-1}"
out=data/motion/checkpoints
start=$SECONDS
bash scripts/fetch_mocap.sh data/mocap
python -m posemotion motion-data --out data/motion --mocap data/mocap --mirror
for kind in vqvae rvq part_vq; do
    python -m posemotion motion-train --kind "$kind" --steps "$steps" --threads "$threads" \
        --out "$out/${kind}_small.safetensors"
done
for tau in 0 0.1 0.5; do
    python -m posemotion motion-train --kind pgr2m --tau "$tau" --steps "$steps" --threads "$threads" \
        --out "$out/pgr2m_tau${tau}.safetensors"
done
python -m posemotion motion-bench --data data/motion --checkpoints "$out" --threads "$threads" --json data/motion/bench.json
echo "reproduce_tokenizers.sh: $((SECONDS - start)) s in all"
