"""Cost measurement with ASE EMT on tiny cells: fields, positive times, sizes, errors."""

from __future__ import annotations

import json

import pytest

from alloybench.cost import al_supercell, cost_command, measure_cost
from alloybench.errors import UserError


def test_measure_cost_fields_and_values(emt_model):
    doc = measure_cost(emt_model, sizes=[108, 32], repeats=3, warmup=1, md_steps=5, md_atoms=32)
    json.dumps(doc)  # JSON-able
    for key in ("model", "device", "device_name", "threads", "host", "versions", "load_seconds", "single_point",
                "largest_fitted", "oom_at", "md", "memory", "settings"):
        assert key in doc, key
    assert doc["device"] == "cpu" and doc["threads"] >= 1
    assert doc["load_seconds"] >= 0
    sizes = [r["n_atoms"] for r in doc["single_point"]]
    assert sizes == [32, 108]  # sorted, increasing
    for r in doc["single_point"]:
        assert r["median_seconds"] > 0 and r["seconds_per_atom"] > 0 and r["repeats"] == 3
        assert r["min_seconds"] <= r["median_seconds"] <= r["max_seconds"]
    assert doc["largest_fitted"] == 108 and doc["oom_at"] is None
    assert doc["md"]["n_atoms"] == 32 and doc["md"]["steps_per_second"] > 0
    assert doc["memory"]["rss_peak_mib"] > 10


def test_oom_ends_the_scan_and_records_the_largest_size(emt_model):
    from dataclasses import replace

    from ase.calculators.emt import EMT

    class SmallCard(EMT):
        def calculate(self, atoms=None, properties=("energy",), system_changes=()):
            if len(atoms) > 40:
                raise RuntimeError("CUDA out of memory. Tried to allocate 20.00 GiB")
            super().calculate(atoms, properties, system_changes)

    model = replace(emt_model, make_calculator=SmallCard)
    doc = measure_cost(model, sizes=[32, 108, 256], repeats=1, warmup=0, md_steps=0)
    assert doc["largest_fitted"] == 32 and doc["oom_at"] == 108
    assert [r["n_atoms"] for r in doc["single_point"]] == [32]
    assert "out of memory" in doc["stopped"] and doc["md"] is None


def test_supercell_sizes():
    assert len(al_supercell(32)) == 32 and len(al_supercell(500)) == 500
    with pytest.raises(ValueError):
        al_supercell(100)


def test_cost_command_writes_json(tmp_path):
    from rich.console import Console

    doc = cost_command("emt", tmp_path, quick=True, console=Console(file=open(tmp_path / "out.txt", "w")))
    saved = json.loads((tmp_path / "cost.json").read_text())
    assert saved["model"]["name"] == "emt" and [r["n_atoms"] for r in saved["single_point"]] == [32, 108]
    assert doc["settings"] == saved["settings"]
    assert "µs/atom" in (tmp_path / "out.txt").read_text()


def test_bad_model_name_is_a_user_error(tmp_path):
    with pytest.raises(UserError, match="unknown model"):
        cost_command("no-such-model", tmp_path, quick=True)
    assert not (tmp_path / "cost.json").exists()


def test_a_model_in_its_own_environment_is_measured_by_that_environment(tmp_path):
    """`alloybench cost` on a family that lives in its own environment (LAMMPS, matgl, DeePMD)
    runs the measurement with that environment's Python.  Here the 'environment' is this venv
    itself, so the real subprocess path is exercised without building one."""
    import dataclasses
    import sys

    from alloybench.cost import measure_cost_in_env
    from alloybench.errors import UserError
    from alloybench.models import resolve

    model = dataclasses.replace(resolve("emt"), env=sys.prefix)
    doc = measure_cost_in_env(model, "cpu", quick=True)
    assert [r["n_atoms"] for r in doc["single_point"]] == [32, 108]
    assert all(r["microseconds_per_atom"] > 0 for r in doc["single_point"]) and doc["model"]["name"] == "emt"
    bad = dataclasses.replace(model, source="no-such-model", name="no-such-model")
    with pytest.raises(UserError, match="no-such-model.*failed"):
        measure_cost_in_env(bad, "cpu", quick=True)


def test_cpu_scan_stops_before_a_size_the_host_cannot_hold(emt_model, monkeypatch):
    """On the CPU running out of memory kills the process (DPA3 once took 22 of 24 GiB), so the
    scan extrapolates the next size's need from the last one's growth and stops first; MD then
    runs on the largest size measured, not on the default 256 atoms."""
    from dataclasses import replace

    import numpy as np
    from ase.calculators.emt import EMT

    from alloybench import hostmem

    class Hungry(EMT):  # needs 1 MiB per atom during a call, like a model's activations
        def calculate(self, atoms=None, properties=("energy",), system_changes=()):
            block = np.ones(len(atoms) * 2**17)
            super().calculate(atoms, properties, system_changes)
            del block

    monkeypatch.setattr(hostmem, "available_bytes", lambda: 100 * 2**20)  # 32 MiB fits, 108 does not
    doc = measure_cost(replace(emt_model, make_calculator=Hungry), sizes=[32, 108, 256], repeats=1, warmup=0,
                       md_steps=2, md_atoms=256, device="cpu")
    assert [r["n_atoms"] for r in doc["single_point"]] == [32]
    assert doc["single_point"][0]["rss_growth_mib"] >= 30
    assert "108 atoms would need about" in doc["stopped"] and "GiB available" in doc["stopped"]
    assert doc["md"]["n_atoms"] == 32
