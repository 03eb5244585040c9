"""Time SevenNet-0 energy+forces calls on tiny cells under the OpenMP wait policy in force.

    OMP_WAIT_POLICY=ACTIVE  python benchmarks/omp_wait.py   # spinning threads
    OMP_WAIT_POLICY=PASSIVE python benchmarks/omp_wait.py   # alloybench's default

Run it while the machine has other load (e.g. another process busy on every core):
that is where spinning threads cost 10-100x.  The variable must be set before torch
loads, which is why it is given on the command line (alloybench only sets a default).
"""

from __future__ import annotations

import os
import time
import warnings

warnings.filterwarnings("ignore")

import torch  # noqa: E402

from alloybench.models import resolve  # noqa: E402
from alloybench.reference import load_reference  # noqa: E402

torch.set_num_threads(int(os.environ.get("THREADS", "2")))
calc = resolve("sevennet-0").make_calculator()
ref = load_reference()
print("OMP_WAIT_POLICY", os.environ.get("OMP_WAIT_POLICY"), "threads", torch.get_num_threads())
for phase in ("Al", "theta"):
    atoms = ref.phases[phase].structure.to_structure().to_atoms()
    atoms.calc = calc
    atoms.get_potential_energy()  # warm-up
    times = []
    for _ in range(3):
        atoms.positions[0, 0] += 0.001
        t = time.perf_counter()
        atoms.get_forces()
        times.append(time.perf_counter() - t)
    print(phase, len(atoms), "atoms:", " ".join(f"{x:.3f}" for x in times), "s")
