#!/usr/bin/env bash
# Issue #20 on a lent GPU machine: the standard tier from empty stores with this tree's protocols
# and with a base tree's (its src/ carried as .gpu/base/src: `git archive BASE src | tar -x -C
# .gpu/base`), one after the other on the same card, then the two stores compared metric by metric
# (tools/compare_metrics.py --converged) and per task (benchmarks/suite_floor.py).
# Packages: .gpu/siteA.tar.xz and .gpu/extra/ (benchmarks/gpu_pack.sh; SevenNet-0's checkpoint
# kept with SEVENN_KEEP=SevenNet_0__11Jul2024).  Move docs/results aside for the call (64 MiB).
#   device: bash benchmarks/device_floor.sh MODEL LIMIT_NEW LIMIT_OLD [RUN ARGS...]
#   e.g.    bash benchmarks/device_floor.sh sevennet-0 250 330 --tier standard
#           bash benchmarks/device_floor.sh chgnet-0.3.0 200 260 --tier standard --tasks solute_binding
set -uo pipefail
model=${1:?model}; limit_new=${2:-250}; limit_old=${3:-330}; shift 3
site=/tmp/ab-site; extra=/tmp/ab-extra; fl=/tmp/fl/$model
[ -d "$site/sevenn" ] || bash benchmarks/gpu_leaderboard.sh setup A  # unpacks siteA into $site, .gpu/extra into $extra
export ALLOYBENCH_DEVICE=cuda PYTHONUNBUFFERED=1 ALLOYBENCH_THREADS=4 OMP_NUM_THREADS=4
mkdir -p "$fl"
{ nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader
  PYTHONPATH="$extra:$site" python3 -c "import sys, torch; print('python', sys.version.split()[0], 'torch', torch.__version__)"
} > "$fl/card.txt" 2>&1

run() {  # NAME SRC LIMIT
  local name=$1 src=$2 limit=$3 out=$fl/$1 s e rc
  rm -rf "$out"; mkdir -p "$out"
  s=$(date +%s.%N)
  PYTHONPATH="$src:$extra:$site" timeout "$limit" python3 -m alloybench.cli run --model "$model" "${ARGS[@]}" \
    --engine batched --out "$out" -q > "$out/log.txt" 2>&1
  rc=$?; e=$(date +%s.%N)
  echo "$model $name rc=$rc wall_s=$(python3 -c "print(round($e - $s, 1))") args=${ARGS[*]}" | tee -a "$fl/card.txt"
}
ARGS=("$@")
run new "$PWD/src" "$limit_new"
run old "$PWD/.gpu/base/src" "$limit_old"
{
  PYTHONPATH=src python3 tools/compare_metrics.py "$fl/old" "$fl/new" --converged
  for side in old new; do echo "== $side"; python3 benchmarks/suite_floor.py "$fl/$side" --us-per-atom 64; done
} > "$fl/compare.txt" 2>&1
tail -40 "$fl/compare.txt"
tar czf "$OUT/floor-$model.tar.gz" -C /tmp/fl "$model"
ls -la "$OUT"
