#!/usr/bin/env bash
# Build the package tarballs that benchmarks/gpu_leaderboard.sh unpacks on a lent GPU machine
# (Python 3.12, CUDA torch already there, no network; each call may carry 64 MiB in all).
#   bash benchmarks/gpu_pack.sh [PARTS]    -> .gpu/siteA.tar.xz .gpu/siteB.tar.xz .gpu/siteBm.tar.xz .gpu/siteC.tar.xz .gpu/extra/
#   (PARTS: the tarballs to build, default "A B C"; B also makes Bm)
# siteA: SevenNet (checkpoints named in $SEVENN_KEEP, default SevenNet_l3i5), torch-sim, CHGNet (0.3.0 weights only), matgl and the
#        shared matgl model folders (_models/); siteB: deepmd-kit with its compiled ops stubbed, plus
#        the two DPA3-LAM checkpoints (_weights/, from $ALLOYBENCH_WEIGHTS/deepmd); siteC: cuEquivariance.
# Versions are the ones measured in docs/performance_gpu.md. Needs PyPI access (this machine has it).
set -euo pipefail
cd "$(dirname "$0")/.."
W=${ALLOYBENCH_WEIGHTS:-$HOME/.alloybench/weights}
MATGL=${MATGL_MODELS:-../shared/models/matgl}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
PLAT=(--only-binary=:all: --no-deps --python-version 3.12 --implementation cp --platform any
      --platform manylinux1_x86_64 --platform manylinux2014_x86_64 --platform manylinux_2_17_x86_64
      --platform manylinux_2_24_x86_64 --platform manylinux_2_27_x86_64 --platform manylinux_2_28_x86_64)
fetch() { python3 -m pip download -q "${PLAT[@]}" -d "$work/whl" "$@"; }
unpack() { local dest=$1; shift; mkdir -p "$dest"; for w in "$@"; do python3 -m zipfile -e "$w" "$dest"; done; }
pack() { find "$1" -name __pycache__ -prune -exec rm -rf {} +; tar -cJf "$2" -C "$1" .; ls -la "$2"; }

PARTS=" ${1:-A B C} "
PYSRC=.venv/bin/python; [ -x "$PYSRC" ] || PYSRC=python3  # reads alloybench (needs ase)
mkdir -p .gpu/extra "$work/whl"
python3 -m pip download -q "${PLAT[@]}" -d .gpu/extra click==8.5.1 e3nn==0.6.0 markdown-it-py==4.3.0 mdurl==0.1.2 \
  opt-einsum==3.4.0 opt-einsum-fx==0.1.4 pygments==2.21.0 pyyaml==6.0.4 rich==15.0.0 shellingham==1.5.4 \
  threadpoolctl==3.8.0 typer==0.29.2

# siteA
if [[ $PARTS == *" A "* ]]; then
fetch sevenn==0.13.0 torch-sim-atomistic==0.6.2 vesin==0.6.2 vesin-torch==0.6.2 ase==3.29.0 tables==3.11.1 \
  numexpr==2.14.2 blosc2==4.14.1 ndindex==1.10.1 py-cpuinfo==9.0.0 matscipy==1.3.1 braceexpand==0.1.7 \
  spglib==2.8.0 pydantic==2.14.4 pydantic-core==2.50.5 annotated-types==0.8.0 typing-inspection==0.4.5 \
  chgnet==0.4.2 pymatgen==2026.10.24 pymatgen-core==2026.10.16 monty==2026.10.21 orjson palettable ruamel.yaml \
  matgl==4.1.2
python3 -m pip wheel -q --no-deps -w "$work/whl" nvidia-ml-py3==7.352.0  # sdist only; chgnet imports nvidia_smi
A=$work/siteA
unpack "$A" "$work"/whl/*.whl
rm -rf "$A"/chgnet/pretrained/0.2.0 "$A"/chgnet/pretrained/r2scan
# checkpoints are 10-14 MB each: keep only those the next runs need (space-separated folder names)
for d in "$A"/sevenn/pretrained_potentials/*/; do
  case " ${SEVENN_KEEP:-SevenNet_l3i5} " in *" $(basename "$d") "*) ;; *) rm -f "$d"*.pth ;; esac
done
mkdir -p "$A/_models"
for m in M3GNet-MP-2021.2.8-PES TensorNet-MatPES-PBE-v2025.1-PES; do
  if [ -d "$MATGL/$m" ]; then cp -r "$MATGL/$m" "$A/_models/"; else echo "warning: no $MATGL/$m (set MATGL_MODELS)" >&2; fi
done
pack "$A" .gpu/siteA.tar.xz
fi

# siteB
if [[ $PARTS == *" B "* ]]; then
rm -rf "$work/whl" && mkdir -p "$work/whl"
fetch deepmd-kit==3.1.3 array-api-compat==1.16.0 mendeleev==1.3.0 pint sqlalchemy bracex wcmatch flexcache \
  flexparser platformdirs dargs==0.5.1
B=$work/siteB
unpack "$B" "$work"/whl/*.whl
"$PYSRC" - "$B/deepmd/pt/cxx_op.py" <<'EOF'
import sys
sys.path.insert(0, "src")
from alloybench.models.families.deepmd import CXX_OP_STUB
open(sys.argv[1], "w").write(CXX_OP_STUB)
EOF
rm -rf "$B"/deepmd/lib/*.so "$B"/deepmd/lib/dp_ipi "$B"/deepmd/tf "$B"/deepmd/jax "$B"/deepmd/pd "$B"/deepmd_kit.libs
mkdir -p "$B/_weights"
cp "$W"/deepmd/DPA3-LAM-2025.3.14-PES/*.pth "$B/_weights/" 2>/dev/null || echo "no DPA3 checkpoints under $W/deepmd"
pack "$B" .gpu/siteB.tar.xz
# siteBm: siteB with the mptrj checkpoint only; the repository (~24 MB) plus siteB (49 MB) is over
# the 64 MiB a device call may carry, plus siteBm (23 MB) is not
rm -f "$B"/_weights/*openlam*.pth
pack "$B" .gpu/siteBm.tar.xz
fi

# siteC
if [[ $PARTS == *" C "* ]]; then
rm -rf "$work/whl" && mkdir -p "$work/whl"
fetch cuequivariance==0.13.0 cuequivariance-torch==0.13.0 cuequivariance-ops-torch-cu13==0.13.0 \
  cuequivariance-ops-cu13==0.13.0
unpack "$work/siteC" "$work"/whl/*.whl
pack "$work/siteC" .gpu/siteC.tar.xz
fi
