"""fcc Al C44 at the set's settings two ways: from the stress and from E(+g) + E(-g) - 2 E(0) (+-1 % shear).
Run: PYTHONPATH=src python benchmarks/dft_c44_stress_vs_energy.py shared|fresh|nosym
(shared: one calculator for the three cells; fresh: one each; nosym: fresh, k-point symmetry off)."""
import sys, numpy as np
from ase.build import bulk
from ase.units import GPa
from alloybench.dft.calculator import DFTCalculator
from alloybench.dft.settings import DEFAULT
mode = sys.argv[1]
s = DEFAULT.with_(symmetry=(mode != "nosym"))
def cell(e):
    a = bulk("Al", "fcc", a=4.0449); F = np.eye(3); F[1,2]=F[2,1]=e/2
    a.set_cell(a.cell.array@F, scale_atoms=True); return a
calc = DFTCalculator(s)
res = {}
for e in (0.01, -0.01, 0.0):
    a = cell(e)
    a.calc = calc if mode == "shared" else DFTCalculator(s)
    res[e] = (a.get_potential_energy(), a.get_stress(voigt=True)[3], a.get_volume())
C_s = (res[0.01][1]-res[-0.01][1])/0.02/GPa
C_e = (res[0.01][0]+res[-0.01][0]-2*res[0.0][0])/(res[0.0][2]*1e-4)/GPa
print(mode, "C44 from stress (+ sign)", round(C_s,1), "from energy", round(C_e,1), "sigma_yz(0)", res[0.0][1]/GPa, flush=True)
