"""`alloybench run --check-convergence`: is each relaxation's force threshold tight enough
for this model?

For a sample of each task's relaxation Jobs (SAMPLE per task, the first by name), the Job
is computed again with its fmax halved and twice the steps, and the change of its energy
(meV per cell) and stress (GPa) is reported against the convergence criterion of
docs/protocols.md section 14 (1 meV, 0.05 GPa).  This checks the force thresholds only;
cell sizes, strains and slab settings are justified by the study in docs/protocols.md.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np
from ase import units

from alloybench.jobs import Job, Result

SAMPLE = 3
ENERGY_MEV = 1.0
STRESS_GPA = 0.05
EV_A3_TO_GPA = 1.0 / units.GPa


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
    """``known``: digest -> result of the run; ``engine`` computes the tightened Jobs."""
    picked = [j for j in sample(jobs) if j.digest in known]
    tight = {j.digest: tightened(j) for j in picked}
    results = {t.digest: r for t, r in engine.run(list(tight.values()))}
    return [compare(j, known[j.digest], results[tight[j.digest].digest]) for j in picked]
