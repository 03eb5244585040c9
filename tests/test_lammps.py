"""LAMMPS models (model files with the user's pair_style/pair_coeff) on the potential files of
Debian's lammps-data.  The calculator tests need the ``lammps`` module (run them in the lammps
family env: scripts/test-family.sh lammps); the model-file tests need nothing."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import pytest
from ase.build import bulk

from alloybench import envs
from alloybench.errors import MissingExtra, UserError
from alloybench.models import load_model_file, resolve
from alloybench.models.lammps import normalise, spec_for_file

POT = Path("/usr/share/lammps/potentials")
HAVE_LAMMPS = importlib.util.find_spec("lammps") is not None
needs_files = pytest.mark.skipif(not (POT / "AlCu.eam.alloy").exists(),
                                 reason="Debian lammps-data not installed (apt-get install lammps-data)")
needs_lammps = pytest.mark.skipif(not HAVE_LAMMPS, reason="lammps module missing (scripts/test-family.sh lammps)")


def write_model(tmp_path, text: str, name: str = "model.yaml") -> Path:
    p = tmp_path / name
    p.write_text(text)
    return p


# ------------------------------------------------------------------ model files (no LAMMPS needed)
def test_model_file_paths_become_absolute_and_files_are_found(tmp_path):
    (tmp_path / "X.eam.alloy").write_text("dummy")
    opts = normalise({"pair_style": "eam/alloy", "pair_coeff": "* * X.eam.alloy Al Cu", "elements": "Al, Cu"},
                     tmp_path, "t")
    assert opts["pair_coeff"] == [f"* * {tmp_path / 'X.eam.alloy'} Al Cu"]
    assert opts["files"] == [str(tmp_path / "X.eam.alloy")] and opts["elements"] == ["Al", "Cu"]


@pytest.mark.parametrize("doc, needle", [
    ("pair_coeff: ['* *']\nelements: [Al]\nfamily: lammps\n", "needs 'pair_style'"),
    ("family: lammps\npair_style: eam\nelements: [Al]\n", "needs 'pair_coeff'"),
    ("family: lammps\npair_style: eam\npair_coeff: ['1 1 f']\n", "needs 'elements'"),
    ("family: lammps\npair_style: eam\npair_coeff: ['1 1 f']\nelements: [Xx]\n", "not a chemical element: Xx"),
    ("family: lammps\npair_style: eam\npair_coeff: ['1 1 f']\nelements: [Al]\nfiles: [nope.eam]\n", "file not found"),
    ("family: lammps\npair_styel: eam\n", "unknown key 'pair_styel'"),
    ("family: nonsense\nweights: x\n", "unknown model family 'nonsense'"),
    ("[1, 2", "bad model file"),
])
def test_bad_model_files_are_one_line_user_errors(tmp_path, doc, needle):
    with pytest.raises(UserError, match=needle.replace("(", r"\(").replace("[", r"\[")):
        load_model_file(write_model(tmp_path, doc))


@needs_files
def test_lammps_shortcut_for_eam_files_reads_the_elements():
    spec = spec_for_file(POT / "AlCu.eam.alloy")
    assert spec["pair_style"] == "eam/alloy" and spec["elements"] == ["Al", "Cu"]
    assert spec_for_file(POT / "Mg_mm.eam.fs")["pair_style"] == "eam/fs"
    assert spec_for_file(POT / "AlCu.adp")["pair_style"] == "adp"
    with pytest.raises(UserError, match="model file"):
        spec_for_file(POT / "AlSiMgCuFe.meam")


@needs_files
def test_model_key_follows_the_potential_file_not_its_path(tmp_path, monkeypatch):
    if not HAVE_LAMMPS and not envs.env_ready("lammps"):
        monkeypatch.setenv("ALLOYBENCH_ENVS", str(tmp_path / "none"))
        with pytest.raises(MissingExtra, match=r"alloybench\[lammps\].*env create lammps"):
            resolve(f"lammps:{POT / 'AlCu.eam.alloy'}")
        return
    a = resolve(f"lammps:{POT / 'AlCu.eam.alloy'}")
    (tmp_path / "copy.eam.alloy").write_bytes((POT / "AlCu.eam.alloy").read_bytes())
    m = write_model(tmp_path, "family: lammps\nname: AlCu.eam.alloy\npair_style: eam/alloy\n"
                              "pair_coeff: ['* * copy.eam.alloy Al Cu']\nelements: [Al, Cu]\n")
    b = resolve(str(m))
    assert a.family == b.family == "lammps" and a.elements == frozenset({"Al", "Cu"})
    assert a.id.split("@")[1] != ""
    (tmp_path / "copy.eam.alloy").write_text((POT / "AlCu.eam.alloy").read_text().replace("2", "3", 1))
    assert resolve(str(m)).id != b.id  # another file, another key


# ------------------------------------------------------------------ the calculator (needs LAMMPS)
def calc_for(tmp_path, text: str):
    return resolve(str(write_model(tmp_path, text))).make_calculator()


ALCU = "family: lammps\npair_style: eam/alloy\npair_coeff: ['* * {p}/AlCu.eam.alloy Al Cu']\nelements: [Al, Cu]\n"


def triclinic_alcu():
    atoms = bulk("Al", "fcc", a=4.05, cubic=True).repeat((2, 1, 1))
    atoms[1].symbol = atoms[5].symbol = "Cu"
    atoms.set_cell(atoms.cell.array @ np.array([[1.02, 0.03, 0.0], [0.01, 0.98, 0.04], [0.02, 0.0, 1.01]]),
                   scale_atoms=True)
    atoms.rattle(0.05, seed=3)
    return atoms


@needs_lammps
@needs_files
def test_forces_and_stress_are_derivatives_of_the_energy(tmp_path):
    calc = calc_for(tmp_path, ALCU.format(p=POT))
    atoms = triclinic_alcu()
    atoms.calc = calc
    f = atoms.get_forces()
    s = atoms.get_stress(voigt=False)
    h = 1e-5
    for i, k in [(0, 0), (3, 2), (6, 1)]:
        x = atoms.copy()
        x.calc = calc
        x.positions[i, k] += h
        ep = x.get_potential_energy()
        x.positions[i, k] -= 2 * h
        em = x.get_potential_energy()
        assert f[i, k] == pytest.approx(-(ep - em) / (2 * h), abs=2e-4)
    v = atoms.get_volume()
    for a, b in [(0, 0), (1, 2), (0, 1)]:
        e = []
        for sign in (1, -1):
            eps = np.eye(3)
            eps[a, b] += sign * h / (1 if a == b else 2)
            if a != b:
                eps[b, a] += sign * h / 2
            x = atoms.copy()
            x.set_cell(atoms.cell.array @ eps, scale_atoms=True)
            x.calc = calc
            e.append(x.get_potential_energy())
        assert s[a, b] == pytest.approx((e[0] - e[1]) / (2 * h) / v, abs=2e-5)


@needs_lammps
@needs_files
def test_rotated_cell_same_energy_rotated_forces_and_one_instance_for_many_structures(tmp_path):
    from ase.calculators.eam import EAM
    from scipy.spatial.transform import Rotation

    calc = calc_for(tmp_path, ALCU.format(p=POT))
    atoms = triclinic_alcu()
    rot = Rotation.from_euler("xyz", [20, 35, -50], degrees=True).as_matrix()
    turned = atoms.copy()
    turned.set_cell(atoms.cell.array @ rot.T, scale_atoms=True)
    atoms.calc = calc
    e, f = atoms.get_potential_energy(), atoms.get_forces()
    turned.calc = calc
    assert turned.get_potential_energy() == pytest.approx(e, abs=1e-8)
    assert np.allclose(turned.get_forces(), f @ rot.T, atol=1e-6)
    # many structures through one calculator give what a fresh one gives
    ref = EAM(potential=str(POT / "AlCu.eam.alloy"))
    for s in [bulk("Cu", "fcc", a=3.6), atoms, bulk("Al", "fcc", a=4.0, cubic=True).repeat(2), bulk("Al", "hcp", a=2.9)]:
        s = s.copy()
        s.calc = calc
        e1 = s.get_potential_energy()
        fresh = calc_for(tmp_path, ALCU.format(p=POT))
        s2 = s.copy()
        s2.calc = fresh
        assert e1 == pytest.approx(s2.get_potential_energy(), abs=1e-9)
        s3 = s.copy()
        s3.calc = ref  # ASE's own EAM: other interpolation, same potential
        assert e1 / len(s) == pytest.approx(s3.get_potential_energy() / len(s), abs=3e-3)


@needs_lammps
@needs_files
@pytest.mark.parametrize("text, crystal", [
    ("pair_style: adp\npair_coeff: ['* * {p}/AlCu.adp Al Cu']\nelements: [Al, Cu]", ("Al", "fcc", 4.05)),
    ("pair_style: eam/fs\npair_coeff: ['* * {p}/Mg_mm.eam.fs Mg']\nelements: [Mg]", ("Mg", "hcp", 3.19)),
    ("pair_style: eam/fs\npair_coeff: ['* * {p}/Al_mm.eam.fs Al']\nelements: [Al]", ("Al", "fcc", 4.05)),
    ("pair_style: meam\npair_coeff: ['* * {p}/library.meam Al Si Mg Cu Fe {p}/AlSiMgCuFe.meam Al Mg Cu']\n"
     "elements: [Al, Mg, Cu]", ("Al", "fcc", 4.05)),
    ("pair_style: eam\npair_coeff: ['1 1 {p}/Cu_u3.eam']\nelements: [Cu]", ("Cu", "fcc", 3.615)),
])
def test_pair_styles_on_perfect_crystals(tmp_path, text, crystal):
    calc = calc_for(tmp_path, "family: lammps\n" + text.format(p=POT) + "\n")
    sym, lattice, a = crystal
    atoms = bulk(sym, lattice, a=a) if lattice == "fcc" else bulk(sym, lattice, a=a, c=1.624 * a)
    atoms.calc = calc
    e = atoms.get_potential_energy() / len(atoms)
    assert -4.5 < e < -1.0, e  # cohesive energies of Al, Mg, Cu: 1.5-3.5 eV
    assert np.abs(atoms.get_forces()).max() < 1e-6
    assert np.abs(atoms.get_stress()).max() < 0.02


@needs_lammps
def test_missing_pair_style_and_bad_file_are_user_errors(tmp_path):
    with pytest.raises(UserError, match="no pair_style hdnnp"):
        calc_for(tmp_path, "family: lammps\npair_style: hdnnp 6.0 dir .\npair_coeff: ['* * 6.0']\nelements: [Cu]\n")
    (tmp_path / "bad.eam.alloy").write_text("not\nan\neam\nfile\n")
    with pytest.raises(UserError, match="LAMMPS rejected"):
        calc_for(tmp_path, "family: lammps\npair_style: eam/alloy\npair_coeff: ['* * bad.eam.alloy Al']\n"
                           "elements: [Al]\n")


@needs_lammps
@needs_files
def test_element_the_potential_lacks_is_a_failed_job(tmp_path):
    from alloybench.engine.serial import run_job
    from alloybench.jobs import Job, Structure

    calc = calc_for(tmp_path, ALCU.format(p=POT))
    r = run_job(Job("t", "zn", Structure.from_atoms(bulk("Zn", "hcp", a=2.66, c=4.95))), calc)
    assert not r.ok and "no parameters for Zn" in r.reason


@needs_lammps
@needs_files
def test_bulk_and_elastic_tasks_with_a_lammps_model(tmp_path, reference, store):
    from dataclasses import replace

    from alloybench.engine.serial import SerialEngine
    from alloybench.runner import run_tasks
    from alloybench.tasks import TASKS

    model = resolve(f"lammps:{POT / 'Al_mm.eam.fs'}")
    model = replace(model, elements=frozenset({"Al"}))
    out = run_tasks(model, [TASKS["bulk"], TASKS["elastic"]], "quick", reference, store,
                    SerialEngine(model.make_calculator))
    m = {(x.task, x.item, x.name): x for x in out.metrics}
    assert not out.failures
    a = m[("bulk", "Al", "lattice_a")]
    assert a.value == pytest.approx(a.reference, rel=0.01)  # Mendelev Al: 4.05 Å, PBE 4.04 Å
    assert 60 < m[("elastic", "Al", "K_V")].value < 90


# ------------------------------------------------------------------ from the main env, through the lammps env
@needs_files
@pytest.mark.skipif(HAVE_LAMMPS or not envs.env_ready("lammps"), reason="needs the lammps env and no lammps here")
def test_lammps_model_runs_in_its_env_from_here(tmp_path):
    from alloybench.engine.subprocess import SubprocessEngine, engine_for
    from alloybench.jobs import Job, Structure

    model = resolve(str(write_model(tmp_path, ALCU.format(p=POT))))
    assert model.env == str(envs.env_dir("lammps"))
    eng = engine_for(model)
    assert isinstance(eng, SubprocessEngine)
    atoms = triclinic_alcu()
    with eng:
        r = eng.run_one(Job("t", "x", Structure.from_atoms(atoms)))
    from ase.calculators.eam import EAM

    atoms.calc = EAM(potential=str(POT / "AlCu.eam.alloy"))
    assert r.ok and r.energy / len(atoms) == pytest.approx(atoms.get_potential_energy() / len(atoms), abs=3e-3)
    assert np.allclose(r.forces, atoms.get_forces(), atol=0.05)
