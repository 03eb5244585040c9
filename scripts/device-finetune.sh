#!/usr/bin/env bash
# Runs on the GPU machine from the repository root (copied to .gpu/ft/device.sh by device-ft-pack.sh):
# installs the carried wheels once per warm machine, then `alloybench finetune` on the packaged DFT
# set into /tmp/ft/sevennet-0 with the arguments given (e.g. --sizes 5,20,pool --seeds 1 --engine batched).
#   FT_STOP_S   seconds after which the sweep is stopped (default 540: a call may run 600 s)
#   FT_NAME     the sweep's folder under /tmp/ft (default sevennet-0; several sweeps may share a call)
#   FT_NO_CK=1  do not send the checkpoints back (a hyper-parameter scan needs only the numbers)
# What comes back: $OUT only returns 8 files, at most two folders down, 16 MiB each, so the sweep's
# folder travels as tarballs, rewritten every 20 s (a call stopped at its limit still returns every
# finished point): ft[-NAME].tar (everything but checkpoints) and ck.tar.NN (the checkpoints, 15 MB parts).
# Resume on a fresh machine: put an earlier call's tarballs in .gpu/ft/state/ (carried with .gpu/ft);
# they are unpacked first, so finished points are not retrained and suite stores resume.
# .gpu/ft/base.sqlite, when present, seeds the base model's suite store (the committed quick-tier
# store of the same model: same model id and Job digests, so N = 0 costs nothing here).
set -u
export PYTHONUNBUFFERED=1
root=$PWD
stop=${FT_STOP_S:-540}
[ -d /tmp/site/sevenn ] || python3 -m pip install -q --no-index --no-deps --no-compile --target /tmp/site .gpu/ft/whl/*.whl \
  || exit 1
export PYTHONPATH=$root/src:/tmp/site
python3 -c "import torch, e3nn, torch_geometric, sevenn; print('torch', torch.__version__, 'cuda', torch.cuda.is_available(),
  'e3nn', e3nn.__version__, 'pyg', torch_geometric.__version__, 'sevenn', sevenn.__version__)" || exit 1

name=${FT_NAME:-sevennet-0}
W=/tmp/ft/$name
tarball=ft${FT_NAME:+-$FT_NAME}.tar
mkdir -p "$W"
if ls .gpu/ft/state/ft*.tar >/dev/null 2>&1 && [ ! -e /tmp/ft/.unpacked ]; then
  for t in .gpu/ft/state/ft*.tar; do tar xf "$t" -C /tmp; done
  ls .gpu/ft/state/ck.tar.* >/dev/null 2>&1 && cat .gpu/ft/state/ck.tar.* | tar xf - -C /tmp
  touch /tmp/ft/.unpacked; echo "resumed: $(ls "$W" | tr '\n' ' ')"
fi
if [ -f .gpu/ft/base.sqlite ] && [ ! -f "$W/base/suite/results.sqlite" ]; then
  mkdir -p "$W/base/suite" && cp .gpu/ft/base.sqlite "$W/base/suite/results.sqlite"
fi
sync_out() {
  (cd /tmp && tar cf "$OUT/$tarball.part" --exclude='*.pth' --exclude='*.pt' --exclude='*.sqlite-*' "ft/$name" \
     2>/dev/null) && mv "$OUT/$tarball.part" "$OUT/$tarball"
  [ "${FT_NO_CK:-0}" = 1 ] && return
  (cd /tmp && find "ft/$name" -name '*.pth' -print0 | tar cf - --null -T - 2>/dev/null) > /tmp/ck.tar
  rm -f "$OUT"/ck.tar.*; split -b 15M -d /tmp/ck.tar "$OUT/ck.tar."
}
( while sleep 20; do sync_out; done ) &
syncer=$!
D=src/alloybench/dft/data
timeout "$stop" python3 -c "import sys; sys.argv[0] = 'alloybench'; from alloybench.cli import app; app()" \
  finetune --model sevennet-0 --data $D/train.extxyz.gz --test $D/test.extxyz.gz --out "$W" -q "$@"
echo "finetune exit $? after $SECONDS s"
kill $syncer 2>/dev/null; wait $syncer 2>/dev/null
# the curve from whatever finished (a stopped sweep wrote none)
timeout 60 python3 -c "import sys; sys.argv[0] = 'alloybench'; from alloybench.cli import app; app()" \
  finetune --model sevennet-0 --data $D/train.extxyz.gz --test $D/test.extxyz.gz --out "$W" -q --curve-only "$@"
sync_out
ls -la "$OUT"
cat "$W/learning_curve.md" 2>/dev/null
