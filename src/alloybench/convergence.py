"""`alloybench run --check-convergence`: is each relaxation's force threshold tight enough
for this model?

For a sample of each task's relaxation Jobs (SAMPLE per task, the first by name), the Job
is computed again with its fmax halved and twice the steps, and the change of its energy
(meV per cell) and stress (GPa) is reported against the convergence criterion of
docs/protocols.md section 14 (1 meV, 0.05 GPa).  Then every metric that depends on a
sampled Job is recomputed through its task's ``analyse`` with the tightened results in place
of the run's, and its change is compared with ``tolerance`` (0.5 %, or 1 meV, 1 meV/atom,
1 mJ/m^2, 0.05 GPa, whichever is larger).  Jobs built from a sampled Job's output (strained
cells of a bulk relaxation) are not rebuilt: a metric sees only the sampled Jobs' change.
This checks the force thresholds only; cell sizes, strains and slab settings are justified
by the study in docs/protocols.md section 14.5 (benchmarks/convergence_study.py).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace

import numpy as np
from ase import units

from alloybench import policy
from alloybench.jobs import Job, Result
from alloybench.tasks.base import Context, Metric, Task

SAMPLE = 3
ENERGY_MEV = 1.0
STRESS_GPA = 0.05
EV_A3_TO_GPA = 1.0 / units.GPa
REL = 0.005  # a metric is converged when it changes by at most this fraction...
# ...or by at most this much in its own unit (energies 1 meV, planar energies 1 mJ/m^2; forces 1 meV/Å,
# far below any force error a model is scored on, so a ~1e-9 eV/Å force of a symmetric cell is not "moved")
ABSOLUTE = {"meV": 1.0, "eV": 1e-3, "eV/atom": 1e-3, "mJ/m^2": 1.0, "eV/Å^2": 1e-23 * units.J,
            "GPa": STRESS_GPA, "eV/Å": 1e-3, "meV/Å": 1.0}


@dataclass
class Check:
    task: str
    name: str
    fmax: float
    energy_change_meV: float | None
    stress_change_GPa: float | None
    converged: bool
    note: str = ""


def tightened(job: Job) -> Job:
    assert job.relax is not None
    return replace(job, relax=replace(job.relax, fmax=job.relax.fmax / 2, max_steps=2 * job.relax.max_steps),
                   name=job.name + " [fmax/2]")


def sample(jobs: list[Job], per_task: int = SAMPLE) -> list[Job]:
    out: dict[str, list[Job]] = {}
    for job in sorted(jobs, key=lambda j: (j.task, j.name)):
        if job.relax is not None and len(out.setdefault(job.task, [])) < per_task:
            out[job.task].append(job)
    return [j for js in out.values() for j in js]


def compare(job: Job, base: Result, tight: Result) -> Check:
    if not (base.ok and tight.ok) or base.energy is None or tight.energy is None:
        return Check(job.task, job.name, job.relax.fmax, None, None, False,
                     f"not comparable: {base.reason or tight.reason or 'failed'}")
    de = 1000 * (tight.energy - base.energy)
    ds = None
    if base.stress is not None and tight.stress is not None:
        ds = float(np.abs(np.asarray(tight.stress) - np.asarray(base.stress)).max() * EV_A3_TO_GPA)
    ok = abs(de) <= ENERGY_MEV and (ds is None or ds <= STRESS_GPA)
    return Check(job.task, job.name, job.relax.fmax, de, ds, ok)


def check_convergence(jobs: list[Job], known: dict[str, Result], engine) -> list[Check]:
    """Per Job only.  ``known``: digest -> result of the run; ``engine`` computes the tightened Jobs."""
    return check_run(jobs, known, engine, [], None, {}).jobs


def tolerance(unit: str, value: float) -> float:
    """The largest change of a metric of ``value`` (in ``unit``) that counts as converged."""
    return max(REL * abs(value), ABSOLUTE.get(unit, 0.0))


@dataclass
class MetricCheck:
    task: str
    item: str
    name: str
    unit: str
    value: float | None
    tightened: float | None
    change: float | None  # tightened - value, in unit
    tolerance: float | None
    converged: bool
    jobs: str = ""  # the sampled Jobs this metric depends on
    series: str = ""
    x: float | None = None
    note: str = ""


def _ident(m: Metric) -> tuple:
    return (m.key, m.series, m.x)


def compare_metrics(task: Task, ctx: Context, view: Mapping[str, Result],
                    tight: Mapping[str, Result]) -> list[MetricCheck]:
    """Per metric of ``task``: its value from ``view`` (job name -> result) and from ``view``
    with the Jobs of ``tight`` replaced.  Listed: metrics that depend on a replaced Job (they are
    no longer ok without it) or whose value changed."""
    swapped = {n: r for n, r in tight.items() if n in view}
    if not swapped:
        return []
    old = task.analyse(ctx, view)
    new = {_ident(m): m for m in task.analyse(ctx, {**view, **swapped})}
    deps: dict[tuple, list[str]] = {}
    for name in sorted(swapped):
        without = {_ident(m): m.status for m in task.analyse(ctx, {k: v for k, v in view.items() if k != name})}
        for m in old:
            if m.status == "ok" and without.get(_ident(m)) != "ok":
                deps.setdefault(_ident(m), []).append(name)
    out = []
    for m in old:
        n = new.get(_ident(m))
        changed = n is not None and (n.status != m.status or n.value != m.value)
        if _ident(m) not in deps and not changed:
            continue
        common = dict(task=m.task, item=m.item, name=m.name, unit=m.unit, value=m.value,
                      jobs=", ".join(deps.get(_ident(m), [])), series=m.series, x=m.x)
        if m.value is None or n is None or n.value is None:
            out.append(MetricCheck(**common, tightened=None if n is None else n.value, change=None, tolerance=None,
                                   converged=False, note=f"not comparable: {(n.reason if n else '') or m.reason}"))
            continue
        tol = tolerance(m.unit, m.value)
        change = n.value - m.value
        out.append(MetricCheck(**common, tightened=n.value, change=change, tolerance=tol, converged=abs(change) <= tol))
    return out


@dataclass
class ConvergenceReport:
    jobs: list[Check]
    metrics: list[MetricCheck]


def check_run(jobs: list[Job], known: dict[str, Result], engine, tasks: list[Task], ctx: Context | None,
              views: Mapping[str, Mapping[str, Result]]) -> ConvergenceReport:
    """The per-Job check of ``check_convergence`` and, per task, the metrics recomputed with the
    tightened results (``views``: task name -> job name -> result of the run, as analysed)."""
    picked = [j for j in sample(jobs) if j.digest in known]
    tight = {j.digest: tightened(j) for j in picked}
    results = {t.digest: r for t, r in engine.run(list(tight.values()))}
    checks = [compare(j, known[j.digest], results[tight[j.digest].digest]) for j in picked]
    by_digest = {j.digest: j for j in picked}
    metrics: list[MetricCheck] = []
    for task in tasks:
        view = views.get(task.name, {})
        replaced = {}
        for d, job in by_digest.items():
            if job.name in view:
                t = tight[d]
                replaced[job.name] = policy.apply(t, results[t.digest])
        metrics.extend(compare_metrics(task, ctx, view, replaced))
    return ConvergenceReport(checks, metrics)
