"""What the unconverged-relaxation rule (alloybench.policy) changes, and why its bound.

    python benchmarks/unconverged_policy.py stores [DIR ...]   # default: docs/results/standard/*/
        each store re-analysed (never computing; elastic left out, its protocol changed) with the old rule (every relaxation above
        fmax fails) and the new (accepted up to 5 x fmax, flagged): failed Jobs, failed and
        flagged metrics, category and overall scores, before -> after
    python benchmarks/unconverged_policy.py strain-bound [DIR ...]   # default: docs/results/quick/*/
        elastic included (the quick stores are elastic-2): the general 5 x fmax rule
        everywhere -> with the scored-strain exception (tasks.elastic.SCORED_STRAIN_BOUND)
    python benchmarks/unconverged_policy.py evidence
        EMT: solute-pair and vacancy cells in Al relaxed with FIRE and stopped when the
        largest force first falls below F; energy error against the fully relaxed cell
"""

from __future__ import annotations

import gzip
import json
import shutil
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def analyse(directory: Path, accept: bool, elastic: bool = False):
    from alloybench.models import Model
    from alloybench.reference import load_reference
    from alloybench.report import results_document
    from alloybench.runner import run_tasks
    from alloybench.store import Store
    from alloybench.tasks import TASKS

    gz = directory / "results.sqlite.gz"
    with tempfile.TemporaryDirectory() as tmp:
        db = Path(tmp) / "results.sqlite"
        if gz.exists():
            with gzip.open(gz) as src, open(db, "wb") as dst:
                shutil.copyfileobj(src, dst)
        else:
            shutil.copy(directory / "results.sqlite", db)
        with Store(db) as store:
            last = store.runs()[-1]
            info = last["info"]
            # elastic left out: its protocol changed (elastic-2), so a committed store has none of its Jobs
            tasks = [TASKS[t] for t in info["tasks"] if t in TASKS and (elastic or t != "elastic")]
            elements = frozenset(info["elements"]) if info.get("elements") else None
            model = Model(id=last["model"], name=directory.name, family="", elements=elements,
                          make_calculator=lambda: None)
            out = run_tasks(model, tasks, info["tier"], load_reference(), store, engine=None,
                            accept_unconverged=accept)
    doc = results_document({"name": directory.name}, info, out.metrics, out.failures, {}, None, flagged=out.flagged)
    return doc, out


def stores(dirs: list[Path]) -> None:
    cats = ["bulk", "energetics", "elastic", "planar", "solutes", "precipitates"]
    print("| model | failed Jobs | accepted (flagged) Jobs | failed metrics | flagged metrics | overall | "
          + " | ".join(cats) + " |")
    print("|---|---|---|---|---|---|" + "---|" * len(cats))
    for d in dirs:
        if not ((d / "results.sqlite.gz").exists() or (d / "results.sqlite").exists()):
            continue
        before, ob = analyse(d, accept=False)
        after, oa = analyse(d, accept=True)
        sb, sa = before["score"], after["score"]

        def pair(x, y, fmt="{:.3f}"):
            if x is None and y is None:
                return "–"
            fx = fmt.format(x) if x is not None else "–"
            fy = fmt.format(y) if y is not None else "–"
            return fx if fx == fy else f"{fx} → {fy}"

        row = [d.name, pair(len(ob.failures), len(oa.failures), "{}"), str(len(oa.flagged)),
               pair(sb["n_failed"], sa["n_failed"], "{}"), str(sa["n_flagged"]), pair(sb["overall"], sa["overall"])]
        row += [pair(sb["categories"].get(c), sa["categories"].get(c)) for c in cats]
        print("| " + " | ".join(row) + " |")


def strain_bound(dirs: list[Path]) -> None:
    from alloybench.tasks import elastic as elastic_task

    print("| model | failed Jobs | accepted Jobs | failed metrics | flagged metrics | overall | elastic |")
    print("|---|---|---|---|---|---|---|")
    for d in dirs:
        if not ((d / "results.sqlite.gz").exists() or (d / "results.sqlite").exists()):
            continue
        keep = elastic_task.SCORED_STRAIN_BOUND
        elastic_task.SCORED_STRAIN_BOUND = 0.0  # the general rule only (read when policy.bound asks)
        try:
            before, ob = analyse(d, accept=True, elastic=True)
        finally:
            elastic_task.SCORED_STRAIN_BOUND = keep
        after, oa = analyse(d, accept=True, elastic=True)
        sb, sa = before["score"], after["score"]
        if (len(ob.failures), len(ob.flagged)) == (len(oa.failures), len(oa.flagged)):
            continue  # nothing changes for this store

        def pair(x, y, fmt="{:.3f}"):
            fx = fmt.format(x) if x is not None else "–"
            fy = fmt.format(y) if y is not None else "–"
            return fx if fx == fy else f"{fx} → {fy}"

        print(f"| {d.name} | {pair(len(ob.failures), len(oa.failures), '{}')} | "
              f"{pair(len(ob.flagged), len(oa.flagged), '{}')} | {pair(sb['n_failed'], sa['n_failed'], '{}')} | "
              f"{pair(sb['n_flagged'], sa['n_flagged'], '{}')} | {pair(sb['overall'], sa['overall'])} | "
              f"{pair(sb['categories'].get('elastic'), sa['categories'].get('elastic'))} |")


def evidence() -> None:
    import numpy as np
    from ase.build import bulk
    from ase.calculators.emt import EMT
    from ase.optimize import BFGS, FIRE

    def cells():
        base = bulk("Al", "fcc", a=4.05, cubic=True).repeat(3)
        pair = base.copy()
        pair[0].symbol = "Cu"
        pair[1].symbol = "Cu"
        yield "Cu-Cu 1NN pair in Al (108 atoms)", pair
        vac = base.copy()
        del vac[0]
        yield "vacancy in Al (107 atoms)", vac
        cluster = base.copy()
        for i in (0, 1, 2):
            cluster[i].symbol = "Cu"
        del cluster[3]
        yield "Cu3-vacancy cluster in Al (107 atoms)", cluster

    bounds = (0.05, 0.02, 0.01, 0.005, 0.002)
    print("| cell | " + " | ".join(f"ΔE at F ≤ {b} eV/Å (meV)" for b in bounds) + " |")
    print("|---|" + "---|" * len(bounds))
    for label, atoms in cells():
        ref = atoms.copy()
        ref.calc = EMT()
        BFGS(ref, logfile=None).run(fmax=1e-5, steps=5000)
        e_min = ref.get_potential_energy()
        a = atoms.copy()
        a.calc = EMT()
        opt = FIRE(a, logfile=None)
        out = {}
        for step in opt.irun(fmax=1e-6, steps=5000):
            f = float(np.sqrt((a.get_forces() ** 2).sum(axis=1)).max())
            for b in bounds:
                if b not in out and f <= b:
                    out[b] = 1000 * (a.get_potential_energy() - e_min)
            if len(out) == len(bounds):
                break
        print(f"| {label} | " + " | ".join(f"{out.get(b, float('nan')):.3f}" for b in bounds) + " |")


if __name__ == "__main__":
    what = sys.argv[1] if len(sys.argv) > 1 else "stores"
    if what == "evidence":
        evidence()
    elif what == "strain-bound":
        strain_bound([Path(p) for p in sys.argv[2:]] or sorted((REPO / "docs" / "results" / "quick").glob("*/")))
    else:
        dirs = [Path(p) for p in sys.argv[2:]] or sorted((REPO / "docs" / "results" / "standard").glob("*/"))
        stores(dirs)
