"""Antisite task: supercells as the reference, definitions against DFT.json energies, EMT."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pytest
from ase.calculators.emt import EMT

from alloybench.runner import run_tasks
from alloybench.tasks.antisites import (
    HOSTS, AntisiteTask, antisite_energies, conventional_cell, defect_cell, match_site, reference_items,
    supercell_repeats,
)
from alloybench.tasks.base import Context

DFT = Path(__file__).resolve().parents[2] / "shared" / "data" / "alcumgzn_pbe" / "DFT.json"


@pytest.mark.parametrize("host", list(HOSTS))
def test_cells_match_reference_items(reference, host):
    """Sizes, sites and formulas of every defect cell equal the reference's own records."""
    conv, sites = conventional_cell(reference.phases[HOSTS[host]].structure.to_structure().to_atoms())
    sc = conv.repeat(supercell_repeats(conv.cell.array, len(conv)))
    formulas = reference.value(f"{host}-AntiSite_chem_formulas").value
    num = reference.value(f"{host}-AntiSite_num_atoms")
    for item in reference_items(reference, host):
        site = match_site(item, sites)
        assert site is not None, item
        cell = defect_cell(sc, site.index, item.new)
        assert cell.get_chemical_formula("metal") == formulas[item.site][item.variant]
        if num is not None:
            assert len(cell) == int(num.value[item.site][item.variant])


def test_same_element_swap_is_zero(reference):
    conv, sites = conventional_cell(reference.phases["theta"].structure.to_structure().to_atoms())
    sc = conv.repeat(supercell_repeats(conv.cell.array, len(conv)))
    swapped = defect_cell(sc, sites[0].index, sites[0].element)
    sc.calc, swapped.calc = EMT(), EMT()
    e_host, e_def = sc.get_potential_energy(), swapped.get_potential_energy()
    mu = {"Al": -0.1, "Cu": -0.2}
    out = antisite_energies(e_def, Counter(swapped.get_chemical_symbols()), e_host,
                            Counter(sc.get_chemical_symbols()), mu, {"Cu": -0.11})
    assert out == pytest.approx({"formation": 0.0, "delta": 0.0, "partition": 0.0}, abs=1e-9)


@pytest.mark.skipif(not DFT.exists(), reason="shared DFT.json not available")
@pytest.mark.parametrize("host,n_cell", [("8100", 27), ("695020", 12)])
def test_definitions_reproduce_dft_json(reference, host, n_cell):
    """Fed the DFT total energies, the formulas give the reference's three quantities
    (fails on a wrong sign, a wrong chemical-potential convention or per-atom vs per-defect)."""
    d = json.loads(DFT.read_text())
    mu = {"Al": d["8100-raw_energies"][0] / 4, "Cu": d["635950-raw_energies"][0] / 4}
    dsol = {"Cu": d["Ediff_cusol_cubulk"][0]}
    e_host = d[f"{host}-raw_energies"][0] * n_cell
    conv, _ = conventional_cell(reference.phases[HOSTS[host]].structure.to_structure().to_atoms())
    sc = conv.repeat(supercell_repeats(conv.cell.array, len(conv)))
    energies = d[f"{host}-AntiSite_potential_energies"][0]
    for item in reference_items(reference, host):
        formula = reference.value(f"{host}-AntiSite_chem_formulas").value[item.site][item.variant]
        counts = Counter(sc.get_chemical_symbols())
        counts[item.label.rstrip("0123456789")] -= 1
        if item.new != "Vac":
            counts[item.new] += 1
        got = antisite_energies(energies[item.site][item.variant], counts, e_host,
                                Counter(sc.get_chemical_symbols()), mu, dsol)
        for kind, key, tol in (("formation", "formation_energies", 2e-3), ("delta", "deltaformation_energies", 2e-5),
                               ("partition", "partition_energies", 2e-5)):
            want = reference.value(f"{host}-AntiSite_{key}").value[item.site][item.variant]
            assert got[kind] == pytest.approx(want, abs=tol), (formula, kind)


def test_every_reference_key_is_carried(reference, emt_model):
    ctx = Context(reference=reference, tier="standard", elements=emt_model.elements)
    metrics = AntisiteTask().analyse(ctx, {})
    text = " ".join(m.source for m in metrics)
    keys = [k for k in reference.values if "Anti" in k]
    assert keys
    for k in keys:
        assert k in text, k
    not_cov = [m for m in metrics if m.item in ("TPhaseAnti", "EtaPIVAnti")]
    assert not_cov and all(m.status == "not_applicable" and "structure not available" in m.reason for m in not_cov)
    s_items = [m for m in metrics if m.item.startswith("S:")]
    assert s_items and all(m.status == "not_applicable" and "Mg" in m.reason for m in s_items)


@pytest.mark.slow
def test_full_run_emt(emt_model, emt_engine, store, reference):
    out = run_tasks(emt_model, [AntisiteTask()], "standard", reference, store, emt_engine)
    assert not out.failures
    ok = [m for m in out.metrics if m.status == "ok"]
    assert len(ok) == 3 * (2 + 2 + 4 + 4 + 6)
    m = {(x.item, x.name): x for x in out.metrics}
    # Al vacancy with EMT: standard unrelaxed vacancy energy, positive
    assert 0.5 < m[("Al:Al1(4a)->Vac", "formation_energy")].value < 1.5
