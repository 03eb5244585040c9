#!/bin/bash
# usage: run_side.sh SRC TAG   (SRC = /work/main/src or /work/wt-fam/src)
SRC=$1; TAG=$2
cd /tmp/famproof
export PYTHONPATH=$SRC
PY=/work/main/.venv/bin/python
for spec in "emt||" "lammps:/usr/share/lammps/potentials/AlCu.adp||lammps" "sevennet-0|bulk,elastic,cohesive,vacancy|7net"; do
  IFS='|' read m t name <<< "$spec"; name=${name:-$m}
  o=$TAG/$name; rm -rf $o
  args=(-m "$m" --tier quick -o $o -q)
  [ -n "$t" ] && args+=(--tasks "$t")
  s=$(date +%s)
  nice -n 10 $PY -m alloybench.cli run "${args[@]}" > $TAG-$name.log 2>&1
  echo "$name rc=$? $(( $(date +%s)-s ))s" >> $TAG-times.txt
done
