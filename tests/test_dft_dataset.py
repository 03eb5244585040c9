"""The dataset task: ASE EMT scored against a tiny labelled set whose errors are known by
construction, checked against numbers worked out by hand; bad --dataset files are one
line and exit 2."""

from __future__ import annotations

import math

import numpy as np
import pytest
from ase import Atoms
from ase.build import bulk
from ase.calculators.emt import EMT
from ase.calculators.singlepoint import SinglePointCalculator
from ase.io import write
from typer.testing import CliRunner

from alloybench.cli import app
from alloybench.engine.serial import SerialEngine
from alloybench.models import resolve
from alloybench.reference import load_reference
from alloybench.runner import run_tasks
from alloybench.store import Store
from alloybench.tasks.dataset import DatasetTask

GPA = 160.21766208  # GPa per eV/Å^3
# eV/atom: the "DFT" energy zero differs from EMT's by these per element.  One value for both makes the
# fit exact (finetune.data.fit_element_offsets: a common per-atom offset, then per-element corrections with a
# small ridge, which here are zero); MU_EL tests the per-element part, where the ridge leaves a small bias.
MU = {"Al": -0.25, "Cu": -0.25}
MU_EL = {"Al": -0.3, "Cu": 0.2}


def _labelled(atoms: Atoms, kind: str, split: str, name: str, de_eV=0.0, df=None, ds=None, mu=MU) -> Atoms:
    """EMT's own labels moved by Σ n_el MU_el (removed by the offset fit) plus known errors:
    de_eV on the energy, df (atom, component, eV/Å) on forces, ds (Voigt index, eV/Å^3) on stress."""
    a = atoms.copy()
    a.calc = EMT()
    e = a.get_potential_energy() + sum(mu[s] for s in a.get_chemical_symbols()) + de_eV
    f = a.get_forces().copy()
    s = a.get_stress(voigt=True).copy()
    for i, c, v in df or []:
        f[i, c] += v
    for j, v in ds or []:
        s[j] += v
    a.calc = SinglePointCalculator(a, energy=e, forces=f, stress=s)
    a.info.update(kind=kind, split=split, name=name)
    return a


def _al3cu() -> Atoms:
    a = bulk("Al", "fcc", a=3.95, cubic=True)
    a[0].symbol = "Cu"
    a.rattle(0.05, seed=1)
    return a


def tiny_set(path, mu=MU):
    rng_cell = bulk("Al", "fcc", a=4.05, cubic=True)
    rng_cell[1].symbol = rng_cell[2].symbol = "Cu"
    rng_cell.rattle(0.03, seed=2)
    pool = [  # exact labels (only the MU offsets): the fit recovers MU
        _labelled(bulk("Al", "fcc", a=4.00), "a", "train", "p0", mu=mu),
        _labelled(bulk("Cu", "fcc", a=3.55), "a", "train", "p1", mu=mu),
        _labelled(rng_cell, "b", "train", "p2", mu=mu),
        _labelled(bulk("Al", "fcc", a=4.10, cubic=True), "b", "train", "p3", mu=mu),
    ]
    test = [
        _labelled(bulk("Al", "fcc", a=4.05), "a", "test", "t0", de_eV=+0.010, df=[(0, 0, 0.05)], ds=[(0, 0.001)],
                  mu=mu),
        _labelled(bulk("Cu", "fcc", a=3.62), "a", "test", "t1", de_eV=-0.040, mu=mu),
        _labelled(_al3cu(), "b", "test", "t2", de_eV=+0.080, df=[(0, 0, 0.03), (1, 1, -0.06)], ds=[(3, -0.002)],
                  mu=mu),
    ]
    write(path, pool + test, format="extxyz")
    return path


def _metrics(tmp_path, path, model=None):
    model = model or resolve("emt")
    with Store(tmp_path / "r.sqlite") as store:
        out = run_tasks(model, [DatasetTask(path)], "standard", load_reference(), store, SerialEngine(EMT))
    return {(m.item, m.name): m for m in out.metrics}, out


def test_dataset_task_scores_emt_with_the_hand_worked_errors(tmp_path):
    m, out = _metrics(tmp_path, tiny_set(tmp_path / "set.extxyz"))
    assert not out.failures and all(x.status == "ok" for x in m.values())
    # energy per atom: t0 10/1, t1 40/1, t2 80/4 meV/atom
    assert m["all", "energy_mae"].value == pytest.approx((10 + 40 + 20) / 3, rel=1e-6)
    assert m["a", "energy_mae"].value == pytest.approx((10 + 40) / 2, rel=1e-6)
    assert m["b", "energy_mae"].value == pytest.approx(20.0, rel=1e-6)
    assert m["all", "energy_rmse"].value == pytest.approx(math.sqrt((10**2 + 40**2 + 20**2) / 3), rel=1e-6)
    # forces and stress to 1e-4 relative: extxyz keeps positions to 1e-8 Å, so EMT on the read-back cell differs
    # forces: |dF| sums 0.05 (t0), 0 (t1), 0.09 (t2) eV/Å over 3 + 3 + 12 components
    assert m["all", "force_mae"].value == pytest.approx(1000 * 0.14 / 18, rel=1e-4)
    assert m["a", "force_mae"].value == pytest.approx(1000 * 0.05 / 6, rel=1e-4)
    assert m["b", "force_mae"].value == pytest.approx(1000 * 0.09 / 12, rel=1e-4)
    assert m["b", "force_rmse"].value == pytest.approx(1000 * math.sqrt((0.03**2 + 0.06**2) / 12), rel=1e-4)
    # stress: |dS| 0.001 (t0) and 0.002 (t2) eV/Å^3 over 18 Voigt entries, in GPa
    assert m["all", "stress_mae"].value == pytest.approx(0.003 * GPA / 18, rel=1e-4)
    assert m["a", "stress_mae"].value == pytest.approx(0.001 * GPA / 12, rel=1e-4)
    assert m["a", "energy_mae"].group == "dataset_energy" and m["all", "energy_mae"].group == "dataset_energy_info"
    assert m["a", "energy_mae"].reference == 0.0 and m["a", "energy_mae"].error == m["a", "energy_mae"].value


def test_per_structure_parity_values_are_the_hand_worked_differences_and_not_scored(tmp_path):
    from alloybench.scoring import load_thresholds

    m, _ = _metrics(tmp_path, tiny_set(tmp_path / "set.extxyz"))
    e = {n: m[f"{k}/{n}", "energy_per_atom"] for k, n in (("a", "t0"), ("a", "t1"), ("b", "t2"))}
    # model minus DFT per atom = -de/N: the labels carry +10, -40, +80 meV (1, 1 and 4 atoms)
    assert e["t0"].value - e["t0"].reference == pytest.approx(-0.010, abs=1e-9)
    assert e["t1"].value - e["t1"].reference == pytest.approx(+0.040, abs=1e-9)
    assert e["t2"].value - e["t2"].reference == pytest.approx(-0.020, abs=1e-9)
    # the DFT side is the label itself, per atom
    assert e["t1"].reference == pytest.approx((EMT_energy(bulk("Cu", "fcc", a=3.62)) - 0.25 - 0.040), abs=1e-6)
    f0 = m["a/t0", "max_force"]  # one-atom fcc cell: EMT gives 0, the label has 0.05 eV/Å on x
    assert f0.value == pytest.approx(0.0, abs=1e-9) and f0.reference == pytest.approx(0.05, abs=1e-6)
    p0, p2 = m["a/t0", "pressure"], m["b/t2", "pressure"]  # +0.001 eV/Å^3 on xx; a shear entry leaves p alone
    assert p0.value - p0.reference == pytest.approx(0.001 * GPA / 3, rel=1e-4)
    assert p2.value - p2.reference == pytest.approx(0.0, abs=1e-6)
    thresholds, _ = load_thresholds()
    assert all(thresholds[x.group].weight == 0.0 for x in m.values() if x.group.endswith("_parity"))


def test_parity_items_stay_unique_when_names_repeat(tmp_path):
    from ase.io import read

    frames = read(tiny_set(tmp_path / "set.extxyz"), ":")
    for a in frames:
        a.info["name"] = "same"
    write(tmp_path / "dup.extxyz", frames, format="extxyz")
    m, _ = _metrics(tmp_path, tmp_path / "dup.extxyz")
    items = sorted(k for k, q in m if q == "energy_per_atom")
    assert items == ["a/0", "a/1", "b/2"]  # one per test structure, by its index


def EMT_energy(atoms: Atoms) -> float:
    atoms.calc = EMT()
    return atoms.get_potential_energy()


def test_the_dataset_task_and_the_fine_tuning_test_errors_are_one_implementation(tmp_path):
    from alloybench.finetune.data import read_pool
    from alloybench.finetune.evaluate import test_errors

    path = tiny_set(tmp_path / "set.extxyz", mu=MU_EL)
    m, _ = _metrics(tmp_path, path)
    # per-element zeros recovered up to the fit's ridge: the errors stay near the hand-worked 70/3 meV/atom
    assert m["all", "energy_mae"].value == pytest.approx((10 + 40 + 20) / 3, abs=0.5)
    frames = read_pool(path)
    pool = [f for f in frames if f.atoms.info["split"] == "train"]
    test = [f for f in frames if f.atoms.info["split"] == "test"]
    doc = test_errors(lambda jobs: [r for _, r in SerialEngine(EMT).run(jobs)], pool, test)
    assert doc["all"]["energy_mae_meV_per_atom"] == pytest.approx(m["all", "energy_mae"].value, rel=1e-12)
    assert doc["energy_offsets_eV_per_atom"] == pytest.approx(MU_EL, abs=2e-3)


def test_a_structure_outside_the_models_elements_is_left_out_and_one_it_fails_on_counts(tmp_path):
    from dataclasses import replace

    from ase.io import read

    path = tiny_set(tmp_path / "set.extxyz")
    frames = read(path, index=":")
    mg = bulk("Mg", "hcp", a=3.2)  # EMT has no Mg parameters: its single point fails
    mg.calc = SinglePointCalculator(mg, energy=-3.0, forces=np.zeros((2, 3)), stress=np.zeros(6))
    mg.info.update(kind="a", split="test", name="mg")
    write(path, frames + [mg], format="extxyz")
    m, _ = _metrics(tmp_path, path)  # emt claims Al, Cu...: the Mg frame is not its business
    assert ("a/mg", "structure") not in m and m["a", "energy_mae"].status == "ok"
    claims_all = replace(resolve("emt"), elements=None)  # ...a model claiming Mg fails on it
    m, out = _metrics(tmp_path, path, claims_all)
    failed = m["a/mg", "structure"]
    assert failed.status == "failed" and failed.group == "dataset_force" and "Mg" in failed.reason
    assert m["a", "energy_mae"].value == pytest.approx(25.0, rel=1e-6)  # the MAE over the rest...
    assert "1 of 3 structures failed" in m["a", "energy_mae"].flag  # ...says so
    assert out.failures and out.failures[0]["task"] == "dataset"


def _bad(tmp_path, what: str):
    p = tmp_path / f"{what}.extxyz"
    a = bulk("Al", "fcc", a=4.05)
    if what == "missing":
        return tmp_path / "nothere.extxyz"
    if what == "unlabelled":
        write(p, a)
    elif what == "nan":
        a.calc = SinglePointCalculator(a, energy=float("nan"), forces=np.zeros((1, 3)))
        write(p, a)
    elif what == "stress_shape":
        p.write_text('1\nLattice="0 2 2 2 0 2 2 2 0" Properties=species:S:1:pos:R:3:forces:R:3 energy=-3.0 '
                     'stress="1 2 3 4 5" pbc="T T T"\nAl 0 0 0 0 0 0\n')
    elif what == "no_atoms":
        p.write_text('0\nLattice="4 0 0 0 4 0 0 0 4" Properties=species:S:1:pos:R:3:forces:R:3 energy=-3.0 '
                     'pbc="T T T"\n')
    elif what == "empty":
        p.write_text("")
    return p


@pytest.mark.parametrize("what, needle", [
    ("missing", "not found"), ("unlabelled", "no energy label"), ("nan", "non-finite"),
    ("stress_shape", "stress"), ("no_atoms", "no atoms"), ("empty", "")])
def test_a_bad_dataset_file_is_one_line_and_exit_2(tmp_path, what, needle):
    out = tmp_path / "o"
    r = CliRunner().invoke(app, ["run", "--model", "emt", "--tasks", "dataset", "--dataset", str(_bad(tmp_path, what)),
                                 "--out", str(out)], env={"COLUMNS": "200"})
    assert r.exit_code == 2, r.output
    lines = [ln for ln in r.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1 and lines[0].startswith("alloybench: error: ") and needle in lines[0], r.stderr
    assert not out.exists()


def test_the_packaged_set_loads_with_its_kinds():
    from alloybench.tasks.dataset import load

    from collections import Counter

    from alloybench.dft import packaged
    from alloybench.dft.label import frame_name, job_for, model_id
    from alloybench.store import Store

    pool, test = load(None)
    # every successful label of the packaged store, split by its candidate's fixed split
    with Store(packaged.DATA / packaged.STORE, readonly=True) as store:
        mid = model_id(packaged.DEFAULT)
        labelled = [a for i, a in enumerate(packaged.candidates())
                    if (r := store.get(mid, job_for(a, frame_name(a, i)))) is not None and r.ok]
    splits = Counter(str(a.info["split"]) for a in labelled)
    assert len(pool) == splits["train"] >= 51 and len(test) == splits["test"] >= 21
    assert {f.kind for f in test} == {str(a.info["kind"]) for a in labelled if a.info["split"] == "test"}
    assert {"phase", "md", "solute"} <= {f.kind for f in test}


def test_run_with_a_dataset_file_and_its_rebuilt_report(tmp_path):
    import json

    path = tiny_set(tmp_path / "set.extxyz")
    out = tmp_path / "o"
    r = CliRunner().invoke(app, ["run", "--model", "emt", "--tasks", "bulk", "--elements", "Al", "--dataset", str(path),
                                 "--out", str(out), "-q"], env={"COLUMNS": "200"})
    assert r.exit_code == 0, r.output
    doc = json.loads((out / "results.json").read_text())
    assert doc["run"]["dataset"] == str(path.resolve()) and "dataset" in doc["run"]["tasks"]
    # --elements Al: only the pure-Al frames (t0 of kind a): 10 meV/atom by construction
    mae = {(m["item"], m["name"]): m["value"] for m in doc["metrics"] if m["task"] == "dataset"}
    assert mae["a", "energy_mae"] == pytest.approx(10.0, rel=1e-6)
    assert "dataset" in doc["score"]["categories"]
    rep = CliRunner().invoke(app, ["report", str(out)], env={"COLUMNS": "200"})
    assert rep.exit_code == 0 and "energy_mae" in rep.stdout and "10.000" in rep.stdout
    # per-structure parity rows go to the HTML plots, not the Markdown tables
    assert "| a/t0 |" not in rep.stdout and "3 per-structure model-vs-DFT values" in rep.stdout
