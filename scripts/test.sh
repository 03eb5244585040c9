#!/usr/bin/env bash
# Set up .venv (CPU torch first, then alloybench with its test extras) and run the tests.
# Extra arguments go to pytest.  Slow tests (marker "slow") are left out; run them with
#   .venv/bin/python -m pytest -m slow
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
# The HTML report is tested in a real headless Chromium (Debian packages).
if ! command -v chromium >/dev/null 2>&1 && command -v apt-get >/dev/null 2>&1 && [ "$(id -u)" = 0 ]; then
  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium chromium-driver) >/dev/null 2>&1 \
    || echo "warning: could not install chromium; the browser test will be skipped"
fi
[ -x .venv/bin/python ] || "$PY" -m venv .venv
.venv/bin/pip install -q --disable-pip-version-check torch==2.13.0
.venv/bin/pip install -q --disable-pip-version-check -e '.[sevenn,test]'
# pytest exits 5 when it collected no test: that is a failure here like any non-zero status.
exec .venv/bin/python -m pytest -m "not slow" -p no:cacheprovider "$@"
