"""What every adapter must give on fcc Al: a finite energy, zero forces by symmetry, and
a stress that is the strain derivative of the energy (ASE's eV/Å^3, not GPa)."""

from __future__ import annotations

import math

import numpy as np
from ase.build import bulk


def check_fcc_al(calc, a: float = 3.95, fd_stress: bool = True, rtol: float = 0.05) -> float:
    atoms = bulk("Al", "fcc", a=a)
    atoms.calc = calc
    e = atoms.get_potential_energy()
    assert math.isfinite(e)
    assert np.abs(atoms.get_forces()).max() < 1e-3
    if fd_stress:
        s = atoms.get_stress()
        h = 1e-3
        es = []
        for sign in (1, -1):
            x = bulk("Al", "fcc", a=a * (1 + sign * h))
            x.calc = calc
            es.append(x.get_potential_energy())
        # hydrostatic: tr(stress)/3 = (1/3V) dE/d(eps), eps the linear strain
        p_fd = (es[0] - es[1]) / (2 * h) / (3 * atoms.get_volume())
        assert abs(np.mean(s[:3]) - p_fd) <= max(rtol * abs(p_fd), 2e-4), (s, p_fd)
    return e
