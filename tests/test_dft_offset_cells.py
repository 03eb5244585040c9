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


def test_annni_is_exact_for_a_pair_potential_reaching_the_third_layer_and_table_applies_it(tmp_path):
    """A Lennard-Jones pair potential cut between the third (7.0 Å) and fourth (9.3 Å) layer: ANNNI
    is exact there, with J2 and J3 non-zero (unlike EMT, whose ΔE_dhcp is ΔE_hcp / 2), and
    ``table`` turns the three stackings' rows into that fault energy."""
    import json

    from ase.calculators.lj import LennardJones

    lj = dict(sigma=2.55, epsilon=0.1, rc=8.5, smooth=False)
    rows, e = [], {}
    for name, shifts in offsets.STACKINGS.items():
        atoms = offsets.stacking_cell(shifts)
        atoms.calc = LennardJones(**lj)
        e[name] = atoms.get_potential_energy() / len(atoms)
        rows.append({"point": f"st:80:{name}", "energy_eV": e[name] * len(atoms), "natoms": len(atoms),
                     "area_A2": atoms.cell.area(2), "kpts": [1, 1, 1], "settings_digest": "x", "wall_s": 0})
    path = tmp_path / "st.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows) + '{"point": "st:80:fc')  # a cut-off last line
    perfect, faulted = (tilted_cell("Al", offsets.A_GPAW, 12, x) for x in (0.0, 1.0))
    for a in (perfect, faulted):
        a.calc = LennardJones(**lj)
    tilted = fault_energy(faulted.get_potential_energy(), perfect.get_potential_energy(), perfect.cell.area(2))
    assert abs(e["dhcp"] - e["fcc"] - (e["hcp"] - e["fcc"]) / 2) > 1e-5  # J2, J3 matter
    assert offsets.table([str(path)])["annni"]["80"]["ISF_mJ_m2"] == pytest.approx(tilted, abs=0.05)


def test_a_failed_point_is_tried_again_and_a_good_row_wins(tmp_path):
    path = tmp_path / "p.jsonl"
    path.write_text('{"point": "el:45:1", "energy_eV": -3.7}\n{"point": "el:45:1", "error": "killed"}\n'
                    '{"point": "el:45:-1", "error": "BrokenProcessPool"}\n')
    done = offsets.done_points(str(path))
    assert "error" not in done["el:45:1"] and "error" in done["el:45:-1"]


def test_stackings_sample_equivalent_k_points_along_the_normal():
    for density in (18, 45, 60, 80):
        meshes = {n: offsets.stacking_mesh(s, density) for n, s in offsets.STACKINGS.items()}
        assert len({m[:2] for m in meshes.values()}) == 1
        assert len({m[2] * len(offsets.STACKINGS[n]) for n, m in meshes.items()}) == 1


def test_binding_cells_hold_their_solutes_on_first_neighbour_sites():
    pair = offsets._cell("bd", 18, "CuCu1")[0]
    cu = np.flatnonzero(pair.symbols == "Cu")
    assert len(pair) == 32 and len(cu) == 2
    assert pair.get_distance(*cu, mic=True) == pytest.approx(offsets.A_GPAW / np.sqrt(2))
    mgvac = offsets._cell("bd", 18, "MgVac1")[0]
    mg = int(np.flatnonzero(mgvac.symbols == "Mg")[0])
    neighbours = (mgvac.get_distances(mg, range(len(mgvac)), mic=True) < 0.8 * offsets.A_GPAW).sum() - 1
    assert len(mgvac) == 31 and neighbours == 11  # the vacancy is one of Mg's 12 neighbour sites
