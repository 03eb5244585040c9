"""Serial engine failures are Results; the store resumes; scoring counts failures."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
from ase.build import bulk
from ase.calculators.calculator import Calculator, all_changes
from ase.calculators.emt import EMT

from alloybench.engine.serial import SerialEngine, run_job
from alloybench.jobs import FULL_CELL, Job, Relax, Structure
from alloybench.runner import run_tasks
from alloybench.scoring import score
from alloybench.store import Store
from alloybench.tasks.base import Metric
from alloybench.tasks.bulk import BulkTask
from alloybench.tasks.elastic import ElasticTask


class Broken(Calculator):
    implemented_properties = ["energy", "forces", "stress"]

    def __init__(self, mode: str):
        super().__init__()
        self.mode = mode

    def calculate(self, atoms=None, properties=("energy",), system_changes=all_changes):
        super().calculate(atoms, properties, system_changes)
        if self.mode == "raise":
            raise RuntimeError("model blew up")
        n = len(self.atoms)
        e = float("nan") if self.mode == "nan" else 0.0
        self.results = {"energy": e, "forces": np.zeros((n, 3)), "stress": np.zeros(6)}


def _job(relax=None):
    return Job(task="t", name="al", structure=Structure.from_atoms(bulk("Al", "fcc", a=4.05)), relax=relax)


def test_exception_is_a_failed_result_with_stage():
    r = run_job(_job(), Broken("raise"))
    assert not r.ok and r.stage == "evaluate" and "model blew up" in r.reason


def test_nan_is_a_failed_result():
    r = run_job(_job(), Broken("nan"))
    assert not r.ok and "non-finite" in r.reason


def test_non_convergence_is_a_failed_result():
    atoms = bulk("Al", "fcc", a=4.3, cubic=True)
    atoms.rattle(0.1, seed=1)
    job = Job(task="t", name="x", structure=Structure.from_atoms(atoms), relax=Relax(fmax=1e-6, max_steps=2))
    r = run_job(job, EMT())
    assert not r.ok and r.stage == "relax" and "not converged" in r.reason
    assert r.energy is not None  # what was reached is kept for diagnosis


def test_relaxation_with_cell_filter_reaches_zero_stress():
    job = Job(task="t", name="x", structure=Structure.from_atoms(bulk("Cu", "fcc", a=3.7)), relax=Relax(cell_mask=FULL_CELL))
    r = run_job(job, EMT())
    assert r.ok and np.abs(r.stress).max() < 1e-4


def test_fixed_directions_are_respected():
    atoms = bulk("Al", "fcc", a=4.05, cubic=True).repeat((2, 1, 1))
    atoms.positions[0] += [0.1, 0.1, 0.1]
    start = atoms.positions.copy()
    job = Job(task="t", name="x", structure=Structure.from_atoms(atoms),
              relax=Relax(fmax=1e-3, free_directions=(False, False, True), fixed_atoms=(1,)))
    r = run_job(job, EMT())
    final = np.array(r.structure.positions)
    assert np.allclose(final[:, :2], start[:, :2], atol=1e-8)
    assert np.allclose(final[1], start[1], atol=1e-8)
    assert not np.allclose(final[0, 2], start[0, 2])


def test_digest_changes_with_protocol_and_structure():
    a = _job()
    assert a.digest == _job().digest
    assert a.digest != Job(task="t", name="al", structure=a.structure, protocol="2").digest
    assert a.digest != _job(Relax()).digest
    assert a.digest != _job(Relax(fmax=2e-3)).digest


class CountingEngine(SerialEngine):
    """Serial engine that can be told to die after N Jobs (simulated kill)."""

    def __init__(self, die_after: int | None = None):
        super().__init__(EMT)
        self.die_after = die_after
        self.ran = 0

    def run(self, jobs):
        for job in jobs:
            if self.die_after is not None and self.ran >= self.die_after:
                raise KeyboardInterrupt
            self.ran += 1
            yield job, run_job(job, self.calculator)


def test_interrupted_run_resumes_with_only_missing_jobs(tmp_path, reference, emt_model):
    emt_model = replace(emt_model, elements=frozenset({"Al"}))
    tasks = [BulkTask(), ElasticTask()]
    with Store(tmp_path / "full.sqlite") as s:
        full = CountingEngine()
        complete = run_tasks(emt_model, tasks, "quick", reference, s, full)
        total = full.ran
    assert total == complete.computed == 25  # 1 relaxation + 12 strains at +-0.5 % + 12 at +-0.1 %

    with Store(tmp_path / "r.sqlite") as s:
        first = CountingEngine(die_after=5)
        with pytest.raises(KeyboardInterrupt):
            run_tasks(emt_model, tasks, "quick", reference, s, first)
        assert s.count(emt_model.id) == 5
    with Store(tmp_path / "r.sqlite") as s:
        second = CountingEngine()
        resumed = run_tasks(emt_model, tasks, "quick", reference, s, second)
        assert second.ran == total - 5
        assert resumed.reused == 5
        again = CountingEngine()
        rerun = run_tasks(emt_model, tasks, "quick", reference, s, again)
        assert again.ran == 0 and rerun.computed == 0
    values = {m.key: m.value for m in resumed.metrics}
    assert values == {m.key: m.value for m in complete.metrics}



class RecordingEngine(CountingEngine):
    """Serial engine that keeps the Jobs of each ``run`` call (one call = one round)."""

    def __init__(self):
        super().__init__()
        self.calls: list[list[str]] = []

    def run(self, jobs):
        jobs = list(jobs)
        self.calls.append([j.name for j in jobs])
        yield from super().run(jobs)


def test_resumed_run_sends_every_ready_job_in_one_round(tmp_path, reference, emt_model):
    """Stored results unlock later stages before anything runs: with Al's relaxation stored
    and Cu's missing, Al's elastic strains go to the engine together with Cu's relaxation
    (a batched engine then fills the card with both), not one round later."""
    al, alcu = (replace(emt_model, elements=frozenset(e)) for e in ({"Al"}, {"Al", "Cu"}))
    with Store(tmp_path / "fresh.sqlite") as s:
        fresh = RecordingEngine()
        complete = run_tasks(alcu, [BulkTask(), ElasticTask()], "quick", reference, s, fresh)
    with Store(tmp_path / "r.sqlite") as s:
        run_tasks(al, [BulkTask()], "quick", reference, s, CountingEngine())
        resumed_engine = RecordingEngine()
        resumed = run_tasks(alcu, [BulkTask(), ElasticTask()], "quick", reference, s, resumed_engine)
    first = resumed_engine.calls[0]
    assert "relax/Cu" in first
    assert any(n.startswith("strain/Al/") for n in first), first
    assert "relax/Al" not in first and len(resumed_engine.calls) == len(fresh.calls)
    assert {m.key: m.value for m in resumed.metrics} == {m.key: m.value for m in complete.metrics}

def _m(status="ok", value=1.0, ref=1.0, group="lattice_constant"):
    return Metric("t", "x", f"{status}{value}{ref}", group, "Å", value if status == "ok" else None, ref, status=status)


def test_scoring_thresholds_failed_and_not_applicable():
    # lattice constants are scored on the relative error: a 4 Å reference makes that differ from the absolute one
    good = _m(value=4.016, ref=4.0)  # 0.4 % < good 0.5 %
    mid = _m(value=4.05, ref=4.0)  # 1.25 %: halfway between 0.5 % and 2 %
    bad = _m(value=4.2, ref=4.0)
    card = score([good, mid, bad], n_boot=0)
    assert card.per_metric[good.key] == 1.0
    assert card.per_metric[mid.key] == pytest.approx(0.5)
    assert card.per_metric[bad.key] == 0.0
    failed = _m(status="failed")
    na = _m(status="not_applicable")
    card2 = score([good, failed, na], n_boot=0)
    assert card2.per_metric[failed.key] == 0.0  # a failure counts as bad, never as missing
    assert card2.per_metric[na.key] is None
    assert card2.overall == pytest.approx(0.5)
    assert card2.n_failed == 1 and card2.n_not_applicable == 1


def test_unknown_metric_group_is_an_error():
    with pytest.raises(KeyError):
        score([_m(group="nonsense")])


def test_a_model_that_cannot_load_is_a_user_error():
    from alloybench.errors import UserError

    def broken():
        raise RuntimeError("Error(s) in loading state_dict\nmore detail")

    with pytest.raises(UserError, match="the model failed to load: RuntimeError: Error"):
        list(SerialEngine(broken).run([_job()]))


def test_unconverged_relaxation_says_how_far_it_got():
    """A relaxation cut at max_steps is a failure whose reason gives the force left."""
    from ase.build import bulk as ase_bulk
    from ase.calculators.emt import EMT

    from alloybench.engine.serial import run_job
    from alloybench.jobs import Job, Relax, Structure

    atoms = ase_bulk("Cu", "fcc", a=3.6, cubic=True).repeat(2)
    atoms.rattle(0.1, seed=1)
    res = run_job(Job("t", "rattled", Structure.from_atoms(atoms), Relax(fmax=1e-4, max_steps=2)), EMT())
    assert not res.ok and res.stage == "relax" and res.steps == 2
    left = float(res.reason.split("largest force left ")[1].split(" eV")[0])
    assert 1e-4 < left < 5.0  # still above fmax, and finite


class OOMEngine(CountingEngine):
    """Every Job whose name is in ``oom`` fails with a CUDA out-of-memory message."""

    def __init__(self, oom: set[str]):
        super().__init__()
        self.oom = oom

    def run(self, jobs):
        from alloybench.jobs import Result

        for job, result in super().run(jobs):
            if job.name in self.oom:
                result = Result(ok=False, stage="relax", reason="OutOfMemoryError: CUDA out of memory. Tried to ...")
            yield job, result


def test_out_of_memory_failures_are_computed_again_once(tmp_path, reference, emt_model):
    """An OOM may say nothing about the model (another process held the GPU): a resumed
    run computes it again; if it recurs it is kept, and never retried after that.  A
    report rebuilt from the store (no engine) shows the failure with its reason."""
    from alloybench.store import RECURRED

    emt_model = replace(emt_model, elements=frozenset({"Al"}))
    tasks = [BulkTask()]
    with Store(tmp_path / "s.sqlite") as s:
        first = run_tasks(emt_model, tasks, "quick", reference, s, OOMEngine({"relax/Al"}))
        assert [f["name"] for f in first.failures] == ["relax/Al"]
        rebuilt = run_tasks(emt_model, tasks, "quick", reference, s, None)
        assert [f["reason"] for f in rebuilt.failures] == [first.failures[0]["reason"]]

        again = OOMEngine({"relax/Al"})
        second = run_tasks(emt_model, tasks, "quick", reference, s, again)
        assert again.ran == 1 and second.computed == 1  # only the OOM Job
        assert second.failures[0]["reason"].endswith(RECURRED)

        third = CountingEngine()
        run_tasks(emt_model, tasks, "quick", reference, s, third)
        assert third.ran == 0  # recurred: the Job's own failure now

    with Store(tmp_path / "t.sqlite") as s:
        run_tasks(emt_model, tasks, "quick", reference, s, OOMEngine({"relax/Al"}))
        healed = CountingEngine()
        resumed = run_tasks(emt_model, tasks, "quick", reference, s, healed)
        assert healed.ran == 1 and resumed.failures == []


def test_transient_markers():
    from alloybench.jobs import Result
    from alloybench.store import RECURRED, is_transient

    def fails(reason):
        return Result(ok=False, stage="relax", reason=reason)

    assert is_transient(fails("OutOfMemoryError: The callable still throws an out-of-memory (OOM) error even "
                              "when batch size is 1!"))  # DeePMD's own batcher
    assert is_transient(fails("RuntimeError: cusolver error: CUSOLVER_STATUS_INTERNAL_ERROR, when calling "
                              "`cusolverDnCreate(handle)`"))
    assert is_transient(fails("AcceleratorError: CUDA error: out of memory"))  # torch 2.11, card full at load
    assert not is_transient(fails("RuntimeError: model blew up"))
    assert not is_transient(fails("not converged in 1000 steps (fmax 0.002 eV/Å)"))
    assert not is_transient(fails("OutOfMemoryError: CUDA out of memory" + RECURRED))


def test_the_overall_interval_is_a_percentile_bootstrap_over_the_scored_metrics():
    from alloybench.report.fitness import subset_score

    # bulk scores 1, 0.5, 0, 0, 0, 0 (lattice constants 0.4 %, 1.25 %, 5 % off); energetics 1, 1 (formation
    # energies): the category-weighted mean (0.625) is not the plain mean of the eight (0.4375), and neither
    # is the upper end of its interval (0.80 against 0.75)
    lat = [_m(value=v, ref=4.0) for v in (4.016, 4.05, 4.2, 4.21, 4.22, 4.23)]
    form = [_m(value=v, ref=0.0, group="formation_energy") for v in (0.001, 0.002)]
    ms = lat + form
    card = score(ms, n_boot=20000, seed=1)
    assert card.overall == pytest.approx((0.25 + 1.0) / 2)
    # an independent bootstrap by hand: resample the (category, score) pairs, category-weighted mean
    pairs = np.array([(0, 1.0), (0, 0.5), (0, 0.0), (0, 0.0), (0, 0.0), (0, 0.0), (1, 1.0), (1, 1.0)])
    boots = []
    for idx in np.random.default_rng(7).integers(0, len(pairs), (20000, len(pairs))):
        cats = {c: [s for cc, s in pairs[idx] if cc == c] for c in (0.0, 1.0)}
        boots.append(np.mean([np.mean(v) for v in cats.values() if v]))
    lo, hi = np.percentile(boots, [2.5, 97.5])
    assert card.overall_ci == (pytest.approx(lo, abs=0.015), pytest.approx(hi, abs=0.015))
    # the leaderboard's subset score on every key is the same number and interval
    overall, ci, n = subset_score({"metrics": [m.to_dict() for m in ms]}, {m.key for m in ms}, n_boot=20000, seed=1)
    assert (overall, n) == (pytest.approx(card.overall), 8) and ci == pytest.approx(card.overall_ci)
    # one scored metric, or all equal: nothing to resample, the interval is the value
    assert score(lat[:1], n_boot=100).overall_ci == (1.0, 1.0)
