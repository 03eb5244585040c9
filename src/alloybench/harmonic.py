"""Relaxed-ion elastic constants in the harmonic limit, without any optimiser.

    C_relaxed = C_clamped - Lambda^T Phi^+ Lambda / V

C_clamped from stresses of homogeneously strained cells (ions not moved),
Lambda = dF/d(eps) (3N x 6) the internal-strain forces of those same cells,
Phi = -dF/du (3N x 3N) the force constants by finite displacement, Phi^+ its
pseudo-inverse (the three translations are zero modes).  An independent check
of the finite-strain, ion-relaxed protocol (tasks/elastic.py): both are exact for
a harmonic crystal, and they differ only at O(strain^2) anharmonicity.
"""

from __future__ import annotations

import numpy as np
from ase import Atoms
from ase.calculators.calculator import Calculator

from alloybench.tasks.elastic import EV_A3_TO_GPA, strained


def relaxed_ion_stiffness(atoms: Atoms, calc: Calculator, strain: float = 1e-4,
                          displacement: float = 1e-3) -> tuple[np.ndarray, np.ndarray]:
    """(C_relaxed, C_clamped) in GPa of the cell ``atoms`` (taken as relaxed, zero forces)."""
    n = len(atoms)
    c_cl = np.zeros((6, 6))
    lam = np.zeros((3 * n, 6))
    for j in range(6):
        out = []
        for sign in (1, -1):
            a = strained(atoms, j, sign * strain)
            a.calc = calc
            out.append((a.get_stress(voigt=True), a.get_forces().reshape(-1)))
        c_cl[:, j] = (out[0][0] - out[1][0]) / (2 * strain)
        lam[:, j] = (out[0][1] - out[1][1]) / (2 * strain)
    phi = np.zeros((3 * n, 3 * n))
    for k in range(3 * n):
        f = []
        for sign in (1, -1):
            a = atoms.copy()
            pos = a.positions.copy()
            pos[k // 3, k % 3] += sign * displacement
            a.positions = pos
            a.calc = calc
            f.append(a.get_forces().reshape(-1))
        phi[:, k] = -(f[0] - f[1]) / (2 * displacement)
    phi = 0.5 * (phi + phi.T)
    corr = lam.T @ np.linalg.pinv(phi, rcond=1e-8) @ lam / atoms.get_volume()
    c_cl = 0.5 * (c_cl + c_cl.T)
    c_rel = c_cl - corr
    return 0.5 * (c_rel + c_rel.T) * EV_A3_TO_GPA, c_cl * EV_A3_TO_GPA
