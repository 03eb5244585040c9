#!/usr/bin/env bash
# Make .gpu/ft/: what the GPU machine (Python 3.12 with torch, e3nn and torch-geometric; no network)
# lacks to run `alloybench finetune` on SevenNet: cp312 wheels of sevenn (its wheel ships the
# SevenNet-0 weights), braceexpand, matscipy, ase, spglib and pydantic, and the committed quick-tier
# store of SevenNet-0 as the base point's store.  The sevenn wheel is slimmed to the one checkpoint
# the sweep fine-tunes (SevenNet_0__11Jul2024; 43 -> 9 MB), so .gpu/ft is about 16 MB.  Move
# docs/results (51 MB) aside for the call, or the tree is over the 64 MB a call carries.
#   bash scripts/device-ft-pack.sh                        # here, once
#   device run: bash .gpu/ft/device.sh FINETUNE-ARGS...    (carry .gpu/ft)
set -euo pipefail
cd "$(dirname "$0")/.."
P=.gpu/ft
rm -rf "$P" && mkdir -p "$P/whl"
for p in sevenn braceexpand matscipy ase spglib pydantic pydantic-core annotated-types typing-inspection; do
  v=$(.venv/bin/pip show "$p" | awk '/^Version/{print $2}')
  python3 -m pip download -q --no-deps --only-binary=:all: --python-version 3.12 --implementation cp \
    --platform manylinux_2_28_x86_64 --platform manylinux_2_27_x86_64 --platform manylinux_2_24_x86_64 \
    --platform manylinux_2_17_x86_64 --platform manylinux2014_x86_64 -d "$P/whl" "$p==$v"
done
python3 - "$P"/whl/sevenn-*.whl <<'PY'
import sys, zipfile, os
src = sys.argv[1]; tmp = src + ".slim"
drop = ("SevenNet_l3i5/", "SevenNet_MF_0/", "SevenNet_0__22May2024/")
with zipfile.ZipFile(src) as zi, zipfile.ZipFile(tmp, "w", zipfile.ZIP_DEFLATED) as zo:
    for item in zi.infolist():
        if not any(d in item.filename for d in drop):
            zo.writestr(item, zi.read(item.filename))
os.replace(tmp, src)
PY
cp docs/results/quick/sevennet-0/results.sqlite "$P/base.sqlite"
cp scripts/device-finetune.sh "$P/device.sh"
cp scripts/device-ft-sweeps.sh "$P/sweeps.sh"
du -sh "$P"
