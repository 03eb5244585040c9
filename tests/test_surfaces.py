"""Surface energies: slab geometry, thickness convergence, EMT values against an
independent calculation, and the task through the runner."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
from ase.build import bulk, fcc111
from ase.calculators.emt import EMT
from ase.filters import FrechetCellFilter
from ase.optimize import BFGS

from alloybench.runner import run_tasks
from alloybench.tasks import surfaces
from alloybench.tasks.bulk import fcc_lattice_constant
from alloybench.tasks.surfaces import (
    FACETS,
    HCP_FACETS,
    SurfaceTask,
    centrosymmetric,
    fcc_slab,
    hcp_lattice_constants,
    hcp_slab,
    ladder,
    slab_for,
    surface_area,
    surface_energy,
)




def relaxed_bulk(element: str, structure: str, **kw):
    atoms = bulk(element, structure, **kw)
    atoms.calc = EMT()
    BFGS(FrechetCellFilter(atoms), logfile=None).run(fmax=1e-6, steps=500)
    return atoms


def emt_gamma(slab, e_bulk: float) -> float:
    slab.calc = EMT()
    BFGS(slab, logfile=None).run(fmax=1e-4, steps=1000)
    return surface_energy(slab.get_potential_energy(), len(slab), e_bulk, surface_area(slab))


def test_every_slab_is_centrosymmetric_with_vacuum(reference):
    for facet in FACETS:
        atoms = reference.phases[facet.phase].structure.to_structure().to_atoms()
        for n in ladder(facet, reference)[:2]:
            slab = slab_for(facet, atoms, n)
            assert centrosymmetric(slab), facet.item
            z = slab.positions[:, 2]
            assert slab.cell[2, 2] - (z.max() - z.min()) >= 12.0, facet.item
            assert np.allclose(slab.cell[:2, 2], 0.0) and np.allclose(slab.cell[2, :2], 0.0)
    asym = slab_for(FACETS[0], reference.phases["Al"].structure.to_structure().to_atoms(), 6)
    del asym[int(np.argmax(asym.positions[:, 2]))]
    asym.positions[0, 0] += 0.3
    assert not centrosymmetric(asym)


def test_layer_counts_give_at_least_12_angstrom(reference):
    for facet in FACETS:
        counts = ladder(facet, reference)
        assert counts == sorted(set(counts)) and len(counts) >= 3
        atoms = reference.phases[facet.phase].structure.to_structure().to_atoms()
        slab = slab_for(facet, atoms, counts[0])
        thickness = len(slab) * atoms.get_volume() / len(atoms) / surface_area(slab)
        assert thickness >= 12.0 - 1e-6, facet.item


def test_emt_al_converges_with_thickness_and_facets_are_ordered():
    al = relaxed_bulk("Al", "fcc", a=4.0)
    e_bulk, a = al.get_potential_energy(), fcc_lattice_constant(al)
    gammas = {}
    for label in ("111", "100", "110"):
        g = [emt_gamma(fcc_slab("Al", a, label, n), e_bulk) for n in (2, 3, 4, 6, 8)]
        steps = np.abs(np.diff(g))
        assert np.all(steps[1:] <= steps[:-1] + 1e-3), (label, g)
        assert steps[-1] < 1e-3 * g[-1]
        gammas[label] = g[-1]
    # EMT Al: close-packed (111) lowest, open (110) highest
    assert gammas["111"] < gammas["100"] < gammas["110"]


def test_hcp_slabs_with_emt_are_positive_and_converge():
    """The hcp builder with a real (EMT) potential on hcp Cu: every facet converges in motif copies."""
    cu = relaxed_bulk("Cu", "hcp", a=2.54, covera=1.63)
    a, c = hcp_lattice_constants(cu)
    e_bulk = cu.get_potential_energy() / len(cu)
    for label in HCP_FACETS:
        g = [emt_gamma(hcp_slab("Cu", a, c, label, n), e_bulk) for n in (5, 7)]
        assert 500 < g[-1] < 2500, (label, g)
        assert abs(g[1] - g[0]) < 0.01 * g[1], (label, g)


def _metrics(outcome):
    return {(m.item, m.name): m for m in outcome.metrics}


def test_task_through_runner(emt_model, emt_engine, store, reference):
    outcome = run_tasks(emt_model, [SurfaceTask()], "standard", reference, store, emt_engine)
    assert not outcome.failures
    metrics = _metrics(outcome)
    sources = {m.source for m in outcome.metrics}
    for facet in FACETS:
        key = facet.ref_key(reference)
        assert reference.value(key) is not None
        assert any(s.endswith(key) for s in sources), key
        m = metrics[(facet.item, "surface_energy")]
        assert m.group == "surface_energy" and m.unit == "mJ/m^2"
        assert m.reference == pytest.approx(float(reference.value(key).value))
        if facet.phase in ("Mg", "Zn"):
            assert m.status == "not_applicable" and m.value is None
        else:
            assert m.status == "ok" and m.reason == ""
            unrelaxed = metrics[(facet.item, "surface_energy_unrelaxed")]
            assert unrelaxed.reference is None
            assert m.value <= unrelaxed.value + 1e-6  # relaxation only lowers the energy
    al = {lab: metrics[(f"Al({lab})", "surface_energy")].value for lab in ("111", "100", "110")}
    assert al["111"] < al["100"] < al["110"]
    # resumable: a second run computes nothing
    again = run_tasks(emt_model, [SurfaceTask()], "standard", reference, store, emt_engine)
    assert again.computed == 0


def test_value_matches_an_independent_direct_calculation(emt_model, emt_engine, store, reference):
    """Sign and unit check: a 2x2 Al(111) slab built and relaxed here, converted with SI constants."""
    model = replace(emt_model, elements=frozenset({"Al"}))
    outcome = run_tasks(model, [SurfaceTask()], "standard", reference, store, emt_engine)
    task_value = _metrics(outcome)[("Al(111)", "surface_energy")].value

    al = relaxed_bulk("Al", "fcc", a=4.05)
    e_atom = al.get_potential_energy() / len(al)
    slab = fcc111("Al", size=(2, 2, 9), a=(4 * al.get_volume()) ** (1 / 3), vacuum=10.0)
    slab.pbc = True
    slab.calc = EMT()
    BFGS(slab, logfile=None).run(fmax=1e-4)
    excess_ev = slab.get_potential_energy() - len(slab) * e_atom
    area_m2 = np.linalg.norm(np.cross(slab.cell[0], slab.cell[1])) * 1e-20
    direct_mj_m2 = excess_ev * 1.602176634e-19 / (2 * area_m2) * 1e3
    assert 500 < direct_mj_m2 < 1000  # EMT Al(111): about 0.7 J/m^2, positive
    assert task_value == pytest.approx(direct_mj_m2, rel=2e-3)


def test_unconverged_ladder_adds_rungs_and_says_so(emt_model, emt_engine, store, reference, monkeypatch):
    monkeypatch.setattr(surfaces, "CONVERGED_REL", 0.0)
    monkeypatch.setattr(surfaces, "CONVERGED_ABS", 0.0)
    model = replace(emt_model, elements=frozenset({"Cu"}))
    outcome = run_tasks(model, [SurfaceTask()], "standard", reference, store, emt_engine)
    m = _metrics(outcome)[("Cu(110)", "surface_energy")]
    assert m.status == "ok" and "not converged" in m.reason
    facet = next(f for f in FACETS if f.item == "Cu(110)")
    assert str(ladder(facet, reference)[-1]) in m.reason
