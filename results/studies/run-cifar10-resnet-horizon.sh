#!/bin/bash
# Study 3 of issue 20: the horizon s ∈ {1, 2, 3} on CIFAR-10 ResNet-8 w16, 10 epochs (the cheaper of
# studies 1 and 2: ~30 min a run, two at a time), each s tuned on validation over 6e-3, 2e-2, 6e-2
# (one tuning seed, 1001; study 1 chose 2e-2 for s = 0 and s = 1 inside a five-rate grid), then
# evaluated on test over seeds 1..5 (budget: see results/studies/README.md).
# s = 0 and s = 1 are study 1's own runs (same commit 3ab9ad5, settings and seeds): copied in, not
# rerun. Only s = 2 and s = 3 train: 6 tuning and 10 evaluation runs.
set -euo pipefail
WT=${WT:-/work/study}
STUDY1=${STUDY1:-$HOME/wp-studies/cifar10-resnet}
OUT=${OUT:-$HOME/wp-studies/cifar10-resnet-horizon}
SEEDS=${SEEDS:-5}
"$(dirname "$0")/copy-runs.sh" "$STUDY1" "$OUT" "$SEEDS" 0.006,0.02,0.06 adamw adamw-s1
resume=(); [ -f "$OUT/tuning/sweep.json" ] && resume=(--resume)
cd "$WT"
exec node dist/cli/main.js compare --task cifar10-resnet --epochs 10 --lr 6e-3,2e-2,6e-2 --tune --tune-seeds 1 \
  --seeds "$SEEDS" --jobs 2 --prediction-steps 0,1,2,3 --out "$OUT" "${resume[@]}" "$@"
