#!/usr/bin/env bash
# Several `alloybench finetune` sweeps at once on one GPU machine (copied to .gpu/ft/sweeps.sh by
# device-ft-pack.sh).  PLAN holds one sweep per line, "NAME FINETUNE-ARGS...", e.g.
#   s0 --sizes 5,10,20,50 --seeds 1 --seed-start 0 --modes finetune --engine batched
# Each runs through .gpu/ft/device.sh with FT_NAME=NAME, so each returns its own ft-NAME.tar ($OUT
# returns 8 files: at most 8 sweeps, and no checkpoints, FT_NO_CK=1).  The wheels are installed
# once before the sweeps start (parallel installs into one --target folder race), and each sweep
# gets FT_THREADS (default 2) CPU threads so they share the machine's cores.
#   bash .gpu/ft/sweeps.sh .gpu/ft/plan.txt
set -u
plan=${1:?usage: sweeps.sh PLAN}
[ -d /tmp/site/sevenn ] || python3 -m pip install -q --no-index --no-deps --no-compile --target /tmp/site .gpu/ft/whl/*.whl \
  || exit 1
# an earlier call's tarballs (.gpu/ft/state/ft-*.tar) are unpacked here once, not by each sweep
if ls .gpu/ft/state/ft*.tar >/dev/null 2>&1 && [ ! -e /tmp/ft/.unpacked ]; then
  mkdir -p /tmp/ft && for t in .gpu/ft/state/ft*.tar; do tar xf "$t" -C /tmp; done && touch /tmp/ft/.unpacked
fi
export OMP_NUM_THREADS=${FT_THREADS:-2} MKL_NUM_THREADS=${FT_THREADS:-2} FT_NO_CK=1
while read -r name args; do
  case "$name" in ''|'#'*) continue ;; esac
  mkdir -p "/tmp/ft/$name"
  # the log lives in the sweep's folder, so it travels back in its tarball
  FT_NAME=$name bash .gpu/ft/device.sh $args > "/tmp/ft/$name/log.txt" 2>&1 &
done < "$plan"
wait
for f in /tmp/ft/*/log.txt; do echo "== $f"; grep -v '^\s*$' "$f" | tail -n 12; done
ls -la "$OUT"
