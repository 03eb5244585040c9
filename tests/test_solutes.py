"""Solute binding, triplets and clusters: reference coverage, geometry, signs (EMT)."""

from __future__ import annotations

import itertools
import re
from dataclasses import replace

import numpy as np
import pytest
from ase.build import bulk
from ase.calculators.emt import EMT
from ase.filters import FrechetCellFilter
from ase.optimize import FIRE

from alloybench.engine.serial import run_job
from alloybench.jobs import Result, Structure
from alloybench.runner import run_tasks
from alloybench.tasks.base import Context
from alloybench.tasks.solutes import (
    QUAD_SITES,
    SOLUTE_RELAX,
    TRIPLET_SITES,
    SoluteBindingTask,
    SoluteSettings,
    cell_job,
    decorate,
    pair_items,
    shell_sites,
    site_distance,
)

FAMILY = re.compile(r"-(SolSol_|Triplet_|ClusterE_)")
SMALL = SoluteSettings(repeats=(("Al", 3), ("Cu", 3)), max_shells=1, clusters=False)


def sourced_keys(metrics) -> set[str]:
    keys = set()
    for m in metrics:
        for part in m.source.split("; "):
            keys.add(re.sub(r"\[\d+\]$", "", part.split(":", 1)[1]))
    return keys


def fake_bulk_results() -> dict[str, Result]:
    return {f"relax/{el}": Result(ok=True, energy=0.0, structure=Structure.from_atoms(bulk(el, "fcc", a=a)))
            for el, a in (("Al", 4.05), ("Cu", 3.6))}


def test_every_reference_key_is_a_metric_source(reference):
    keys = {k for k in reference.values if FAMILY.search(k)}
    assert len([k for k in keys if "SolSol" in k]) == 32 and any("ClusterE" in k for k in keys)
    metrics = SoluteBindingTask().analyse(Context(reference, "standard", None), {})
    assert keys <= sourced_keys(metrics)
    shells = sum(len(reference.value(p.key + "_BindingEnergy").value) for p in pair_items(reference))
    assert len([m for m in metrics if m.group == "binding_energy"]) == shells == 17 + 12 + 11 * 8 + 3 * 4
    assert all(m.unit == "meV" for m in metrics if m.group == "binding_energy")
    assert all(m.unit == "eV" for m in metrics if m.group == "cluster_energy")
    assert len({m.key for m in metrics}) == len(metrics)


def test_emt_lacks_mg_zn_si(reference, emt_model):
    ctx = Context(reference, "standard", emt_model.elements)
    task = SoluteBindingTask()
    for m in task.analyse(ctx, {}):
        lacks = bool(set(re.findall(r"Mg|Zn|Si", m.item)))
        assert (m.status == "not_applicable") == lacks, m
    jobs = task.build(ctx, fake_bulk_results())
    assert jobs and not any(set(j.structure.symbols) & {"Mg", "Zn", "Si"} for j in jobs)
    # every configuration is its own Job at the fixed host cell; only the pure cells are single points
    cells = [j for j in jobs if j.task == task.name]
    assert all(j.relax is None or j.relax.cell_mask is None for j in cells)
    assert len(cells) == len({j.digest for j in cells})
    assert len(cells) == (17 + 12 + 8 + 5 + 2 + 1) + (4 * 3 + 2 + 1)  # Al pairs, clusters, singles, pure; Cu


def test_shell_sites_reproduce_reference_distances(reference):
    for p in pair_items(reference):
        d = reference.value(p.key + "_Distances").value
        a = d[1]  # second shell = a
        sites = shell_sites({"Al": 4, "Cu": 3}[p.phase])
        assert [site_distance(s, a) for s in sites[: len(d)]] == pytest.approx(d, abs=1e-6)


@pytest.mark.parametrize("label", [*TRIPLET_SITES, *QUAD_SITES])
def test_cluster_geometry_matches_label(label):
    sites = np.array({**TRIPLET_SITES, **QUAD_SITES}[label])
    shell_of = {2: "1", 4: "2"}  # |(h,k,l)|^2 in (a/2)^2 -> neighbour shell
    pairs = list(itertools.combinations(range(len(sites)), 2))
    digits = sorted(shell_of[int(np.sum((sites[i] - sites[j]) ** 2))] for i, j in pairs)
    assert "".join(digits) == label
    if label == "112":  # A-B and B-C nearest neighbours, A-C second: B is the corner
        assert np.sum((sites[0] - sites[2]) ** 2) == 4


def test_symmetry_equivalent_pairs_have_equal_energies():
    a, n = 4.032, 3
    energies = []
    for site in [(1, 1, 0), (0, -1, 1), (-1, 0, -1)]:  # nearest neighbours along different <110>
        atoms = decorate("Al", a, n, [((0, 0, 0), "Cu"), (site, "Cu")])
        r = run_job(cell_job("t", "p", atoms, SOLUTE_RELAX), EMT())
        assert r.ok
        energies.append(r.energy)
    assert np.ptp(energies) < 1e-4  # eV: the relaxation tolerance, 0.1 meV


def hand_binding_energy_cu_cu_nn() -> float:
    """E_b(Cu-Cu, 1st shell) in 3x3x3 EMT Al, meV, from independent ASE calculations."""
    prim = bulk("Al", "fcc", a=4.05)
    prim.calc = EMT()
    FIRE(FrechetCellFilter(prim), logfile=None).run(fmax=1e-5, steps=2000)
    a = (4 * prim.get_volume()) ** (1 / 3)

    def energy(subs: list[np.ndarray], relax: bool) -> float:
        atoms = bulk("Al", "fcc", a=a, cubic=True).repeat(3)
        for s in subs:
            atoms[int(np.argmin(np.linalg.norm(atoms.positions - s, axis=1)))].symbol = "Cu"
        atoms.calc = EMT()
        if relax:
            FIRE(atoms, logfile=None).run(fmax=1e-3, steps=2000)
        return atoms.get_potential_energy()

    origin, nn = np.zeros(3), np.array([0.0, a / 2, a / 2])
    e_pure = energy([], False)
    e_single = energy([origin], True)
    e_pair = energy([origin, nn], True)
    return 1000 * ((e_pair - e_pure) - 2 * (e_single - e_pure))


def test_binding_energy_sign_against_independent_calculation(reference, emt_model, emt_engine, store):
    model = replace(emt_model, elements=frozenset({"Al", "Cu"}))
    out = run_tasks(model, [SoluteBindingTask(SMALL)], "standard", reference, store, emt_engine)
    m = {mt.key: mt for mt in out.metrics}
    got = m["solute_binding/Al:Cu-Cu/shell1"]
    assert got.status == "ok" and got.x == pytest.approx(2.856711396)
    expected = hand_binding_energy_cu_cu_nn()
    assert abs(expected) > 5  # meV: a real interaction, so a sign error cannot hide
    assert got.value == pytest.approx(expected, abs=0.3)
    # outside the test settings: reported, not computed
    assert m["solute_binding/Al:Cu-Cu/shell2"].status == "not_applicable"
    assert m["solute_binding/Al:Cu,Cu,Cu_111/energy"].status == "not_applicable"
    for key in ("Cu:Al-Al", "Cu:Al-Vac", "Cu:Vac-Vac", "Al:Cu-Vac", "Al:Vac-Vac"):
        assert m[f"solute_binding/{key}/shell1"].status == "ok", key
    assert not out.failures


def test_binding_vanishes_beyond_emt_range():
    """Unrelaxed EMT pairs farther apart than twice the cutoff do not interact;
    relaxed ones only through the small elastic tail."""
    a, n = 4.032, 4
    sites = shell_sites(n)
    calc = EMT()
    single = decorate("Al", a, n, [((0, 0, 0), "Cu")])
    pure = decorate("Al", a, n, [])
    e = {}
    for name, atoms in [("pure", pure), ("single", single)] + [
            (k, decorate("Al", a, n, [((0, 0, 0), "Cu"), (sites[k], "Cu")])) for k in (0, 15, 16)]:
        atoms.calc = calc
        e[name] = atoms.get_potential_energy()
    assert site_distance(sites[15], a) > 2 * calc.rc_list
    for k in (15, 16):
        assert abs(1000 * (e[k] + e["pure"] - 2 * e["single"])) < 1e-3  # meV
    assert abs(1000 * (e[0] + e["pure"] - 2 * e["single"])) > 5


@pytest.mark.slow
def test_relaxed_binding_vanishes_far_away(reference, emt_model, emt_engine, store):
    model = replace(emt_model, elements=frozenset({"Al", "Cu"}))
    task = SoluteBindingTask(SoluteSettings(clusters=False))
    out = run_tasks(model, [task], "standard", reference, store, emt_engine)
    far = [m for m in out.metrics if m.item == "Al:Cu-Cu" and m.x > 11.75]  # > 2 x EMT cutoff list radius
    assert len(far) == 3 and all(m.status == "ok" and abs(m.value) < 1.0 for m in far)
