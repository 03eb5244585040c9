"""Force calls an ion relaxation of a vacancy cell needs, per ASE optimiser (data for issue #20).

The quick tier's vacancy task relaxes 108- and 256-site cells with FIRE to 2e-3 eV/Å
(tasks/point_defects.py, VACANCY_RELAX); on a CPU that task is most of the quick tier. This
prints, for one model and cell, the force calls and wall time FIRE, BFGS, LBFGS and
preconditioned L-BFGS (ASE's PreconLBFGS, Exp preconditioner, the one advised for metals) need to
reach the same fmax, and how far their final energies are apart (they must agree to well under
the task's tolerance for a switch to be allowed).

    python benchmarks/vacancy_optimizers.py --model sevennet-0 --sites 108 [--fmax 2e-3]
"""

from __future__ import annotations

import argparse
import time

import numpy as np
from ase.build import bulk
from ase.optimize import BFGS, FIRE, LBFGS
from ase.optimize.precon import Exp, PreconLBFGS


class CountingCalls:
    """Counts the calculator's real evaluations (line searches included), not optimiser steps."""

    def __init__(self, calc):
        self.calc, self.calls = calc, 0
        self._orig = calc.calculate

        def counted(*args, **kwargs):
            self.calls += 1
            return self._orig(*args, **kwargs)

        calc.calculate = counted

    def restore(self) -> None:
        self.calc.calculate = self._orig


def vacancy_cell(sites: int, a: float, solute: str | None = None) -> "Atoms":  # noqa: F821
    """Al cell with a vacancy at site 0, or with ``solute`` there (the solute-binding task's cells)."""
    n = round((sites / 4) ** (1 / 3))
    if 4 * n**3 != sites:
        raise SystemExit(f"--sites must be 4 n^3 (32, 108, 256, 500), not {sites}")
    atoms = bulk("Al", "fcc", a=a, cubic=True).repeat((n, n, n))
    if solute:
        atoms[0].symbol = solute
    else:
        del atoms[0]
    rng = np.random.default_rng(0)  # break the symmetry a little, as a rattled start would
    atoms.positions += rng.normal(0, 0.01, atoms.positions.shape)
    return atoms


def relax(make_calc, start, opt_name: str, fmax: float, max_steps: int) -> dict:
    atoms = start.copy()
    atoms.calc = make_calc()
    atoms.calc.reset()  # a shared calculator must not answer from the previous relaxation's cache
    counter = CountingCalls(atoms.calc)
    if opt_name == "FIRE":
        opt = FIRE(atoms, logfile=None)
    elif opt_name == "BFGS":
        opt = BFGS(atoms, logfile=None)
    elif opt_name == "LBFGS":
        opt = LBFGS(atoms, logfile=None)
    else:
        opt = PreconLBFGS(atoms, precon=Exp(A=3), logfile=None, use_armijo=True)
    t0 = time.perf_counter()
    converged = opt.run(fmax=fmax, steps=max_steps)
    wall = time.perf_counter() - t0
    counter.restore()
    f = np.abs(atoms.get_forces()).max()
    return {"optimizer": opt_name, "steps": opt.nsteps, "force_calls": counter.calls, "wall_s": wall,
            "converged": bool(converged), "fmax_left": float(f), "energy": float(atoms.get_potential_energy())}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", default="emt")
    ap.add_argument("--sites", type=int, default=108)
    ap.add_argument("--a", type=float, default=4.04, help="lattice constant (Å)")
    ap.add_argument("--fmax", type=float, default=2e-3)
    ap.add_argument("--max-steps", type=int, default=1000)
    ap.add_argument("--optimizers", default="FIRE,BFGS,LBFGS,PreconLBFGS")
    ap.add_argument("--solute", help="an element at site 0 instead of a vacancy (e.g. Cu)")
    a = ap.parse_args()
    from alloybench.models import resolve

    model = resolve(a.model)
    calc = model.calculator("cpu") if hasattr(model, "calculator") else model.make_calculator()
    start = vacancy_cell(a.sites, a.a, a.solute)
    rows = [relax(lambda: calc, start, name, a.fmax, a.max_steps) for name in a.optimizers.split(",")]
    e_ref = min(r["energy"] for r in rows)
    defect = f"one {a.solute} solute" if a.solute else "one vacancy"
    print(f"{a.model}, Al {a.sites}-site cell with {defect} ({len(start)} atoms), a = {a.a} Å, "
          f"fmax {a.fmax} eV/Å, fixed cell")
    print("| optimiser | steps | force calls | wall s | converged | max |F| left eV/Å | E − lowest meV |")
    print("|---|---|---|---|---|---|---|")
    for r in rows:
        print(f"| {r['optimizer']} | {r['steps']} | {r['force_calls']} | {r['wall_s']:.1f} | {r['converged']} | "
              f"{r['fmax_left']:.1e} | {(r['energy'] - e_ref) * 1000:.2f} |")


if __name__ == "__main__":
    main()
