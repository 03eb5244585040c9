"""Models: a name or a path -> ASE calculator factory plus metadata.

Nothing here downloads: named models resolve to weights that a package ships
or to a local path, and a missing package or file is a one-line UserError.
"""

from __future__ import annotations

import hashlib
import importlib
import importlib.util
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ase.calculators.calculator import Calculator
from ase.data import chemical_symbols

from alloybench.errors import MissingExtra, UserError
from alloybench.models import adapters

# Elements of MPtrj / Alexandria / OMat-trained universal models (Z = 1..89 at least).
UNIVERSAL = frozenset(chemical_symbols[1:90])
EMT_ELEMENTS = frozenset({"H", "C", "N", "O", "Al", "Ni", "Cu", "Pd", "Ag", "Pt", "Au"})


@dataclass(frozen=True)
class ModelSpec:
    """A known model: what it is and how to load it."""

    name: str
    family: str
    version: str
    training_data: str
    elements: frozenset[str]
    loader: Callable[..., Calculator]
    package: str | None = None  # import name that must be installed
    extra: str | None = None  # alloybench extra that installs it
    licence: str = ""
    weights: str = ""  # where the weights come from
    options: dict[str, Any] = field(default_factory=dict)
    notes: str = ""

    def installed(self) -> bool:
        return self.package is None or importlib.util.find_spec(self.package) is not None

    def weights_path(self) -> Path | None:
        return adapters.packaged_weights(self) if self.installed() else None

    def status(self) -> str:
        if not self.installed():
            return f"missing package: pip install 'alloybench[{self.extra}]'"
        if self.package is not None and self.weights_path() is None:
            return f"weights missing ({self.weights})"
        return "ready"


@dataclass(frozen=True)
class Model:
    """A resolved model: stable id (store key), metadata and a calculator factory."""

    id: str
    name: str
    family: str
    elements: frozenset[str] | None
    make_calculator: Callable[[], Calculator]
    info: dict[str, Any] = field(default_factory=dict)


REGISTRY: dict[str, ModelSpec] = {}


def _register(spec: ModelSpec, *aliases: str) -> None:
    for key in (spec.name, *aliases):
        REGISTRY[key.lower()] = spec


_register(ModelSpec("emt", "classical", "ase", "fitted to experiment (Jacobsen 1996)", EMT_ELEMENTS,
                    adapters.load_emt, licence="LGPL (ASE)", weights="built into ASE",
                    notes="ASE's effective-medium theory: fast, for protocol tests; no Mg, Zn"))
for name, ckpt, data, opts, aliases in [
    ("sevennet-0", "7net-0", "MPtrj", {}, ("7net-0",)),
    ("sevennet-l3i5", "7net-l3i5", "MPtrj", {}, ("7net-l3i5",)),
    ("sevennet-mf-0", "7net-mf-0", "MPtrj + sAlex (multi-fidelity; PBE modality)", {"modal": "PBE"}, ("7net-mf-0",)),
]:
    _register(ModelSpec(name, "sevennet", ckpt, data, UNIVERSAL, adapters.load_sevennet, package="sevenn",
                        extra="sevenn", licence="GPL-3.0", weights="shipped in the sevenn wheel",
                        options={"checkpoint": ckpt, **opts}), *aliases)
for version in ("0.3.0", "0.2.0"):
    _register(ModelSpec(f"chgnet-{version}", "chgnet", version, "MPtrj", UNIVERSAL, adapters.load_chgnet,
                        package="chgnet", extra="chgnet", licence="BSD-3-Clause",
                        weights="shipped in the chgnet wheel", options={"version": version}))

DEFAULT_MODEL = "sevennet-0"


def file_digest(path: Path) -> str:
    """Content hash of a weights file or folder: the store key follows the weights, not the path."""
    h = hashlib.sha256()
    files = sorted(p for p in path.rglob("*") if p.is_file()) if path.is_dir() else [path]
    for f in files:
        h.update(f.name.encode())
        with open(f, "rb") as fh:
            for chunk in iter(lambda: fh.read(1 << 20), b""):
                h.update(chunk)
    return h.hexdigest()[:16]


def _from_spec(spec: ModelSpec) -> Model:
    if not spec.installed():
        raise MissingExtra(f"model '{spec.name}'", spec.extra or spec.family, spec.package)
    weights = spec.weights_path()
    if spec.package is not None and weights is None:
        raise UserError(f"model '{spec.name}': weights not found ({spec.weights})")
    wid = file_digest(weights) if weights else spec.version
    return Model(
        id=f"{spec.name}@{wid}",
        name=spec.name,
        family=spec.family,
        elements=spec.elements,
        make_calculator=lambda: spec.loader(spec, weights),
        info={"family": spec.family, "version": spec.version, "training_data": spec.training_data,
              "licence": spec.licence, "weights": str(weights) if weights else spec.weights},
    )


def resolve(name_or_path: str) -> Model:
    """A registry name, a local weights path, or ``module:callable`` -> Model."""
    spec = REGISTRY.get(name_or_path.lower())
    if spec is not None:
        return _from_spec(spec)
    path = Path(name_or_path).expanduser()
    if path.exists():
        return adapters.from_path(path.resolve(), file_digest(path))
    if ":" in name_or_path and not path.suffix:
        return adapters.from_callable(name_or_path)
    if any(ch in name_or_path for ch in "/\\.") or path.suffix:
        raise UserError(f"model path not found: {name_or_path}")
    raise UserError(f"unknown model '{name_or_path}' (see 'alloybench models')")


__all__ = ["DEFAULT_MODEL", "REGISTRY", "Model", "ModelSpec", "resolve"]
