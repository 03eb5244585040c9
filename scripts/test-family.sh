#!/usr/bin/env bash
# Create (if needed) the environment of one model family and run its tests there.
#   bash scripts/test-family.sh FAMILY [pytest args...]
# FAMILY: lammps kim mace matgl deepmd orb mattersim pet-mad nequip fairchem grace sevennet chgnet ace
# Environments live in $ALLOYBENCH_ENVS (default ~/.alloybench/envs); built once, reused after.
# ace (python-ace: no torch, no pins) shares the main environment: when pyace imports there, its
# tests run there and no environment is built.
set -euo pipefail
cd "$(dirname "$0")/.."
FAMILY=${1:?usage: scripts/test-family.sh FAMILY [pytest args]}
shift
PY=${PYTHON:-.venv/bin/python}
[ -x "$PY" ] || PY=python3
if [ "$FAMILY" = ace ] && "$PY" -c "import pyace" >/dev/null 2>&1; then
  exec env PYTHONPATH= "$PY" -m pytest -p no:cacheprovider tests/test_families.py -k test_ace_ "$@"
fi
ENVS=${ALLOYBENCH_ENVS:-$HOME/.alloybench/envs}
"$PY" -c "from alloybench import envs; envs.create('$FAMILY', log=print)"
ENVPY="$ENVS/$FAMILY/bin/python"
"$ENVPY" -m pip install -q --disable-pip-version-check pytest pytest-timeout
case "$FAMILY" in
  lammps|kim) TESTS=(tests/test_lammps.py tests/test_adapters.py tests/test_subprocess_engine.py) ;;
  deepmd)
    # the DPA3-LAM checkpoints ship inside matcalc's source distribution (tests/pes/)
    W=${ALLOYBENCH_WEIGHTS:-$HOME/.alloybench/weights}
    if [ ! -e "$W/deepmd/DPA3-LAM-2025.3.14-PES/2025-03-14-dpa3-mptrj.pth" ]; then
      TMP=$(mktemp -d)
      "$ENVPY" tools/fetch_sdist.py matcalc 0.7.0 "$TMP" >/dev/null  # pip download would build numpy from source
      mkdir -p "$W/deepmd"
      tar xzf "$TMP"/matcalc-*.tar.gz -C "$TMP" --wildcards '*/tests/pes/DPA3-LAM-2025.3.14-PES/*'
      cp -r "$TMP"/matcalc-*/tests/pes/DPA3-LAM-2025.3.14-PES "$W/deepmd/"
      rm -rf "$TMP"
    fi
    export ALLOYBENCH_WEIGHTS="$W"
    TESTS=(tests/test_families.py -k deepmd) ;;
  ace) TESTS=(tests/test_families.py -k test_ace_) ;;  # not "-k ace": that matches mace and grace
  *) TESTS=(tests/test_families.py -k "${FAMILY//-/_}") ;;
esac
# pytest exit 5 (nothing collected) is a failure here too
exec env -u VIRTUAL_ENV PYTHONPATH= "$ENVPY" -m pytest -p no:cacheprovider "${TESTS[@]}" "$@"
