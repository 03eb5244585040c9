import numpy as np
from ase.build import bulk
from alloybench.models import resolve
from alloybench.reference import load_reference
m = resolve("sevennet-0")
calc = m.make_calculator()
from alloybench.engine.serial import single_threaded_blas
single_threaded_blas()
ref = load_reference()
ph = ref.phases["theta_prime"]
atoms = ph.structure.to_structure().to_atoms()
a = atoms.copy(); a.rattle(0.02, seed=1); a.calc = calc
for _ in range(3):
    a.positions[0, 0] += 1e-4
    print(repr(a.get_potential_energy()), repr(float(a.get_stress()[0])))
