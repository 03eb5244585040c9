"""Speed-up and efficiency of the Dask engine against the number of workers.

    PYTHONPATH=src python benchmarks/dask_scaling.py --model emt --tier standard --workers 1,2
    PYTHONPATH=src python benchmarks/dask_scaling.py --model sevennet-0 --tier quick --workers 1,2,4,8,16
    PYTHONPATH=src python benchmarks/dask_scaling.py --model sevennet-0 --tier standard --gpus 1 --engine batched
    PYTHONPATH=src python benchmarks/dask_scaling.py --model emt --tier standard --reference STORE --bound-only --workers 1,2,4,8,16

First the suite runs without Dask in this process (serial engine, or ``--engine batched``):
the reference store and the reference time.  Then, for each worker count N, a fresh
LocalCluster of N single-threaded worker processes (``--gpus 1``: one GPU worker) runs
the same suite into a fresh store; the table gives the wall time (cluster start-up
excluded, model loads included), the speed-up S = t(1 worker) / t(N), the efficiency
S / N, the Dask overhead at N = 1 against the run without Dask, and whether every
stored result equals the reference (all fields but the timing).

``bound eff`` is what the structure of the suite allows, with no overhead: each of a
task's builds needs the results of its earlier Jobs (strains need the relaxed cell).
From the reference store (its Job seconds) the script derives every task's steps
(``task_steps``) and schedules them on N ideal workers (``schedule``): *barrier*,
round by round, every task's round finished before the next is built (how
``run_tasks`` worked before each task advanced on its own), each round longest
first; *per task*, each task's next step released as soon as its own Jobs are done
(how ``run_tasks`` works now), longest ready Job first (an ideal that knows the
times), dearest estimated cost first (the Dask engine's task priority,
``alloybench.engine.stream.estimated_cost``) or first come first served; and the
critical-path limit,
Σ / max(Σ / N, longest chain), that no schedule beats.  ``--bound-only`` prints
these for a store and starts no Dask (``--reference docs/results/quick/sevennet-0/results.sqlite``).
``--warm`` loads the model on every worker before the clock starts (the load time is
reported apart); ``--no-reference`` skips the run without Dask and compares every
run with the first worker count's.  ``--json FILE`` writes the figures (after each
worker count, so a run cut short keeps what it measured).
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


# ----------------------------------------------------------------------------- the bound model
def task_steps(model, tasks, tier: str, reference, lookup) -> tuple[dict[str, list[list[str]]], dict[str, float], int,
                                                                dict[str, tuple]]:
    """The dependency structure of a suite, from stored results: for each task, the Jobs
    each of its builds adds (step 1, step 2, ...), a step's Jobs built from the results
    of all the task's earlier steps; and each Job's seconds.  ``lookup(job)`` gives the
    stored Result (None: not stored; the task then stops there, counted as missing).
    Independent of the runner: a model of what any schedule must respect.  Also each Job's
    (task, name, estimated cost), what a scheduler knows before running it
    (``alloybench.engine.stream.estimated_cost``, the Dask engine's priority)."""
    from alloybench import policy
    from alloybench.engine.stream import estimated_cost
    from alloybench.runner import MAX_ROUNDS
    from alloybench.tasks.base import Context

    ctx = Context(reference=reference, tier=tier, elements=model.elements)
    steps: dict[str, list[list[str]]] = {}
    seconds: dict[str, float] = {}
    known: dict[str, object] = {}
    missing: set[str] = set()
    meta: dict[str, tuple] = {}
    for task in tasks:
        out: list[list[str]] = []
        view: dict[str, object] = {}
        seen: set[str] = set()
        for _ in range(4 * MAX_ROUNDS):
            jobs = task.build(ctx, view)
            new = [j for j in jobs if j.digest not in seen]
            if not new and all(j.name in view for j in jobs if j.digest in known):
                break
            if new:
                out.append([j.digest for j in new])
            for j in new:
                seen.add(j.digest)
                meta.setdefault(j.digest, (j.task, j.name, estimated_cost(j)))
                if j.digest not in known:
                    r = lookup(j)
                    if r is None:
                        missing.add(j.digest)
                        continue
                    seconds[j.digest] = r.seconds
                    known[j.digest] = policy.apply(j, r)
            if any(j.digest in missing for j in new):
                break
            view = {j.name: known[j.digest] for j in jobs + new if j.digest in known}
        steps[task.name] = out
    for d in missing:
        seconds.setdefault(d, 0.0)
    return steps, seconds, len(missing), meta


def barrier_rounds(steps: dict[str, list[list[str]]]) -> list[list[str]]:
    """The rounds of a global barrier: round k holds every task's step-k Jobs not run before."""
    rounds: list[list[str]] = []
    done: set[str] = set()
    for k in range(max((len(s) for s in steps.values()), default=0)):
        r = []
        for name in sorted(steps):
            for d in steps[name][k] if k < len(steps[name]) else []:
                if d not in done:
                    done.add(d)
                    r.append(d)
        rounds.append(r)
    return [r for r in rounds if r]


def schedule(steps: dict[str, list[list[str]]], seconds: dict[str, float], n: int, barrier: bool,
             order=None) -> float:
    """Makespan (s) of a list schedule on ``n`` workers, no overhead.  ``barrier``: round by
    round (every task's step k before any step k+1; each round longest-first); else each
    task advances on its own: its step k+1 is released when all its Jobs of steps <= k (its
    own and those it shares with other tasks) are done.  ``order(digest, release_no)``: the
    ready Jobs' priority, lowest first (default: longest first, an ideal that knows every
    Job's time; ``release_no`` counts releases, so ``lambda d, k: k`` is first come first
    served, what Dask does with equal priorities)."""
    import heapq

    order = order or (lambda d, k: -seconds[d])

    if barrier:
        return sum(_lpt([seconds[d] for d in r], n) for r in barrier_rounds(steps))
    released: set[str] = set()
    done: set[str] = set()
    level = {name: 0 for name in steps}  # steps released so far
    needs: dict[str, set[str]] = {name: set() for name in steps}  # Jobs of released steps not done
    waiting: dict[str, set[str]] = {}  # digest -> tasks waiting on it
    ready: list[tuple] = []
    running: list[tuple[float, str]] = []
    now = 0.0

    def advance(name: str) -> None:
        while not needs[name] and level[name] < len(steps[name]):
            for d in steps[name][level[name]]:
                if d in done:
                    continue
                needs[name].add(d)
                waiting.setdefault(d, set()).add(name)
                if d not in released:
                    released.add(d)
                    heapq.heappush(ready, (order(d, len(released)), d))
            level[name] += 1

    for name in sorted(steps):
        advance(name)
    free = n
    while ready or running:
        while free and ready:
            _, d = heapq.heappop(ready)
            heapq.heappush(running, (now + seconds[d], d))
            free -= 1
        now, d = heapq.heappop(running)
        free += 1
        batch = [d]
        while running and running[0][0] <= now:
            batch.append(heapq.heappop(running)[1])
            free += 1
        for d in batch:
            done.add(d)
            for name in sorted(waiting.pop(d, ())):
                needs[name].discard(d)
                advance(name)
    return now


def bounds(steps: dict[str, list[list[str]]], seconds: dict[str, float], counts: list[int],
           meta: dict[str, tuple] | None = None) -> list[dict]:
    """Efficiency allowed by the structure at each worker count, with no overhead:
    ``barrier`` (the global rounds, each longest first: the runner before each task
    advanced on its own), ``per_task`` (each task advancing on its own, longest ready Job
    first: an ideal that knows the times), ``per_task_cost`` (the same, dearest estimated
    cost first, ties in turn: the Dask engine's priority; needs ``meta``), ``per_task_fifo``
    (first come first served: Dask without priorities), and the critical path's limit
    (no schedule beats max(Σ/n, longest chain))."""
    total = sum(seconds.values())
    chain = schedule(steps, seconds, len(seconds) or 1, barrier=False)
    rows = []
    for n in counts:
        b = schedule(steps, seconds, n, barrier=True)
        t = schedule(steps, seconds, n, barrier=False)
        q = schedule(steps, seconds, n, barrier=False, order=lambda d, k: k)
        c = schedule(steps, seconds, n, barrier=False, order=lambda d, k: (-meta[d][2], k)) if meta else None
        eff = lambda m: round(total / m / n, 3) if m else None  # noqa: E731
        rows.append({"workers": n, "barrier_eff": eff(b), "per_task_eff": eff(t), "per_task_cost_eff": eff(c),
                     "per_task_fifo_eff": eff(q), "critical_path_eff": eff(max(total / n, chain)),
                     "barrier_s": round(b, 2), "per_task_s": round(t, 2),
                     "per_task_cost_s": round(c, 2) if c else None, "per_task_fifo_s": round(q, 2),
                     "critical_path_s": round(chain, 2)})
    return rows


def _warm(session, model, batched: bool) -> tuple[float, float]:
    """Load the model on every worker (the engine the Dask engine will ask for): the
    wall time of that and the longest load."""
    import uuid

    from alloybench.engine.dask_worker import ModelEngine, ModelRef, run_chunk

    factory = ModelEngine(ModelRef.of(model), mode="batched" if batched else "serial")
    t0 = time.perf_counter()
    futs = [session.client.submit(run_chunk, factory, [], workers=[w], allow_other_workers=False, pure=False,
                                  key=f"warm-{uuid.uuid4().hex[:12]}") for w in sorted(session.workers())]
    outs = session.client.gather(futs)
    return time.perf_counter() - t0, max((o.load_seconds for o in outs), default=0.0)


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
                   help="a reference store kept (--keep) by an earlier call, or a committed one (.sqlite.gz too): "
                        "not computed again; its time then unknown (no overhead column); the bounds come from "
                        "its stored Job seconds")
    p.add_argument("--bound-only", action="store_true",
                   help="print the bounds of the reference's structure for --workers and stop (no Dask)")
    p.add_argument("--no-reference", action="store_true",
                   help="no run without Dask: the first worker count's store is the reference of the others "
                        "(and the bounds come from its Job seconds)")
    p.add_argument("--warm", action="store_true",
                   help="load the model on every worker before the clock starts (loads reported apart)")
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
    counts = [] if a.reference_only else [a.gpus] if a.gpus else [int(x) for x in a.workers.split(",")]
    doc: dict = {"model": model.name, "model_id": model.id, "tier": a.tier, "tasks": [t.name for t in tasks],
                 "engine": a.engine, "cpus": os.cpu_count(), "host": platform.node(),
                 "python": platform.python_version(), "warm": a.warm, "rows": []}

    def save() -> None:
        if a.json:
            a.json.write_text(json.dumps(doc, indent=1))

    def structure(path: Path) -> dict[int, dict]:
        """The reference's structure: printed, kept in ``doc``; the bounds by worker count."""
        with Store(path, readonly=True) as st:
            steps, seconds, n_missing, meta = task_steps(model, tasks, a.tier, reference,
                                                         lambda j: st.get(model.id, j))
        job_s = sum(seconds.values())
        print(f"# {model.name} ({model.id}), tier {a.tier}, {len(tasks)} tasks, {len(seconds)} Jobs, "
              f"{len(barrier_rounds(steps))} rounds, {job_s:.1f} s of Job time; {platform.node()} "
              f"{os.cpu_count()} CPUs, python {platform.python_version()}", flush=True)
        print("# steps per task: " + ", ".join(f"{k} {len(v)} ({'+'.join(str(len(x)) for x in v)} Jobs, "
                                                f"{sum(seconds[d] for x in v for d in x):.1f} s)"
                                                for k, v in sorted(steps.items()) if v) +
              (f"; {n_missing} Jobs not in the store (their tasks stop there)" if n_missing else ""), flush=True)
        limits = {r["workers"]: r for r in bounds(steps, seconds, counts or [1, 2, 4, 8, 16], meta)}
        print("\n| workers | barrier (rounds) | per task, longest first (ideal) | per task, dearest estimate "
              "first (the engine) | per task, first come first served | critical-path limit |\n"
              "|---|---|---|---|---|---|")
        for n, r in limits.items():
            print(f"| {n} | {r['barrier_eff']:.3f} | {r['per_task_eff']:.3f} | {r['per_task_cost_eff']:.3f} | "
                  f"{r['per_task_fifo_eff']:.3f} | {r['critical_path_eff']:.3f} |")
        print(flush=True)
        doc.update({"jobs": len(seconds), "rounds": len(barrier_rounds(steps)),
                    "depth": max((len(v) for v in steps.values()), default=0), "job_s": round(job_s, 2),
                    "missing": n_missing, "bounds": list(limits.values())})
        return limits

    # the reference: no Dask (or a store given; or, --no-reference, the first Dask run's)
    ref: dict[str, str] | None = None
    limits: dict[int, dict] = {}
    t_ref = a.t_ref
    if a.reference:
        if a.reference.suffix == ".gz":
            import gzip

            with gzip.open(a.reference, "rb") as src, open(work / "ref.sqlite", "wb") as dst:
                shutil.copyfileobj(src, dst)
        else:
            shutil.copy(a.reference, work / "ref.sqlite")
        ref = _stored(work / "ref.sqlite")
        print(f"# reference store {a.reference}: {len(ref)} results", flush=True)
    elif not a.no_reference:
        engine = batched_engine_for(model) if batched else SerialEngine(model.make_calculator)
        t0 = time.perf_counter()
        with Store(work / "ref.sqlite") as st:
            out = run_tasks(model, tasks, a.tier, reference, st, engine)
        t_ref = time.perf_counter() - t0
        getattr(engine, "close", lambda: None)()
        ref = _stored(work / "ref.sqlite")
        print(f"# without Dask ({engine.name} engine): {t_ref:.1f} s wall, {out.computed} Jobs", flush=True)
        doc["no_dask_s"] = round(t_ref, 2)
    if ref is not None:
        limits = structure(work / "ref.sqlite")
    save()
    if a.bound_only:
        shutil.rmtree(work, ignore_errors=True)
        return 0
    rows = doc["rows"]
    t1 = a.t1
    for n in counts:
        opts = SchedulerOptions(gpus=n, dashboard_address=":0") if a.gpus else \
            SchedulerOptions(workers=n, dashboard_address=":0")
        ts = time.perf_counter()
        with open_session(opts) as session:
            session.client.wait_for_workers(n, timeout=600)
            start_s = time.perf_counter() - ts
            warm_s = load_s = None
            if a.warm:
                warm_s, load_s = _warm(session, model, batched or bool(a.gpus))
            eng = DaskEngine(session, model=model, batched=batched)
            t0 = time.perf_counter()
            with Store(work / f"dask{n}.sqlite") as st:
                out = run_tasks(model, tasks, a.tier, reference, st, eng)
            wall = time.perf_counter() - t0
            summary = eng.summary()
        got = _stored(work / f"dask{n}.sqlite")
        if ref is None:  # --no-reference: this first run is the reference of the others
            ref = got
            print(f"# reference: the {n}-worker run's store ({len(ref)} results)", flush=True)
            limits = structure(work / f"dask{n}.sqlite")
        same = got == ref
        t1 = t1 if t1 is not None else (wall if n == 1 or a.gpus else None)
        lim = limits.get(n) or {}
        row = {"workers": n, "wall_s": round(wall, 2), "start_s": round(start_s, 1),
               "warm_s": None if warm_s is None else round(warm_s, 1),
               "load_s": None if load_s is None else round(load_s, 1),
               "speedup": round(t1 / wall, 3) if t1 else None,
               "efficiency": round(t1 / wall / n, 3) if t1 else None,
               "bound_efficiency": lim.get("barrier_eff"), "per_task_bound": lim.get("per_task_eff"),
               "per_task_cost_bound": lim.get("per_task_cost_eff"), "per_task_fifo_bound": lim.get("per_task_fifo_eff"),
               "critical_path_limit": lim.get("critical_path_eff"),
               "overhead_vs_no_dask": round(wall / t_ref - 1, 3) if t_ref and (n == 1 or a.gpus) else None,
               "job_s": round(_job_seconds(work / f"dask{n}.sqlite"), 1), "computed": out.computed,
               "depth": out.rounds, "same_results": same, "tasks": summary["tasks"], "loads": summary["loads"],
               "submissions": summary.get("submissions"), **({} if same else _differences(ref, got))}
        rows.append(row)
        print(json.dumps(row), flush=True)
        save()
    print()
    print("| workers | wall s | Σ Job s | speed-up | efficiency | bound eff: barrier | per task | critical path | "
          "Dask overhead | same results |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    for r in rows:
        f = lambda v, fmt="{:.2f}": "-" if v is None else fmt.format(v)  # noqa: E731
        print(f"| {r['workers']}{' GPU' if a.gpus else ''} | {r['wall_s']:.1f} | {r['job_s']:.1f} | {f(r['speedup'])} | "
              f"{f(r['efficiency'])} | {f(r['bound_efficiency'])} | {f(r['per_task_cost_bound'])} | "
              f"{f(r['critical_path_limit'])} | {f(r['overhead_vs_no_dask'], '{:+.1%}')} | "
              f"{'yes' if r['same_results'] else 'NO'} |")
    print(f"\nwithout Dask: {t_ref or float('nan'):.1f} s; start-up of the cluster excluded; model loads "
          f"{'excluded (--warm: loaded on every worker first)' if a.warm else 'included'}; "
          f"{'GPU worker, batched' if a.gpus else 'single-threaded CPU workers'}")
    save()
    if a.keep:
        a.keep.mkdir(parents=True, exist_ok=True)
        for f in work.glob("*.sqlite"):
            shutil.copy(f, a.keep / f.name)
    shutil.rmtree(work, ignore_errors=True)
    return 0 if all(r["same_results"] for r in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
