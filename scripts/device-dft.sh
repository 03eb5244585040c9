#!/usr/bin/env bash
# Runs on the GPU machine from the repository root (copied to .gpu/dft/device.sh by device-dft-pack.sh):
# builds GPAW in place once per warm machine (15 s on 16 cores), then continues the packaged set in
# /tmp/set with 16 workers and labels .gpu/dft/dense_subset.extxyz at k-density 45.  The store is
# copied to $OUT every 30 s, so a call stopped at its limit still brings back every finished label.
#   bash .gpu/dft/device.sh SET_STOP_S DENSE_STOP_S      (0 skips that part)
set -u
export PYTHONUNBUFFERED=1 OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1
root=$PWD
[ -d /tmp/site/ase ] || python3 -m pip install -q --no-index --no-deps --no-compile --target /tmp/site .gpu/dft/whl/*.whl
if ! ls /tmp/gpaw-26.7.0/_gpaw*.so >/dev/null 2>&1; then
  tar xJf .gpu/dft/libs.tar.xz -C /tmp && tar xzf .gpu/dft/gpaw-26.7.0.tar.gz -C /tmp
  (cd /tmp/gpaw-26.7.0 && GPAW_CONFIG="$root/.gpu/dft/siteconfig.py" python3 setup.py build_ext --inplace -j 16 \
     > /tmp/gpaw-build.log 2>&1) || { tail -30 /tmp/gpaw-build.log; exit 1; }
fi
export PYTHONPATH=/tmp/gpaw-26.7.0:$root/src:/tmp/site GPAW_SETUP_PATH=$root/.gpu/dft/setups
ab() { python3 -c "import sys; sys.argv[0] = 'alloybench'; from alloybench.cli import app; app()" "$@"; }
[ -d /tmp/set ] || { mkdir -p /tmp/set; cp src/alloybench/dft/data/* /tmp/set/; }
mkdir -p /tmp/dense
( while sleep 30; do cp /tmp/set/labels_store.sqlite "$OUT/" 2>/dev/null; cp /tmp/dense/*.sqlite "$OUT/" 2>/dev/null
    echo "$(date +%T) $(ps -eo pcpu,etimes,args | grep -c '[m]ultiprocessing') workers"; done ) &
if [ "${1:-0}" != 0 ]; then ab dft set --folder /tmp/set --workers 16 --stop-after "$1" -q; echo "set exit $?"; fi
ab dft set --folder /tmp/set --status
if [ "${2:-0}" != 0 ]; then
  ab dft label .gpu/dft/dense_subset.extxyz --out /tmp/dense/dense.extxyz --settings dense-k --workers 16 \
     --stop-after "$2" -q; echo "dense exit $?"
fi
cp /tmp/set/labels_store.sqlite /tmp/set/train.extxyz.gz /tmp/set/test.extxyz.gz /tmp/dense/* "$OUT"/ 2>/dev/null
ls -la "$OUT"
