"""Atom-evaluations of the relaxations a protocol change recomputed, before and after, per store.

A store resumed under a new protocol keeps the superseded rows: a Job with the same (task, name)
computed before the last run and again in it is one that the change recomputed.  For each store this
prints those Jobs' atom-evaluations (Σ atoms × (steps + 1)) before and after and the failures, e.g. for
the FIRE → L-BFGS switch (#20) on the quick-tier stores resumed on 2026-12-06:

    python benchmarks/optimizer_gain.py docs/results/quick/*/
"""

from __future__ import annotations

import json
import sqlite3
import sys
from pathlib import Path


def gain(store: Path) -> tuple[int, int, int, int, int] | None:
    db = sqlite3.connect(f"file:{store}?mode=ro", uri=True)
    (last,) = db.execute("SELECT max(started) FROM runs").fetchone()
    before: dict[tuple[str, str], tuple[int, int, bool]] = {}
    after: dict[tuple[str, str], tuple[int, int, bool]] = {}
    for task, name, n, result, created in db.execute("SELECT task, name, n_atoms, result, created FROM results"):
        r = json.loads(result)
        (after if created >= last else before)[(task, name)] = (n, int(r.get("steps", 0)), bool(r["ok"]))
    keys = [k for k in after if k in before and after[k][1] > 0]
    if not keys:
        return None
    old = sum(before[k][0] * (before[k][1] + 1) for k in keys)
    new = sum(after[k][0] * (after[k][1] + 1) for k in keys)
    return len(keys), old, new, sum(not before[k][2] for k in keys), sum(not after[k][2] for k in keys)


def main(argv: list[str]) -> int:
    print("| store | recomputed relaxations | atom-evaluations before | after | ratio | failed before → after |")
    print("|---|---:|---:|---:|---:|---|")
    for arg in argv:
        path = Path(arg)
        store = path / "results.sqlite" if path.is_dir() else path
        if not store.is_file():
            continue
        g = gain(store)
        if g:
            n, old, new, f0, f1 = g
            print(f"| {path.name or path.parent.name} | {n} | {old:,} | {new:,} | {old / new:.2f} | {f0} → {f1} |")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
