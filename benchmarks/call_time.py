"""Seconds per energy+forces+stress call of one model on a rattled 256-atom fcc Al cell.

    python benchmarks/call_time.py MODEL_SPEC [--repeat 5]

MODEL_SPEC as for `alloybench run --model` (families in their own environment: run this
with that environment's python and PYTHONPATH=src). The quick per-model figure quoted in
README/closing notes; `alloybench cost` gives the full size ladder.
"""

from __future__ import annotations

import argparse
import time

from ase.build import bulk

from alloybench.models import resolve


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("model")
    ap.add_argument("--repeat", type=int, default=5)
    args = ap.parse_args()
    atoms = bulk("Al", "fcc", a=4.04, cubic=True) * (4, 4, 4)
    atoms.rattle(0.01, seed=0)
    atoms.calc = resolve(args.model).make_calculator()
    atoms.get_forces()  # warm-up
    t0 = time.perf_counter()
    for _ in range(args.repeat):
        atoms.positions[0, 0] += 1e-3  # a new geometry each call, so nothing is cached
        atoms.get_forces()
        atoms.get_stress()
    print(f"{args.model.split('=')[0]}: {(time.perf_counter() - t0) / args.repeat:.3f} s per call, 256 atoms")


if __name__ == "__main__":
    main()
