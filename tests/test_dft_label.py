"""`alloybench dft label|set`: GPAW labels read back with units and provenance, labelling
resumes without recomputing, SCF failures are kept, bad input is one line and exit 2."""

from __future__ import annotations

import sys

import numpy as np
import pytest
from ase import Atoms
from ase.build import bulk
from ase.calculators.emt import EMT
from ase.io import read, write
from typer.testing import CliRunner

from alloybench.cli import app
from alloybench.dft import label as dl
from alloybench.dft.settings import LOW, kpoint_mesh
from alloybench.store import Store


def invoke(*args: str):
    return CliRunner().invoke(app, list(args), env={"COLUMNS": "200"})


def one_error_line(result) -> str:
    lines = [ln for ln in result.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("alloybench: error: "), lines[0]
    assert "Traceback" not in result.output
    return lines[0]


def test_gpaw_labels_one_atom_at_low_settings_and_a_rerun_reuses_the_store(tmp_path):
    """Real GPAW (LOW: PW 250 eV, k-density 8): ~5 s for fcc Al."""
    a = bulk("Al", "fcc", a=4.05)
    a.info.update(name="Al_fcc", kind="phase")
    src, out = tmp_path / "in.extxyz", tmp_path / "out.extxyz"
    write(src, [a])
    r = invoke("dft", "label", str(src), "--out", str(out), "--settings", "low", "-q")
    assert r.exit_code == 0, r.output
    assert "1 computed now" in r.stdout
    (lab,) = read(out, index=":")
    e = lab.get_potential_energy()
    # GPAW's PAW energies are relative to its reference atoms: fcc Al is bound by a few eV
    assert -5.0 < e < -2.0
    assert lab.get_forces().shape == (1, 3)
    assert np.abs(lab.get_forces()).max() < 1e-3  # one atom: no force by symmetry
    s = lab.get_stress(voigt=True)  # eV/Å^3: a few GPa at most near equilibrium
    assert s.shape == (6,) and np.abs(s).max() < 0.05 and abs(s[0] - s[1]) < 1e-6
    assert lab.info["name"] == "Al_fcc" and lab.info["kind"] == "phase"
    assert lab.info["dft_model_id"] == dl.model_id(LOW)
    assert lab.info["dft_settings_digest"] == LOW.digest
    assert lab.info["energy_unit"] == "eV" and lab.info["stress_unit"] == "eV/A^3"
    assert tuple(np.atleast_1d(lab.info["dft_kpts"]).astype(int)) == kpoint_mesh(a.cell.array, a.pbc, 8.0)
    assert (tmp_path / "out.extxyz.sqlite").exists()
    again = invoke("dft", "label", str(src), "--out", str(out), "--settings", "low", "-q")
    assert again.exit_code == 0 and "0 computed now, 1 from the store" in again.stdout
    assert read(out).get_potential_energy() == pytest.approx(e, abs=1e-12)


class Counting(EMT):
    """EMT that counts its calls and can be told to stop (a kill) or fail (an SCF failure)."""

    def __init__(self, log: list, interrupt_at: int | None = None, fail_names=()):
        super().__init__()
        self.log, self.interrupt_at, self.fail_names = log, interrupt_at, fail_names

    def calculate(self, atoms=None, properties=("energy",), system_changes=None):
        if self.interrupt_at is not None and len(self.log) == self.interrupt_at:
            raise KeyboardInterrupt
        if len(atoms) == 3:
            raise RuntimeError("KohnShamConvergenceError: did not converge in 300 iterations")
        self.log.append(len(atoms))
        super().calculate(atoms, properties, system_changes or ["positions"])


def _frames(n: int) -> list[Atoms]:
    out = []
    for i in range(n):
        a = bulk("Cu", "fcc", a=3.6 + 0.01 * i, cubic=True)
        a.info["name"] = f"f{i}"
        out.append(a)
    return out


def test_an_interrupted_labelling_resumes_without_recomputing(tmp_path):
    frames = _frames(5)
    log: list = []
    with Store(tmp_path / "s.sqlite") as store:
        with pytest.raises(KeyboardInterrupt):
            dl.label(frames, store, LOW, calc_factory=lambda: Counting(log, interrupt_at=2))
    assert len(log) == 2
    log2: list = []
    with Store(tmp_path / "s.sqlite") as store:  # reopened, as a new process would
        items, computed = dl.label(frames, store, LOW, calc_factory=lambda: Counting(log2))
    assert computed == 3 and len(log2) == 3  # the two finished labels were not recomputed
    assert [j.name for _, j, _ in items] == [f"f{i}" for i in range(5)]
    direct = frames[0].copy()
    direct.calc = EMT()
    assert items[0][2].energy == pytest.approx(direct.get_potential_energy())


def test_an_scf_failure_is_stored_with_its_reason_and_left_out_of_the_file(tmp_path):
    frames = _frames(2) + [Atoms("Cu3", positions=[[0, 0, 0], [1.8, 0, 0], [0, 1.8, 0]], cell=[6, 6, 6], pbc=True)]
    with Store(tmp_path / "s.sqlite") as store:
        items, _ = dl.label(frames, store, LOW, calc_factory=lambda: Counting([]))
        stored = store.get(dl.model_id(LOW), items[2][1])
    assert not stored.ok and stored.stage == "scf" and "did not converge" in stored.reason
    assert dl.write_labelled(tmp_path / "o.extxyz", items, LOW) == 2
    assert [a.info["name"] for a in read(tmp_path / "o.extxyz", index=":")] == ["f0", "f1"]


def test_a_gz_output_is_compressed(tmp_path):
    frames = _frames(1)
    with Store(tmp_path / "s.sqlite") as store:
        items, _ = dl.label(frames, store, LOW, calc_factory=lambda: Counting([]))
    dl.write_labelled(tmp_path / "o.extxyz.gz", items, LOW)
    assert (tmp_path / "o.extxyz.gz").read_bytes()[:2] == b"\x1f\x8b"
    assert len(read(tmp_path / "o.extxyz.gz", index=":")) == 1


def _write_bad(tmp_path, what: str) -> str:
    p = tmp_path / f"{what}.extxyz"
    if what == "empty":
        p.write_text("")
    elif what == "garbage":
        p.write_text("not an xyz file\n")
    elif what == "molecule":
        write(p, Atoms("Al2", positions=[[0, 0, 0], [2.6, 0, 0]]))
    elif what == "slab_pbc_false":
        a = bulk("Al", "fcc", a=4.05, cubic=True)
        a.pbc = (True, True, False)
        write(p, a)
    elif what == "missing":
        return str(tmp_path / "nothere.extxyz")
    elif what == "task":
        return "no_such_task"
    return str(p)


@pytest.mark.parametrize("what, needle", [
    ("missing", "input file not found"),
    ("empty", "cannot read"),
    ("garbage", "cannot read"),
    ("molecule", "not periodic in x, y and z"),
    ("slab_pbc_false", "not periodic in x, y and z"),
    ("task", "neither a file nor a task"),
])
def test_bad_input_is_one_line_and_exit_2(tmp_path, what, needle):
    out = tmp_path / "o.extxyz"
    r = invoke("dft", "label", _write_bad(tmp_path, what), "--out", str(out))
    assert r.exit_code == 2
    assert needle in one_error_line(r)
    assert not out.exists() and not (tmp_path / "o.extxyz.sqlite").exists()


def test_missing_gpaw_is_one_line_and_exit_2(tmp_path, monkeypatch):
    write(tmp_path / "in.extxyz", bulk("Al", "fcc", a=4.05))
    monkeypatch.setitem(sys.modules, "gpaw", None)  # import gpaw -> ImportError
    r = invoke("dft", "label", str(tmp_path / "in.extxyz"), "--out", str(tmp_path / "o.extxyz"))
    assert r.exit_code == 2
    assert "pip install 'alloybench[dft]'" in one_error_line(r)


def test_a_task_name_labels_its_jobs_input_structures():
    from alloybench.dft.inputs import resolve_input

    frames = resolve_input("bulk")
    names = [a.info["name"] for a in frames]
    assert "relax/Al" in names and all(a.info["kind"] == "bulk" for a in frames)
    assert all(all(a.pbc) for a in frames)


def test_set_status_counts_the_packaged_labels():
    from alloybench.dft import packaged

    with Store(packaged.DATA / packaged.STORE, readonly=True) as store:
        st = packaged.status(store, packaged.candidates())
    n_train = len(read(packaged.split_path("train"), index=":"))
    n_test = len(read(packaged.split_path("test"), index=":"))
    assert sum(c["labelled"] for c in st.values()) == n_train + n_test
    assert sum(c["candidates"] for c in st.values()) == len(packaged.candidates())


def test_continue_set_labels_the_pending_candidates_stratified_and_rewrites_the_splits(tmp_path):
    import shutil

    from alloybench.dft import packaged

    shutil.copy(packaged.DATA / packaged.CANDIDATES, tmp_path / packaged.CANDIDATES)
    log: list = []  # an empty store: every candidate is pending
    with Store(tmp_path / packaged.STORE) as store:
        items, computed, counts = packaged.continue_set(store, limit=6, folder=tmp_path,
                                                        calc_factory=lambda: Counting(log))
    assert computed == 6 and len(items) == 6
    kinds = {a.info["kind"] for a, _, _ in items}
    assert len(kinds) >= 4  # a stratified prefix: not the first six phases of the file
    assert counts["train"] + counts["test"] == sum(r.ok for _, _, r in items)
    train = read(packaged.split_path("train", tmp_path), index=":")
    assert all(a.info["split"] == "train" for a in train)


def test_labelling_in_worker_processes_gives_the_serial_labels_and_stores_each(tmp_path):
    frames = _frames(5)
    with Store(tmp_path / "serial.sqlite") as store:
        serial, _ = dl.label(frames, store, LOW, calc_factory=EMT)
    seen: list = []
    with Store(tmp_path / "par.sqlite") as store:
        par, computed = dl.label(frames, store, LOW, calc_factory=EMT, workers=2,
                                 progress=lambda done, total, job, res: seen.append((done, total)))
    assert computed == 5 and sorted(seen) == [(i, 5) for i in range(1, 6)]
    assert [j.name for _, j, _ in par] == [j.name for _, j, _ in serial]  # frame order, not finish order
    for (_, _, a), (_, _, b) in zip(serial, par):
        assert a.energy == pytest.approx(b.energy, abs=1e-10)
        np.testing.assert_allclose(a.forces, b.forces, atol=1e-10)
    with Store(tmp_path / "par.sqlite") as store:  # every label was stored by the parent
        _, again = dl.label(frames, store, LOW, calc_factory=EMT, workers=2)
    assert again == 0


@pytest.mark.parametrize("workers", [1, 2])
def test_stop_after_starts_no_label_past_the_deadline_and_leaves_the_rest_pending(tmp_path, workers):
    frames = _frames(4)
    with Store(tmp_path / "s.sqlite") as store:
        items, computed = dl.label(frames, store, LOW, calc_factory=EMT, workers=workers, stop_after_s=0)
        assert computed == 0 and items == []
        items, computed = dl.label(frames, store, LOW, calc_factory=EMT, workers=workers)
    assert computed == 4 and len(items) == 4


def test_workers_below_one_is_one_line_and_exit_2(tmp_path):
    path = tmp_path / "in.extxyz"
    write(path, _frames(1))
    result = invoke("dft", "label", str(path), "--out", str(tmp_path / "o.extxyz"), "--workers", "0")
    assert result.exit_code == 2
    assert "--workers" in one_error_line(result)


def test_the_cost_estimate_ranks_cu_cells_and_dense_meshes_above_small_al_cells():
    from alloybench.dft.settings import DEFAULT

    al = bulk("Al", "fcc", a=4.04)
    cu8 = bulk("Cu", "fcc", a=3.63, cubic=True).repeat((2, 1, 1))
    al8 = bulk("Al", "fcc", a=4.04, cubic=True).repeat((2, 1, 1))
    assert dl._cost(al, DEFAULT) < dl._cost(al8, DEFAULT) < dl._cost(cu8, DEFAULT)
    assert dl._cost(al, DEFAULT) < dl._cost(al, DEFAULT.with_(kpt_density_A=45.0))
