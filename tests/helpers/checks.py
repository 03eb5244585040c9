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


def mixed_cells() -> list:
    """Four small cells of Al, Cu and Mg (one rattled Al7Cu): a batch with sizes 4, 8, 8, 2."""
    cells = [bulk("Al", "fcc", a=4.04, cubic=True), bulk("Cu", "fcc", a=3.63).repeat(2),
             bulk("Al", "fcc", a=4.0, cubic=True).repeat((2, 1, 1)), bulk("Mg", "hcp", a=3.2, c=5.2)]
    cells[2].rattle(0.05, seed=3)
    cells[2][0].symbol = "Cu"
    return cells


def assert_batch_equals_single(backend, calc, cells: list) -> list:
    """One batched call of ``cells`` gives what single ASE calls give, to float32 rounding: the total
    energy within 8 float32 ulps of its size (a batch sums the per-atom energies in another order;
    TensorNet under matgl 4.1 differs by 6 ulps, 1.4e-6 eV/atom, on a 4-atom cell) or 1e-6 eV/atom."""
    out = backend.evaluate([a.copy() for a in cells])
    assert backend.batch_sizes[-1] == len(cells)
    for atoms, ev in zip(cells, out):
        atoms = atoms.copy()
        atoms.calc = calc
        e = atoms.get_potential_energy()
        tol = max(1e-6 * len(atoms), 8 * float(np.finfo(np.float32).eps) * abs(e))
        assert abs(ev.energy - e) <= tol, (atoms, ev.energy, e)
        np.testing.assert_allclose(ev.forces, atoms.get_forces(), atol=1e-5)
        np.testing.assert_allclose(ev.stress, atoms.get_stress(), atol=1e-6)  # eV/Å^3, ASE sign
    return out
