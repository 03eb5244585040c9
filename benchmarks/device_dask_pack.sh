#!/usr/bin/env bash
# Make .gpu/dask/ (or $DEST): what the GPU machine (Python 3.12 with torch, e3nn and torch-geometric;
# 16 cores; no network) lacks to run benchmarks/device_dask.sh, the Dask scaling benchmark of issue 16:
#   whl/       cp312 wheels of dask, distributed and their missing needs (tornado, zict, tblib, partd,
#              locket), and of what alloybench and SevenNet-0 need there (ase, spglib, pydantic & co.,
#              braceexpand, matscipy, sevenn slimmed to the SevenNet_0__11Jul2024 checkpoint)
#   src.tar.gz alloybench's src/ and the two benchmark scripts at this checkout's HEAD (git archive), so
#              the device runs this branch's code whatever the checkout the call sends holds
#   device.sh  benchmarks/device_dask.sh
# About 20 MB.  The versions are this checkout's .venv's (the ones the tests here ran with).
#   bash benchmarks/device_dask_pack.sh                       # -> .gpu/dask
#   DEST=/work/main/.gpu/dask bash benchmarks/device_dask_pack.sh
# The call sends the session's checkout: put the pack in its .gpu/dask (ignored), carry .gpu/dask, and
# move docs/results (54 MB) aside for the call, or the tree is over the 64 MiB a call carries.
set -euo pipefail
cd "$(dirname "$0")/.."
DEST=${DEST:-.gpu/dask}
PY=${PY:-.venv/bin/python}
[ -x "$PY" ] || PY=/work/main/.venv/bin/python
rm -rf "$DEST" && mkdir -p "$DEST/whl"
for p in dask distributed tornado zict tblib partd locket ase spglib pydantic pydantic-core annotated-types \
         typing-inspection braceexpand matscipy sevenn; do
  v=$("$PY" -m pip show "$p" | awk '/^Version/{print $2}')
  [ -n "$v" ] || { echo "no $p in $PY's environment" >&2; exit 1; }
  python3 -m pip download -q --no-deps --only-binary=:all: --python-version 3.12 --implementation cp \
    --platform manylinux_2_28_x86_64 --platform manylinux_2_27_x86_64 --platform manylinux_2_24_x86_64 \
    --platform manylinux_2_17_x86_64 --platform manylinux2014_x86_64 --platform manylinux1_x86_64 \
    --platform any -d "$DEST/whl" "$p==$v"
done
python3 - "$DEST"/whl/sevenn-*.whl <<'PY'
import os, sys, zipfile
src = sys.argv[1]; tmp = src + ".slim"
drop = ("SevenNet_l3i5/", "SevenNet_MF_0/", "SevenNet_0__22May2024/", "SevenNet_MF_ompa/", "SevenNet_omat/")
with zipfile.ZipFile(src) as zi, zipfile.ZipFile(tmp, "w", zipfile.ZIP_DEFLATED) as zo:
    for item in zi.infolist():
        if not any(d in item.filename for d in drop):
            zo.writestr(item, zi.read(item.filename))
os.replace(tmp, src)
PY
git archive --format=tar.gz -o "$DEST/src.tar.gz" HEAD src benchmarks/dask_scaling.py benchmarks/device_dask.sh
git rev-parse HEAD > "$DEST/commit"
cp benchmarks/device_dask.sh "$DEST/device.sh"
du -sh "$DEST"
