"""Bulk relaxation and elastic constants of EMT Al against independent calculations."""

from __future__ import annotations

import numpy as np
import pytest
from ase.build import bulk
from ase.calculators.emt import EMT
from ase.eos import EquationOfState

from alloybench.runner import run_tasks
from alloybench.tasks.bulk import BulkTask, reduced_cellpar
from alloybench.tasks.elastic import ElasticTask, moduli, strained, voigt_strain_matrix

from dataclasses import replace


@pytest.fixture
def al_only(emt_model):
    return replace(emt_model, elements=frozenset({"Al"}))


def _metrics(outcome):
    return {(m.task, m.item, m.name): m for m in outcome.metrics}


def independent_emt_al_lattice() -> float:
    """Minimum of a Birch-Murnaghan fit to E(V) of the conventional cell."""
    volumes, energies = [], []
    for a in np.linspace(3.95, 4.10, 13):
        atoms = bulk("Al", "fcc", a=a, cubic=True)
        atoms.calc = EMT()
        volumes.append(atoms.get_volume())
        energies.append(atoms.get_potential_energy())
    eos = EquationOfState(volumes, energies, eos="birchmurnaghan")
    v0, _, _ = eos.fit()
    return v0 ** (1 / 3)


def independent_cubic_constants(a: float) -> tuple[float, float, float]:
    """C11, C12, C44 (GPa) from the curvature of E(strain) at fixed, unrelaxed ions
    (fcc: every atom is an inversion centre, so ions do not relax under homogeneous strain)."""
    base = bulk("Al", "fcc", a=a, cubic=True)
    v0 = base.get_volume()
    deltas = np.linspace(-0.01, 0.01, 9)

    def curvature(strain_fn) -> float:
        es = []
        for d in deltas:
            atoms = base.copy()
            atoms.set_cell(base.cell.array @ (np.eye(3) + strain_fn(d)), scale_atoms=True)
            atoms.calc = EMT()
            es.append(atoms.get_potential_energy())
        return np.polyfit(deltas, es, 4)[2] * 2 / v0 / 1e-0  # d2E/dd2 / V in eV/Å^3

    to_gpa = 160.21766208
    c11 = curvature(lambda d: voigt_strain_matrix(0, d)) * to_gpa            # E/V = C11 d^2 / 2
    c11_minus_c12 = curvature(lambda d: np.diag([d, -d, 0.0])) * to_gpa / 2  # E/V = (C11 - C12) d^2
    c44 = curvature(lambda d: voigt_strain_matrix(5, d)) * to_gpa            # E/V = C44 g^2 / 2
    return c11, c11 - c11_minus_c12, c44


def test_emt_al_lattice_and_elastic_constants(reference, al_only, emt_engine, store):
    outcome = run_tasks(al_only, [BulkTask(), ElasticTask()], "quick", reference, store, emt_engine)
    m = _metrics(outcome)
    a_fit = independent_emt_al_lattice()
    # primitive fcc cell edge = a / sqrt(2)
    a_relaxed = m[("bulk", "Al", "lattice_a")].value * np.sqrt(2)
    assert abs(a_relaxed - a_fit) < 1e-3
    assert m[("bulk", "Al", "volume_per_atom")].value == pytest.approx(a_fit**3 / 4, rel=1e-3)

    c = {k: m[("elastic", "Al", k)].value for k in ("C_11", "C_22", "C_33", "C_44", "C_55", "C_66", "C_21", "C_31", "C_32")}
    c11, c12, c44 = independent_cubic_constants(a_relaxed)
    assert c["C_11"] == pytest.approx(c11, rel=0.01)
    assert c["C_21"] == pytest.approx(c12, rel=0.01)
    assert c["C_44"] == pytest.approx(c44, rel=0.01)
    # cubic symmetry
    assert c["C_11"] == pytest.approx(c["C_22"], abs=0.1) and c["C_11"] == pytest.approx(c["C_33"], abs=0.1)
    assert c["C_44"] == pytest.approx(c["C_55"], abs=0.1) and c["C_44"] == pytest.approx(c["C_66"], abs=0.1)
    assert c["C_21"] == pytest.approx(c["C_31"], abs=0.1) and c["C_21"] == pytest.approx(c["C_32"], abs=0.1)
    for i in range(4, 7):
        for j in range(1, i):
            assert abs(m[("elastic", "Al", f"C_{i}{j}")].value) < 0.5
    # K_V of a cubic crystal is (C11 + 2 C12) / 3 and Voigt >= Hill >= Reuss
    assert m[("elastic", "Al", "K_V")].value == pytest.approx((c11 + 2 * c12) / 3, rel=0.01)
    g = [m[("elastic", "Al", k)].value for k in ("G_V", "G_H", "G_R")]
    assert g[0] >= g[1] >= g[2]


def test_moduli_of_isotropic_tensor():
    lam, mu = 50.0, 30.0
    c = np.zeros((6, 6))
    c[:3, :3] = lam
    c[np.arange(3), np.arange(3)] = lam + 2 * mu
    c[np.arange(3, 6), np.arange(3, 6)] = mu
    m = moduli(c)
    for k in ("K_V", "K_R", "K_H"):
        assert m[k] == pytest.approx(lam + 2 * mu / 3)
    for k in ("G_V", "G_R", "G_H"):
        assert m[k] == pytest.approx(mu)


def test_shear_strain_is_engineering():
    atoms = bulk("Al", "fcc", a=4.05, cubic=True)
    s = strained(atoms, 5, 0.01)
    # engineering shear 0.01 -> tensor component 0.005 on both off-diagonals
    assert np.allclose(s.cell.array, atoms.cell.array @ np.array([[1, 0.005, 0], [0.005, 1, 0], [0, 0, 1]]))


def test_reduced_cellpar_of_hcp_folds_angle():
    par = reduced_cellpar(bulk("Mg", "hcp", a=3.2, c=5.2))
    assert par[:3] == pytest.approx([3.2, 3.2, 5.2])
    assert par[3:] == pytest.approx([90, 90, 60])


def test_formation_energy_and_not_applicable_with_emt(reference, emt_model, emt_engine, store):
    outcome = run_tasks(emt_model, [BulkTask()], "quick", reference, store, emt_engine)
    m = _metrics(outcome)
    # EMT lacks Mg and Zn: those items are not applicable, never failed
    assert m[("bulk", "Mg", "volume_per_atom")].status == "not_applicable"
    assert m[("bulk", "S", "formation_energy")].status == "not_applicable"
    # theta' formation energy from the model's own elemental phases
    th = m[("bulk", "theta_prime", "formation_energy")]
    assert th.status == "ok"
    from alloybench.tasks.bulk import relax_job
    r = store.get(emt_model.id, relax_job(reference, "theta_prime"))
    al = store.get(emt_model.id, relax_job(reference, "Al"))
    cu = store.get(emt_model.id, relax_job(reference, "Cu"))
    expected = (r.energy - 2 * al.energy - cu.energy) / 3
    assert th.value == pytest.approx(expected, abs=1e-9)
    assert not outcome.failures


def test_rotation_of_tetragonal_tensor_by_45_degrees():
    from alloybench.tasks.elastic import REFERENCE_FRAMES, rotate_stiffness

    c = np.zeros((6, 6))
    c11, c12, c13, c33, c44, c66 = 160.0, 70.0, 50.0, 180.0, 45.0, 42.0
    c[0, 0] = c[1, 1] = c11
    c[0, 1] = c[1, 0] = c12
    c[0, 2] = c[2, 0] = c[1, 2] = c[2, 1] = c13
    c[2, 2] = c33
    c[3, 3] = c[4, 4] = c44
    c[5, 5] = c66
    r = rotate_stiffness(c, REFERENCE_FRAMES["theta_dprime"])
    # textbook 45-degree relations for a tetragonal crystal
    assert r[0, 0] == pytest.approx((c11 + c12) / 2 + c66)
    assert r[0, 1] == pytest.approx((c11 + c12) / 2 - c66)
    assert r[5, 5] == pytest.approx((c11 - c12) / 2)
    assert r[2, 2] == pytest.approx(c33) and r[3, 3] == pytest.approx(c44) and r[0, 2] == pytest.approx(c13)
    assert np.allclose(rotate_stiffness(r, REFERENCE_FRAMES["theta_dprime"].T), c)


def test_moduli_and_rotation_agree_with_pymatgens_elastic_tensor():
    """The Voigt/Reuss/Hill moduli and the tensor rotation are ten lines here rather than a pymatgen
    dependency of the core package (docs/protocols.md); pymatgen, installed with the chgnet extra,
    checks them on a random triclinic tensor."""
    pytest.importorskip("pymatgen.analysis.elasticity")
    from pymatgen.analysis.elasticity import ElasticTensor

    from alloybench.tasks.elastic import REFERENCE_FRAMES, rotate_stiffness

    a = np.random.default_rng(0).normal(size=(6, 6))
    c = 30 * a @ a.T + 50 * np.eye(6)  # symmetric positive definite, no symmetry
    t = ElasticTensor.from_voigt(c)
    m = moduli(c)
    theirs = {"K_V": t.k_voigt, "G_V": t.g_voigt, "K_R": t.k_reuss, "G_R": t.g_reuss, "K_H": t.k_vrh, "G_H": t.g_vrh}
    assert m == pytest.approx(theirs, rel=1e-12)
    rot = REFERENCE_FRAMES["theta_dprime"]
    assert np.allclose(rotate_stiffness(c, rot), t.rotate(rot).voigt, rtol=0, atol=1e-10)
