"""Finite-size difference of the solute binding energies between the 32-site cell of the DFT offset
(benchmarks/dft_planar_offsets.py ``bd`` points) and the suite's 256-site cell, by potentials:
Cu-Cu and Mg-vacancy on the first neighbour shell in fcc Al, fixed cell at the model's lattice
constant, atoms relaxed by L-BFGS to fmax 2e-3 eV/Å (the suite's solute protocol).

Usage: ``python benchmarks/binding_finite_size.py [MODEL ...]`` (default: sevennet-0).
"""

from __future__ import annotations

import json
import sys

from ase.optimize import LBFGS

# the DFT points' own configurations (importing it sets one BLAS thread, as this was measured)
from dft_planar_offsets import BINDING as CONFS
from dft_planar_offsets import BINDING_PAIRS as PAIRS
from sf_relaxation_effect import calculator, lattice_constant

from alloybench.tasks.solutes import binding_energy_meV, decorate


def energies(calc, a: float, n: int) -> dict[str, float]:
    out = {}
    for name, decorations in CONFS.items():
        atoms = decorate("Al", a, n, decorations)
        atoms.calc = calc
        if name != "pure":
            LBFGS(atoms, logfile=None).run(fmax=2e-3, steps=1000)
        out[name] = atoms.get_potential_energy()
    return out


def main(models: list[str]) -> dict:
    doc = {}
    for name in models:
        calc = calculator(name)
        a = lattice_constant(calc)
        row = {"a_A": round(a, 4)}
        for n in (2, 4):
            e = energies(calc, a, n)
            for pair, (sp_a, sp_b) in PAIRS.items():
                row[f"{pair}_{n ** 3 * 4}sites"] = round(binding_energy_meV(e[pair], e["pure"], e[sp_a], e[sp_b]), 1)
        doc[name] = row
        print(json.dumps({name: row}), flush=True)
    return doc


if __name__ == "__main__":
    main(sys.argv[1:] or ["sevennet-0"])
