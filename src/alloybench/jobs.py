"""Jobs are data: a structure plus what to compute on it, never code.

Tasks build Jobs, engines execute them, the store keys results by
``digest(model, job)``.  A Job carries everything that changes its answer
(structure, relaxation protocol, the owning task's protocol version), so a
protocol change changes the digest and old results are never mixed in.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass
from typing import Any, Literal

import numpy as np
from ase import Atoms

ROUND = 10  # decimals kept when hashing coordinates: far below any physical tolerance


@dataclass(frozen=True)
class Structure:
    """Hashable, JSON-friendly snapshot of an ``ase.Atoms`` (Å, periodic flags)."""

    symbols: tuple[str, ...]
    positions: tuple[tuple[float, float, float], ...]
    cell: tuple[tuple[float, float, float], ...]
    pbc: tuple[bool, bool, bool] = (True, True, True)

    @classmethod
    def from_atoms(cls, atoms: Atoms) -> "Structure":
        return cls(
            symbols=tuple(atoms.get_chemical_symbols()),
            positions=tuple(tuple(round(float(x), ROUND) for x in p) for p in atoms.positions),
            cell=tuple(tuple(round(float(x), ROUND) for x in v) for v in atoms.cell.array),
            pbc=tuple(bool(x) for x in atoms.pbc),
        )

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "Structure":
        return cls(
            symbols=tuple(d["symbols"]),
            positions=tuple(tuple(round(float(x), ROUND) for x in p) for p in d["positions"]),
            cell=tuple(tuple(round(float(x), ROUND) for x in v) for v in d["cell"]),
            pbc=tuple(d.get("pbc", (True, True, True))),
        )

    def to_atoms(self) -> Atoms:
        return Atoms(
            symbols=list(self.symbols),
            positions=np.array(self.positions, dtype=float),
            cell=np.array(self.cell, dtype=float),
            pbc=self.pbc,
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "symbols": list(self.symbols),
            "positions": [list(p) for p in self.positions],
            "cell": [list(v) for v in self.cell],
            "pbc": list(self.pbc),
        }

    @property
    def elements(self) -> frozenset[str]:
        return frozenset(self.symbols)

    def __len__(self) -> int:
        return len(self.symbols)


@dataclass(frozen=True)
class Relax:
    """How to relax.  ``cell_mask`` are the six Voigt flags (xx yy zz yz xz xy)
    of the strain components the cell may relax (all six: FrechetCellFilter; a partial
    mask: UnitCellFilter with that mask, see engine/serial._cell_filter);
    ``None`` keeps the cell fixed.  ``fixed_atoms`` never move;
    ``free_directions`` restricts every other atom to move only along the
    Cartesian axes flagged True (e.g. (False, False, True): normal to a fault)."""

    fmax: float = 1e-3  # eV/Å
    max_steps: int = 500
    cell_mask: tuple[bool, bool, bool, bool, bool, bool] | None = None
    fixed_atoms: tuple[int, ...] = ()
    free_directions: tuple[bool, bool, bool] = (True, True, True)
    optimizer: Literal["FIRE", "BFGS", "LBFGS"] = "FIRE"  # ASE optimisers (docs/protocols.md: which, why)


FULL_CELL = (True, True, True, True, True, True)


@dataclass(frozen=True)
class Job:
    """One calculation: ``relax`` is None for a single point.

    ``task``/``name`` identify the job inside its task; ``protocol`` is the
    task's protocol version so that changing a protocol invalidates results.
    """

    task: str
    name: str
    structure: Structure
    relax: Relax | None = None
    protocol: str = "1"

    @property
    def digest(self) -> str:
        """Content hash: what is computed, not who asked for it (so shared
        Jobs such as a bulk relaxation are computed once for all tasks)."""
        payload = {
            "structure": self.structure.to_dict(),
            "relax": asdict(self.relax) if self.relax else None,
            "protocol": self.protocol,
        }
        return hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()[:24]

    @property
    def n_atoms(self) -> int:
        return len(self.structure)


@dataclass
class Result:
    """What an engine returns for a Job.  Energies in eV, stress in eV/Å³
    (ASE's sign: positive = tensile), forces in eV/Å.  A failure keeps its
    stage and reason and is stored like a success."""

    ok: bool
    energy: float | None = None
    forces: list[list[float]] | None = None
    stress: list[float] | None = None  # Voigt, eV/Å^3
    structure: Structure | None = None  # final (relaxed) structure
    steps: int = 0
    converged: bool = True
    stage: str = ""
    reason: str = ""
    seconds: float = 0.0

    @property
    def atoms(self) -> Atoms:
        if self.structure is None:
            raise ValueError("result has no structure")
        return self.structure.to_atoms()

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["structure"] = self.structure.to_dict() if self.structure else None
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "Result":
        d = dict(d)
        if d.get("structure"):
            d["structure"] = Structure.from_dict(d["structure"])
        return cls(**d)

    @classmethod
    def failure(cls, stage: str, reason: str, seconds: float = 0.0) -> "Result":
        return cls(ok=False, converged=False, stage=stage, reason=reason, seconds=seconds)
