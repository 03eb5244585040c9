"""What a run records about itself (run_info in the store and results.json): when, what, where,
with which package versions.  One builder for every way of running a suite (the CLI, Dask)."""

from __future__ import annotations

import datetime as dt
import os
import platform
import sys
from importlib import metadata
from typing import Any

# every package whose version can change a result: recorded where installed (each model family
# names its own: Family.packages)
CORE_PACKAGES = ("alloybench", "ase", "numpy", "spglib")
DISTRIBUTED_PACKAGES = ("dask", "distributed", "dask-jobqueue")


def _packages() -> tuple[str, ...]:
    from alloybench.models.families import provenance_packages

    return tuple(dict.fromkeys(CORE_PACKAGES + provenance_packages() + DISTRIBUTED_PACKAGES))


PACKAGES = _packages()


def versions(*packages: str) -> dict[str, str]:
    """Installed version of each of ``packages`` (those not installed are left out)."""
    found = {}
    for p in packages:
        try:
            found[p] = metadata.version(p)
        except metadata.PackageNotFoundError:
            pass
    return found


def run_info(model, spec: str, tier: str, tasks, elements, **extra: Any) -> dict[str, Any]:
    """The run record of ``model`` (a resolved Model) for ``tasks`` at ``tier``; ``extra`` adds fields."""
    info = {
        "date": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
        "command": " ".join(["alloybench"] + sys.argv[1:]),
        "tier": tier,
        "tasks": [t.name for t in tasks],
        "elements": sorted(elements) if elements is not None else None,
        "model_spec": spec,
        "host": {"platform": platform.platform(), "python": platform.python_version(), "cpus": os.cpu_count()},
        "versions": versions(*PACKAGES),
        **extra,
    }
    if model.env:  # the model runs in its family's environment: record what is installed there
        from alloybench import envs

        info["env"] = {"path": model.env, **(envs.env_info(model.family) or {})}
    return info


def check_covers_reference(model_name: str, elements, reference) -> None:
    """UserError when the chosen elements cover none of the reference phases."""
    from alloybench.errors import UserError

    if elements is not None and not any(set(p.elements) <= elements for p in reference.phases.values()):
        raise UserError(f"model '{model_name}' covers none of the reference phases' elements "
                        f"(Al, Cu, Mg, Zn); nothing to compute")


__all__ = ["CORE_PACKAGES", "DISTRIBUTED_PACKAGES", "PACKAGES", "check_covers_reference", "run_info", "versions"]
