#!/bin/bash
# Study 4 of issue 20: the XGrad family on fashion-resnet (Fashion-MNIST 18k/2k validation/10k test,
# ResNet-8 w8 + BN, 4 epochs): SGD with momentum 0.9, RMSprop, Adam, AdaBelief, each with s = 0 and
# s = 1, each tuned on validation over a half-decade grid around its usual rate (one tuning seed,
# 1001), then evaluated on test over seeds 1..N. One compare folder per base optimizer, since the
# grids differ. Runs from the worktree $WT (set below) so that later commits do not change it.
set -euo pipefail
WT=${WT:-/work/study2}
OUT=${OUT:-$HOME/wp-studies/fashion-xgrad}
SEEDS=${SEEDS:-6}
cd "$WT"
run() { # name, optimizer, lr grid, extra flags...
  local name=$1 opt=$2 lr=$3; shift 3
  local resume=(); [ -d "$OUT/$name" ] && resume=(--resume)
  node dist/cli/main.js compare --task fashion-resnet --optimizer "$opt" --lr "$lr" --tune --tune-seeds 1 \
    --seeds "$SEEDS" --jobs 2 --prediction-steps 0,1 --out "$OUT/$name" "${resume[@]}" "$@"
}
run sgd-momentum sgd 1e-2,3e-2,1e-1 --config "$HOME/wp-studies/configs/sgd-momentum.json"
run rmsprop rmsprop 2e-4,6e-4,2e-3
run adam adam 6e-4,2e-3,6e-3
run adabelief adabelief 6e-4,2e-3,6e-3
