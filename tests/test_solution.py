"""Heat of solution and solute-referenced formation energies with EMT (Al, Cu)."""

from __future__ import annotations

from dataclasses import replace

import pytest
from ase.build import bulk
from ase.calculators.emt import EMT
from ase.optimize import FIRE

from alloybench.runner import run_tasks
from alloybench.tasks.bulk import BulkTask
from alloybench.tasks.solution import SolutionEnergyTask


def test_heat_of_solution_and_solformation_with_emt(reference, emt_model, emt_engine, store):
    model = replace(emt_model, elements=frozenset({"Al", "Cu"}))
    out = run_tasks(model, [BulkTask(), SolutionEnergyTask()], "standard", reference, store, emt_engine)
    m = {(x.task, x.item, x.name): x for x in out.metrics}
    assert not out.failures
    dh = m[("solution_energy", "Cu in Al", "heat_of_solution")]
    assert dh.status == "ok" and dh.reference == pytest.approx(-0.11297, abs=1e-4)
    assert m[("solution_energy", "Mg in Al", "heat_of_solution")].status == "not_applicable"
    assert m[("solution_energy", "Mg in Al", "heat_of_solution")].reference == pytest.approx(0.0963, abs=1e-3)

    # independent: relaxed bulk lattice of EMT Al and Cu, one Cu in a 4x4x4 Al cell, plain ASE
    al_lat = m[("bulk", "Al", "lattice_a")].value * 2 ** 0.5
    cu_lat = m[("bulk", "Cu", "lattice_a")].value * 2 ** 0.5
    host = bulk("Al", "fcc", a=al_lat, cubic=True).repeat(4)
    host.calc = EMT()
    e_pure = host.get_potential_energy()
    dilute = host.copy()
    dilute[0].symbol = "Cu"
    dilute.calc = EMT()
    FIRE(dilute, logfile=None).run(fmax=1e-3, steps=500)
    cu = bulk("Cu", "fcc", a=cu_lat)
    cu.calc = EMT()
    expected = dilute.get_potential_energy() - 255 / 256 * e_pure - cu.get_potential_energy()
    assert dh.value == pytest.approx(expected, abs=2e-3)

    # solute-referenced formation energy = formation energy - x_Cu * dH_Cu  (theta': Al2Cu)
    ef = m[("bulk", "theta_prime", "formation_energy")].value
    sol = m[("solution_energy", "theta_prime", "solformation_energy")]
    assert sol.value == pytest.approx(ef - dh.value / 3, abs=1e-9)
    assert sol.reference == pytest.approx(-0.14633, abs=1e-4)
