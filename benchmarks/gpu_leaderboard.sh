#!/usr/bin/env bash
# Standard-tier runs of several models at once on a lent GPU machine (no network there).
# Packages and weights travel as xz tarballs that are unpacked into one site folder, which
# stays on the machine between calls while it is held (see docs/performance_gpu.md):
#   .gpu/siteA.tar.xz  torch-sim, sevenn (+ SevenNet-l3i5 checkpoint), chgnet, matgl, pymatgen,
#                      ase, ...; _models/ holds the matgl model folders
#   .gpu/siteB.tar.xz  deepmd-kit (compiled ops stubbed, as `alloybench env create deepmd` does)
#                      + its imports; _weights/ holds the two DPA3-LAM checkpoints
#   .gpu/siteC.tar.xz  cuequivariance(-torch, -ops) for CUDA 13
#   .gpu/extra/*.whl   the CLI's pure-Python dependencies
# Runs outlive the call that starts them (setsid), so later calls can carry more packages.
# Build the tarballs with `bash benchmarks/gpu_pack.sh`.  Lessons (docs/performance_gpu.md):
# serial runs sharing a card time-slice it badly (session 2); two batched runs on one card
# collided on memory before the budget followed the driver's free memory (session 4).  One
# batched run per card is the plan.  A resumed run, e.g. (session 5, DPA3-LAM mptrj):
#   setup A; setup Bm   (two calls: each tarball is one call's carry; Bm = B without openlam)
#   launch dpa3-lam-2025.3.14-mptrj 0 batched dpa3-lam-2025.3.14-mptrj=/tmp/ab-site/_weights/2025-03-14-dpa3-mptrj.pth
# after gunzipping docs/results/standard/NAME/results.sqlite.gz to /tmp/lb/NAME/results.sqlite.
#
#   bash benchmarks/gpu_leaderboard.sh setup A|B|Bm|C
#   bash benchmarks/gpu_leaderboard.sh launch NAME GPU ENGINE MODEL_SPEC   # out: /tmp/lb/NAME
#   bash benchmarks/gpu_leaderboard.sh status
#   bash benchmarks/gpu_leaderboard.sh collect DEADLINE_S   # waits for the runs, tars them into $OUT
set -uo pipefail
shopt -s nullglob  # no runs yet: loops over "$lb"/*/ do nothing
site=/tmp/ab-site; extra=/tmp/ab-extra; lb=${AB_LB:-/tmp/lb}
export PYTHONPATH="$PWD/src:$extra:$site" ALLOYBENCH_DEVICE=cuda PYTHONUNBUFFERED=1
cmd=${1:?setup|launch|status|collect}; shift
case "$cmd" in
setup)
  mkdir -p "$site" "$lb"
  tar xJf ".gpu/site$1.tar.xz" -C "$site" || exit 1
  if [ ! -d "$extra" ]; then python3 -m pip install -q --no-index --no-deps --target "$extra" .gpu/extra/*.whl; fi
  echo "site$1 unpacked: $(du -sh $site | cut -f1)" ;;
launch)
  name=$1; gpu=$2; engine=$3; model=$4; out=$lb/$name
  mkdir -p "$out"
  {
    nvidia-smi -i "$gpu" --query-gpu=name,driver_version,memory.total --format=csv,noheader
    python3 -c "import sys, torch; print('python', sys.version.split()[0], 'torch', torch.__version__)"
    echo "model=$model tier=standard engine=$engine gpu=$gpu threads=${ALLOYBENCH_THREADS:-4} cueq=${ALLOYBENCH_CUEQ:-0}"
  } > "$out/card.txt" 2>&1
  # one process per run; the GPU is shared by the runs given the same index
  CUDA_VISIBLE_DEVICES=$gpu ALLOYBENCH_THREADS=${ALLOYBENCH_THREADS:-4} OMP_NUM_THREADS=${ALLOYBENCH_THREADS:-4} \
    setsid nohup bash -c "s=\$(date +%s.%N); python3 -m alloybench.cli run --model '$model' --tier standard \
      --engine $engine --out '$out' -q > '$out/log.txt' 2>&1; rc=\$?; e=\$(date +%s.%N); \
      echo \"rc=\$rc wall_s=\$(python3 -c \"print(round(\$e - \$s, 1))\")\" >> '$out/card.txt'; touch '$out/DONE'" \
    > /dev/null 2>&1 < /dev/null &
  echo "launched $name on GPU $gpu ($engine)" ;;
status)
  for d in "$lb"/*/; do
    n=$(basename "$d"); st=running; [ -e "$d/DONE" ] && st="done $(tail -1 "$d/card.txt")"
    # a resumed run replaces the rows it recomputes: count those written since this run began too
    echo "$n: $st; $(python3 -c "import sqlite3; c = sqlite3.connect('file:$d/results.sqlite?mode=ro', uri=True); print(c.execute('select count(*) from results').fetchone()[0], 'results,', c.execute('select count(*) from results where created >= (select max(started) from runs)').fetchone()[0], 'written by the last run')" 2>/dev/null)"
    tail -2 "$d/log.txt" 2>/dev/null | cut -c1-300
  done
  nvidia-smi --query-gpu=index,utilization.gpu,memory.used --format=csv,noheader ;;
collect)
  deadline=$(( $(date +%s) + ${1:-300} ))
  while [ "$(date +%s)" -lt "$deadline" ]; do
    pending=0; for d in "$lb"/*/; do [ -e "$d/DONE" ] || pending=$((pending + 1)); done
    [ "$pending" -eq 0 ] && break
    sleep 10
  done
  bash "$0" status
  for d in "$lb"/*/; do
    n=$(basename "$d"); tar czf "$OUT/$n.tar.gz" -C "$lb" "$n" 2>/dev/null || true
  done ;;
esac
