#!/bin/bash
# Study 2 of issue 20: gutenberg17-lstm2 (1.25M training tokens, 10k vocabulary with <unk> in
# training; 2-layer LSTM 200, tied, dropout 0.2, BPTT 35, 20 streams, clipping 0.25, cosine decay),
# AdamW vs AdamW s = 1, each tuned on validation perplexity (one tuning seed, 1001), then evaluated
# on test over seeds 1..N. Runs from the worktree $WT so that later commits do not change it.
set -euo pipefail
WT=${WT:-/work/study2}
OUT=${OUT:-$HOME/wp-studies/gutenberg17-lstm2}
EPOCHS=${EPOCHS:-4}
SEEDS=${SEEDS:-5}
LR=${LR:-2e-3,6e-3,2e-2}
cd "$WT"
resume=(); [ -d "$OUT" ] && resume=(--resume)
exec node dist/cli/main.js compare --task gutenberg17-lstm2 --epochs "$EPOCHS" --lr "$LR" --tune --tune-seeds 1 \
  --seeds "$SEEDS" --jobs 2 --prediction-steps 0,1 --out "$OUT" "${resume[@]}" "$@"
