"""Packaged, typed reference data (values with unit and source per value)."""

from __future__ import annotations

import json
from functools import lru_cache
from importlib import resources
from typing import Any, Union

from pydantic import BaseModel, ConfigDict, field_validator

from alloybench.jobs import Structure

Number = Union[float, int]
Value = Union[Number, str, list[Any]]

KNOWN_UNITS = {"Å", "Å^3", "Å^3/atom", "deg", "eV", "eV/atom", "GPa", "mJ/m^2", "meV", "eV/Å^2", "-"}


class RefValue(BaseModel):
    model_config = ConfigDict(frozen=True)
    value: Value
    unit: str
    source: str

    @field_validator("unit")
    @classmethod
    def _known_unit(cls, unit: str) -> str:
        if unit not in KNOWN_UNITS:
            raise ValueError(f"unknown unit {unit!r}")
        return unit


class RefStructure(BaseModel):
    model_config = ConfigDict(frozen=True)
    symbols: list[str]
    positions: list[list[float]]
    cell: list[list[float]]
    pbc: list[bool] = [True, True, True]

    @field_validator("positions", "cell")
    @classmethod
    def _three_vectors(cls, rows: list[list[float]]) -> list[list[float]]:
        if any(len(r) != 3 for r in rows):
            raise ValueError("vectors must have 3 components")
        return rows

    def to_structure(self) -> Structure:
        return Structure.from_dict(self.model_dump())


class Phase(BaseModel):
    model_config = ConfigDict(frozen=True)
    id: str
    label: str
    structure: RefStructure
    structure_source: str

    @property
    def elements(self) -> frozenset[str]:
        return frozenset(self.structure.symbols)


class SpecialStructure(BaseModel):
    model_config = ConfigDict(frozen=True)
    structure: RefStructure
    structure_source: str


class Reference(BaseModel):
    model_config = ConfigDict(frozen=True)
    name: str
    title: str
    citation: str
    method: str
    phases: dict[str, Phase]
    special_structures: dict[str, SpecialStructure] = {}
    values: dict[str, RefValue]

    def value(self, key: str) -> RefValue | None:
        return self.values.get(key)

    def phase_value(self, phase: str, prop: str) -> RefValue | None:
        return self.values.get(f"{self.phases[phase].id}-{prop}")


@lru_cache(maxsize=None)
def load_reference(name: str = "alcumgzn_pbe") -> Reference:
    """Load and validate a packaged reference set."""
    text = resources.files("alloybench.reference").joinpath("data", f"{name}.json").read_text()
    return Reference.model_validate(json.loads(text))
