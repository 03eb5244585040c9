"""Download one source distribution from PyPI's simple index, checking its sha256.

    python tools/fetch_sdist.py NAME VERSION DEST_DIR

`pip download --no-binary=:all:` prepares the sdist's metadata first, which builds its build
dependencies from source too (numpy, for matcalc: many minutes); fetching the file is all the
DPA3 tests need (its checkpoints ship in matcalc's sdist).
"""

from __future__ import annotations

import hashlib
import re
import sys
import urllib.request
from pathlib import Path

INDEX = "https://pypi.org/simple"


def fetch(name: str, version: str, dest: Path) -> Path:
    page = urllib.request.urlopen(f"{INDEX}/{name}/", timeout=60).read().decode()
    pattern = rf'href="([^"]*/{re.escape(name)}-{re.escape(version)}\.tar\.gz)#sha256=([0-9a-f]{{64}})"'
    hit = re.search(pattern, page)
    if hit is None:
        raise SystemExit(f"fetch_sdist: no {name}-{version}.tar.gz on {INDEX}/{name}/")
    url, digest = hit.groups()
    data = urllib.request.urlopen(url, timeout=600).read()
    if hashlib.sha256(data).hexdigest() != digest:
        raise SystemExit(f"fetch_sdist: sha256 mismatch for {url}")
    dest.mkdir(parents=True, exist_ok=True)
    out = dest / f"{name}-{version}.tar.gz"
    out.write_bytes(data)
    return out


if __name__ == "__main__":
    if len(sys.argv) != 4:
        raise SystemExit(__doc__)
    print(fetch(sys.argv[1], sys.argv[2], Path(sys.argv[3])))
