#!/bin/bash
# Copies finished runs of study 1 (their logs: metrics.jsonl, summary.json, run-config.json) into a
# new study folder, where `compare` skips them (a run with summary.json has finished): studies 3
# and 5 share study 1's task, settings, commit and seeds, so its AdamW (and s = 1) runs are theirs.
# Only into a study that has not started (no sweep.json yet), so a resumed study is left alone.
# Usage: copy-runs.sh <study 1 folder> <new study folder> <seeds> <tuning lr list> <label>...
set -euo pipefail
from=$1; to=$2; seeds=$3; rates=$4; shift 4
if [ -f "$to/sweep.json" ] || [ -f "$to/tuning/sweep.json" ]; then exit 0; fi
copy_run() {
  if [ ! -f "$1/summary.json" ]; then
    echo "copy-runs: $1 has not finished (no summary.json): finish study 1 first" >&2
    exit 1
  fi
  mkdir -p "$2"
  cp "$1"/{metrics.jsonl,summary.json,run-config.json} "$2"/
}
for label in "$@"; do
  for lr in ${rates//,/ }; do
    copy_run "$from/tuning/runs/$label-lr-$lr/seed-1001" "$to/tuning/runs/$label-lr-$lr/seed-1001"
  done
  for seed in $(seq 1 "$seeds"); do copy_run "$from/runs/$label/seed-$seed" "$to/runs/$label/seed-$seed"; done
done
