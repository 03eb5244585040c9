"""GPAW as an ASE calculator whose k-point mesh follows each structure's cell.

A GPAW calculator is tied to one k-point mesh; labelling many cells (and relaxing
them, when GPAW is used as a model in ``alloybench run``) needs a mesh per cell.
``DFTCalculator`` rebuilds its GPAW whenever the atoms' species/count, periodicity
or the density-rule mesh change; inside a relaxation the mesh therefore stays fixed
until the cell has changed enough to move ``ceil(density |b_i|)``.

``energy`` is GPAW's force-consistent free energy (the energy whose derivatives are
the forces and stress), not the σ→0 extrapolation: labels and relaxations then use
one consistent energy surface.  The σ→0 value is kept as ``energy_sigma0``.
"""

from __future__ import annotations

import os
import time
from typing import Any

import numpy as np
from ase.calculators.calculator import Calculator, all_changes

from alloybench.dft.settings import DEFAULT, DFTSettings, kpoint_mesh
from alloybench.errors import MissingExtra


def gpaw_version() -> str:
    try:
        import gpaw

        return gpaw.__version__
    except ImportError:
        return ""


def require_gpaw():
    try:
        import gpaw  # noqa: F401
    except ImportError as exc:
        raise MissingExtra("GPAW", "dft", "gpaw") from exc
    if not os.environ.get("GPAW_SETUP_PATH"):
        try:  # the gpaw-data wheel's PAW setups
            import gpaw_data  # noqa: F401
        except ImportError as exc:
            raise MissingExtra("GPAW's PAW setups", "dft", "gpaw-data") from exc
    return gpaw


class DFTCalculator(Calculator):
    implemented_properties = ["energy", "free_energy", "forces", "stress"]

    def __init__(self, settings: DFTSettings = DEFAULT, txt: str | None = None,
                 mesh: tuple[int, int, int] | None = None, **kwargs: Any):
        super().__init__(**kwargs)
        require_gpaw()
        self.settings = settings
        # one mesh for every cell instead of the density rule: energy differences between
        # cells of one shape (a tilted fault cell and its perfect cell) then share their k-points
        self.mesh = tuple(mesh) if mesh is not None else None
        self.txt = txt
        self._gpaw = None
        self._signature: tuple | None = None
        self.last: dict[str, Any] = {}

    def _make(self, atoms) -> Any:
        from gpaw import GPAW, PW

        s = self.settings
        mesh = self._mesh(atoms)
        kpts = {"size": mesh, "gamma": s.gamma_centred}
        calc = GPAW(mode=PW(s.ecut_eV), xc=s.xc, kpts=kpts, occupations={"name": s.smearing, "width": s.smearing_width_eV},
                    spinpol=s.spinpol, setups=s.setups,
                    convergence={"energy": s.scf_energy_eV_per_electron, "density": s.scf_density},
                    maxiter=s.scf_maxiter, symmetry=_symmetry(s), txt=self.txt)
        return calc, mesh

    def _mesh(self, atoms) -> tuple[int, int, int]:
        return self.mesh or kpoint_mesh(atoms.cell.array, atoms.pbc, self.settings.kpt_density_A)

    def calculate(self, atoms=None, properties=("energy",), system_changes=all_changes):
        super().calculate(atoms, properties, system_changes)
        atoms = self.atoms
        mesh = self._mesh(atoms)
        signature = (tuple(atoms.numbers), tuple(bool(p) for p in atoms.pbc), mesh)
        if self._gpaw is None or signature != self._signature:
            self._gpaw, _ = self._make(atoms)
            self._signature = signature
        work = atoms.copy()
        work.calc = self._gpaw
        t0 = time.perf_counter()
        free = float(work.get_potential_energy(force_consistent=True))
        e0 = float(work.get_potential_energy())
        forces = np.asarray(work.get_forces())
        stress = np.asarray(work.get_stress(voigt=True)) if all(atoms.pbc) else np.zeros(6)
        self.last = {"kpts": list(mesh), "energy_sigma0_eV": e0, "scf_seconds": time.perf_counter() - t0,
                     "scf_iterations": _iterations(self._gpaw)}
        self.results = {"energy": free, "free_energy": free, "forces": forces, "stress": stress}


def _symmetry(s: DFTSettings) -> dict | str:
    if not s.symmetry:
        return "off"
    return {} if s.point_group else {"point_group": False, "time_reversal": True}


def _iterations(calc) -> int | None:
    for path in (("scf", "niter"), ("dft", "scf_loop", "niter")):
        obj = calc
        try:
            for p in path:
                obj = getattr(obj, p)
            return int(obj)
        except (AttributeError, TypeError, ValueError):
            continue
    return None
