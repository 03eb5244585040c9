"""Run: PYTHONPATH=src python benchmarks/dft_c44_kconv.py 18 30 45  (densities). fcc Al C44 from +-0.5 % engineering shear (yz), GPAW PW 500 eV, k-density D: is density 18 the cause?"""
import sys, time
import numpy as np
from ase.build import bulk
from ase.units import GPa
from alloybench.dft.calculator import DFTCalculator
from alloybench.dft.settings import DEFAULT, kpoint_mesh

for D in [float(x) for x in sys.argv[1:]]:
    s = DEFAULT.with_(kpt_density_A=D)
    calc = DFTCalculator(s)
    sig = []
    t0 = time.perf_counter()
    for e in (+0.005, -0.005):
        a = bulk("Al", "fcc", a=4.0449)
        F = np.eye(3); F[1, 2] = F[2, 1] = e / 2  # symmetric shear, engineering gamma_yz = e
        a.set_cell(a.cell.array @ F, scale_atoms=True)
        a.calc = calc
        sig.append(a.get_stress(voigt=True))
    c44 = -(sig[0][3] - sig[1][3]) / 0.01 / GPa
    print(f"density {D:g} mesh {kpoint_mesh(a.cell.array, a.pbc, D)}: C44 {c44:.1f} GPa ({time.perf_counter()-t0:.0f} s)", flush=True)
