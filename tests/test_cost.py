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
