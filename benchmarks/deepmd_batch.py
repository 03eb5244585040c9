"""DeePMD / DPA3 on a card: what the batched backend's padding buys, and what a relaxation step costs.

    python benchmarks/deepmd_batch.py MODEL_SPEC [--repeat 5] [--steps 100] [--out FILE.json]

MODEL_SPEC as for `alloybench run --model` (a deepmd-family model, e.g.
dpa3-lam-2025.3.14-mptrj=PATH.pth).  Prints a table per section; --out keeps the figures.

- slabs:   a surface-task-like mix, 20 slabs of 8 sizes (4-13 atoms), in one
           DeepMDBackend.evaluate under three padding policies: exact sizes (one DeepPot.eval
           per distinct size), up to 25% padding, and the device's default; largest |dE|.
- latency: one frame: the ASE calculator (deepmd.calculator.DP) against the backend, for a
           10-atom Zn slab and a 256-atom cell.
- batch:   B rattled 256-atom Al cells in one call.
- relax:   fixed-cell FIRE relaxations run for exactly --steps steps (fmax unreachable):
           3 small slabs, then those slabs next to --cells 256-atom cells, serial engine against
           the batched engine; seconds per step of the whole workload.
- budget:  (not in the default sections; meant for a CPU) resident memory one 256-atom call
           adds, and what the batched engine's memory-sized budget makes of --cells such cells.
"""

from __future__ import annotations

import argparse
import json
import time

import numpy as np
from ase import Atoms
from ase.build import bulk, fcc100, fcc110, fcc111, hcp0001, hcp10m10

from alloybench import hostmem
from alloybench.engine.batched import BatchedEngine, DeepMDBackend
from alloybench.engine.serial import SerialEngine
from alloybench.jobs import Job, Relax, Structure
from alloybench.models import resolve

A = {"Al": 4.04, "Cu": 3.63}
HCP = {"Mg": (3.19, 5.18), "Zn": (2.66, 4.95)}


def slabs() -> list[Atoms]:
    out = []
    for sym, a in A.items():
        for build, layers in ((fcc111, (7, 9)), (fcc100, (8, 12)), (fcc110, (12, 13))):
            out += [build(sym, (1, 1, n), a=a, vacuum=7.5, periodic=True) for n in layers]
    for sym, (a, c) in HCP.items():
        out += [hcp0001(sym, (1, 1, n), a=a, c=c, vacuum=7.5, periodic=True) for n in (4, 10)]
        out += [hcp10m10(sym, (1, 2, n), a=a, c=c, vacuum=7.5, periodic=True) for n in (3, 5)]
    for s in out:
        s.rattle(0.02, seed=len(s))
    return out


def al256(seed: int = 0) -> Atoms:
    atoms = bulk("Al", "fcc", a=4.04, cubic=True) * (4, 4, 4)
    atoms.rattle(0.02, seed=seed)
    return atoms


def timed(fn, repeat: int) -> float:
    fn()  # warm-up: first calls compile and allocate
    t0 = time.perf_counter()
    for _ in range(repeat):
        fn()
    return (time.perf_counter() - t0) / repeat


def relax_seconds(engine, structures: list[Atoms], steps: int) -> float:
    jobs = [Job(task="bench", name=f"s{i}", structure=Structure.from_atoms(a),
                relax=Relax(fmax=1e-9, max_steps=steps)) for i, a in enumerate(structures)]
    t0 = time.perf_counter()
    results = [r for _, r in engine.run(jobs)]
    seconds = time.perf_counter() - t0
    bad = [r.reason for r in results if "not converged" not in (r.reason or "")]
    if bad:
        raise RuntimeError(f"relaxation failed: {bad[0]}")
    return seconds


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("model")
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--steps", type=int, default=100)
    ap.add_argument("--batch-sizes", default="1,8,32")
    ap.add_argument("--cells", type=int, default=8, help="256-atom cells next to the slabs (relax)")
    ap.add_argument("--sections", default="slabs,latency,batch,relax")
    ap.add_argument("--out")
    args = ap.parse_args()
    model = resolve(args.model)
    calc = model.make_calculator()
    backend = DeepMDBackend(calc)
    print(f"{model.name} on {backend.device}")
    rec: dict = {"model": args.model, "device": backend.device}
    sections = args.sections.split(",")

    if "slabs" in sections:
        mix = slabs()
        row = {"frames": len(mix), "sizes": len({len(s) for s in mix}), "atoms": sum(map(len, mix))}
        energies = {}
        default = (backend.max_padding, backend.pad_atoms)  # this device's policy
        for label, (pad, pad_atoms) in (("exact", (0.0, 0)), ("25%", (0.25, 0)), ("default", default)):
            backend.max_padding, backend.pad_atoms = pad, pad_atoms
            row[f"calls_{label}"] = len(backend._groups(mix))
            row[f"s_{label}"] = timed(lambda: backend.evaluate(mix), args.repeat)
            energies[label] = [e.energy for e in backend.evaluate(mix)]
        backend.max_padding, backend.pad_atoms = default
        row["default_policy"] = {"max_padding": default[0], "pad_atoms": default[1]}
        row["max_abs_dE_eV"] = float(max(np.max(np.abs(np.subtract(energies["exact"], e))) for e in energies.values()))
        rec["slabs"] = row
        print(f"slabs: {row['frames']} frames, {row['sizes']} sizes, {row['atoms']} atoms | "
              + " | ".join(f"{k} {row[f'calls_{k}']} calls {row[f's_{k}']:.4f} s" for k in ("exact", "25%", "default"))
              + f" | max |dE| {row['max_abs_dE_eV']:.1e} eV")

    if "latency" in sections:
        rec["latency"] = []
        for label, atoms in (("Zn slab", hcp10m10("Zn", (1, 2, 5), a=2.66, c=4.95, vacuum=7.5, periodic=True)),
                             ("Al 256", al256())):
            def ase_call(atoms=atoms):
                atoms.calc = calc
                atoms.positions[0, 0] += 1e-4  # a new geometry: nothing cached
                atoms.get_forces()
                atoms.get_stress()
            row = {"system": label, "atoms": len(atoms), "ase_s": timed(ase_call, args.repeat),
                   "backend_s": timed(lambda atoms=atoms: backend.evaluate([atoms]), args.repeat)}
            rec["latency"].append(row)
            print(f"latency {label} ({len(atoms)} atoms): ASE {row['ase_s'] * 1e3:.1f} ms, backend {row['backend_s'] * 1e3:.1f} ms")

    if "batch" in sections:
        rec["batch"] = []
        for b in map(int, args.batch_sizes.split(",")):
            cells = [al256(seed) for seed in range(b)]
            s = timed(lambda: backend.evaluate(cells), max(1, args.repeat // 2))
            rec["batch"].append({"B": b, "atoms": 256 * b, "s": s, "us_per_atom": s / (256 * b) * 1e6})
            print(f"batch B={b:3d} ({256 * b:6d} atoms): {s:.4f} s, {s / (256 * b) * 1e6:.1f} us/atom")

    if "relax" in sections:
        small = [hcp10m10("Zn", (1, 2, n), a=2.66, c=4.95, vacuum=7.5, periodic=True) for n in (4, 5, 6)]
        for s in small:
            s.rattle(0.02, seed=len(s))
        rec["relax"] = []
        for label, work in (("3 slabs", small), (f"3 slabs + {args.cells} x 256", small + [al256(k) for k in range(args.cells)])):
            serial = relax_seconds(SerialEngine(lambda: calc), work, args.steps)
            batched = relax_seconds(BatchedEngine(lambda: DeepMDBackend(calc)), work, args.steps)
            row = {"work": label, "steps": args.steps, "serial_s_per_step": serial / args.steps,
                   "batched_s_per_step": batched / args.steps}
            rec["relax"].append(row)
            print(f"relax {label}, {args.steps} FIRE steps: serial {serial / args.steps * 1e3:.1f} ms/step, "
                  f"batched {batched / args.steps * 1e3:.1f} ms/step")

    if "budget" in sections:
        # what the batched engine's memory-sized budget does with 256-atom cells (the CPU case)
        hostmem.release_free_heap()
        before = hostmem.rss_bytes()
        hostmem.restart_peak()
        backend.evaluate([al256(99)])
        one = (hostmem.peak_bytes() or 0) - (before or 0)
        counting = DeepMDBackend(calc)
        engine = BatchedEngine(counting)
        jobs = [Job(task="bench", name=f"c{i}", structure=Structure.from_atoms(al256(i))) for i in range(args.cells)]
        t0 = time.perf_counter()
        ok = [r.ok for _, r in engine.run(jobs)]
        row = {"one_cell_peak_bytes": one, "cells": args.cells, "all_ok": all(ok), "calls": counting.batch_sizes,
               "bytes_per_atom": engine.stats.get("bytes_per_atom"), "budget_atoms": engine.max_atoms,
               "s": time.perf_counter() - t0}
        rec["budget"] = row
        print(f"budget: one 256-atom call adds {one / 1e9:.1f} GB resident; {args.cells} cells through the batched "
              f"engine: frames per call {row['calls']}, {row['bytes_per_atom'] or 0:.3g} B/atom, budget "
              f"{row['budget_atoms']} atoms, all ok {row['all_ok']}, {row['s']:.0f} s")

    if args.out:
        with open(args.out, "w") as fh:
            json.dump(rec, fh, indent=1)


if __name__ == "__main__":
    main()
