#!/usr/bin/env bash
# Resume every committed standard-tier store under the current protocols (elastic-2, vacancy,
# cohesive: only their Jobs are computed; the rest is reused), then rebuild the leaderboard.
#   bash benchmarks/rerun_stores.sh [ENGINE]      (ENGINE: batched on a GPU, serial on a CPU)
# Model specs come from each folder's results.json (run.model_spec); weights named there must exist.
set -euo pipefail
cd "$(dirname "$0")/.."
ENGINE=${1:-batched}
for d in docs/results/standard/*/; do
  spec=$(python -c "import json,sys; print(json.load(open(sys.argv[1]))['run']['model_spec'])" "$d/results.json")
  els=$(python -c "import json,sys; e=json.load(open(sys.argv[1]))['run'].get('elements'); print(','.join(e) if e and len(e) < 10 else '')" "$d/results.json")
  [ -f "$d/results.sqlite.gz" ] && gunzip -kf "$d/results.sqlite.gz"
  alloybench run --model "$spec" ${els:+--elements "$els"} --tier standard --engine "$ENGINE" --out "$d" -q
  [ -f "$d/results.sqlite.gz" ] && gzip -f "$d/results.sqlite"
done
alloybench report docs/results/standard/*/ --md docs/results/standard/leaderboard.md
