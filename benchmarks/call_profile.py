"""Where a model's time goes on one small cell: cProfile of repeated force + stress calls.

    python benchmarks/call_profile.py --model sevennet-0 [--calls 40] [--top 25]

Each call moves one atom by 1e-4 Å so the calculator really computes.  Prints ms per call and the
profile sorted by cumulative time (the model's forward/backward against ASE's calculator plumbing).
"""

from __future__ import annotations

import argparse
import cProfile
import pstats
import time

from ase.build import bulk

from alloybench.models import resolve


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", default="sevennet-0")
    ap.add_argument("--calls", type=int, default=40)
    ap.add_argument("--top", type=int, default=25)
    args = ap.parse_args()
    atoms = bulk("Al", "fcc", a=4.04)
    atoms.calc = resolve(args.model).make_calculator()
    atoms.get_potential_energy()  # the first call builds what later calls reuse

    def calls() -> None:
        for _ in range(args.calls):
            atoms.positions[0, 0] += 1e-4
            atoms.get_forces()
            atoms.get_stress()

    t = time.perf_counter()
    calls()
    print(f"{args.model}: {(time.perf_counter() - t) / args.calls * 1000:.1f} ms per force + stress call (1-atom fcc Al)")
    prof = cProfile.Profile()
    prof.runcall(calls)
    pstats.Stats(prof).sort_stats("cumulative").print_stats(args.top)


if __name__ == "__main__":
    main()
