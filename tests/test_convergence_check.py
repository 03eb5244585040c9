"""--check-convergence: a deliberately loose force threshold is reported, a tight one is not."""

from __future__ import annotations

from ase.calculators.emt import EMT

from alloybench.convergence import check_convergence
from alloybench.engine.serial import SerialEngine
from alloybench.runner import run_tasks
from test_policy import _VacancyTask


class _Loose(_VacancyTask):
    def job(self):
        from dataclasses import replace

        job = super().job()
        return replace(job, relax=replace(job.relax, max_steps=2000))


def test_loose_force_threshold_is_flagged_and_tight_one_is_not(reference, emt_model, store):
    engine = SerialEngine(EMT)
    loose = run_tasks(emt_model, [_Loose(fmax=0.2)], "quick", reference, store, engine)
    (c,) = check_convergence(loose.jobs, loose.raw, engine)
    assert not c.converged and abs(c.energy_change_meV) > 1.0
    tight = run_tasks(emt_model, [_Loose(fmax=1e-3)], "quick", reference, store, engine)
    (c,) = check_convergence(tight.jobs, tight.raw, engine)
    assert c.converged and abs(c.energy_change_meV) < 1.0
