"""EAM potentials through ASE's own EAM calculator (setfl/funcfl files)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ase.calculators.calculator import Calculator

from alloybench.errors import UserError
from alloybench.models.families.base import Family, Rule


def load_eam(weights: Path | None, device: str = "cpu", **_: Any) -> Calculator:
    from ase.calculators.eam import EAM

    return EAM(potential=str(weights))


def eam_elements(path: Path) -> frozenset[str]:
    """Elements an EAM file declares (setfl: line 4; funcfl: first line's Z)."""
    from ase.data import chemical_symbols

    lines = path.read_text(errors="replace").splitlines()
    name = path.name.lower()
    if name.endswith((".alloy", ".fs", ".setfl", ".adp")) and len(lines) > 3:
        return frozenset(lines[3].split()[1:])
    try:
        return frozenset({chemical_symbols[int(lines[1].split()[0])]})
    except (IndexError, ValueError) as exc:
        raise UserError(f"cannot read elements from EAM file {path}") from exc


FAMILY = Family("eam", "EAM (ASE)", load_eam, weights_hint="pass a .eam / .eam.alloy / .eam.fs file", cpu_only=True,
                sniff=(Rule(100, lambda p: p.file_named(".eam.alloy", ".eam.fs", ".eam", ".setfl", ".alloy")),),
                file_elements=eam_elements, packages=("ase",), checkpoint="data")
