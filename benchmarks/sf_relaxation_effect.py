"""How far the unrelaxed 6-layer stacking-fault energies of benchmarks/dft_planar_offsets.py are
from the suite's relaxed, height-converged ones, measured with potentials (DFT relaxations of
these cells cost hours): γ(0.5) and γ(1) of fcc Al

- unrelaxed, 6 layers (the DFT cells), at the model's own lattice constant;
- unrelaxed, 12 layers (does 6 suffice without relaxation?);
- relaxed as the stacking_faults task relaxes (atoms and cell height along the normal, L-BFGS to
  fmax 2e-3 eV/Å) at 12 and 24 layers.

Usage: ``python benchmarks/sf_relaxation_effect.py [MODEL ...]`` (default: emt sevennet-0).
"""

from __future__ import annotations

import json
import sys

from ase.constraints import FixCartesian
from ase.filters import UnitCellFilter
from ase.optimize import LBFGS

from alloybench.tasks.bulk import fcc_lattice_constant
from alloybench.tasks.stacking_faults import fault_energy, tilted_cell
from alloybench.tasks.surfaces import surface_area


def calculator(name: str):
    if name == "emt":
        from ase.calculators.emt import EMT

        return EMT()
    from alloybench.models import resolve

    return resolve(name).calculator()


def lattice_constant(calc) -> float:
    from ase.build import bulk
    from ase.filters import FrechetCellFilter

    atoms = bulk("Al", "fcc", a=4.04, cubic=True)
    atoms.calc = calc
    LBFGS(FrechetCellFilter(atoms), logfile=None).run(fmax=1e-5, steps=200)
    return fcc_lattice_constant(atoms)


def energy(calc, a: float, layers: int, x: float, relax: bool) -> float:
    atoms = tilted_cell("Al", a, layers, x)
    atoms.calc = calc
    if relax:
        atoms.set_constraint(FixCartesian(range(len(atoms)), mask=(True, True, False)))
        LBFGS(UnitCellFilter(atoms, mask=[0, 0, 1, 0, 0, 0]), logfile=None).run(fmax=2e-3, steps=1000)
    return atoms.get_potential_energy()


def main(models: list[str]) -> dict:
    out = {}
    for name in models:
        calc = calculator(name)
        a = lattice_constant(calc)
        row = {"a_A": round(a, 4)}
        for layers, relax in ((6, False), (12, False), (12, True), (24, True)):
            e0 = energy(calc, a, layers, 0.0, relax)
            area = surface_area(tilted_cell("Al", a, layers, 0.0))
            for x in (0.5, 1.0):
                tag = f"{'relaxed' if relax else 'unrelaxed'}_{layers}_x{x:g}"
                row[tag] = round(fault_energy(energy(calc, a, layers, x, relax), e0, area), 2)
        row["relaxation_x0.5"] = round(row["relaxed_24_x0.5"] - row["unrelaxed_6_x0.5"], 2)
        row["relaxation_x1"] = round(row["relaxed_24_x1"] - row["unrelaxed_6_x1"], 2)
        out[name] = row
        print(json.dumps({name: row}), flush=True)
    return out


if __name__ == "__main__":
    main(sys.argv[1:] or ["emt", "sevennet-0"])
