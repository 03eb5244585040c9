"""The recipe of the packaged Al–Cu–Mg–Zn DFT set: candidate structures, by kind.

Reproducible from a seed.  Kinds (``atoms.info['kind']``):

- ``phase``: the eight reference phases (alloybench.reference), random strain
  (±3 % per component) and rattle (σ 0.03–0.08 Å), primitive or conventional cells;
- ``solute``: Cu/Mg/Zn/Si solutes, solute pairs and vacancies in 8-atom fcc Al
  (2×2×2 primitive) and Cu cells, rattled;
- ``fault``: fcc Al (111) 6-layer cells with the c vector tilted along [11-2] by a
  fraction of the Burgers vector (the GSF path, stable and unstable faults included);
- ``surface``: Al(111), Al(100) and Cu(111) 1×1 slabs, 5 layers + 10 Å vacuum;
- ``md``: snapshots of short NVT MD (300/600/900 K) with SevenNet-0 and CHGNet;
- ``committee``: of a pool of random perturbations, the cells where SevenNet-0 and
  CHGNet disagree most on forces (largest per-atom force difference).

Every frame gets a fixed ``split`` ('train' | 'test'): every third frame of each kind
(after a seeded shuffle) is held out, so a partially labelled set stays stratified.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from ase import Atoms
from ase.build import bulk, fcc100, fcc111

SOLUTES = ("Cu", "Mg", "Zn", "Si")
A_AL, A_CU = 4.04, 3.63  # Å, PBE-like lattice constants for building cells


def _strain(atoms: Atoms, rng: np.random.Generator, amp: float) -> Atoms:
    eps = rng.uniform(-amp, amp, (3, 3))
    eps = 0.5 * (eps + eps.T)
    a = atoms.copy()
    a.set_cell(a.cell.array @ (np.eye(3) + eps), scale_atoms=True)
    return a


def _rattle(atoms: Atoms, rng: np.random.Generator, sigma: float) -> Atoms:
    a = atoms.copy()
    a.positions += rng.normal(0, sigma, a.positions.shape)
    return a


def _tag(atoms: Atoms, kind: str, name: str) -> Atoms:
    atoms.info = {"kind": kind, "name": name}
    atoms.calc = None
    return atoms


def phases(rng: np.random.Generator, per_phase: int = 8) -> list[Atoms]:
    from alloybench.reference import load_reference

    out = []
    for pid, ph in load_reference().phases.items():
        base = ph.structure.to_structure().to_atoms()
        for i in range(per_phase):
            cell = base
            if len(base) == 1 and i % 2 == 1:  # fcc: the 4-atom cubic cell, so the rattle means something
                cell = bulk(base.get_chemical_symbols()[0], "fcc", a=(4 * base.get_volume()) ** (1 / 3), cubic=True)
            a = _strain(cell, rng, 0.03)
            if len(a) > 1:
                a = _rattle(a, rng, rng.uniform(0.03, 0.08))
            out.append(_tag(a, "phase", f"{pid}_{i}"))
    return out


def _fcc8(host: str, a0: float) -> Atoms:
    return bulk(host, "fcc", a=a0).repeat((2, 2, 2))


def solutes(rng: np.random.Generator) -> list[Atoms]:
    out = []
    for host, a0 in (("Al", A_AL), ("Cu", A_CU)):
        others = [s for s in SOLUTES + ("Al",) if s != host]
        for s in others:  # single solute
            a = _fcc8(host, a0)
            a[0].symbol = s
            out.append(_tag(_rattle(a, rng, 0.05), "solute", f"{host}7{s}"))
        for s in others:  # solute-vacancy (first neighbours in the 8-atom cell)
            a = _fcc8(host, a0)
            a[0].symbol = s
            del a[1]
            out.append(_tag(_rattle(a, rng, 0.04), "solute", f"{host}6{s}_vac"))
        a = _fcc8(host, a0)
        del a[0]
        out.append(_tag(_rattle(a, rng, 0.04), "solute", f"{host}7_vac"))
        if host == "Al":
            pairs = [("Cu", "Cu"), ("Mg", "Mg"), ("Zn", "Zn"), ("Cu", "Mg"), ("Mg", "Zn"), ("Cu", "Zn"), ("Mg", "Si"),
                     ("Cu", "Si")]
            for s1, s2 in pairs:
                a = _fcc8(host, a0)
                a[0].symbol, a[int(rng.integers(1, 8))].symbol = s1, s2
                out.append(_tag(_rattle(_strain(a, rng, 0.01), rng, 0.04), "solute", f"Al6{s1}{s2}"))
            for s in ("Cu", "Mg", "Zn"):  # a second 8-atom solute cell with strain
                a = _fcc8(host, a0)
                a[3].symbol = s
                out.append(_tag(_rattle(_strain(a, rng, 0.02), rng, 0.06), "solute", f"Al7{s}_strained"))
    return out


def faults(rng: np.random.Generator) -> list[Atoms]:
    """fcc(111) 6-layer cells, c tilted by f·b_partial along [11-2] (f = 0: perfect;
    0.5: near the unstable fault; 1: the intrinsic stacking fault)."""
    out = []
    base = fcc111("Al", size=(1, 1, 6), a=A_AL, periodic=True)
    cell = base.cell.array.copy()
    bp = (cell[0] + cell[1]) / 3.0  # the partial Burgers vector a/6<112>, in-plane
    for f in (0.0, 0.2, 0.35, 0.5, 0.65, 0.8, 1.0, 1.2, 1.5):
        a = base.copy()
        c = cell.copy()
        c[2] = cell[2] + f * bp
        a.set_cell(c, scale_atoms=False)
        a = _rattle(a, rng, 0.02)
        out.append(_tag(a, "fault", f"Al111_tilt{f:.2f}"))
    for s in ("Cu", "Mg", "Zn"):  # a solute in the fault plane of the intrinsic fault
        a = base.copy()
        c = cell.copy()
        c[2] = cell[2] + bp
        a.set_cell(c, scale_atoms=False)
        a[3].symbol = s
        out.append(_tag(_rattle(a, rng, 0.02), "fault", f"Al111_isf_{s}"))
    return out


def surfaces(rng: np.random.Generator) -> list[Atoms]:
    out = []
    for name, a in (("Al111", fcc111("Al", size=(1, 1, 5), a=A_AL, vacuum=5.0)),
                    ("Al100", fcc100("Al", size=(1, 1, 5), a=A_AL, vacuum=5.0)),
                    ("Cu111", fcc111("Cu", size=(1, 1, 5), a=A_CU, vacuum=5.0))):
        a.pbc = True  # periodic with vacuum: one k-point along the normal by the density rule
        for i in range(2):
            b = _rattle(a, rng, 0.04)
            out.append(_tag(b, "surface", f"{name}_{i}"))
    a = fcc111("Al", size=(1, 1, 5), a=A_AL, vacuum=5.0)
    a.pbc = True
    a[0].symbol = "Mg"
    out.append(_tag(_rattle(a, rng, 0.03), "surface", "Al111_Mg_surface"))
    a = fcc111("Al", size=(1, 1, 5), a=A_AL, vacuum=5.0)
    a.pbc = True
    a[4].symbol = "Zn"
    out.append(_tag(_rattle(a, rng, 0.03), "surface", "Al111_Zn_surface"))
    return out


def md_snapshots(rng: np.random.Generator, calcs: dict[str, Callable[[], object]], per_run: int = 2,
                 steps_between: int = 40) -> list[Atoms]:
    """NVT Langevin (2 fs) from each model on small cells at 300, 600, 900 K."""
    from ase import units
    from ase.md.langevin import Langevin
    from ase.md.velocitydistribution import MaxwellBoltzmannDistribution

    from alloybench.reference import load_reference

    ref = load_reference()
    starts = {
        "Al7Cu": _sub(_fcc8("Al", A_AL), {0: "Cu"}),
        "Al6MgZn": _sub(_fcc8("Al", A_AL), {0: "Mg", 5: "Zn"}),
        "theta_prime": ref.phases["theta_prime"].structure.to_structure().to_atoms().repeat((2, 1, 1)),
        "S": ref.phases["S"].structure.to_structure().to_atoms(),
        "Mg4": ref.phases["Mg"].structure.to_structure().to_atoms().repeat((1, 1, 2)),
    }
    out = []
    for model, make in calcs.items():
        calc = make()
        for sname, start in starts.items():
            for temp in (300, 600, 900):
                a = start.copy()
                a.calc = calc
                MaxwellBoltzmannDistribution(a, temperature_K=temp, rng=rng)
                dyn = Langevin(a, 2 * units.fs, temperature_K=temp, friction=0.02, rng=rng)
                for k in range(per_run):
                    dyn.run(steps_between)
                    snap = Atoms(a.get_chemical_symbols(), positions=a.positions.copy(), cell=a.cell.array.copy(),
                                 pbc=True)
                    out.append(_tag(snap, "md", f"{model}_{sname}_{temp}K_{k}"))
    return out


def _sub(a: Atoms, subs: dict[int, str]) -> Atoms:
    for i, s in subs.items():
        a[i].symbol = s
    return a


def committee(rng: np.random.Generator, calcs: dict[str, Callable[[], object]], pool: int = 160,
              keep: int = 36) -> list[Atoms]:
    """Random perturbed Al-rich 4–8 atom cells; keep the ``keep`` with the largest
    committee force disagreement max_i |F_a(i) - F_b(i)| (two models: their difference)."""
    cands = []
    for i in range(pool):
        if i % 2:
            a = _fcc8("Al", A_AL)
        else:
            a = bulk("Al", "fcc", a=A_AL, cubic=True)
        n_sub = int(rng.integers(1, 3))
        for j in rng.choice(len(a), n_sub, replace=False):
            a[int(j)].symbol = str(rng.choice(SOLUTES[:3]))
        a = _rattle(_strain(a, rng, 0.04), rng, rng.uniform(0.05, 0.2))
        cands.append(a)
    forces = {}
    for model, make in calcs.items():
        calc = make()
        fs = []
        for a in cands:
            b = a.copy()
            b.calc = calc
            fs.append(np.asarray(b.get_forces()))
        forces[model] = fs
    names = list(forces)
    score = []
    for k in range(len(cands)):
        d = 0.0
        for x in range(len(names)):
            for y in range(x + 1, len(names)):
                d = max(d, float(np.linalg.norm(forces[names[x]][k] - forces[names[y]][k], axis=1).max()))
        score.append(d)
    order = np.argsort(score)[::-1][:keep]
    out = []
    for rank, k in enumerate(order):
        a = cands[int(k)]
        _tag(a, "committee", f"committee_{rank}")
        a.info["committee_force_spread_eV_A"] = round(score[int(k)], 4)
        a.info["committee"] = "+".join(names)
        out.append(a)
    return out


def assign_split(frames: list[Atoms], seed: int = 7, test_every: int = 3) -> None:
    rng = np.random.default_rng(seed)
    by_kind: dict[str, list[Atoms]] = {}
    for a in frames:
        by_kind.setdefault(a.info["kind"], []).append(a)
    for kind, items in by_kind.items():
        order = rng.permutation(len(items))
        for rank, idx in enumerate(order):
            items[int(idx)].info["split"] = "test" if rank % test_every == 0 else "train"


def candidates(seed: int = 2026, calcs: dict[str, Callable[[], object]] | None = None) -> list[Atoms]:
    rng = np.random.default_rng(seed)
    frames = phases(rng) + solutes(rng) + faults(rng) + surfaces(rng)
    if calcs:
        frames += md_snapshots(rng, calcs) + committee(rng, calcs)
    assign_split(frames)
    for i, a in enumerate(frames):
        a.info["frame_id"] = i
    return frames
