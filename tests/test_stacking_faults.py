"""Stacking faults: tilted cell against an explicit faulted stack, units, the
GSF curve and the task through the runner."""

from __future__ import annotations

import math
from dataclasses import replace

import numpy as np
import pytest
from ase import Atoms
from ase.build import bulk
from ase.calculators.emt import EMT
from ase.constraints import FixCartesian
from ase.filters import FrechetCellFilter
from ase.optimize import BFGS

from alloybench.engine.serial import run_job
from alloybench.jobs import Job, Structure
from alloybench.runner import run_tasks
from alloybench.tasks import stacking_faults
from alloybench.tasks.stacking_faults import (
    FAULT_RELAX,
    StackingFaultTask,
    fault_energy,
    tilted_cell,
    unstable_maximum,
)




def relaxed_fcc(element: str):
    atoms = bulk(element, "fcc", a={"Al": 4.05, "Cu": 3.61}[element])
    atoms.calc = EMT()
    BFGS(FrechetCellFilter(atoms), logfile=None).run(fmax=1e-6, steps=500)
    return atoms.get_potential_energy() / len(atoms), (4 * atoms.get_volume()) ** (1 / 3)


def explicit_stack(element: str, a: float, letters: str) -> Atoms:
    """(111) layers in the given A/B/C order under a vertical (untilted) third vector."""
    s = a / math.sqrt(2)
    a1, a2 = np.array([s, 0, 0]), np.array([s / 2, s * math.sqrt(3) / 2, 0])
    shift = {"A": 0, "B": 1, "C": 2}
    d = a / math.sqrt(3)
    pos = [shift[ch] * (a1 + a2) / 3 + [0, 0, k * d] for k, ch in enumerate(letters)]
    return Atoms([element] * len(letters), positions=pos, cell=[a1, a2, [0, 0, len(letters) * d]], pbc=True)


def relax_normal(atoms: Atoms) -> float:
    """Relax atoms along z and the cell height only; return the energy (eV)."""
    atoms.calc = EMT()
    atoms.set_constraint(FixCartesian(range(len(atoms)), mask=(True, True, False)))
    BFGS(FrechetCellFilter(atoms, mask=[0, 0, 1, 0, 0, 0]), logfile=None).run(fmax=1e-5, steps=1000)
    return atoms.get_potential_energy()


# 14 layers (2 mod 3): periodic ABC stacking with exactly one intrinsic fault (A followed by C)
ONE_FAULT = "ABCABCA" + "CABCABC"


@pytest.mark.parametrize("element", ["Al", "Cu"])
def test_tilted_cell_equals_explicit_faulted_stack(element):
    e_atom, a = relaxed_fcc(element)
    explicit = explicit_stack(element, a, ONE_FAULT)
    e_fault = relax_normal(explicit)
    area_m2 = np.linalg.norm(np.cross(explicit.cell[0], explicit.cell[1])) * 1e-20
    explicit_isf = (e_fault - len(explicit) * e_atom) * 1.602176634e-19 / area_m2 * 1e3  # mJ/m^2

    # the tilted cell through the engine, as the task runs it
    results = {}
    for x in (0.0, 1.0):
        job = Job("stacking_faults", f"x{x}", Structure.from_atoms(tilted_cell(element, a, 12, x)), FAULT_RELAX)
        results[x] = run_job(job, EMT())
        assert results[x].ok
    area = np.linalg.norm(np.cross(*results[1.0].atoms.cell[:2]))
    tilted_isf = fault_energy(results[1.0].energy, results[0.0].energy, area)
    assert tilted_isf == pytest.approx(explicit_isf, rel=0.02, abs=0.05)
    # the untilted reference cell is bulk: E(0) = N E_bulk
    assert results[0.0].energy == pytest.approx(12 * e_atom, abs=1e-5)
    # EMT prefers hcp stacking for both metals: a small negative intrinsic SFE (not a sign error,
    # see the explicit stack and the unstable fault below)
    assert -20 < explicit_isf < 0


def test_unstable_fault_is_positive_and_a_maximum():
    e_atom, a = relaxed_fcc("Cu")
    gam = {}
    e0 = None
    for x in (0.0, 0.4, 0.5, 0.6, 0.9, 1.0):
        r = run_job(Job("sf", str(x), Structure.from_atoms(tilted_cell("Cu", a, 9, x)), FAULT_RELAX), EMT())
        e0 = r.energy if x == 0.0 else e0
        gam[x] = fault_energy(r.energy, e0, np.linalg.norm(np.cross(*r.atoms.cell[:2])))
    assert 100 < gam[0.5] < 250  # EMT Cu unstable SFE is about 156 mJ/m^2
    assert gam[0.5] > gam[0.4] and gam[0.5] > gam[0.6] * 0.98
    assert gam[0.9] > gam[1.0]  # the intrinsic fault is a minimum


def test_tilted_cell_geometry():
    a = 4.0
    perfect = tilted_cell("Al", a, 6, 0.0)
    fcc = bulk("Al", "fcc", a=a)
    assert perfect.get_volume() / len(perfect) == pytest.approx(fcc.get_volume())
    d = perfect.get_all_distances(mic=True)
    assert np.sort(d[0])[1] == pytest.approx(a / math.sqrt(2))
    # the tilt is one Shockley partial, a/sqrt(6), in the fault plane
    tilt = tilted_cell("Al", a, 6, 1.0).cell[2] - perfect.cell[2]
    assert np.linalg.norm(tilt) == pytest.approx(a / math.sqrt(6)) and tilt[2] == 0.0
    with pytest.raises(ValueError):
        tilted_cell("Al", a, 7, 0.0)


def test_unstable_maximum_parabola():
    xs = [i / 20 for i in range(21)]
    ys = [100 * math.sin(math.pi * (x - 0.013)) ** 2 for x in xs]
    x_max, y_max = unstable_maximum(xs, ys)
    assert y_max == pytest.approx(100, rel=2e-3) and x_max == pytest.approx(0.513, abs=5e-3)
    assert max(ys) < y_max


def _metrics(outcome):
    return {(m.item, m.name): m for m in outcome.metrics}


@pytest.fixture
def short_protocol(monkeypatch):
    """Heights 6 and 9 and a 5-point curve: the same code path in a few seconds."""
    monkeypatch.setattr(stacking_faults, "HEIGHTS", (6, 9, 12))
    monkeypatch.setattr(stacking_faults, "N_STEPS", 4)


def test_task_through_runner(emt_model, emt_engine, store, reference, short_protocol):
    model = replace(emt_model, elements=frozenset({"Al"}))  # Cu: not applicable
    outcome = run_tasks(model, [StackingFaultTask()], "standard", reference, store, emt_engine)
    assert not outcome.failures
    m = _metrics(outcome)
    for phase in ("Al", "Cu"):
        pid = reference.phases[phase].id
        for name in ("StableSF", "UnStableSF"):
            metric = m[(phase, name)]
            assert metric.source.endswith(f"{pid}-{name}")
            assert metric.reference == pytest.approx(float(reference.value(f"{pid}-{name}").value))
            assert metric.group == "stacking_fault" and metric.unit == "mJ/m^2"
            assert metric.status == ("ok" if phase == "Al" else "not_applicable")
        curve = [x for x in outcome.metrics if x.series == f"gsf_{phase}"]
        assert [c.x for c in curve] == [0.0, 0.25, 0.5, 0.75, 1.0]
        assert all(c.reference is None and c.group == "stacking_fault" for c in curve)
    al_curve = [c.value for c in outcome.metrics if c.series == "gsf_Al"]
    assert al_curve[0] == pytest.approx(0.0, abs=1e-6)
    assert m[("Al", "StableSF")].value == pytest.approx(al_curve[-1])
    assert m[("Al", "UnStableSF")].value >= max(al_curve) > 50
    # EMT converges at once: probes at heights 6 and 9, the curve at 9, nothing at 12
    assert outcome.computed == 1 + 6 + 2  # bulk relax, 3 probes x 2 heights, 2 more curve points


def test_sign_and_units_against_explicit_stack(emt_model, emt_engine, store, reference, short_protocol):
    model = replace(emt_model, elements=frozenset({"Cu"}))
    outcome = run_tasks(model, [StackingFaultTask()], "standard", reference, store, emt_engine)
    task_isf = _metrics(outcome)[("Cu", "StableSF")].value
    e_atom, a = relaxed_fcc("Cu")
    explicit = explicit_stack("Cu", a, ONE_FAULT)
    e_fault = relax_normal(explicit)
    area_m2 = np.linalg.norm(np.cross(explicit.cell[0], explicit.cell[1])) * 1e-20
    direct = (e_fault - len(explicit) * e_atom) * 1.602176634e-19 / area_m2 * 1e3
    assert task_isf == pytest.approx(direct, rel=0.02, abs=0.05)


@pytest.mark.slow
def test_full_protocol_through_runner(emt_model, emt_engine, store, reference):
    outcome = run_tasks(emt_model, [StackingFaultTask()], "standard", reference, store, emt_engine)
    assert not outcome.failures
    m = _metrics(outcome)
    for phase in ("Al", "Cu"):
        curve = [c for c in outcome.metrics if c.series == f"gsf_{phase}"]
        assert len(curve) == stacking_faults.N_STEPS + 1
        assert m[(phase, "UnStableSF")].value > 50 and m[(phase, "StableSF")].status == "ok"


def test_quick_tier_runs_probes_only_and_skips_hcp_surfaces(reference, emt_model, emt_engine, store):
    from dataclasses import replace as _replace

    from alloybench.runner import run_tasks as _run
    from alloybench.tasks.surfaces import SurfaceTask

    # claims Mg only to show that the quick tier itself leaves the hcp facets out (no Mg Job is built)
    model = _replace(emt_model, elements=frozenset({"Al", "Mg"}))
    out = _run(model, [StackingFaultTask(), SurfaceTask()], "quick", reference, store, emt_engine)
    sf = [m for m in out.metrics if m.task == "stacking_faults" and m.item == "Al"]
    curve = [m for m in sf if m.series]
    assert [m.x for m in curve] == [0.0, 0.5, 1.0]
    usf = next(m for m in sf if m.name == "UnStableSF")
    assert usf.status == "ok" and usf.value >= max(m.value for m in curve) - 1e-9
    hcp = [m for m in out.metrics if m.task == "surfaces" and m.item.startswith("Mg")]
    assert hcp and all(m.status == "not_applicable" and "standard tier" in m.reason for m in hcp)
