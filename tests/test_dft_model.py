"""GPAW as a model of `alloybench run`: registry entry, serial engine, the atom limit."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from ase.build import bulk

from alloybench.dft import model as dm
from alloybench.dft.settings import DEFAULT, LOW
from alloybench.errors import UserError
from alloybench.jobs import Job, Structure
from alloybench.models import resolve
from alloybench.reference import load_reference
from alloybench.tasks import TASKS
from alloybench.tasks.base import Context


def test_gpaw_models_are_registered_with_their_settings_in_the_id():
    g, low = resolve("gpaw"), resolve("gpaw-low")
    assert g.family == low.family == "dft"
    assert g.elements == frozenset({"Al", "Cu", "Mg", "Zn", "Si"})
    assert g.id.endswith(DEFAULT.digest) and low.id.endswith(LOW.digest) and g.id != low.id


def test_a_weights_path_for_gpaw_is_one_clear_error(tmp_path):
    (tmp_path / "w.bin").write_text("x")
    with pytest.raises(UserError, match="GPAW takes no weights"):
        resolve(f"dft:{tmp_path / 'w.bin'}")


def _sp(atoms, name="sp") -> Job:
    return Job(task="t", name=name, structure=Structure.from_atoms(atoms), protocol="sp")


def test_the_serial_engine_runs_gpaw_low_like_the_dft_calculator():
    """One SCF through the engine, one directly (about 10 s)."""
    from alloybench.dft.calculator import DFTCalculator
    from alloybench.engine.serial import SerialEngine

    a = bulk("Al", "fcc", a=4.0)
    ((_, res),) = list(SerialEngine(resolve("gpaw-low").make_calculator).run([_sp(a)]))
    assert res.ok, res.reason
    direct = a.copy()
    direct.calc = DFTCalculator(LOW)
    assert res.energy == pytest.approx(direct.get_potential_energy(), abs=1e-6)
    assert res.stress == pytest.approx(list(direct.get_stress(voigt=True)), abs=1e-7)


def test_a_cell_above_the_limit_fails_its_job_with_the_reason_and_computes_nothing():
    from alloybench.engine.serial import SerialEngine

    ((_, res),) = list(SerialEngine(lambda: dm.load_gpaw(settings="low", max_atoms=3)).run(
        [_sp(bulk("Al", "fcc", a=4.05, cubic=True))]))
    assert not res.ok and "4 atoms: above the DFT limit of 3 atoms" in res.reason


def _ctx(elements=None):
    return Context(load_reference(), "quick", frozenset(elements) if elements else dm.ELEMENTS)


def test_check_run_refuses_tasks_with_large_jobs_seen_only_in_later_rounds():
    g = resolve("gpaw-low")
    first_round = max(len(j.structure) for j in TASKS["vacancy"].build(_ctx(), {}))
    assert first_round <= dm.MAX_ATOMS  # the large cells come once the lattice constant is known
    with pytest.raises(UserError, match=r"too large: vacancy \(\d+ atoms\).*--tasks among: bulk"):
        dm.check_run(g, [TASKS["bulk"], TASKS["vacancy"]], _ctx(), batched=False)
    dm.check_run(g, [TASKS["bulk"], TASKS["elastic"]], _ctx({"Al"}), batched=False)
    with pytest.raises(UserError, match="serial engine only"):
        dm.check_run(g, [TASKS["bulk"]], _ctx(), batched=True)
    dm.check_run(resolve("emt"), [TASKS["vacancy"]], _ctx(), batched=True)  # not a DFT model: no limit


def _cli(*args, cwd):
    import alloybench

    src = str(Path(alloybench.__file__).resolve().parents[1])  # this checkout's package, whatever the cwd
    return subprocess.run([sys.executable, "-m", "alloybench.cli", *args], capture_output=True, text=True, cwd=cwd,
                          env=dict(os.environ, COLUMNS="200", PYTHONPATH=src), timeout=600)


def test_run_refuses_a_too_large_task_in_one_line_before_writing(tmp_path):
    p = _cli("run", "--model", "gpaw-low", "--tasks", "vacancy", "--out", str(tmp_path / "o"), cwd=tmp_path)
    assert p.returncode == 2
    assert len(p.stderr.strip().splitlines()) == 1 and "at most 40 atoms" in p.stderr
    assert not (tmp_path / "o").exists()


@pytest.mark.slow
def test_run_gpaw_low_relaxes_fcc_al_near_the_reference(tmp_path):
    """`alloybench run --model gpaw-low --tasks bulk --elements Al`: about 70 s on one core."""
    p = _cli("run", "--model", "gpaw-low", "--tasks", "bulk", "--elements", "Al", "--out", str(tmp_path / "o"), "-q",
             cwd=tmp_path)
    assert p.returncode == 0, p.stderr
    doc = json.loads((tmp_path / "o" / "results.json").read_text())
    vol = next(m for m in doc["metrics"] if m["item"] == "Al" and m["name"] == "volume_per_atom")
    assert vol["status"] == "ok" and abs(vol["value"] / vol["reference"] - 1) < 0.03  # LOW: 250 eV, k-density 8


def test_registry_versions_name_the_settings_they_run():
    """registry.yaml is data: its gpaw versions must follow the DFTSettings digests (and gpaw's version)."""
    from alloybench.dft.model import version
    from alloybench.dft.settings import DEFAULT, LOW
    from alloybench.models import REGISTRY

    for name, settings in (("gpaw", DEFAULT), ("gpaw-low", LOW)):
        gpaw_version, digest = REGISTRY[name].version.rsplit("-", 1)
        assert digest == settings.digest, (name, REGISTRY[name].version, settings.digest)
        assert version() in ("none", gpaw_version)


def test_a_fixed_mesh_is_used_for_every_cell_and_the_density_rule_otherwise():
    """Fault energies difference a tilted cell and its perfect cell: DFTCalculator(mesh=...)
    must sample both on the given mesh, not on the density rule's (about 5 s)."""
    from alloybench.dft.calculator import DFTCalculator
    from alloybench.dft.settings import kpoint_mesh

    a = bulk("Al", "fcc", a=4.0)
    rule = kpoint_mesh(a.cell.array, a.pbc, LOW.kpt_density_A)
    fixed = DFTCalculator(LOW, mesh=(2, 2, 2))
    a.calc = fixed
    e_fixed = a.get_potential_energy()
    assert fixed.last["kpts"] == [2, 2, 2] and tuple(rule) != (2, 2, 2)
    assert len(fixed._gpaw.get_bz_k_points()) == 8  # GPAW's own mesh, not only our record of it
    b = a.copy()
    b.calc = DFTCalculator(LOW)
    assert b.get_potential_energy() != pytest.approx(e_fixed, abs=1e-4)
    assert b.calc.last["kpts"] == list(rule)


def test_time_reversal_only_settings_have_their_own_digest_and_the_packaged_one_is_kept():
    from alloybench.dft.calculator import _symmetry

    tr = DEFAULT.with_(point_group=False)
    assert DEFAULT.digest == "73afcb1edd50"  # the packaged labels' store keys
    assert tr.digest != DEFAULT.digest and "point_group" in tr.to_dict()
    assert _symmetry(DEFAULT) == {} and _symmetry(tr) == {"point_group": False, "time_reversal": True}
    assert _symmetry(DEFAULT.with_(symmetry=False)) == "off"


def test_time_reversal_only_reduces_a_3x3x3_mesh_to_14_points_and_the_point_group_to_4():
    from alloybench.dft.calculator import DFTCalculator

    counts = {}
    for point_group in (True, False):
        a = bulk("Al", "fcc", a=4.0)
        a.calc = DFTCalculator(LOW.with_(point_group=point_group), mesh=(3, 3, 3))
        a.get_potential_energy()
        counts[point_group] = len(a.calc._gpaw.get_ibz_k_points())
    assert counts == {True: 4, False: 14}  # (27 + 1) / 2 with time reversal alone
