"""Batched engine: the same Jobs give the same answers as the serial engine.

Three levels:
- the broker and in-flight batching, with ASE EMT through ``CalculatorBackend``
  (no torch needed): always runs;
- SevenNet-0 batched with sevenn's own graph collation vs the serial ASE engine
  (needs sevenn): energies 1e-4 eV/atom, lattice 1e-3 Å, elastic C_ij 1 GPa;
- the same through torch-sim (``sevenn.torchsim``), which needs torch-sim >= 0.4
  and so Python >= 3.12: skipped with the reason where torch_sim is missing or too old.
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import numpy as np
import pytest
from ase.build import bulk
from ase.calculators.emt import EMT

sys.path.insert(0, str(Path(__file__).parent / "helpers"))
from checks import assert_batch_equals_single, mixed_cells  # noqa: E402

from alloybench.engine.batched import BatchedEngine, CalculatorBackend, make_backend, torch_sim_available  # noqa: E402
from alloybench.engine.serial import SerialEngine
from alloybench.errors import UserError
from alloybench.jobs import FULL_CELL, Job, Relax, Structure
from alloybench.runner import run_tasks
from alloybench.store import Store
from alloybench.tasks.bulk import BulkTask
from alloybench.tasks.elastic import ElasticTask

HAVE_SEVENN = importlib.util.find_spec("sevenn") is not None


def _jobs() -> list[Job]:
    """A mix the batched engine must express: static, full-cell, masked cell,
    fixed atoms, free directions, BFGS, L-BFGS (fixed and masked cell), a non-converging one."""
    out = []
    for k, (sym, a) in enumerate([("Al", 4.10), ("Cu", 3.55)]):
        atoms = bulk(sym, "fcc", a=a, cubic=True)
        atoms.rattle(0.03, seed=k)
        s = Structure.from_atoms(atoms)
        out += [
            Job("t", f"static/{k}", s),
            Job("t", f"full/{k}", s, Relax(fmax=1e-2, max_steps=200, cell_mask=FULL_CELL)),
            Job("t", f"mask/{k}", s, Relax(fmax=1e-2, max_steps=200, cell_mask=(False, False, True, False, False, False))),
            Job("t", f"fixed/{k}", s, Relax(fmax=1e-2, max_steps=200, fixed_atoms=(0, 1))),
            Job("t", f"dirs/{k}", s, Relax(fmax=1e-2, max_steps=200, free_directions=(False, False, True))),
            Job("t", f"bfgs/{k}", s, Relax(fmax=1e-2, max_steps=200, optimizer="BFGS")),
            Job("t", f"lbfgs/{k}", s, Relax(fmax=1e-2, max_steps=200, optimizer="LBFGS")),
            Job("t", f"lbfgs-mask/{k}", s, Relax(fmax=1e-2, max_steps=200, optimizer="LBFGS",
                                                 cell_mask=(False, False, True, False, False, False))),
        ]
    out.append(Job("t", "stuck", out[1].structure, Relax(fmax=1e-9, max_steps=3)))
    return out


def _compare(serial, batched, energy_tol=1e-9, pos_tol=1e-7):
    b = {j.name: r for j, r in batched}
    assert set(b) == {j.name for j, _ in serial}
    for job, rs in serial:
        rb = b[job.name]
        assert rb.ok == rs.ok, job.name
        assert rb.steps == rs.steps, job.name
        assert rb.energy == pytest.approx(rs.energy, abs=energy_tol * job.n_atoms), job.name
        np.testing.assert_allclose(rb.structure.cell, rs.structure.cell, atol=pos_tol, err_msg=job.name)
        np.testing.assert_allclose(rb.structure.positions, rs.structure.positions, atol=pos_tol, err_msg=job.name)


def test_broker_reproduces_serial_engine_exactly_with_emt():
    jobs = _jobs()
    serial = list(SerialEngine(EMT).run(jobs))
    backend = CalculatorBackend(EMT)
    engine = BatchedEngine(backend, max_atoms=10_000)
    batched = list(engine.run(jobs))
    # EMT computed one structure at a time: bit-for-bit the serial trajectories
    _compare(serial, batched, energy_tol=1e-12, pos_tol=1e-10)
    stuck = dict((j.name, r) for j, r in batched)["stuck"]
    assert not stuck.ok and stuck.stage == "relax" and "not converged" in stuck.reason
    # lock-step: far fewer model calls than structures evaluated, big batches
    evaluated = engine.stats["structures_evaluated"]
    assert engine.stats["batched_calls"] < evaluated / 5
    assert max(backend.batch_sizes) == len(jobs)


def test_atom_budget_limits_batches_and_admits_in_flight():
    jobs = _jobs()
    backend = CalculatorBackend(EMT)
    engine = BatchedEngine(backend, max_atoms=12)  # three 4-atom cells at a time
    results = dict((j.name, r) for j, r in engine.run(jobs))
    assert len(results) == len(jobs)
    assert max(backend.batch_sizes) == 3 and engine.stats["max_batch_atoms"] <= 12


class _Picky(CalculatorBackend):
    """Rejects any batch holding Cu; out-of-memory for batches over 20 atoms."""

    def evaluate(self, structures):
        if sum(len(a) for a in structures) > 10:
            raise RuntimeError("CUDA out of memory. Tried to allocate 2.00 GiB")
        if any("Cu" in a.get_chemical_symbols() for a in structures):
            raise ValueError("model does not know atomic number(s) [29]")
        return super().evaluate(structures)


def test_oom_splits_and_a_rejected_structure_fails_alone():
    jobs = [j for j in _jobs() if j.name.startswith(("static", "full"))]
    engine = BatchedEngine(_Picky(EMT), max_atoms=1000)
    results = dict((j.name, r) for j, r in engine.run(jobs))
    assert engine.stats["oom_splits"] > 0 and engine.max_atoms <= 10
    assert not results["static/1"].ok and "atomic number" in results["static/1"].reason  # the Cu cell
    assert not results["full/1"].ok
    assert results["static/0"].ok and results["full/0"].ok



class _Hungry(CalculatorBackend):
    """EMT that holds ``per_atom`` bytes of touched memory per atom during each call (Cu
    atoms ``cu_factor`` times as much), as DPA3 on a CPU does (~44 MB per atom)."""

    per_atom = 1_000_000
    cu_factor = 1

    def evaluate(self, structures):
        cost = sum(len(a) * (self.cu_factor if a[0].symbol == "Cu" else 1) for a in structures)
        held = np.ones(cost * self.per_atom // 8)
        out = super().evaluate(structures)
        del held
        return out


def _hungry_host(monkeypatch):
    from alloybench import hostmem

    if hostmem.rss_bytes() is None or not hostmem.restart_peak():
        pytest.skip("no restartable peak-RSS mark on this platform")
    monkeypatch.setattr(hostmem, "available_bytes", lambda: 500_000_000)


def test_cpu_budget_follows_the_memory_a_call_takes(monkeypatch):
    """On the CPU running out of memory kills the process, so the first batch is small and
    the budget is what the host's free memory allows at the measured bytes per atom:
    here 0.7 x 0.5 GB / 1 MB = 350 atoms, i.e. five 64-atom cells, not all twenty."""
    _hungry_host(monkeypatch)
    cell = Structure.from_atoms(bulk("Al", "fcc", a=4.05, cubic=True) * (2, 2, 4))  # 64 atoms
    jobs = [Job("t", f"s{i}", cell) for i in range(20)]
    backend = _Hungry(EMT)
    engine = BatchedEngine(backend)
    results = [r for _, r in engine.run(jobs)]
    assert all(r.ok for r in results) and len(results) == 20
    assert engine.stats["bytes_per_atom"] >= 0.9 * _Hungry.per_atom
    assert 64 <= engine.max_atoms <= 0.7 * 500_000_000 / (0.9 * _Hungry.per_atom)
    assert backend.batch_sizes[0] * 64 <= 256  # the probe: four cells, before anything is known
    assert max(backend.batch_sizes) * 64 <= max(256, engine.max_atoms) and len(backend.batch_sizes) >= 4


@pytest.mark.parametrize("cu_first", [False, True])
def test_cpu_budget_shrinks_when_a_later_call_takes_more(monkeypatch, cu_first):
    """Every call is measured: Cu cells taking 3x Al's memory per atom, after ten Al cells
    set the budget, bring it down to what the Cu cells allow; Al cells after Cu cells do
    not raise it again (the most memory per atom seen holds)."""
    _hungry_host(monkeypatch)
    al = Structure.from_atoms(bulk("Al", "fcc", a=4.05, cubic=True) * (2, 2, 4))
    cu = Structure.from_atoms(bulk("Cu", "fcc", a=3.61, cubic=True) * (2, 2, 4))
    jobs = [Job("t", f"al{i}", al) for i in range(10)] + [Job("t", f"cu{i}", cu) for i in range(10)]
    if cu_first:
        jobs = jobs[10:] + jobs[:10]
    backend = _Hungry(EMT)
    backend.cu_factor = 3
    engine = BatchedEngine(backend)
    assert all(r.ok for _, r in engine.run(jobs))
    assert engine.stats["bytes_per_atom"] >= 0.9 * 3 * _Hungry.per_atom
    assert engine.max_atoms <= 0.7 * 500_000_000 / (0.9 * 3 * _Hungry.per_atom)  # ~130: two Cu cells at most


@pytest.mark.parametrize("device, groups", [
    ("cpu", [(256, 2), (26, 1), (20, 1), (13, 2), (7, 1)]),  # exact sizes: padding costs a CPU time
    ("cuda:0", [(256, 2), (26, 5)]),  # a card: up to 128 padded atoms per frame beats another call
])
def test_deepmd_size_groups_follow_the_device(device, groups):
    """DeePMD's padding policy (no deepmd needed: the grouping is plain Python)."""
    from alloybench.engine.backends import DeepMDBackend, _padding_policy

    backend = DeepMDBackend.__new__(DeepMDBackend)
    backend.mixed_types = True
    backend.max_padding, backend.pad_atoms = _padding_policy(device)  # as __init__ sets them
    sizes = [13, 256, 7, 26, 20, 256, 13]
    cells = [bulk("Al", "sc", a=3.0) * (n, 1, 1) for n in sizes]
    assert [(w, len(idx)) for w, idx in backend._groups(cells)] == groups
    # every frame in exactly one group, no frame wider than its group
    flat = sorted(i for _, idx in backend._groups(cells) for i in idx)
    assert flat == list(range(len(sizes)))
    assert all(sizes[i] <= w for w, idx in backend._groups(cells) for i in idx)


def test_deepmd_padding_stays_small_in_total():
    """Padding by atoms is for small calls: one 100-atom frame with 250 tiny ones must not
    become one call of 25,100 atoms (a card pays ~0.2 ms per atom past ~1000)."""
    from alloybench.engine.backends import DeepMDBackend, _padding_policy

    backend = DeepMDBackend.__new__(DeepMDBackend)
    backend.mixed_types = True
    backend.max_padding, backend.pad_atoms = _padding_policy("cuda")
    sizes = [100] + [4] * 200 + [1] * 50
    cells = [bulk("Al", "sc", a=3.0) * (n, 1, 1) for n in sizes]
    groups = backend._groups(cells)
    for width, idx in groups:
        real = sum(sizes[i] for i in idx)
        assert width * len(idx) <= max(backend.pad_call_atoms, 1.25 * real), (width, len(idx), real)
    assert len(groups) <= 3 and sorted(i for _, idx in groups for i in idx) == list(range(len(sizes)))

def test_backend_that_cannot_be_built_falls_back_to_serial():
    def broken():
        raise UserError("model family 'eam' has no batched path; use the serial engine")

    jobs = _jobs()[:4]
    engine = BatchedEngine(broken, fallback=EMT)
    batched = list(engine.run(jobs))
    serial = list(SerialEngine(EMT).run(jobs))
    _compare(serial, batched, energy_tol=0, pos_tol=0)
    assert engine.stats["fallback_jobs"] == 4 and "no batched path" in engine.stats["fallback_reason"]


def test_emt_elastic_task_same_cij_through_runner(reference, emt_model, tmp_path):
    from dataclasses import replace

    tasks = [BulkTask(), ElasticTask()]
    emt_model = replace(emt_model, elements=frozenset({"Al"}))
    with Store(tmp_path / "s.sqlite") as s1, Store(tmp_path / "b.sqlite") as s2:
        a = run_tasks(emt_model, tasks, "quick", reference, s1, SerialEngine(EMT))
        b = run_tasks(emt_model, tasks, "quick", reference, s2, BatchedEngine(CalculatorBackend(EMT)))
    ma = {m.key: m.value for m in a.metrics}
    mb = {m.key: m.value for m in b.metrics}
    assert ma.keys() == mb.keys()
    for k, v in ma.items():
        if v is not None:
            assert mb[k] == pytest.approx(v, rel=1e-9, abs=1e-9), k


# ----------------------------------------------------------------- SevenNet-0 (foundation)


def _sevennet_model():
    from alloybench.models import resolve

    return resolve("sevennet-0")


def _phase_jobs(reference):
    from alloybench.tasks.bulk import relax_job

    jobs = []
    for phase in ("Al", "Cu", "theta_prime"):
        relax = relax_job(reference, phase)
        jobs.append(relax)
        jobs.append(Job("t", f"static/{phase}", relax.structure))
    return jobs


def _agree_with_serial(model, backend, reference, tmp_path):
    jobs = _phase_jobs(reference)
    serial = dict((j.name, r) for j, r in SerialEngine(model.make_calculator).run(jobs))
    batched = dict((j.name, r) for j, r in BatchedEngine(backend).run(jobs))
    for job in jobs:
        rs, rb = serial[job.name], batched[job.name]
        assert rs.ok and rb.ok, (job.name, rs.reason, rb.reason)
        assert abs(rb.energy - rs.energy) / job.n_atoms < 1e-4, job.name
        np.testing.assert_allclose(rb.atoms.cell.cellpar()[:3], rs.atoms.cell.cellpar()[:3], atol=1e-3,
                                   err_msg=job.name)
        np.testing.assert_allclose(rb.stress, rs.stress, atol=1e-5, err_msg=job.name)  # eV/Å^3
    # elastic tensor of Al and Cu through the runner, both engines
    from dataclasses import replace

    al_cu = replace(model, elements=frozenset({"Al", "Cu"}))
    with Store(tmp_path / "s.sqlite") as s1, Store(tmp_path / "b.sqlite") as s2:
        a = run_tasks(al_cu, [ElasticTask()], "quick", reference, s1, SerialEngine(model.make_calculator))
        b = run_tasks(al_cu, [ElasticTask()], "quick", reference, s2, BatchedEngine(backend))
    ma = {(m.item, m.name): m.value for m in a.metrics if m.name.startswith("C_")}
    mb = {(m.item, m.name): m.value for m in b.metrics if m.name.startswith("C_")}
    assert ma and ma.keys() == mb.keys()
    for k, v in ma.items():
        if v is not None:
            assert abs(mb[k] - v) < 1.0, (k, v, mb[k])  # GPa


@pytest.mark.foundation
@pytest.mark.slow
@pytest.mark.skipif(not HAVE_SEVENN, reason="sevenn not installed")
def test_sevennet_native_batching_agrees_with_serial(reference, tmp_path):
    model = _sevennet_model()
    _agree_with_serial(model, make_backend(model, device="cpu", prefer="native"), reference, tmp_path)


@pytest.mark.foundation
@pytest.mark.slow
@pytest.mark.skipif(not HAVE_SEVENN, reason="sevenn not installed")
@pytest.mark.skipif(torch_sim_available() is not None, reason=str(torch_sim_available()))
def test_sevennet_torch_sim_agrees_with_serial(reference, tmp_path):
    model = _sevennet_model()
    _agree_with_serial(model, make_backend(model, device="cpu", prefer="torch-sim"), reference, tmp_path)


@pytest.mark.foundation
@pytest.mark.skipif(not HAVE_SEVENN, reason="sevenn not installed")
def test_sevennet_batch_equals_single_calls():
    """Fast check (seconds): one batched call of four cells = four single ASE calls."""
    model = _sevennet_model()
    backend = make_backend(model, device="cpu", prefer="native")
    calc = model.make_calculator()
    cells = [bulk("Al", "fcc", a=4.04, cubic=True), bulk("Cu", "fcc", a=3.63).repeat(2),
             bulk("Al", "fcc", a=4.0, cubic=True).repeat((2, 1, 1)), bulk("Cu", "fcc", a=3.6, cubic=True)]
    cells[2].rattle(0.05, seed=3)
    cells[2][0].symbol = "Cu"
    out = backend.evaluate(cells)
    for atoms, ev in zip(cells, out):
        atoms.calc = calc
        assert ev.energy == pytest.approx(atoms.get_potential_energy(), abs=1e-4)
        np.testing.assert_allclose(ev.forces, atoms.get_forces(), atol=1e-4)
        np.testing.assert_allclose(ev.stress, atoms.get_stress(), atol=1e-6)


HAVE_CHGNET = importlib.util.find_spec("chgnet") is not None


@pytest.mark.foundation
@pytest.mark.skipif(not HAVE_CHGNET, reason="chgnet not installed")
def test_chgnet_batch_equals_single_calls():
    """One batched CHGNet call of four cells (three elements) = four single ASE calls."""
    from alloybench.engine.batched import CHGNetBackend
    from alloybench.models import resolve

    model = resolve("chgnet-0.3.0")
    backend = make_backend(model, device="cpu")
    assert isinstance(backend, CHGNetBackend)
    cells = mixed_cells()
    out = assert_batch_equals_single(backend, model.make_calculator(), cells)
    assert backend.batch_sizes == [4]
    (one,) = backend.evaluate([cells[2].copy()])  # a batch of one: CHGNet returns a dict, not a list
    assert abs(one.energy - out[2].energy) < 1e-5
    np.testing.assert_allclose(one.forces, out[2].forces, atol=1e-5)


@pytest.mark.foundation
@pytest.mark.slow
@pytest.mark.skipif(not HAVE_CHGNET, reason="chgnet not installed")
def test_chgnet_batched_engine_agrees_with_serial(reference, tmp_path):
    from alloybench.models import resolve

    model = resolve("chgnet-0.3.0")
    _agree_with_serial(model, make_backend(model, device="cpu"), reference, tmp_path)


@pytest.mark.foundation
@pytest.mark.skipif(not HAVE_CHGNET, reason="chgnet not installed")
def test_chgnet_graphs_built_in_worker_processes_give_the_same_answers():
    """A batch large enough for the graph pool (two spawned workers) = single ASE calls."""
    from alloybench.engine.batched import CHGNetBackend
    from alloybench.models import resolve

    model = resolve("chgnet-0.3.0")
    calc = model.make_calculator()
    backend = CHGNetBackend(calc, graph_workers=2)
    backend.pool_min_structures = 4
    try:
        assert_batch_equals_single(backend, calc, mixed_cells())
        assert backend._pool is not None  # the graphs really came from the workers
    finally:
        backend.close()


def test_cuda_budget_counts_only_memory_other_processes_left_free():
    """Two runs sharing a card: the budget plans from the driver's free memory plus this
    process's own cache, never from the card's total (which another run already holds)."""
    from types import SimpleNamespace

    from alloybench.engine.batched import _usable_cuda_bytes

    gib = 1 << 30
    fake_cuda = SimpleNamespace(mem_get_info=lambda dev: (10 * gib, 80 * gib),
                                memory_reserved=lambda dev: 4 * gib, memory_allocated=lambda dev: 1 * gib)
    assert _usable_cuda_bytes(SimpleNamespace(cuda=fake_cuda), "cuda:0") == 13 * gib


@pytest.mark.foundation
@pytest.mark.skipif(not HAVE_CHGNET, reason="chgnet not installed")
def test_chgnet_graph_pool_that_breaks_falls_back_to_building_in_process():
    """A killed graph worker must not turn every later batch into failed calls."""
    import os
    import signal

    from alloybench.engine.batched import CHGNetBackend
    from alloybench.models import resolve

    calc = resolve("chgnet-0.3.0").make_calculator()
    backend = CHGNetBackend(calc, graph_workers=2)
    backend.pool_min_structures = 4
    try:
        backend.evaluate(mixed_cells())
        for pid in list(backend._pool._processes):
            os.kill(pid, signal.SIGKILL)
        assert_batch_equals_single(backend, calc, mixed_cells())  # the broken pool's batch
        assert backend._pool is None and backend.graph_workers == 0
    finally:
        backend.close()
