"""The ion relaxation of the relaxed-ion elastic constants, tightened: the table of
docs/protocols.md section 14.1.

    PYTHONPATH=src python benchmarks/elastic_relax_convergence.py [--phases theta,theta_prime]

For each ion-relaxation setting (optimiser, fmax), the elastic task runs on EMT for the
phases given, and C44 at +-0.5 % and +-0.1 % strain is compared with the harmonic
relaxed-ion tensor (alloybench.harmonic: C_clamped - Lambda^T Phi^+ Lambda / V, no
optimiser).  Printed: the error of each, and the optimiser steps of the +-0.5 % cells.
"""

from __future__ import annotations

import argparse
import tempfile
from dataclasses import replace
from pathlib import Path

from ase.calculators.emt import EMT

import alloybench.tasks.elastic as elastic
from alloybench.engine.serial import SerialEngine
from alloybench.harmonic import relaxed_ion_stiffness
from alloybench.jobs import Relax
from alloybench.models import EMT_ELEMENTS, Model
from alloybench.reference import load_reference
from alloybench.runner import run_tasks
from alloybench.store import Store
from alloybench.tasks.bulk import relax_job

SETTINGS = [("FIRE", 1e-3), ("FIRE", 1e-4), ("FIRE", 1e-5), ("BFGS", 1e-3), ("BFGS", 1e-4), ("BFGS", 1e-5)]


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--phases", default="theta,theta_prime")
    phases = p.parse_args().phases.split(",")
    full = load_reference()
    ref = full.model_copy(update={"phases": {k: v for k, v in full.phases.items() if k in phases}})
    model = Model(id="emt@bench", name="emt", family="classical", elements=EMT_ELEMENTS, make_calculator=EMT)
    harmonic: dict[str, float] = {}
    rows = []
    with tempfile.TemporaryDirectory() as tmp, Store(Path(tmp) / "results.sqlite") as store:
        for opt, fmax in SETTINGS:
            elastic.ION_RELAX = Relax(fmax=fmax, max_steps=1000, cell_mask=None, optimizer=opt)
            task = elastic.ElasticTask()
            out = run_tasks(model, [task], "quick", ref, store, SerialEngine(EMT))
            m = {(x.item, x.name): x.value for x in out.metrics}
            cells = [j for j in out.jobs if j.relax == elastic.ION_RELAX and j.name.startswith("strain/")]
            steps = {ph: sum(store.get(model.id, j).steps for j in cells if f"/{ph}/" in j.name) for ph in phases}
            row = [f"{opt} {fmax:g}"]
            for ph in phases:
                if ph not in harmonic:
                    relaxed = store.get(model.id, relax_job(ref, ph))
                    harmonic[ph] = float(relaxed_ion_stiffness(relaxed.atoms, EMT())[0][3, 3])
                for name in ("C_44", "C_44@0.1%"):
                    row.append(f"{100 * (m[(ph, name)] / harmonic[ph] - 1):+.2f} %")
            row += [str(steps[ph]) for ph in phases]
            rows.append(row)
    head = ["ion relaxation"] + [f"{ph} {n}" for ph in phases for n in ("C44 ±0.5 %", "C44 ±0.1 %")] \
        + [f"steps {ph} (±0.5 %, 12 cells)" for ph in phases]
    print("| " + " | ".join(head) + " |\n|" + "---|" * len(head))
    for r in rows:
        print("| " + " | ".join(r) + " |")
    print("harmonic relaxed-ion C44 (GPa): " + ", ".join(f"{ph} {v:.3f}" for ph, v in harmonic.items()))


if __name__ == "__main__":
    main()
