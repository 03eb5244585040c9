"""How far a suite run is from the model's throughput limit.

    python benchmarks/suite_floor.py RESULT_DIR --us-per-atom 64

The floor is (atom-evaluations the suite needed) x (the model's best time per atom
per evaluation at full batch): atom-evaluations = sum over Jobs of atoms x (optimiser
steps + 1), read from the run's results.sqlite.  Prints the per-task split and the
run's wall time over the floor.
"""

from __future__ import annotations

import argparse
import json
import sqlite3
from pathlib import Path


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("run_dir", type=Path)
    ap.add_argument("--us-per-atom", type=float, required=True, help="best batched time per atom per call (µs)")
    args = ap.parse_args()
    db = sqlite3.connect(args.run_dir / "results.sqlite")
    per_task: dict[str, list[float]] = {}
    for task, n_atoms, seconds, result in db.execute("SELECT task, n_atoms, seconds, result FROM results"):
        steps = json.loads(result).get("steps", 0)
        row = per_task.setdefault(task, [0, 0, 0.0])
        row[0] += 1
        row[1] += n_atoms * (steps + 1)
        row[2] += seconds or 0.0
    doc = json.loads((args.run_dir / "results.json").read_text())
    wall = doc["timing"]["wall_seconds"]
    total = sum(r[1] for r in per_task.values())
    floor = total * args.us_per_atom * 1e-6
    print("| task | Jobs | atom-evaluations | floor s |")
    print("|---|---:|---:|---:|")
    for task, (n, evals, _) in sorted(per_task.items()):
        print(f"| {task} | {n} | {evals:,} | {evals * args.us_per_atom * 1e-6:.1f} |")
    print(f"| all | {sum(r[0] for r in per_task.values())} | {total:,} | {floor:.1f} |")
    print(f"\nwall {wall:.1f} s, floor {floor:.1f} s at {args.us_per_atom} µs/atom: {wall / floor:.1f}x the floor")


if __name__ == "__main__":
    main()
