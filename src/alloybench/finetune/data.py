"""Labelled pools: reading, checking, digesting, stratified draws, energy alignment.

A pool is an extxyz file of DFT-labelled structures (energy eV, forces eV/Å,
stress eV/Å³ when present) with each frame's structure kind in ``info`` (``kind``,
else ``config_type``). Draws are stratified by kind and nested: for one seed the N=10
draw is the first ten of the N=20 draw, so a learning curve's points differ by the
data added, not by a new lottery.
"""

from __future__ import annotations

import hashlib
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from ase import Atoms
from ase.calculators.singlepoint import SinglePointCalculator

from alloybench.errors import UserError

KIND_KEYS = ("kind", "config_type", "structure_kind")


@dataclass(frozen=True)
class Frame:
    """One labelled structure: energy eV, forces eV/Å, stress eV/Å³ (Voigt xx yy zz yz xz xy) or None."""

    atoms: Atoms
    energy_eV: float
    forces_eV_per_A: np.ndarray
    stress_eV_per_A3: np.ndarray | None
    kind: str

    @property
    def natoms(self) -> int:
        return len(self.atoms)

    def labelled(self, energy_eV: float | None = None) -> Atoms:
        """A copy carrying the labels as a SinglePointCalculator (what every family's reader takes)."""
        a = self.atoms.copy()
        a.info = {k: v for k, v in self.atoms.info.items() if isinstance(v, (str, int, float))}
        a.info["kind"] = self.kind
        results = {"energy": self.energy_eV if energy_eV is None else energy_eV,
                   "forces": np.array(self.forces_eV_per_A)}
        if self.stress_eV_per_A3 is not None:
            results["stress"] = np.array(self.stress_eV_per_A3)
        a.calc = SinglePointCalculator(a, **results)
        return a


def _kind(atoms: Atoms) -> str:
    for k in KIND_KEYS:
        if atoms.info.get(k) not in (None, ""):
            return str(atoms.info[k])
    return "unknown"


def read_pool(path: Path | str) -> list[Frame]:
    """Every frame of a labelled extxyz; a missing file, no frame, or a frame without
    energy or forces is the user's mistake (UserError, one line)."""
    from ase.io import read

    path = Path(path)
    if not path.exists():
        raise UserError(f"data file not found: {path}")
    try:
        images = read(str(path), index=":")
    except Exception as exc:  # noqa: BLE001 - any parse error is the user's file
        raise UserError(f"cannot read {path} as extxyz: {str(exc).splitlines()[0] if str(exc) else type(exc).__name__}")
    if not images:
        raise UserError(f"{path}: no structures (an empty pool)")
    frames = []
    for i, a in enumerate(images):
        calc = a.calc
        res = getattr(calc, "results", {}) if calc is not None else {}
        energy = res.get("energy", res.get("free_energy", a.info.get("energy")))
        forces = res.get("forces", a.arrays.get("forces"))
        stress = res.get("stress", a.info.get("stress"))
        if len(a) == 0:
            raise UserError(f"{path}: structure {i} has no atoms")
        if energy is None or forces is None:
            missing = "energy" if energy is None else "forces"
            raise UserError(f"{path}: structure {i} has no {missing} label (an unlabelled pool?)")
        forces = np.asarray(forces, dtype=float)
        if forces.shape != (len(a), 3) or not np.all(np.isfinite(forces)) or not np.isfinite(float(energy)):
            raise UserError(f"{path}: structure {i}: forces of shape {forces.shape} for {len(a)} atoms or a "
                            f"non-finite label")
        if stress is not None:
            stress = np.asarray(stress, dtype=float)
            if stress.shape == (3, 3):
                stress = stress[[0, 1, 2, 1, 0, 0], [0, 1, 2, 2, 2, 1]]
            if stress.shape != (6,) or not np.all(np.isfinite(stress)):
                raise UserError(f"{path}: structure {i}: stress must be 6 Voigt or 3x3 values (eV/Å³)")
        bare = Atoms(a.numbers, positions=a.positions, cell=a.cell, pbc=a.pbc, info=dict(a.info))
        frames.append(Frame(bare, float(energy), forces, stress, _kind(a)))
    return frames


def pool_digest(frames: list[Frame]) -> str:
    """Content hash of a pool (numbers, cell, positions, labels, kind): the data part of a checkpoint's provenance."""
    h = hashlib.sha256()
    for f in frames:
        h.update(f.kind.encode())
        h.update(np.asarray(f.atoms.numbers, dtype=np.int64).tobytes())
        for arr in (f.atoms.cell.array, f.atoms.positions, f.forces_eV_per_A):
            h.update(np.round(np.asarray(arr, dtype=float), 8).tobytes())
        h.update(np.round(np.array([f.energy_eV]), 8).tobytes())
        if f.stress_eV_per_A3 is not None:
            h.update(np.round(f.stress_eV_per_A3, 10).tobytes())
    return h.hexdigest()[:16]


def stratified_order(kinds: list[str], seed: int) -> list[int]:
    """A permutation of the pool whose every prefix is stratified by kind.

    Each kind's members are shuffled; member j of a kind of n gets the key (j + u)/n with
    u uniform in [0, 1) per kind; sorting by key interleaves the kinds in proportion to
    their sizes (systematic sampling), so the first N hold about N·n_k/n_total of kind k."""
    rng = np.random.default_rng([seed, 0x5EED])
    by_kind: dict[str, list[int]] = {}
    for i, k in enumerate(kinds):
        by_kind.setdefault(k, []).append(i)
    keyed = []
    for k in sorted(by_kind):
        members = list(by_kind[k])
        rng.shuffle(members)
        u = rng.random()
        n = len(members)
        keyed.extend(((j + u) / n, rng.random(), i) for j, i in enumerate(members))
    keyed.sort()
    return [i for _, _, i in keyed]


def draw(frames: list[Frame], n: int, seed: int) -> list[int]:
    """Indices of the N structures for (N, seed): the first N of ``stratified_order``."""
    if n > len(frames):
        raise UserError(f"N={n} is larger than the pool ({len(frames)} structures)")
    return stratified_order([f.kind for f in frames], seed)[:n]


def split_valid(indices: list[int], n_valid: int, seed: int) -> tuple[list[int], list[int]]:
    """(train, valid) from the N drawn: ``n_valid`` of them chosen by the seed, reproducibly."""
    if n_valid <= 0:
        return list(indices), []
    rng = np.random.default_rng([seed, len(indices), 0xBA1])
    pick = set(rng.choice(len(indices), size=n_valid, replace=False).tolist())
    train = [i for j, i in enumerate(indices) if j not in pick]
    valid = [i for j, i in enumerate(indices) if j in pick]
    return train, valid


def kind_counts(frames: list[Frame], indices: list[int] | None = None) -> dict[str, int]:
    idx = range(len(frames)) if indices is None else indices
    return dict(sorted(Counter(frames[i].kind for i in idx).items()))


def composition_matrix(frames: list[Frame], elements: list[str]) -> np.ndarray:
    col = {e: j for j, e in enumerate(elements)}
    m = np.zeros((len(frames), len(elements)))
    for i, f in enumerate(frames):
        for s in f.atoms.get_chemical_symbols():
            m[i, col[s]] += 1
    return m


def fit_element_offsets(frames: list[Frame], predicted_eV: list[float], elements: list[str],
                        ridge: float = 1e-3) -> dict[str, float]:
    """Per-element energies d_el (eV/atom) with E_DFT - E_model ≈ Σ n_el d_el.

    DFT codes and models put the energy zero in different places (GPAW's PAW reference
    atoms, VASP's): a constant per element, which every energy difference the suite scores
    cancels. A common per-atom offset first, then per-element corrections with a small
    ridge toward it, so an element absent from the structures gets the common offset."""
    comp = composition_matrix(frames, elements)
    y = np.array([f.energy_eV for f in frames]) - np.asarray(predicted_eV, dtype=float)
    c0 = float(y.sum() / comp.sum())
    r = y - comp.sum(axis=1) * c0
    scale = float(np.mean(comp.sum(axis=1))) or 1.0
    a = np.vstack([comp, np.sqrt(ridge) * scale * np.eye(len(elements))])
    b = np.concatenate([r, np.zeros(len(elements))])
    corr, *_ = np.linalg.lstsq(a, b, rcond=None)
    return {e: c0 + float(corr[j]) for j, e in enumerate(elements)}


def shifted_energy(frame: Frame, offsets: dict[str, float]) -> float:
    """The DFT energy moved to the model's zero: E_DFT - Σ n_el d_el (eV)."""
    return frame.energy_eV - sum(offsets[s] for s in frame.atoms.get_chemical_symbols())


def write_extxyz(path: Path, frames: list[Frame], offsets: dict[str, float] | None = None) -> None:
    from ase.io import write

    path.parent.mkdir(parents=True, exist_ok=True)
    images = [f.labelled(shifted_energy(f, offsets) if offsets else None) for f in frames]
    tmp = path.with_suffix(path.suffix + ".tmp")
    write(str(tmp), images, format="extxyz")
    tmp.replace(path)


def elements_of(frames: list[Frame]) -> list[str]:
    return sorted({s for f in frames for s in f.atoms.get_chemical_symbols()})
