"""One solute-pair binding energy in 256-site Al with three relaxations: FIRE to 2e-3 eV/Å (the old
protocol), L-BFGS to 2e-3 (the shipped one) and L-BFGS to 2e-4 (the reference), serial engine.
Tells the optimiser's effect on a binding energy apart from the GPU engine's batch noise (#20).

    python benchmarks/binding_optimizer_check.py --model sevennet-0 Si Si 8
    python benchmarks/binding_optimizer_check.py --model sevennet-0 --store RUN/results.sqlite Si Si 8

``--store``: take the Al lattice constant from that run's ``relax/Al`` (to check a GPU run's own
cells); without it the bulk is relaxed here first.
"""

from __future__ import annotations

import argparse
import json
import sqlite3
import time
from dataclasses import replace

from alloybench.engine.serial import run_job
from alloybench.jobs import Result
from alloybench.models import resolve
from alloybench.reference import load_reference
from alloybench.tasks.bulk import relax_job
from alloybench.tasks.solutes import SOLUTE_RELAX, binding_energy_meV, pair_job, pure_job, shell_sites, single_job

N = 4  # conventional cells per edge: the task's 256-site Al cell


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", default="sevennet-0")
    ap.add_argument("a_species")
    ap.add_argument("b_species")
    ap.add_argument("shell", type=int)
    ap.add_argument("--store", help="results.sqlite whose relax/Al gives the lattice constant")
    args = ap.parse_args()
    calc = resolve(args.model).make_calculator()
    if args.store:
        row = sqlite3.connect(args.store).execute("SELECT result FROM results WHERE name = 'relax/Al'").fetchone()
        bulk = Result.from_dict(json.loads(row[0]))
    else:
        bulk = run_job(relax_job(load_reference(), "Al"), calc)
    a = (4 * bulk.atoms.get_volume() / len(bulk.atoms)) ** (1 / 3)
    site = shell_sites(N)[args.shell - 1]
    e_pure = run_job(pure_job("t", "Al", a, N), calc).energy
    A, B = args.a_species, args.b_species
    for label, relax in [("FIRE 2e-3", replace(SOLUTE_RELAX, optimizer="FIRE")), ("L-BFGS 2e-3", SOLUTE_RELAX),
                         ("L-BFGS 2e-4", replace(SOLUTE_RELAX, fmax=2e-4, max_steps=3000))]:
        t = time.time()
        singles = {x: run_job(single_job("t", "Al", x, a, N, relax), calc) for x in {A, B}}
        pair = run_job(pair_job("t", "Al", A, B, args.shell, site, a, N, relax), calc)
        value = binding_energy_meV(pair.energy, e_pure, singles[A].energy, singles[B].energy)
        steps = [r.steps for r in singles.values()] + [pair.steps]
        print(f"{label}: {A}-{B} shell {args.shell} binding {value:.3f} meV; steps {steps}; {time.time() - t:.0f} s",
              flush=True)


if __name__ == "__main__":
    main()
