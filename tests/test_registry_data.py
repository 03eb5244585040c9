"""The registry is data (models/registry.yaml, validated with pydantic) and every family is one module."""

from __future__ import annotations

import pytest

from alloybench.models import DEFAULT_MODEL, FAMILIES, REGISTRY
from alloybench.models.families import SNIFF_RULES, cpu_only, device_for
from alloybench.models.registry import parse_registry

ENTRY = "default: a\nmodels:\n- {name: a, family: classical, version: ase, training_data: t, elements: [Al]}\n"


def test_packaged_registry_loads():
    assert DEFAULT_MODEL.lower() in REGISTRY
    assert REGISTRY["7net-0"] is REGISTRY["sevennet-0"]  # aliases
    assert all(spec.family in FAMILIES for spec in REGISTRY.values())


def test_a_minimal_registry_parses():
    registry, default = parse_registry(ENTRY)
    assert default == "a" and registry["a"].elements == frozenset({"Al"})


@pytest.mark.parametrize("text, needle", [
    (ENTRY.replace("classical", "nosuch"), "unknown family 'nosuch'"),
    (ENTRY.replace("[Al]", "[Al, Qq]"), "not a chemical element: Qq"),
    (ENTRY.replace("elements:", "colour: red, elements:"), "colour"),
    (ENTRY.replace("default: a", "default: b"), "default model 'b'"),
    (ENTRY + "- {name: A, family: eam, version: x, training_data: t, elements: universal}\n", "given twice"),
])
def test_bad_registry_data_is_refused(text, needle):
    with pytest.raises(ValueError, match=needle):
        parse_registry(text)


def test_every_family_module_fills_in_its_record():
    for name, fam in FAMILIES.items():
        assert fam.name == name and callable(fam.loader) and fam.title
        assert not fam.pip or fam.extra, name  # a recipe has an extra to name in messages
    ranks = [rank for rank, _, _ in SNIFF_RULES]
    assert ranks == sorted(set(ranks))


def test_cpu_only_families_agree_for_run_timing_and_cost():
    assert {n for n in FAMILIES if cpu_only(n)} == {"classical", "eam", "ace", "lammps", "kim", "dft"}
    assert device_for("lammps", "cuda") == "cpu" and device_for("sevennet", "cuda:1") == "cuda:1"
    assert not cpu_only("custom")  # a callable decides for itself
