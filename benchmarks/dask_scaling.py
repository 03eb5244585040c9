"""Speed-up and efficiency of the Dask engine against the number of workers.

    PYTHONPATH=src python benchmarks/dask_scaling.py --model emt --tier standard --workers 1,2
    PYTHONPATH=src python benchmarks/dask_scaling.py --model sevennet-0 --tier quick --workers 1,2,4,8,16
    PYTHONPATH=src python benchmarks/dask_scaling.py --model sevennet-0 --tier standard --gpus 1 --engine batched

First the suite runs without Dask in this process (serial engine, or ``--engine batched``):
the reference store and the reference time.  Then, for each worker count N, a fresh
LocalCluster of N single-threaded worker processes (``--gpus 1``: one GPU worker) runs
the same suite into a fresh store; the table gives the wall time (cluster start-up
excluded, model loads included), the speed-up S = t(1 worker) / t(N), the efficiency
S / N, the Dask overhead at N = 1 against the run without Dask, and whether every
stored result equals the reference (all fields but the timing).

``bound eff`` is what the rounds allow: each round of a model's Jobs must finish
before the next is built (strains need the relaxed cell), so with N workers a
round takes at least its longest Job; the column is the efficiency of an ideal
longest-first schedule of the reference run's Job times, round by round, with no
overhead.  ``--json FILE`` writes the figures.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import sqlite3
import sys
import tempfile
import time
from pathlib import Path


def _stored(path: Path) -> dict[str, str]:
    db = sqlite3.connect(path)
    rows = db.execute("SELECT key, result FROM results").fetchall()
    db.close()
    out = {}
    for key, result in rows:
        doc = json.loads(result)
        doc.pop("seconds", None)
        out[key] = json.dumps(doc, sort_keys=True)
    return out


def _job_seconds(path: Path) -> float:
    db = sqlite3.connect(path)
    total = db.execute("SELECT SUM(seconds) FROM results").fetchone()[0] or 0.0
    db.close()
    return float(total)


def _differences(ref: dict[str, str], got: dict[str, str]) -> dict[str, float | int]:
    """How far two stores are apart: Jobs missing, outcomes (ok, steps) differing, and the
    largest energy (eV), force (eV/Å) and position (Å) differences of the rest."""
    import numpy as np

    out = {"missing": len(set(ref) - set(got)), "outcome_differs": 0, "max_dE_eV": 0.0, "max_dF_eV_A": 0.0,
           "max_dpos_A": 0.0}
    for key in set(ref) & set(got):
        if ref[key] == got[key]:
            continue
        a, b = json.loads(ref[key]), json.loads(got[key])
        if (a["ok"], a["steps"], a["stage"]) != (b["ok"], b["steps"], b["stage"]):
            out["outcome_differs"] += 1
        if a["energy"] is not None and b["energy"] is not None:
            out["max_dE_eV"] = max(out["max_dE_eV"], abs(a["energy"] - b["energy"]))
        if a["forces"] and b["forces"] and len(a["forces"]) == len(b["forces"]):
            out["max_dF_eV_A"] = max(out["max_dF_eV_A"], float(np.abs(np.subtract(a["forces"], b["forces"])).max()))
        if a["structure"] and b["structure"]:
            d = np.subtract(a["structure"]["positions"], b["structure"]["positions"])
            out["max_dpos_A"] = max(out["max_dpos_A"], float(np.abs(d).max()))
    return out


def _lpt(times: list[float], n: int) -> float:
    loads = [0.0] * n
    for t in sorted(times, reverse=True):
        i = loads.index(min(loads))
        loads[i] += t
    return max(loads)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--model", default="emt")
    p.add_argument("--tier", default="standard")
    p.add_argument("--tasks", default=None, help="comma-separated (default: the tier's)")
    p.add_argument("--workers", default="1,2", help="worker counts, comma-separated")
    p.add_argument("--gpus", type=int, default=0, help="instead: one LocalCluster of this many GPU workers")
    p.add_argument("--engine", default="serial", choices=["serial", "batched"])
    p.add_argument("--json", type=Path, default=None)
    p.add_argument("--keep", type=Path, default=None, help="keep the stores in this folder")
    p.add_argument("--t1", type=float, default=None,
                   help="wall s of 1 worker from an earlier call (when --workers has no 1: long runs split)")
    p.add_argument("--reference-only", action="store_true",
                   help="compute the reference (keep it with --keep) and stop: long runs split over calls")
    p.add_argument("--t-ref", type=float, default=None, help="wall s of the reference from an earlier call")
    p.add_argument("--reference", type=Path, default=None,
                   help="a reference store kept (--keep) by an earlier call: not computed again; its time then "
                        "unknown (no overhead column) and bound eff is not computed")
    a = p.parse_args(argv)
    for var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):  # as Dask's nannies set them
        os.environ.setdefault(var, "1")

    from alloybench.engine.serial import single_threaded_blas

    single_threaded_blas()
    from alloybench.engine.batched import batched_engine_for
    from alloybench.engine.dask import DaskEngine
    from alloybench.engine.dask_cluster import SchedulerOptions, open_session
    from alloybench.engine.serial import SerialEngine
    from alloybench.models import resolve
    from alloybench.reference import load_reference
    from alloybench.runner import run_tasks
    from alloybench.store import Store
    from alloybench.tasks import TASKS, tasks_for_tier

    model = resolve(a.model)
    tasks = [TASKS[t] for t in a.tasks.split(",")] if a.tasks else tasks_for_tier(a.tier)
    reference = load_reference()
    work = Path(tempfile.mkdtemp(prefix="ab-dask-scaling-"))
    batched = a.engine == "batched"

    # the reference: no Dask
    rounds: list[list[float]] = []

    def record(event, payload):
        if event == "round":
            rounds.append([])
        elif event == "job":
            rounds[-1].append(payload[1].seconds)

    if a.reference:
        shutil.copy(a.reference, work / "ref.sqlite")
        engine = None  # analyse only: the Job count and rounds of the stored run
    else:
        engine = batched_engine_for(model) if batched else SerialEngine(model.make_calculator)
    t0 = time.perf_counter()
    with Store(work / "ref.sqlite") as st:
        out = run_tasks(model, tasks, a.tier, reference, st, engine, progress=record)
    t_ref = time.perf_counter() - t0 if engine is not None else a.t_ref
    getattr(engine, "close", lambda: None)()
    if engine is None:
        out.computed = out.reused
    ref = _stored(work / "ref.sqlite")
    job_s = sum(sum(r) for r in rounds)
    print(f"# {model.name} ({model.id}), tier {a.tier}, {len(tasks)} tasks, {out.computed} Jobs in {out.rounds} "
          f"rounds; {platform.node()} {os.cpu_count()} CPUs, python {platform.python_version()}", flush=True)
    if engine is not None:
        print(f"# without Dask ({engine.name} engine): {t_ref:.1f} s wall, {job_s:.1f} s of Job time", flush=True)
    else:
        print(f"# reference store {a.reference}: {len(ref)} results", flush=True)

    counts = [] if a.reference_only else [a.gpus] if a.gpus else [int(x) for x in a.workers.split(",")]
    rows = []
    t1 = a.t1
    for n in counts:
        opts = SchedulerOptions(gpus=n, dashboard_address=":0") if a.gpus else \
            SchedulerOptions(workers=n, dashboard_address=":0")
        ts = time.perf_counter()
        with open_session(opts) as session:
            session.client.wait_for_workers(n, timeout=600)
            start_s = time.perf_counter() - ts
            eng = DaskEngine(session, model=model, batched=batched)
            t0 = time.perf_counter()
            with Store(work / f"dask{n}.sqlite") as st:
                run_tasks(model, tasks, a.tier, reference, st, eng)
            wall = time.perf_counter() - t0
            summary = eng.summary()
        got = _stored(work / f"dask{n}.sqlite")
        same = got == ref
        t1 = t1 if t1 is not None else (wall if n == 1 or a.gpus else None)
        ideal = sum(_lpt(r, n) for r in rounds if r)
        row = {"workers": n, "wall_s": round(wall, 2), "start_s": round(start_s, 1),
               "speedup": round(t1 / wall, 3) if t1 else None,
               "efficiency": round(t1 / wall / n, 3) if t1 else None,
               "bound_efficiency": round(job_s / ideal / n, 3) if ideal else None,
               "overhead_vs_no_dask": round(wall / t_ref - 1, 3) if t_ref and (n == 1 or a.gpus) else None,
               "job_s": round(_job_seconds(work / f"dask{n}.sqlite"), 1),
               "same_results": same, "tasks": summary["tasks"], "loads": summary["loads"],
               **({} if same else _differences(ref, got))}
        rows.append(row)
        print(json.dumps(row), flush=True)
    print()
    print("| workers | wall s | Σ Job s | speed-up | efficiency | bound eff | Dask overhead | same results |")
    print("|---|---|---|---|---|---|---|---|")
    for r in rows:
        f = lambda v, fmt="{:.2f}": "-" if v is None else fmt.format(v)  # noqa: E731
        print(f"| {r['workers']}{' GPU' if a.gpus else ''} | {r['wall_s']:.1f} | {r['job_s']:.1f} | {f(r['speedup'])} | "
              f"{f(r['efficiency'])} | {f(r['bound_efficiency'])} | {f(r['overhead_vs_no_dask'], '{:+.1%}')} | "
              f"{'yes' if r['same_results'] else 'NO'} |")
    print(f"\nwithout Dask: {t_ref or float('nan'):.1f} s; start-up of the cluster excluded; "
          f"{'GPU worker, batched' if a.gpus else 'single-threaded CPU workers'}")
    if a.json:
        a.json.write_text(json.dumps({"model": model.name, "model_id": model.id, "tier": a.tier, "engine": a.engine,
                                      "jobs": out.computed, "rounds": out.rounds, "no_dask_s": t_ref,
                                      "job_s": job_s, "cpus": os.cpu_count(), "host": platform.node(),
                                      "rows": rows}, indent=1))
    if a.keep:
        a.keep.mkdir(parents=True, exist_ok=True)
        for f in work.glob("*.sqlite"):
            shutil.copy(f, a.keep / f.name)
    shutil.rmtree(work, ignore_errors=True)
    return 0 if all(r["same_results"] for r in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
