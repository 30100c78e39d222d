#!/bin/bash
# Copies every finished run's logs (metrics.jsonl, summary.json, run-config.json; no checkpoints)
# and the sweep/tuning files of a study folder into the repository's results folder.
# Usage: sync-results.sh <study folder> <results folder>
set -euo pipefail
src=$1; dst=$(realpath -m "$2")  # absolute: the copy runs from inside the study folder
cd "$src"
for f in $(find . -maxdepth 2 -name '*.json' -not -path './runs/*'); do
  mkdir -p "$dst/$(dirname "$f")"; cp "$f" "$dst/$f"
done
for s in $(find . -name summary.json -path '*runs/*/seed-*'); do
  d=$(dirname "$s"); mkdir -p "$dst/$d"
  for f in metrics.jsonl summary.json run-config.json; do [ -f "$d/$f" ] && cp "$d/$f" "$dst/$d/$f"; done
done
echo "synced $(find . -name summary.json -path '*runs/*/seed-*' | wc -l) finished runs"
