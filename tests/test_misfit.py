"""Misfit volumes: reference coverage, the host in itself, signs against independent ASE runs (EMT)."""

from __future__ import annotations

import re
from dataclasses import replace

import numpy as np
import pytest
from ase.build import bulk
from ase.calculators.emt import EMT
from ase.filters import FrechetCellFilter
from ase.optimize import FIRE

from alloybench.engine.serial import run_job
from alloybench.runner import run_tasks
from alloybench.tasks.base import Context
from alloybench.tasks.misfit import CELL_RELAX, FIXED_RELAX, MisfitSettings, MisfitVolumeTask, pressure, relaxed_cell_job
from alloybench.tasks.solutes import pure_job, single_job

SMALL = MisfitSettings(repeats=(("Al", 2), ("Cu", 2)))


def test_every_reference_key_is_a_metric_source(reference):
    keys = {k for k in reference.values if re.search(r"-(Pressure)?MisfitVol_", k)}
    assert len(keys) == 11
    metrics = MisfitVolumeTask().analyse(Context(reference, "standard", None), {})
    assert {m.source.split(":", 1)[1] for m in metrics} == keys
    assert all(m.group == "misfit_volume" and m.unit == "Å^3" for m in metrics)


def test_emt_lacks_mg_zn_si(reference, emt_model):
    ctx = Context(reference, "standard", emt_model.elements)
    for m in MisfitVolumeTask().analyse(ctx, {}):
        assert (m.status == "not_applicable") == (m.item in ("Al:Mg", "Al:Zn", "Al:Si")), m


def test_host_in_itself_has_zero_misfit():
    a, n = 4.032, 2
    pure = relaxed_cell_job("Al", None, a, n, CELL_RELAX)
    same = relaxed_cell_job("Al", "Al", a, n, CELL_RELAX)
    assert same.structure == pure.structure  # the same cell: the same Job digest, computed once
    r_pure, r_same = run_job(pure, EMT()), run_job(same, EMT())
    assert r_same.atoms.get_volume() - r_pure.atoms.get_volume() == pytest.approx(0.0, abs=1e-9)
    fixed = run_job(single_job("t", "Al", "Al", a, n, FIXED_RELAX), EMT())
    ref = run_job(pure_job("t", "Al", a, n), EMT())
    assert pressure(fixed) - pressure(ref) == pytest.approx(0.0, abs=1e-12)


def hand_relaxed_misfit(solute: str | None) -> float:
    """V(2x2x2 Al with one solute or vacancy, relaxed at zero pressure) - V(pure), independent ASE code."""
    prim = bulk("Al", "fcc", a=4.05)
    prim.calc = EMT()
    FIRE(FrechetCellFilter(prim), logfile=None).run(fmax=1e-5, steps=2000)
    a = (4 * prim.get_volume()) ** (1 / 3)

    def volume(sub: str | None) -> float:
        atoms = bulk("Al", "fcc", a=a, cubic=True).repeat(2)
        if sub == "Vac":
            del atoms[0]
        elif sub:
            atoms[0].symbol = sub
        atoms.calc = EMT()
        FIRE(FrechetCellFilter(atoms, hydrostatic_strain=True), logfile=None).run(fmax=1e-5, steps=5000)
        return atoms.get_volume()

    return volume(solute) - volume(None)


def test_signs_against_independent_calculation(reference, emt_model, emt_engine, store):
    model = replace(emt_model, elements=frozenset({"Al", "Cu"}))
    out = run_tasks(model, [MisfitVolumeTask(SMALL)], "standard", reference, store, emt_engine)
    m = {mt.key: mt for mt in out.metrics}
    assert not out.failures
    for solute in ("Cu", "Vac"):
        relaxed = m[f"misfit_volume/Al:{solute}/relaxed_cell"]
        pressure_based = m[f"misfit_volume/Al:{solute}/pressure"]
        assert relaxed.status == pressure_based.status == "ok"
        expected = hand_relaxed_misfit(solute)
        assert abs(expected) > 0.5  # Å^3: a real effect
        assert relaxed.value == pytest.approx(expected, abs=0.05)
        # linear elasticity: the pressure at fixed volume predicts the same relaxation
        assert np.sign(pressure_based.value) == np.sign(expected)
        assert pressure_based.value == pytest.approx(expected, rel=0.25)
    assert m["misfit_volume/Cu:Al/relaxed_cell"].value > 0  # the bigger Al atom expands Cu
