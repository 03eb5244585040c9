#!/usr/bin/env bash
# Standard-tier runs of several models on one lent GPU, spread over consecutive calls of one lease:
# gpu_leaderboard.sh launches each run with setsid, so it goes on between calls while the machine
# is held, and each call ends by packing every run folder into $OUT (NAME.tar.gz: store, results,
# report, log, card). Runs start from empty stores (/tmp/lb/NAME), under the current protocols.
#   call 1: bash benchmarks/device_rerun.sh A 540 NAME=SPEC ...   (carry .gpu/siteA.tar.xz .gpu/extra)
#   call 2: bash benchmarks/device_rerun.sh B 560 NAME=SPEC ...   (carry .gpu/siteB.tar.xz)
#   call 3: bash benchmarks/device_rerun.sh - 540                 (collect only)
# SPEC is what `alloybench run --model` takes there, e.g. sevennet-l3i5 or
# tensornet-matpes-pbe=/tmp/ab-site/_models/TensorNet-MatPES-PBE-v2025.1-PES.
set -uo pipefail
cd "$(dirname "$0")/.."
site=${1:?site A|B|Bm|C or -}; budget=${2:?seconds this call may use}; shift 2
t0=$(date +%s)
lb=benchmarks/gpu_leaderboard.sh
# the carried matgl folders (_models) and DPA3 checkpoints (_weights) need full unpickling: trust
# them as weights of $ALLOYBENCH_WEIGHTS (2026-12-08 a TensorNet run without this stopped at once)
export ALLOYBENCH_WEIGHTS=${ALLOYBENCH_WEIGHTS:-/tmp/ab-site}
[ "$site" != - ] && { bash "$lb" setup "$site" || exit 1; }
for arg in "$@"; do
  ALLOYBENCH_THREADS=${ALLOYBENCH_THREADS:-2} bash "$lb" launch "${arg%%=*}" 0 batched "${arg#*=}"
done
left=$(( budget - ($(date +%s) - t0) ))
bash "$lb" collect $(( left > 0 ? left : 0 ))
