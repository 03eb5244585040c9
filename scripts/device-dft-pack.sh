#!/usr/bin/env bash
# Make .gpu/dft/: what the GPU machine (Python 3.12, no network) needs to label the DFT set with
# GPAW on its 16 cores: GPAW's sdist, libxc/FFTW/OpenBLAS unpacked from Debian debs (their .so and
# headers only), the five PBE setups, and cp312 wheels of alloybench's missing dependencies.
# About 19 MB; docs/results (45 MB) must be moved aside for the call, or the tree is over 64 MB.
#   bash scripts/device-dft-pack.sh          # here, once
#   device run: bash .gpu/dft/device.sh SET_STOP_S DENSE_STOP_S   (carry .gpu/dft)
set -euo pipefail
cd "$(dirname "$0")/.."
P=.gpu/dft
rm -rf "$P" && mkdir -p "$P/whl" "$P/setups"
tmp=$(mktemp -d)
printf "compiler='gcc'\nlibraries=['xc','fftw3','openblas']\n" > "$tmp/site.py"
GPAW_CONFIG="$tmp/site.py" .venv/bin/pip download -q --no-deps --no-binary gpaw gpaw==26.7.0 -d "$P"
.venv/bin/pip download -q --no-deps gpaw-data==1.2.1 -d "$tmp"
for e in Al Cu Mg Zn Si; do unzip -q -j "$tmp"/gpaw_data-*.whl "gpaw_data/setups/$e.PBE.gz" -d "$P/setups"; done
(cd "$tmp" && apt-get download -q libxc9 libxc-dev libfftw3-double3 libfftw3-dev libopenblas0-pthread libgfortran5 libquadmath0 >/dev/null)
mkdir -p "$tmp/deb" "$tmp/libpack/lib" "$tmp/libpack/include"
for f in "$tmp"/*.deb; do dpkg -x "$f" "$tmp/deb"; done
L=$tmp/deb/usr/lib/x86_64-linux-gnu
cp -a "$L"/libxc.so* "$L"/libfftw3.so "$L"/libfftw3.so.3* "$L"/libgfortran.so.5* "$L"/libquadmath.so* "$tmp/libpack/lib/"
cp -a "$L"/openblas-pthread/libopenblasp-r*.so "$tmp/libpack/lib/libopenblas.so.0"
ln -s libopenblas.so.0 "$tmp/libpack/lib/libopenblas.so"
cp -a "$tmp"/deb/usr/include/xc*.h "$tmp"/deb/usr/include/fftw3.h "$tmp/libpack/include/"
tar cJf "$P/libs.tar.xz" -C "$tmp" libpack
for p in ase spglib pydantic pydantic-core annotated-types typing-inspection; do
  v=$(.venv/bin/pip show "$p" | awk '/^Version/{print $2}')
  python3 -m pip download -q --no-deps --only-binary=:all: --python-version 3.12 --implementation cp \
    --platform manylinux_2_28_x86_64 --platform manylinux_2_17_x86_64 --platform manylinux2014_x86_64 -d "$P/whl" "$p==$v"
done
cat > "$P/siteconfig.py" <<'PY'
# GPAW on the device: serial build (one process per core), libraries unpacked into /tmp/libpack
compiler = 'gcc'
mpi = False
libraries = ['xc', 'fftw3', 'openblas']
include_dirs += ['/tmp/libpack/include']
library_dirs += ['/tmp/libpack/lib']
runtime_library_dirs += ['/tmp/libpack/lib']
PY
cp scripts/device-dft.sh "$P/device.sh"
# the k-density-45 subset: up to 4 test frames of each kind, smallest cells first
.venv/bin/python - "$P/dense_subset.extxyz" <<'PY'
import sys
from collections import defaultdict
from ase.io import read, write
from alloybench.dft import packaged
by = defaultdict(list)
for i, a in enumerate(packaged.candidates()):
    a.info.setdefault("name", f"frame{i}")
    if a.info["split"] == "test":
        by[a.info["kind"]].append(a)
ordered = {k: sorted(v, key=lambda a: (len(a), a.info["name"])) for k, v in by.items()}
write(sys.argv[1], [ordered[k][r] for r in range(4) for k in sorted(ordered) if r < len(ordered[k])], format="extxyz")
PY
rm -rf "$tmp"
du -sh "$P"
