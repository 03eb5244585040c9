"""A pair potential with a kink in its force: the strain-dependence check must see it.

phi(r) = k/2 (r - r0)^2 + k2/2 max(0, r - r_kink)^2 between nearest neighbours (cutoff
between the first and second shells of fcc), so phi'' jumps from k to k + k2 at r_kink,
just above the equilibrium distance r0.  A +-0.1 % strain keeps every bond below the
kink (the harmonic tensor), a +-0.5 % strain stretches some bonds past it.
"""

from __future__ import annotations

import numpy as np
from ase.calculators.calculator import Calculator, all_changes
from ase.neighborlist import neighbor_list


class KinkedPair(Calculator):
    implemented_properties = ["energy", "free_energy", "forces", "stress"]

    def __init__(self, r0: float = 2.86, k: float = 1.0, k2: float = 8.0, kink: float = 1.003, **kw):
        super().__init__(**kw)
        self.r0, self.k, self.k2, self.r_kink = r0, k, k2, r0 * kink
        self.cutoff = r0 * 1.2

    def calculate(self, atoms=None, properties=("energy",), system_changes=all_changes):
        super().calculate(atoms, properties, system_changes)
        i, j, d, vec = neighbor_list("ijdD", self.atoms, self.cutoff)
        over = np.clip(d - self.r_kink, 0.0, None)
        e = 0.5 * self.k * (d - self.r0) ** 2 + 0.5 * self.k2 * over ** 2
        de = self.k * (d - self.r0) + self.k2 * over  # dphi/dr
        fij = (de / d)[:, None] * vec  # dE/d(r_j) for each directed pair, counted twice
        forces = np.zeros((len(self.atoms), 3))
        np.add.at(forces, i, 0.5 * fij)
        np.add.at(forces, j, -0.5 * fij)
        virial = 0.5 * np.einsum("p,pa,pb->ab", de / d, vec, vec)
        stress = virial / self.atoms.get_volume()  # ASE sign: (1/V) dE/d(eps)
        self.results["energy"] = self.results["free_energy"] = float(0.5 * e.sum())
        self.results["forces"] = forces
        self.results["stress"] = stress.flat[[0, 4, 8, 5, 2, 1]]
