#!/bin/bash
cd /tmp/famproof
PY=/work/main/.venv/bin/python
s=$(date +%s); PYTHONPATH=/work/main/src nice -n 10 $PY -m alloybench.cli run -m sevennet-0 --tier quick --tasks bulk,elastic,cohesive -o main/7net -q > main-7net.log 2>&1; echo "main 7net rc=$? $(( $(date +%s)-s ))s" >> 7net-times.txt
rm -rf fam/7net
s=$(date +%s); PYTHONPATH=/work/wt-fam/src nice -n 10 $PY -m alloybench.cli run -m sevennet-0 --tier quick --tasks bulk,elastic,cohesive -o fam/7net -q > fam-7net.log 2>&1; echo "fam 7net rc=$? $(( $(date +%s)-s ))s" >> 7net-times.txt
