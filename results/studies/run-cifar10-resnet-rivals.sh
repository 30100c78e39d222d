#!/bin/bash
# Study 5 of issue 20: the rivals of weight prediction beside AdamW on study 1's task (CIFAR-10
# ResNet-8 w16, 10 epochs): NAdam (decoupled decay), Lion (λ × 3), Schedule-Free AdamW (constant
# lr, 5% warmup) and Lookahead-AdamW (k = 5, α = 0.5), each tuned on validation over one shared
# grid 2e-3, 6e-3, 2e-2, 6e-2 (it holds Lion's usual lr, a third to a tenth of AdamW's 2e-2, and
# Schedule-Free's, at or above it; one tuning seed, 1001), then evaluated on test over seeds 1..5.
# AdamW's runs are study 1's (same commit 3ab9ad5, settings and seeds): copied in, not rerun; its
# s = 1 runs of the same seeds are in study 1's folder. 16 tuning and 20 evaluation runs train.
set -euo pipefail
WT=${WT:-/work/study}
STUDY1=${STUDY1:-$HOME/wp-studies/cifar10-resnet}
OUT=${OUT:-$HOME/wp-studies/cifar10-resnet-rivals}
SEEDS=${SEEDS:-5}
"$(dirname "$0")/copy-runs.sh" "$STUDY1" "$OUT" "$SEEDS" 0.002,0.006,0.02,0.06 adamw
resume=(); [ -f "$OUT/tuning/sweep.json" ] && resume=(--resume)
cd "$WT"
exec node dist/cli/main.js compare --task cifar10-resnet --epochs 10 --lr 2e-3,6e-3,2e-2,6e-2 --tune --tune-seeds 1 \
  --optimizer adamw,nadam,lion,schedule-free-adamw,lookahead-adamw --prediction-steps 0 \
  --seeds "$SEEDS" --jobs 2 --out "$OUT" "${resume[@]}" "$@"
