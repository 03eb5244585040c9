"""--check-convergence: a deliberately loose force threshold is reported, a tight one is not;
per Job and per metric (the task's own analysis on the tightened results)."""

from __future__ import annotations

import json
from dataclasses import replace

from ase.calculators.emt import EMT

import alloybench.tasks.point_defects as point_defects
from alloybench.convergence import check_convergence, check_run, tolerance
from alloybench.engine.serial import SerialEngine
from alloybench.runner import run_tasks
from alloybench.tasks.base import Context
from test_cli import alloybench
from test_policy import _VacancyTask


class _Loose(_VacancyTask):
    def job(self):
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


def test_tolerance_is_the_larger_of_half_a_percent_and_the_unit_floor():
    assert tolerance("meV", 50.0) == 1.0 and tolerance("meV", 500.0) == 2.5
    assert tolerance("mJ/m^2", 100.0) == 1.0 and abs(tolerance("eV/Å^2", 0.0) - 6.2415e-5) < 1e-8
    assert tolerance("Å", 4.0) == 0.02 and tolerance("GPa", 0.0) == 0.05
    assert tolerance("eV/Å", 1e-8) == 1e-3 and tolerance("meV/Å", 40.0) == 1.0


def _vacancy_check(monkeypatch, reference, emt_model, store, relax):
    """The real vacancy task on EMT Al with ``relax``, then the per-metric check."""
    monkeypatch.setattr(point_defects, "VACANCY_RELAX", relax)
    model = replace(emt_model, elements=frozenset({"Al"}))
    engine = SerialEngine(EMT)
    task = point_defects.VacancyTask()
    out = run_tasks(model, [task], "standard", reference, store, engine)  # standard: with the 256-site check
    ctx = Context(reference, "standard", model.elements)
    report = check_run(out.jobs, out.raw, engine, [task], ctx, out.views)
    return {(m.item, m.name): m for m in report.metrics}, report


def test_a_loose_setting_moves_its_metrics_beyond_the_tolerance(monkeypatch, reference, emt_model, store):
    loose = replace(point_defects.VACANCY_RELAX, fmax=0.1)
    metrics, report = _vacancy_check(monkeypatch, reference, emt_model, store, loose)
    assert [c.name for c in report.jobs] == ["relax/Al", "relaxed/Al/108", "relaxed/Al/256"]
    m = metrics[("Al", "E_vac_relaxed@108")]
    assert m.jobs == "relax/Al, relaxed/Al/108" and not m.converged
    assert abs(m.change) > m.tolerance >= 1e-3 and abs(m.tightened - m.value - m.change) < 1e-12
    # depends on relax/Al, but its cells are built from it and not rebuilt: listed, unchanged
    assert metrics[("Al", "E_vac_unrelaxed@108")].change == 0.0


def test_default_settings_are_converged_per_metric_for_emt(monkeypatch, reference, emt_model, store):
    metrics, report = _vacancy_check(monkeypatch, reference, emt_model, store, point_defects.VACANCY_RELAX)
    assert set(metrics) == {("Al", "E_vac_unrelaxed@108"), ("Al", "E_vac_relaxed@108"), ("Al", "E_vac_relaxed@256"),
                            ("Al", "finite_size")}
    assert all(c.converged for c in report.jobs)
    assert all(m.converged and abs(m.change) <= m.tolerance for m in metrics.values()), metrics


def test_cli_prints_and_writes_the_per_metric_check(tmp_path):
    out = tmp_path / "out"
    p = alloybench("run", "--model", "emt", "--tasks", "vacancy", "--tier", "standard", "--elements", "Al", "--check-convergence",
                   "--quiet", "--out", str(out), cwd=tmp_path)
    assert p.returncode == 0, p.stderr
    assert "metric vacancy/Al/E_vac_relaxed@108: " in p.stdout and "NOT CONVERGED" not in p.stdout
    metrics = json.loads((out / "convergence_metrics.json").read_text())
    assert {m["name"] for m in metrics} == {"E_vac_unrelaxed@108", "E_vac_relaxed@108", "E_vac_relaxed@256",
                                            "finite_size"}
    assert len(json.loads((out / "convergence.json").read_text())) == 3
