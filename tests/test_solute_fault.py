"""Solute-stacking-fault interaction: reference coverage, fault geometry, sign (EMT)."""

from __future__ import annotations

import re
from dataclasses import replace

import numpy as np
import pytest
from ase.build import bulk, fcc111
from ase.calculators.emt import EMT
from ase.filters import FrechetCellFilter
from ase.optimize import FIRE

from alloybench.engine.serial import run_job
from alloybench.jobs import Job, Structure
from alloybench.runner import run_tasks
from alloybench.tasks.base import Context
from alloybench.tasks.solute_fault import (
    FAULT_RELAX,
    PERIODS,
    SoluteFaultSettings,
    SoluteFaultTask,
    fault_slab,
    layer_indices,
    with_solute,
)

SMALL = SoluteFaultSettings(inplane=(("Al", 2), ("Cu", 2)))


def test_every_reference_key_is_a_metric_source(reference):
    keys = {k for k in reference.values if "-SolSF_" in k}
    assert len(keys) == 5
    metrics = SoluteFaultTask().analyse(Context(reference, "standard", None), {})
    assert {re.sub(r"\[\d\]$", "", m.source.split(":", 1)[1]) for m in metrics} == keys
    assert len(metrics) == 20 and all(m.group == "solute_fault" and m.unit == "eV" for m in metrics)


def test_emt_lacks_mg_zn_si(reference, emt_model):
    ctx = Context(reference, "standard", emt_model.elements)
    for m in SoluteFaultTask().analyse(ctx, {}):
        assert (m.status == "not_applicable") == (m.item in ("Al:Mg", "Al:Zn", "Al:Si")), m


def stacking(atoms) -> list[int]:
    """A/B/C class (0, 1, 2) of every layer and of the periodic image of layer 0."""
    n_prim = np.linalg.inv(atoms.cell.array[:2, :2])  # in-plane fractional coords
    layers = layer_indices(atoms)
    xy = [atoms.positions[layer[0], :2] for layer in layers] + [(atoms.positions[layers[0][0]] + atoms.cell[2])[:2]]
    n = round(np.linalg.norm(atoms.cell[0]) / np.linalg.norm(atoms.positions[layers[0][1]] - atoms.positions[layers[0][0]]))
    return [int(round(3 * ((p @ n_prim)[0] * n % 1))) % 3 for p in xy]


@pytest.mark.parametrize("n", [2, 3, 4])
def test_fault_is_one_intrinsic_fault_at_layer_zero(n):
    a = 4.04
    perfect, faulted = fault_slab("Al", a, n, PERIODS, False), fault_slab("Al", a, n, PERIODS, True)
    steps = lambda s: [(s[i + 1] - s[i]) % 3 for i in range(len(s) - 1)]
    assert set(steps(stacking(perfect))) == {steps(stacking(perfect))[0]}
    st = steps(stacking(faulted))
    assert st[:-1] == [st[0]] * (3 * PERIODS - 1) and st[-1] != st[0]  # ...ABC|BCA...: one fault, across the boundary
    for slab in (perfect, faulted):
        d = slab.get_all_distances(mic=True)
        d[np.diag_indices_from(d)] = np.inf
        assert d.min() == pytest.approx(a / np.sqrt(2))  # no atom on top of another
        assert len(slab) == 3 * PERIODS * n * n and len(layer_indices(slab)) == 3 * PERIODS


def test_both_sides_of_the_fault_are_equivalent():
    a = 3.59
    fault = fault_slab("Cu", a, 2, 3, True)
    e = [run_job(Job("t", str(k), Structure.from_atoms(with_solute(fault, "Al", k)), FAULT_RELAX), EMT()).energy
         for k in (0, 8, 1, 7)]
    assert e[0] == pytest.approx(e[1], abs=2e-5) and e[2] == pytest.approx(e[3], abs=2e-5)
    assert abs(e[0] - e[2]) > 1e-4  # the layers do differ


def hand_interaction(layer: int) -> float:
    """E_int of Al in layer ``layer`` at the EMT Cu intrinsic fault, 2x2 in-plane, 9 layers, independent ASE code."""
    prim = bulk("Cu", "fcc", a=3.6)
    prim.calc = EMT()
    FIRE(FrechetCellFilter(prim), logfile=None).run(fmax=1e-5, steps=2000)
    a = (4 * prim.get_volume()) ** (1 / 3)

    def energy(tilt: bool, al_layer: int | None) -> float:
        slab = fcc111("Cu", (2, 2, 9), a=a, periodic=True)
        if tilt:
            cell = slab.cell.array.copy()
            cell[2] += (cell[0] + cell[1]) / 6.0
            slab.set_cell(cell)
        if al_layer is not None:
            z = np.round(slab.positions[:, 2], 3)
            slab[int(np.flatnonzero(z == np.unique(z)[al_layer])[0])].symbol = "Al"
        slab.calc = EMT()
        FIRE(FrechetCellFilter(slab, mask=[0, 0, 1, 0, 0, 0]), logfile=None).run(fmax=1e-4, steps=5000)
        return slab.get_potential_energy()

    return (energy(True, layer) - energy(True, None)) - (energy(False, 0) - energy(False, None))


def test_sign_against_independent_calculation(reference, emt_model, emt_engine, store):
    model = replace(emt_model, elements=frozenset({"Cu", "Al"}))
    task = SoluteFaultTask(SMALL)
    out = run_tasks(model, [task], "standard", reference, store, emt_engine)
    m = {mt.key: mt for mt in out.metrics}
    assert not out.failures
    values = [m[f"solute_fault/Cu:Al/layer{k}"].value for k in range(4)]
    assert all(v is not None for v in values)
    expected = hand_interaction(0)
    assert abs(expected) > 5e-4  # eV: a real interaction
    assert values[0] == pytest.approx(expected, abs=1e-4)
    assert abs(values[3]) < abs(values[0])  # decays away from the fault
    # Al-matrix items run too with EMT (Cu solute); Mg/Zn/Si are not applicable
    assert m["solute_fault/Al:Cu/layer0"].status == "ok"
    assert m["solute_fault/Al:Mg/layer0"].status == "not_applicable"
