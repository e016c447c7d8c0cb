#!/usr/bin/env bash
# The GPU checks of issue 17, as one script for a lent GPU machine (the `device` tool, or any
# CUDA machine): training samples/s of ST-GCN, the fused MMNet model and MS-G3D at the
# original's shapes (T = 300, 25 joints, 2 persons, 225 x 225 tiles, batch 64; MS-G3D 16),
# ours against the original's way, and ours in float32, AMP, channels_last and
# torch.compile; MS-G3D's GPU memory per sample. Figures: $OUT (or results/bench)/train_step_gpu.json.
#
#   bash bench/gpu.sh            # about 5 minutes on one H100/H200-class GPU (estimate)
#
# Needs torch with CUDA and the project's packages importable (`pip install -e .`, or the
# PYTHONPATH below for a bare checkout whose machine already has torch).
set -euo pipefail
cd "$(dirname "$0")/.."
out="${OUT:-results/bench}"
mkdir -p "$out"
export PYTHONPATH="$PWD/src${PYTHONPATH:+:$PYTHONPATH}" PYTHONUNBUFFERED=1
python3 - <<'PY'
import torch
assert torch.cuda.is_available(), "no CUDA device visible to torch"
print(f"torch {torch.__version__}, {torch.cuda.get_device_name()}")
PY
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader || true
timeout "${BENCH_TIMEOUT:-480}" python3 bench/train_step.py --device cuda --steps 5 \
    --json "$out/train_step_gpu.json" 2>&1 | tee "$out/train_step_gpu.log"
