#!/usr/bin/env bash
# GPAW for `alloybench dft` and `--model gpaw` (the [dft] extra), built into .venv:
# Debian's libxc, FFTW and OpenBLAS first (as root, when apt-get exists), then pip builds
# GPAW against them through a siteconfig (plain `pip install gpaw` fails without one).
#   bash scripts/install-dft.sh            # PIP=path/to/pip to use another environment
set -euo pipefail
cd "$(dirname "$0")/.."
PIP=${PIP:-.venv/bin/pip}
if command -v apt-get >/dev/null 2>&1 && [ "$(id -u)" = 0 ] \
   && ! dpkg -s libxc-dev libfftw3-dev libopenblas-dev >/dev/null 2>&1; then
  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq libxc-dev libfftw3-dev libopenblas-dev) \
    >/dev/null 2>&1 || { echo "error: could not install libxc-dev libfftw3-dev libopenblas-dev" >&2; exit 1; }
fi
CFG=$(mktemp -d)/siteconfig.py
cat > "$CFG" <<'PY'
compiler = 'gcc'
libraries = ['xc', 'fftw3', 'openblas']
PY
GPAW_CONFIG="$CFG" "$PIP" install -q --disable-pip-version-check -e '.[dft]'
