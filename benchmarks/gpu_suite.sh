#!/usr/bin/env bash
# The suite on a lent GPU machine (no network there): packages travel as .gpu/site312.tar.gz
# (torch-sim, sevenn, ase, ...; see docs/performance_gpu.md) and .gpu/extra/*.whl (CLI deps).
# Usage on the device: bash benchmarks/gpu_suite.sh TIER ENGINE OUTDIR [TIMEOUT_S] [MODEL]
# Other packaged SevenNet checkpoints travel in .gpu/ckpt/<folder>/ and are copied into sevenn.
set -uo pipefail
tier=${1:-standard}; engine=${2:-batched}; out=${3:-/tmp/gpu-suite}; limit=${4:-540}; model=${5:-sevennet-0}
site=/tmp/ab-site; extra=/tmp/ab-extra
if [ ! -d "$site" ]; then mkdir -p "$site" && tar xzf .gpu/site312.tar.gz -C "$site"; fi
if [ -d .gpu/ckpt ]; then cp -r .gpu/ckpt/* "$site/sevenn/pretrained_potentials/"; fi
if [ ! -d "$extra" ]; then python3 -m pip install -q --no-index --no-deps --target "$extra" .gpu/extra/*.whl; fi
export PYTHONPATH="$PWD/src:$extra:$site"
export ALLOYBENCH_DEVICE=cuda
mkdir -p "$out"
nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader > "$out/card.txt" 2>&1
python3 -c "import torch, sevenn, ase; print(torch.__version__, sevenn.__version__, ase.__version__)" >> "$out/card.txt" 2>&1
start=$(date +%s.%N)
timeout "$limit" python3 -m alloybench.cli run --model "$model" --tier "$tier" --engine "$engine" --out "$out" -q
rc=$?
end=$(date +%s.%N)
echo "model=$model tier=$tier engine=$engine rc=$rc wall_s=$(python3 -c "print(round($end - $start, 1))")" >> "$out/card.txt"
exit 0
