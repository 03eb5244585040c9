"""GPAW (PBE DFT) as a model family: ``--model gpaw`` / ``gpaw-low`` (alloybench.dft.model)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ase.calculators.calculator import Calculator

from alloybench.models.families.base import Family


def load_gpaw(weights: Path | None = None, device: str = "cpu", **options: Any) -> Calculator:
    """Options ``settings`` ('default' | 'low' | 'reference-k') and ``max_atoms``; GPAW's PW mode runs on the CPU."""
    from alloybench.dft.model import load_gpaw as load

    return load(weights, **options)


def check_run(model, tasks: list, ctx, batched: bool) -> None:
    """Serial engine only, no Job above the atom limit (alloybench.dft.model.check_run)."""
    from alloybench.dft.model import check_run as check

    check(model, tasks, ctx, batched)


FAMILY = Family("dft", "GPAW (PBE DFT)", load_gpaw, "gpaw", "dft", ("gpaw==26.7.0", "gpaw-data"), torch=False,
                apt=("libxc-dev", "libfftw3-dev", "libopenblas-dev"),
                weights_hint="no weights: a DFT code (settings: alloybench.dft.settings)", licence="GPL-3.0 (GPAW)",
                notes="serial engine only; Jobs of at most 40 atoms (alloybench.dft.model)", cpu_only=True,
                packages=("gpaw", "gpaw-data"), check_run=check_run,
                checkpoint="code")  # no weights file (nothing to refuse); shown as code, as before
