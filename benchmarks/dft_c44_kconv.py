"""fcc Al C44 from +-0.5 % engineering shear (yz) with GPAW PW 500 eV against the k-point density and the smearing.

Run: PYTHONPATH=src python benchmarks/dft_c44_kconv.py 18 30 45            (Fermi-Dirac 0.1 eV, the first set's)
     PYTHONPATH=src python benchmarks/dft_c44_kconv.py 18:marzari-vanderbilt:0.2 24:marzari-vanderbilt:0.2
Each argument is DENSITY[:SMEARING:WIDTH_eV]; the lattice constant is fixed at 4.0449 A (our PBE a0).
"""
import sys
import time

import numpy as np
from ase.build import bulk
from ase.units import GPa

from alloybench.dft.calculator import DFTCalculator
from alloybench.dft.settings import DEFAULT, kpoint_mesh

for arg in sys.argv[1:]:
    parts = arg.split(":")
    changes = {"kpt_density_A": float(parts[0])}
    if len(parts) == 3:
        changes.update(smearing=parts[1], smearing_width_eV=float(parts[2]))
    s = DEFAULT.with_(**changes)
    calc = DFTCalculator(s)
    sig = []
    t0 = time.perf_counter()
    for e in (+0.005, -0.005):
        a = bulk("Al", "fcc", a=4.0449)
        F = np.eye(3)
        F[1, 2] = F[2, 1] = e / 2  # symmetric shear, engineering gamma_yz = e
        a.set_cell(a.cell.array @ F, scale_atoms=True)
        a.calc = calc
        sig.append(a.get_stress(voigt=True))
    c44 = (sig[0][3] - sig[1][3]) / 0.01 / GPa  # ASE stress: +dE/d(strain)/V
    mesh = kpoint_mesh(a.cell.array, a.pbc, s.kpt_density_A)
    print(f"{arg}: mesh {mesh} C44 {c44:.1f} GPa ({time.perf_counter() - t0:.0f} s)", flush=True)
