"""Where registry models' weights are on disk (never downloaded here)."""

from __future__ import annotations

import importlib.util
import os
from pathlib import Path

from alloybench.models.families import FAMILIES


def weight_dirs() -> list[Path]:
    """Folders searched for named models' weights: $ALLOYBENCH_WEIGHTS (os.pathsep-
    separated), else ~/.alloybench/weights."""
    raw = os.environ.get("ALLOYBENCH_WEIGHTS")
    dirs = raw.split(os.pathsep) if raw else ["~/.alloybench/weights"]
    return [Path(d).expanduser() for d in dirs if d]


def site_root(package: str) -> Path | None:
    """Folder of an importable package, without importing it."""
    try:
        found = importlib.util.find_spec(package)
    except (ImportError, ValueError):
        return None
    if found is None or not found.submodule_search_locations:
        return None
    return Path(list(found.submodule_search_locations)[0])


def packaged_weights(spec, site_packages: Path | None = None) -> Path | None:
    """Where a registry model (an ``alloybench.models.registry.ModelSpec``)'s weights are on disk, or None (never downloads).

    Looks in the package's own folder (weights shipped in the wheel, or left by
    the package's own downloader), the family's cache folders, then the weight
    folders (``weight_dirs``), as ``DIR/FILE`` or ``DIR/FAMILY/FILE``.
    ``site_packages`` looks in another environment's packages instead of this one's.
    """
    fam = FAMILIES[spec.family]
    candidates: list[Path] = []
    root = None
    if spec.packaged and fam.package:
        top = fam.package.split(".")[0]
        root = (site_packages / top) if site_packages else site_root(top)
    if root is not None:
        candidates += [root / p for p in spec.packaged]
    for d in spec.cache_dirs:
        candidates += [Path(d).expanduser() / f for f in spec.files]
    for d in weight_dirs():
        for f in spec.files:
            candidates += [d / f, d / spec.family / f]
    for c in candidates:
        if "*" in c.name:
            hits = sorted(c.parent.glob(c.name))
            if hits:
                return hits[0]
        elif c.exists():
            return c
    return None




__all__ = ["packaged_weights", "site_root", "weight_dirs"]
