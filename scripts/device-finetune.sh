#!/usr/bin/env bash
# Runs on the GPU machine from the repository root (copied to .gpu/ft/device.sh by device-ft-pack.sh):
# installs the carried wheels once per warm machine, then `alloybench finetune` on the packaged DFT
# set into /tmp/ft with the arguments given (e.g. --sizes 0,5,20,pool --seeds 1 --engine batched).
# Everything but checkpoints is copied to $OUT every 30 s, so a call stopped at its limit brings back
# every finished point; a later call on the same warm machine resumes (points with a checkpoint are
# not retrained).  On a fresh machine, split seeds over calls with --seed-start instead.
set -u
export PYTHONUNBUFFERED=1
root=$PWD
[ -d /tmp/site/sevenn ] || python3 -m pip install -q --no-index --no-deps --no-compile --target /tmp/site .gpu/ft/whl/*.whl \
  || exit 1
export PYTHONPATH=$root/src:/tmp/site
python3 -c "import torch, e3nn, torch_geometric, sevenn; print('torch', torch.__version__, 'cuda', torch.cuda.is_available(),
  'e3nn', e3nn.__version__, 'pyg', torch_geometric.__version__, 'sevenn', sevenn.__version__)" || exit 1
ab() { python3 -c "import sys; sys.argv[0] = 'alloybench'; from alloybench.cli import app; app()" "$@"; }
sync_out() { (cd /tmp && tar cf - --exclude='*.pth' --exclude='*.pt' --exclude='*.sqlite-*' ft 2>/dev/null) | tar xf - -C "$OUT"; }
mkdir -p /tmp/ft
( while sleep 30; do sync_out; done ) &
D=src/alloybench/dft/data
ab finetune --model sevennet-0 --data $D/train.extxyz.gz --test $D/test.extxyz.gz --out /tmp/ft/sevennet-0 -q "$@"
echo "finetune exit $?"
sync_out
find "$OUT" -name learning_curve.md -exec cat {} \;
