#!/usr/bin/env bash
# Issue 16's Dask scaling benchmark on the GPU machine's 16 CPU cores, in one call (~460 s, at most
# DEADLINE_S = 530 s): runs from the repository root as .gpu/dask/device.sh (benchmarks/device_dask_pack.sh
# makes .gpu/dask; carry it).  CPU only: CUDA hidden, every worker single-threaded (BLAS and torch).
#   1. EMT (ASE's effective-medium theory, the classical model that runs in the main environment),
#      standard tier: without Dask (the reference), then LocalClusters of 1, 16, 8, 4, 2 workers.
#   2. SevenNet-0 on CPU workers, quick-tier tasks bulk, cohesive, elastic, surfaces (177 s of Job
#      time in the committed store, 2 threads on a loaded 2-core machine; single-threaded there now
#      bulk and cohesive took 0.69 of their committed seconds, so ~120 s): 1, 16, 4 workers; no run
#      without Dask (the 1-worker store is the reference of the others).  Left out: vacancy (when
#      this was planned its 256-atom relaxations, standard tier since 2026-12-06, are 90-140 s Jobs, a fifth of the quick tier's 716 s alone) and
#      stacking_faults (30 s, to keep the 1-worker run well under 150 s).
# Each worker count's figures are written as they come ($OUT/*.json after every row), and each stage
# runs under a timeout that leaves the next its share, so a slow machine still returns what it measured.
# Models are loaded on every worker before the clock starts (--warm; the load time is reported apart).
#   $OUT: env.txt (machine, versions), emt.json emt.log, sn0.json sn0.log
#   AB_STAGES   "emt sn0" (default) or one of them
#   DEADLINE_S  the whole script's budget in seconds (default 530)
# For a dry run elsewhere (here: 2 cores, python 3.11): AB_PY=.venv/bin/python AB_NO_INSTALL=1 (the
# environment's own packages), EMT_TIER=quick EMT_WORKERS=1,2 SN0_TASKS=cohesive,bulk SN0_WORKERS=1,2.
set -u
t0=$(date +%s)
deadline=${DEADLINE_S:-530}
here=$(cd "$(dirname "$0")" && pwd)
out=${OUT:-/tmp/ab-dask-out}
mkdir -p "$out"
left() { echo $((deadline - ($(date +%s) - t0))); }

py=${AB_PY:-python3}
: > "$out/env.txt"
if [ "${AB_NO_INSTALL:-0}" != 1 ] && [ ! -d /tmp/ab-site/distributed ]; then
  "$py" -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --target /tmp/ab-site "$here"/whl/*.whl \
    > "$out/env.txt" 2>&1 || { cat "$out/env.txt"; exit 3; }
fi
src=$(mktemp -d /tmp/ab-src.XXXX)
tar -xzf "$here/src.tar.gz" -C "$src" || exit 3
site=:/tmp/ab-site; [ "${AB_NO_INSTALL:-0}" = 1 ] && site=
export PYTHONPATH=$src/src$site
export PYTHONUNBUFFERED=1 PYTHONDONTWRITEBYTECODE=1
export CUDA_VISIBLE_DEVICES= ALLOYBENCH_DEVICE=cpu ALLOYBENCH_THREADS=1
export OMP_NUM_THREADS=1 MKL_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1
bench=$src/benchmarks/dask_scaling.py
{
  echo "commit $(cat "$here/commit" 2>/dev/null)  install+unpack $(( $(date +%s) - t0 )) s"
  echo "online CPUs $(getconf _NPROCESSORS_ONLN)  affinity $("$py" -c 'import os; print(len(os.sched_getaffinity(0)))')"
  lscpu | grep -E '^(Model name|Socket|Core|Thread|CPU\(s\)|CPU max MHz|L3)' || true
  free -g | head -2; df -h /tmp | tail -1
  "$py" -c "import alloybench, dask, distributed, torch, ase, sevenn, e3nn; print('alloybench', alloybench.__file__,
  '| dask', dask.__version__, 'distributed', distributed.__version__, 'torch', torch.__version__, 'threads',
  torch.get_num_threads(), 'cuda', torch.cuda.is_available(), 'ase', ase.__version__, 'sevenn', sevenn.__version__,
  'e3nn', e3nn.__version__)"
} >> "$out/env.txt" 2>&1
cat "$out/env.txt"

stages=${AB_STAGES:-emt sn0}
status=0
if [[ " $stages " == *" emt "* ]]; then
  reserve=0; [[ " $stages " == *" sn0 "* ]] && reserve=190   # what the SevenNet stage needs
  budget=$(( $(left) - reserve )); [ "$budget" -gt 320 ] && budget=320
  echo "== EMT ${EMT_TIER:-standard} tier: timeout ${budget} s"
  timeout -k 10 "$budget" "$py" "$bench" --model emt --tier "${EMT_TIER:-standard}" --workers "${EMT_WORKERS:-1,16,8,4,2}" --warm \
    --json "$out/emt.json" > "$out/emt.log" 2>&1
  rc=$?; echo "rc $rc"; [ $rc -ne 0 ] && status=$rc
  grep -v '^{' "$out/emt.log" | tail -25
fi
if [[ " $stages " == *" sn0 "* ]]; then
  budget=$(( $(left) - 5 ))
  echo "== SevenNet-0 quick tier, tasks ${SN0_TASKS:-bulk,cohesive,elastic,surfaces}: timeout ${budget} s"
  timeout -k 10 "$budget" "$py" "$bench" --model sevennet-0 --tier quick \
    --tasks "${SN0_TASKS:-bulk,cohesive,elastic,surfaces}" --workers "${SN0_WORKERS:-1,16,4}" \
    --warm --no-reference \
    --json "$out/sn0.json" > "$out/sn0.log" 2>&1
  rc=$?; echo "rc $rc"; [ $rc -ne 0 ] && status=$rc
  grep -v '^{' "$out/sn0.log" | tail -25
fi
rm -rf "$src"
echo "total $(( $(date +%s) - t0 )) s"
exit $status
