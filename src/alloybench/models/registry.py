"""The registry of known models: ``registry.yaml`` (package data), validated with pydantic.

``REGISTRY`` maps every name and alias (lower-case) to a ``ModelSpec``; ``DEFAULT_MODEL``
is what ``alloybench run`` uses without ``--model``."""

from __future__ import annotations

from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any, Literal

from ase.calculators.calculator import Calculator
from ase.data import chemical_symbols
from pydantic import BaseModel, ConfigDict, ValidationError, field_validator

from alloybench.elements import check_elements
from alloybench.models.families import FAMILIES, Family
from alloybench.models.weights import packaged_weights

# Elements of MPtrj / Alexandria / OMat-trained universal models (Z = 1..89 at least).
UNIVERSAL = frozenset(chemical_symbols[1:90])


@dataclass(frozen=True)
class ModelSpec:
    """A known model: what it is and where its weights are."""

    name: str
    family: str
    version: str
    training_data: str
    elements: frozenset[str]
    package: str | None = None  # default: the family's import name
    extra: str | None = None  # default: the family's extra
    licence: str = ""
    weights: str = ""  # where the weights come from, in words
    options: dict[str, Any] = field(default_factory=dict)  # passed to the loader
    notes: str = ""
    files: tuple[str, ...] = ()  # file/folder names searched in weight folders and caches
    packaged: tuple[str, ...] = ()  # paths inside the package folder (shipped or downloaded there)
    cache_dirs: tuple[str, ...] = ()  # the family's own download caches
    url: str = ""  # where a user downloads the weights by hand

    @property
    def fam(self) -> Family:
        return FAMILIES[self.family]

    def load(self, weights: Path | None, device: str | None = None) -> Calculator:
        return self.fam.load(weights, self.options, device)

    @property
    def import_name(self) -> str | None:
        return self.package if self.package is not None else self.fam.package

    @property
    def extra_name(self) -> str:
        return self.extra or self.fam.extra or self.family

    def installed(self) -> bool:
        if self.import_name is None:
            return True
        return self.fam.installed() if self.package is None else _importable(self.package)

    def needs_weights(self) -> bool:
        return bool(self.files or self.packaged)

    def weights_path(self, site_packages: Path | None = None) -> Path | None:
        if not self.needs_weights():
            return None
        return packaged_weights(self, site_packages)

    def env_dir(self) -> Path | None:
        from alloybench import envs

        return envs.env_dir(self.family) if envs.env_ready(self.family) else None

    def weights_hint(self) -> str:
        where = f"put {self.files[0]} in $ALLOYBENCH_WEIGHTS" if self.files else ""
        hint = f"{self.fam.weights_hint} ({self.name}=PATH{', or ' + where if where else ''})"
        return hint + (f"; download: {self.url}" if self.url else "")

    def status(self) -> str:
        """``ready``, ``ready (env ...)``, or what is missing and how to get it."""
        here = self.installed()
        env = None if here else self.env_dir()
        where = "" if here else f" (env {env})"
        if not here and env is None:
            msg = f"missing package: pip install 'alloybench[{self.extra_name}]' or alloybench env create {self.family}"
            if self.files and self.weights_path() is None:
                msg += f"; weights missing: {self.files[0]}"
            return msg
        if self.needs_weights():
            site = None if here else _site_packages(env)
            if self.weights_path(site) is None:
                return f"weights missing: {self.weights_hint()}"
        return "ready" + where


def _importable(module: str) -> bool:
    import importlib.util

    try:
        return importlib.util.find_spec(module) is not None
    except (ImportError, ValueError):
        return False


def _site_packages(env: Path | None) -> Path | None:
    if env is None:
        return None
    hits = sorted(env.glob("lib/python3*/site-packages"))
    return hits[0] if hits else None


# ----------------------------------------------------------------------------------- the data file
class RegistryEntry(BaseModel):
    """One model in registry.yaml."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str
    family: str  # a key of alloybench.models.families.FAMILIES
    version: str  # what identifies the weights when they are not a file (the store key otherwise hashes them)
    training_data: str
    elements: Literal["universal"] | list[str]
    licence: str = ""
    weights: str = ""  # where the weights come from, in words
    notes: str = ""
    url: str = ""  # where a user downloads the weights by hand
    options: dict[str, Any] = {}  # given to the family's loader (e.g. SevenNet's modal)
    files: list[str] = []  # file/folder names searched in $ALLOYBENCH_WEIGHTS and the cache folders
    packaged: list[str] = []  # paths inside the family package's folder (glob allowed in the last part)
    cache_dirs: list[str] = []  # the family's own download caches
    aliases: list[str] = []
    package: str | None = None  # default: the family's import name
    extra: str | None = None  # default: the family's extra

    @field_validator("family")
    @classmethod
    def _known_family(cls, value: str) -> str:
        if value not in FAMILIES:
            raise ValueError(f"unknown family '{value}' (known: {', '.join(FAMILIES)})")
        return value

    @field_validator("elements")
    @classmethod
    def _symbols(cls, value):
        if isinstance(value, list):
            check_elements(value, error=ValueError)
        return value

    def spec(self) -> ModelSpec:
        return ModelSpec(self.name, self.family, self.version, self.training_data,
                         UNIVERSAL if self.elements == "universal" else frozenset(self.elements),
                         package=self.package, extra=self.extra, licence=self.licence, weights=self.weights,
                         options=dict(self.options), notes=self.notes, files=tuple(self.files),
                         packaged=tuple(self.packaged), cache_dirs=tuple(self.cache_dirs), url=self.url)


class RegistryFile(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    default: str
    models: list[RegistryEntry]


def parse_registry(text: str, where: str = "registry.yaml") -> tuple[dict[str, ModelSpec], str]:
    """(name or alias, lower-case -> ModelSpec; the default model's name) from registry YAML text."""
    import yaml

    try:
        doc = RegistryFile.model_validate(yaml.safe_load(text))
    except ValidationError as exc:
        raise ValueError(f"{where}: {exc}") from None
    registry: dict[str, ModelSpec] = {}
    for entry in doc.models:
        spec = entry.spec()
        for key in (entry.name, *entry.aliases):
            if key.lower() in registry:
                raise ValueError(f"{where}: the name '{key}' is given twice")
            registry[key.lower()] = spec
    if doc.default.lower() not in registry:
        raise ValueError(f"{where}: default model '{doc.default}' is not in the registry")
    return registry, doc.default


def load_registry() -> tuple[dict[str, ModelSpec], str]:
    text = resources.files("alloybench.models").joinpath("registry.yaml").read_text(encoding="utf-8")
    return parse_registry(text)


REGISTRY, DEFAULT_MODEL = load_registry()

__all__ = ["DEFAULT_MODEL", "REGISTRY", "UNIVERSAL", "ModelSpec", "RegistryEntry", "load_registry", "parse_registry"]
