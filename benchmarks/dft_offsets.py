"""Our GPAW settings against the reference PBE (QE, SSSP) for fcc Al: the docs/dft.md offset table.

- lattice constant (Å) and bulk modulus (GPa): 5-point E(V), volumes ±4 % about a = 4.04 Å,
  Birch–Murnaghan fit (ase.eos);
- C11, C12, C44 (GPa): central stress differences at the fitted lattice constant, strains
  ±0.5 % (e1 for C11 and C12; engineering shear e4 = 2 ε_yz for C44), the reference's amplitude;
  one atom per cell, so no internal relaxation.

Usage: ``python benchmarks/dft_offsets.py [default|low|reference-k] [OUT.json]`` (one GPAW
process, about 3-6 min on one core with the default settings).
"""

from __future__ import annotations

import json
import sys
import time

import numpy as np
from ase import units
from ase.build import bulk
from ase.eos import EquationOfState

from alloybench.dft.calculator import DFTCalculator
from alloybench.dft.settings import kpoint_mesh
from alloybench.reference import load_reference

A_START = 4.04  # Å
STRAIN = 0.005


def stress_GPa(atoms, calc) -> np.ndarray:
    atoms.calc = calc
    return np.asarray(atoms.get_stress(voigt=True)) / units.GPa


def main(choice: str = "default", out: str | None = None) -> dict:
    from alloybench.cli_dft import settings_for

    settings = settings_for(choice)
    calc = DFTCalculator(settings)
    t0 = time.perf_counter()
    vols, ens, meshes = [], [], set()
    for s in np.linspace(0.96, 1.04, 5) ** (1 / 3):
        a = bulk("Al", "fcc", a=A_START * s)
        a.calc = calc
        ens.append(a.get_potential_energy())
        vols.append(a.get_volume())
        meshes.add(kpoint_mesh(a.cell.array, a.pbc, settings.kpt_density_A))
    eos = EquationOfState(vols, ens, eos="birchmurnaghan")
    v0, e0, b = eos.fit()
    a0 = (4 * v0) ** (1 / 3)
    base = bulk("Al", "fcc", a=a0)

    def strained(eps: np.ndarray):
        x = base.copy()
        x.set_cell(base.cell.array @ (np.eye(3) + eps), scale_atoms=True)
        meshes.add(kpoint_mesh(x.cell.array, x.pbc, settings.kpt_density_A))
        return stress_GPa(x, calc)

    e1 = np.zeros((3, 3))
    e1[0, 0] = STRAIN
    sp, sm = strained(e1), strained(-e1)
    c11 = (sp[0] - sm[0]) / (2 * STRAIN)
    c12 = (sp[1] - sm[1]) / (2 * STRAIN)
    e4 = np.zeros((3, 3))
    e4[1, 2] = e4[2, 1] = STRAIN / 2  # engineering shear strain e4 = 2 ε_yz = STRAIN
    tp, tm = strained(e4), strained(-e4)
    c44 = (tp[3] - tm[3]) / (2 * STRAIN)
    ref = load_reference()
    a_ref = float(ref.value("8100-lattice_a").value) * np.sqrt(2)  # primitive a -> conventional
    doc = {
        "settings": choice, "settings_digest": settings.digest, "kpoint_meshes": sorted(meshes),
        "wall_s": round(time.perf_counter() - t0, 1),
        "ours": {"a_A": a0, "B_GPa": b / units.GPa, "C11_GPa": c11, "C12_GPa": c12, "C44_GPa": c44},
        "reference": {"a_A": a_ref, "C11_GPa": float(ref.value("8100-C_11").value),
                      "C12_GPa": float(ref.value("8100-C_21").value), "C44_GPa": float(ref.value("8100-C_44").value)},
    }
    text = json.dumps(doc, indent=1)
    print(text)
    if out:
        with open(out, "w") as fh:
            fh.write(text + "\n")
    return doc


if __name__ == "__main__":
    main(*sys.argv[1:3])
