"""Precipitate GSF task: cells, displacements, normalisation, key coverage (EMT)."""

from __future__ import annotations

import numpy as np
import pytest
from ase.calculators.emt import EMT

from alloybench.jobs import Result
from alloybench.runner import run_tasks
from alloybench.tasks.base import Context
from alloybench.tasks.precipitate_gsf import (
    SPECS, PrecipitateGSFTask, base_job_name, displacement_vector, fault_area, fault_job_name, faulted_cell,
    special_cell, zero_index,
)


@pytest.fixture
def ctx(reference, emt_model):
    return Context(reference=reference, tier="standard", elements=emt_model.elements)


def test_cells_belong_to_their_phase(reference):
    """AIIDA_481617 is theta (Al2Cu), AIIDA_339739 theta-double-prime (Al3Cu)."""
    comp = {spec.phase: sorted(special_cell(reference, spec.cell_id).get_chemical_symbols()) for spec in SPECS}
    assert comp["theta"] == ["Al"] * 4 + ["Cu"] * 2
    assert comp["theta_dprime"] == ["Al"] * 3 + ["Cu"]


@pytest.mark.parametrize("spec", SPECS, ids=lambda s: s.phase)
def test_displacements_match_dispcart(reference, spec):
    cell = special_cell(reference, spec.cell_id)
    frac = reference.value(f"{spec.prefix}_dispcryst").value
    cart = np.array(reference.value(f"{spec.prefix}_dispcart").value)
    got = np.array([displacement_vector(cell, f) for f in frac])
    assert np.allclose(got[:, :2], cart, atol=1e-6)
    assert np.allclose(got[:, 2], 0.0)  # in the slip plane: the plane normal is z
    for f, d in zip(frac, got):
        faulted = faulted_cell(cell, spec.zrepeats, f)
        stacked = cell.repeat((1, 1, spec.zrepeats))
        assert len(faulted) == len(cell) * spec.zrepeats
        assert np.allclose(faulted.cell[2] - stacked.cell[2], d)
        assert np.allclose(faulted.cell[:2], stacked.cell[:2])


def test_build_waits_for_prerelax_then_builds_every_fault(ctx, reference):
    task = PrecipitateGSFTask()
    first = task.build(ctx, {})
    assert {j.name for j in first} == {base_job_name(s) for s in SPECS}
    results = {j.name: Result(ok=True, energy=0.0, structure=j.structure) for j in first}
    jobs = {j.name: j for j in task.build(ctx, results)}
    for spec in SPECS:
        n = len(reference.value(f"{spec.prefix}_dispcryst").value)
        for i in range(n):
            job = jobs[fault_job_name(spec, i)]
            assert job.relax.free_directions == (False, False, True)
            assert job.relax.cell_mask == ((False, False, True, False, False, False) if spec.relax_cell_z else None)


def test_zero_displacement_is_zero_and_units(ctx, reference):
    """Single points with EMT: normE(0) = 0; a known energy offset gives (dE / area) in eV/Å^2."""
    task = PrecipitateGSFTask()
    base = {j.name: Result(ok=True, energy=0.0, structure=j.structure) for j in task.build(ctx, {})}
    jobs = task.build(ctx, base)
    results = dict(base)
    for job in jobs:
        if job.name in base:
            continue
        atoms = job.structure.to_atoms()
        atoms.calc = EMT()
        results[job.name] = Result(ok=True, energy=atoms.get_potential_energy(), structure=job.structure)
    spec = next(s for s in SPECS if s.phase == "theta_dprime")
    z = zero_index([tuple(d) for d in reference.value(f"{spec.prefix}_dispcryst").value])
    area = fault_area(results[fault_job_name(spec, z)].atoms)
    results[fault_job_name(spec, 0)].energy = results[fault_job_name(spec, z)].energy + 1.0  # +1 eV
    metrics = {(m.item, m.name): m for m in task.analyse(ctx, results)}
    assert metrics[(spec.item, f"normE_{z}")].value == 0.0
    assert metrics[(spec.item, "normE_0")].value == pytest.approx(1.0 / area)
    assert metrics[(spec.item, "normE_0")].unit == "eV/Å^2"
    assert 10.0 < area < 100.0  # Å^2, not m^2 or a per-atom quantity


def test_every_reference_key_is_carried(ctx, reference):
    metrics = PrecipitateGSFTask().analyse(ctx, {})
    text = " ".join(m.source for m in metrics)
    keys = [k for k in reference.values if "GSF" in k]
    assert keys
    for k in keys:
        assert k in text, k
    s_items = [m for m in metrics if m.item.startswith("S_")]
    assert s_items and all(m.status == "not_applicable" for m in s_items)
    n = sum(len(reference.value(k).value) for k in keys if k.endswith("normE"))
    assert len(metrics) == n


@pytest.mark.slow
def test_full_run_emt(emt_model, emt_engine, store, reference):
    out = run_tasks(emt_model, [PrecipitateGSFTask()], "standard", reference, store, emt_engine)
    ok = [m for m in out.metrics if m.status == "ok"]
    assert len(ok) == 20 and not out.failures
    for m in ok:
        if m.name in ("normE_11",) and m.item == "theta_dprime_111" or m.name == "normE_0" and m.item == "theta_0m11":
            assert m.value == 0.0
