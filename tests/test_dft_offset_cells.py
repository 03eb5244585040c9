"""The cells of benchmarks/dft_planar_offsets.py (the docs/dft.md offset table): the ANNNI estimate
of the intrinsic stacking fault from the fcc/hcp/dhcp stackings equals the tilted-cell fault energy
for a potential whose interactions end before the fourth layer (EMT), and the binding cells hold
what their names say."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import pytest
from ase.calculators.emt import EMT

from alloybench.tasks.stacking_faults import fault_energy, tilted_cell
from alloybench.tasks.surfaces import EV_PER_A2_TO_MJ_PER_M2

ROOT = Path(__file__).resolve().parents[1]
spec = importlib.util.spec_from_file_location("dft_planar_offsets", ROOT / "benchmarks" / "dft_planar_offsets.py")
offsets = importlib.util.module_from_spec(spec)
spec.loader.exec_module(offsets)


def _per_atom(atoms) -> float:
    atoms.calc = EMT()
    return atoms.get_potential_energy() / len(atoms)


def test_annni_stackings_give_the_tilted_cell_intrinsic_fault_for_emt():
    e = {n: _per_atom(offsets.stacking_cell(s)) for n, s in offsets.STACKINGS.items()}
    area = offsets.stacking_cell(offsets.STACKINGS["fcc"]).cell.area(2)
    annni = (e["hcp"] - e["fcc"] + 2 * (e["dhcp"] - e["fcc"])) / area * EV_PER_A2_TO_MJ_PER_M2
    perfect, faulted = (tilted_cell("Al", offsets.A_GPAW, 12, x) for x in (0.0, 1.0))
    for a in (perfect, faulted):
        a.calc = EMT()
    tilted = fault_energy(faulted.get_potential_energy(), perfect.get_potential_energy(), area)
    assert annni == pytest.approx(tilted, abs=1e-4) and annni > 10  # 43.8 mJ/m² at a = 4.0449 Å


def test_binding_cells_hold_their_solutes_on_first_neighbour_sites():
    pair = offsets._cell("bd", 18, "CuCu1")[0]
    cu = np.flatnonzero(pair.symbols == "Cu")
    assert len(pair) == 32 and len(cu) == 2
    assert pair.get_distance(*cu, mic=True) == pytest.approx(offsets.A_GPAW / np.sqrt(2))
    assert len(offsets._cell("bd", 18, "MgVac1")[0]) == 31
