"""Our GPAW against the reference PBE beyond the lattice constant: fcc Al stacking faults, C11/C12
and the lattice constant at a denser k-mesh (the docs/dft.md offset table).

Points (each one GPAW single point, one process per point, results appended to a JSON-lines
file as they finish, so an interrupted run resumes and several machines can share the work):

- ``sf:D:X``  the 6-layer tilted fcc (111) Al cell of ``tasks.stacking_faults.tilted_cell`` at
  fault displacement X (units of the partial b_p; 0 = perfect, 1 = intrinsic fault), k-density D,
  ideal positions (no relaxation; the relaxation's size is estimated with the potentials, see
  docs/dft.md). Every X of one density shares the perfect cell's k-mesh, so γ(X) = (E(X) - E(0))/A
  differences cancel the k-sampling error as far as they can. The point group is not used for these
  cells: the tilted cells' rotations mix the tilted vector with the in-plane ones, and GPAW then
  symmetrises the real-space grid to (75, 75, 75) from (15, 15, 75), 25x the cost; with it off every
  displacement is sampled on the same mesh, reduced by time reversal only (``point_group=False``;
  the points at densities 18 and 24 of 2026-12-08 ran with no reduction at all, ``symmetry=False``,
  which gives the same energies at twice the cost).
- ``sfr:D:X``  the same cell relaxed as the stacking_faults task relaxes it (atoms and the cell
  height along the fault normal only), L-BFGS to fmax 5e-3 eV/Å (forces and the zz stress times
  the volume, UnitCellFilter), at most 40 steps; γ from relaxed X and relaxed 0.
- ``st:D:NAME``  close-packed Al stackings on one in-plane cell, NAME = fcc (ABC), hcp (AB), dhcp
  (ABAC), layer spacing a/sqrt3, ideal positions, k reduced by the full point group: the ANNNI
  estimate of the intrinsic fault, γ_ISF = (ΔE_hcp + 2 ΔE_dhcp) / A (ΔE per atom against fcc,
  A the area per atom of a (111) layer; exact for interactions up to third-neighbour layers),
  which needs only small symmetric cells and so reaches the reference's k-density.
- ``el:D:S``  fcc Al (1 atom) at ±0.5 % e1 strain (S = +1 or -1), k-density D: C11 and C12
  from the central stress difference, as benchmarks/dft_offsets.py.
- ``bd:D:CONF``  a 2x2x2 conventional fcc Al cell (32 sites; the suite uses 4x4x4, 256: too large
  for DFT here, so the potentials measure the finite-size difference, docs/dft.md) with CONF:
  ``pure`` (single point), ``Cu``, ``Mg``, ``Vac`` (one solute or vacancy at the origin),
  ``CuCu1``, ``MgVac1`` (the pair, second member on the first neighbour shell), fixed cell,
  atoms relaxed by L-BFGS to fmax 1e-2 eV/Å (at most 40 steps). Binding energies (meV, negative
  = attractive) E[pair] + E[pure] - E[A] - E[B], as tasks/solutes.py.
- ``ev:D:I``  fcc Al (1 atom) at volume point I of 5 (±4 %), k-density D: a0 by Birch–Murnaghan.

All at the lattice constant A (default 4.0449 Å, GPAW's own at density 18, docs/dft.md).

Usage:
  python benchmarks/dft_planar_offsets.py run OUT.jsonl POINT [POINT ...] [--workers N]
  python benchmarks/dft_planar_offsets.py table OUT.jsonl [OUT2.jsonl ...]
e.g. ``run al.jsonl sf:18:0 sf:18:0.5 sf:18:1 el:45:1 el:45:-1 --workers 5``.
"""

from __future__ import annotations

import json
import os
import sys
import time
from concurrent.futures import ProcessPoolExecutor, as_completed

# one thread per process, set before numpy loads its BLAS (the workers inherit it)
os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import numpy as np  # noqa: E402

A_GPAW = 4.0449  # Å, fcc Al at k-density 18 (benchmarks/results/dft_offsets_default.json)
LAYERS = 6
STRAIN = 0.005


STACKINGS = {"fcc": (0, 1, 2), "hcp": (0, 1), "dhcp": (0, 1, 0, 2)}  # layer positions, units of b_p
BINDING = {"pure": [], "Cu": [((0, 0, 0), "Cu")], "Mg": [((0, 0, 0), "Mg")], "Vac": [((0, 0, 0), "Vac")],
           "CuCu1": [((0, 0, 0), "Cu"), ((0, 1, 1), "Cu")], "MgVac1": [((0, 0, 0), "Mg"), ((0, 1, 1), "Vac")]}
BINDING_PAIRS = {"CuCu1": ("Cu", "Cu"), "MgVac1": ("Mg", "Vac")}


def _cell(kind: str, density: float, text: str):
    from ase.build import bulk

    from alloybench.dft.settings import kpoint_mesh
    from alloybench.tasks.solutes import decorate
    from alloybench.tasks.stacking_faults import tilted_cell

    if kind == "bd":
        return decorate("Al", A_GPAW, 2, BINDING[text]), None
    if kind == "st":
        return stacking_cell(STACKINGS[text]), stacking_mesh(STACKINGS[text], density)
    arg = float(text)
    if kind in ("sf", "sfr"):
        atoms = tilted_cell("Al", A_GPAW, LAYERS, arg)
        perfect = tilted_cell("Al", A_GPAW, LAYERS, 0.0)
        return atoms, kpoint_mesh(perfect.cell.array, perfect.pbc, density)
    if kind == "el":
        atoms = bulk("Al", "fcc", a=A_GPAW)
        eps = np.zeros((3, 3))
        eps[0, 0] = STRAIN * arg
        atoms.set_cell(atoms.cell.array @ (np.eye(3) + eps), scale_atoms=True)
        return atoms, None
    if kind == "ev":
        scale = np.linspace(0.96, 1.04, 5)[int(arg)] ** (1 / 3)
        return bulk("Al", "fcc", a=A_GPAW * scale), None
    raise ValueError(f"unknown point kind {kind!r} (sf, sfr, st, bd, el, ev)")


def stacking_cell(shifts: tuple[int, ...]):
    """Al (111) layers at the given stacking positions (0, 1, 2 = A, B, C), one atom per layer."""
    from ase import Atoms

    s = A_GPAW / np.sqrt(2.0)
    a1, a2 = np.array([s, 0.0, 0.0]), np.array([s / 2.0, s * np.sqrt(3.0) / 2.0, 0.0])
    bp, d = (a1 + a2) / 3.0, A_GPAW / np.sqrt(3.0)
    pos = [k * bp + np.array([0.0, 0.0, i * d]) for i, k in enumerate(shifts)]
    atoms = Atoms(["Al"] * len(shifts), positions=pos, cell=[a1, a2, [0.0, 0.0, len(shifts) * d]], pbc=True)
    atoms.wrap()
    return atoms


def stacking_mesh(shifts: tuple[int, ...], density: float) -> tuple[int, int, int]:
    """One in-plane mesh for every stacking and N3 * layers = M, a multiple of 12 (2, 3 and 4 layers),
    at least the density rule's: fcc, hcp and dhcp then sample equivalent k-points along the normal."""
    from alloybench.dft.settings import kpoint_mesh

    fcc = stacking_cell(STACKINGS["fcc"])
    n1, n2, _ = kpoint_mesh(fcc.cell.array, fcc.pbc, density)
    per_layer = density / (A_GPAW / np.sqrt(3.0))  # k-points the rule asks for per 1/d
    m = 12 * int(np.ceil(per_layer / 12 - 1e-9))
    return n1, n2, m // len(shifts)


def compute(point: str) -> dict:
    """One single point, in its own process (one thread: GPAW's PW mode does not use more)."""
    from ase import units

    from alloybench.dft.calculator import DFTCalculator, gpaw_version
    from alloybench.dft.settings import DEFAULT
    from alloybench.tasks.surfaces import surface_area

    kind, dens, arg = point.split(":")
    settings = DEFAULT.with_(kpt_density_A=float(dens), point_group=kind not in ("sf", "sfr"))
    atoms, mesh = _cell(kind, float(dens), arg)
    calc = DFTCalculator(settings, mesh=mesh)
    atoms.calc = calc
    t0 = time.perf_counter()
    steps, fmax = 0, None
    if kind == "sfr":
        from ase.constraints import FixCartesian
        from ase.filters import UnitCellFilter
        from ase.optimize import LBFGS

        atoms.set_constraint(FixCartesian(range(len(atoms)), mask=(True, True, False)))
        filt = UnitCellFilter(atoms, mask=[0, 0, 1, 0, 0, 0])
        opt = LBFGS(filt, logfile=None)
        opt.run(fmax=5e-3, steps=40)
        steps = opt.get_number_of_steps()
        fmax = float(np.sqrt((filt.get_forces() ** 2).sum(axis=1).max()))
    elif kind == "bd" and arg != "pure":
        from ase.optimize import LBFGS

        opt = LBFGS(atoms, logfile=None)
        opt.run(fmax=1e-2, steps=40)
        steps = opt.get_number_of_steps()
        fmax = float(np.sqrt((atoms.get_forces() ** 2).sum(axis=1).max()))
    energy = atoms.get_potential_energy()
    stress = atoms.get_stress(voigt=True) / units.GPa
    return {"point": point, "energy_eV": float(energy), "stress_GPa": [float(x) for x in stress],
            "volume_A3": float(atoms.get_volume()), "natoms": len(atoms), "kpts": calc.last["kpts"],
            "area_A2": surface_area(atoms),
            "steps": steps, "fmax_eV_A": fmax, "height_A": float(atoms.cell[2, 2]),
            "converged": fmax is None or fmax <= (5e-3 if kind == "sfr" else 1e-2),
            "wall_s": round(time.perf_counter() - t0, 1), "gpaw": gpaw_version(),
            "settings_digest": settings.digest, "a_A": A_GPAW}


def done_points(path: str) -> dict[str, dict]:
    """point -> its row; a good row wins over a failure row, whatever their order; a line cut off
    by a killed writer is skipped."""
    out: dict[str, dict] = {}
    if os.path.exists(path):
        with open(path) as fh:
            for line in fh:
                try:
                    row = json.loads(line)
                except json.JSONDecodeError:
                    continue
                previous = out.get(row["point"])
                if "error" in row and previous is not None and "error" not in previous:
                    continue
                out[row["point"]] = row
    return out


def run(path: str, points: list[str], workers: int) -> None:
    done = done_points(path)
    todo = [p for p in points if p not in done or "error" in done[p]]  # failed points are tried again
    print(f"{len(points) - len(todo)} done, {len(todo)} to compute with {workers} workers", flush=True)
    with ProcessPoolExecutor(max_workers=workers) as pool:
        futures = {pool.submit(compute, p): p for p in todo}
        for fut in as_completed(futures):
            try:
                row = fut.result()
            except Exception as exc:  # a failed point is recorded, not dropped
                row = {"point": futures[fut], "error": f"{type(exc).__name__}: {exc}"}
            with open(path, "a") as fh:
                fh.write(json.dumps(row) + "\n")
            print(json.dumps(row), flush=True)


def table(paths: list[str]) -> dict:
    from ase.eos import EquationOfState
    from ase.units import GPa

    from alloybench.tasks.solutes import binding_energy_meV
    from alloybench.tasks.stacking_faults import fault_energy
    from alloybench.tasks.surfaces import EV_PER_A2_TO_MJ_PER_M2

    rows: dict[str, dict] = {}
    for p in paths:
        rows.update({k: v for k, v in done_points(p).items() if "error" not in v})
    out: dict = {"stacking_faults_mJ_m2": {}, "elastic_GPa": {}, "lattice": {}}
    out["binding_meV"] = {}
    out["not_comparable"] = []  # groups whose points ran under different settings: not differenced

    def one_setting(name: str, group: list[dict]) -> bool:
        if len({r["settings_digest"] for r in group}) == 1:
            return True
        out["not_comparable"].append(name)
        return False

    dens = sorted({float(k.split(":")[1]) for k in rows})
    for d in dens:
        tag = f"{d:g}"
        for kind in ("sf", "sfr"):
            sf = {float(k.split(":")[2]): v for k, v in rows.items() if k.startswith(f"{kind}:{tag}:")}
            if 0.0 in sf and len(sf) > 1 and one_setting(f"{kind}:{tag}", list(sf.values())):
                e0, area = sf[0.0]["energy_eV"], sf[0.0]["area_A2"]
                key = f"{tag} {'unrelaxed' if kind == 'sf' else 'relaxed'}"
                out["stacking_faults_mJ_m2"][key] = {
                    f"{x:g}": round(fault_energy(v["energy_eV"], e0, area), 1) for x, v in sorted(sf.items()) if x}
                out["stacking_faults_mJ_m2"][key]["kpts"] = sf[0.0]["kpts"]
                if not all(v.get("converged", True) for v in sf.values()):
                    out["stacking_faults_mJ_m2"][key]["unconverged"] = True
        el = {float(k.split(":")[2]): v for k, v in rows.items() if k.startswith(f"el:{tag}:")}
        if 1.0 in el and -1.0 in el and one_setting(f"el:{tag}", [el[1.0], el[-1.0]]):
            sp, sm = np.array(el[1.0]["stress_GPa"]), np.array(el[-1.0]["stress_GPa"])
            out["elastic_GPa"][tag] = {"C11": round(float(sp[0] - sm[0]) / (2 * STRAIN), 1),
                                       "C12": round(float(sp[1] - sm[1]) / (2 * STRAIN), 1),
                                       "kpts": el[1.0]["kpts"]}
        bd_rows = {k.split(":")[2]: v for k, v in rows.items() if k.startswith(f"bd:{tag}:")}
        bd = {k: v["energy_eV"] for k, v in bd_rows.items()}
        for pair, (sp_a, sp_b) in BINDING_PAIRS.items():
            members = [bd_rows[c] for c in (pair, "pure", sp_a, sp_b) if c in bd_rows]
            if len(members) == 4 and one_setting(f"bd:{tag}:{pair}", members):
                value = round(binding_energy_meV(bd[pair], bd["pure"], bd[sp_a], bd[sp_b]), 1)
                converged = all(m.get("converged", True) for m in members)
                out["binding_meV"].setdefault(tag, {})[pair] = value if converged else f"{value} (unconverged)"
        st = {k.split(":")[2]: v["energy_eV"] / v["natoms"] for k, v in rows.items() if k.startswith(f"st:{tag}:")}
        if set(STACKINGS) <= set(st) and one_setting(f"st:{tag}", [rows[f"st:{tag}:{n}"] for n in STACKINGS]):
            area = rows[f"st:{tag}:fcc"]["area_A2"]
            d_hcp, d_dhcp = st["hcp"] - st["fcc"], st["dhcp"] - st["fcc"]
            out.setdefault("annni", {})[tag] = {
                "dE_hcp_meV": round(1000 * d_hcp, 2), "dE_dhcp_meV": round(1000 * d_dhcp, 2),
                "ISF_mJ_m2": round((d_hcp + 2 * d_dhcp) / area * EV_PER_A2_TO_MJ_PER_M2, 1),
                "kpts": {n: rows[f"st:{tag}:{n}"]["kpts"] for n in STACKINGS}}
        ev = [v for k, v in rows.items() if k.startswith(f"ev:{tag}:")]
        if len(ev) == 5 and one_setting(f"ev:{tag}", ev):
            eos = EquationOfState([v["volume_A3"] for v in ev], [v["energy_eV"] for v in ev], eos="birchmurnaghan")
            v0, _, b = eos.fit()
            out["lattice"][tag] = {"a_A": round((4 * v0) ** (1 / 3), 4), "B_GPa": round(b / GPa, 1)}
    out["wall_s"] = {k: v["wall_s"] for k, v in sorted(rows.items())}
    print(json.dumps(out, indent=1))
    return out


if __name__ == "__main__":
    args = sys.argv[1:]
    if not args or args[0] not in ("run", "table"):
        sys.exit(__doc__)
    if args[0] == "table":
        table(args[1:])
    else:
        workers = 1
        if "--workers" in args:
            i = args.index("--workers")
            workers = int(args[i + 1])
            del args[i:i + 2]
        run(args[1], args[2:], workers)
