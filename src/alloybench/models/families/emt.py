"""ASE's effective-medium theory (family ``classical``): built into ASE, for protocol tests."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ase.calculators.calculator import Calculator

from alloybench.models.families.base import Family

ELEMENTS = frozenset({"H", "C", "N", "O", "Al", "Ni", "Cu", "Pd", "Ag", "Pt", "Au"})  # what ASE EMT parametrises


def load_emt(weights: Path | None = None, device: str = "cpu", **_: Any) -> Calculator:
    from ase.calculators.emt import EMT

    return EMT()


FAMILY = Family("classical", "ASE EMT", load_emt, weights_hint="built into ASE", cpu_only=True, packages=("ase",),
                checkpoint="data")
