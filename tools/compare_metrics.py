"""Compare two result folders (or results.json files) metric by metric.

    python tools/compare_metrics.py OLD_DIR NEW_DIR [--tol 0] [--rel-tol 0]

Every metric row is matched by (task, item, name, series, x); for each, value, reference,
error, score, status, reason, flag, unit, group and source must agree: numbers within
``--tol`` (absolute) or ``--rel-tol`` (relative), both 0 by default (bit-identical), the
rest exactly.  The scorecard (overall, per category, counts) and the failed/missing Job
lists are compared the same way.  Exit status 0 when everything agrees, 1 otherwise
(each difference is printed), 2 for a folder without results.json.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from pathlib import Path
from typing import Any

NUMBERS = ("value", "reference", "error", "score")
TEXTS = ("status", "reason", "flag", "unit", "group", "source")


def load(path: Path) -> dict[str, Any]:
    file = path / "results.json" if path.is_dir() else path
    if not file.is_file():
        print(f"compare_metrics: no results.json at {path}", file=sys.stderr)
        raise SystemExit(2)
    return json.loads(file.read_text(encoding="utf-8"))


def key(m: dict[str, Any]) -> tuple:
    return m["task"], m["item"], m["name"], m.get("series", ""), m.get("x")


def same_number(a: Any, b: Any, tol: float, rel_tol: float) -> bool:
    if a is None or b is None:
        return a is None and b is None
    if isinstance(a, float) and isinstance(b, float) and math.isnan(a) and math.isnan(b):
        return True
    if a == b:
        return True
    return abs(a - b) <= max(tol, rel_tol * max(abs(a), abs(b)))


def compare_values(where: str, a: Any, b: Any, tol: float, rel_tol: float, out: list[str]) -> None:
    """Recursive comparison of JSON values: numbers within tolerance, the rest exactly."""
    if isinstance(a, dict) and isinstance(b, dict):
        for k in sorted(set(a) | set(b), key=str):
            if k not in a or k not in b:
                out.append(f"{where}.{k}: only in {'new' if k in b else 'old'}")
            else:
                compare_values(f"{where}.{k}", a[k], b[k], tol, rel_tol, out)
    elif isinstance(a, list) and isinstance(b, list):
        if len(a) != len(b):
            out.append(f"{where}: {len(a)} entries vs {len(b)}")
        for i, (x, y) in enumerate(zip(a, b)):
            compare_values(f"{where}[{i}]", x, y, tol, rel_tol, out)
    elif isinstance(a, (int, float)) and isinstance(b, (int, float)) and not isinstance(a, bool):
        if not same_number(a, b, tol, rel_tol):
            out.append(f"{where}: {a!r} vs {b!r}")
    elif a != b:
        out.append(f"{where}: {a!r} vs {b!r}")


def compare(old: dict[str, Any], new: dict[str, Any], tol: float = 0.0, rel_tol: float = 0.0
            ) -> tuple[int, list[str]]:
    """(metrics compared, differences)."""
    diffs: list[str] = []
    a = {key(m): m for m in old.get("metrics", [])}
    b = {key(m): m for m in new.get("metrics", [])}
    for k in sorted(set(a) ^ set(b), key=str):
        diffs.append(f"{'/'.join(map(str, k))}: only in {'new' if k in b else 'old'}")
    for k in sorted(set(a) & set(b), key=str):
        name = "/".join(str(p) for p in k if p not in ("", None))
        for f in NUMBERS:
            if not same_number(a[k].get(f), b[k].get(f), tol, rel_tol):
                diffs.append(f"{name} {f}: {a[k].get(f)!r} vs {b[k].get(f)!r}")
        for f in TEXTS:
            if a[k].get(f) != b[k].get(f):
                diffs.append(f"{name} {f}: {a[k].get(f)!r} vs {b[k].get(f)!r}")
    compare_values("score", old.get("score"), new.get("score"), tol, rel_tol, diffs)
    for part in ("failures", "flagged"):
        compare_values(part, _jobs(old.get(part)), _jobs(new.get(part)), tol, rel_tol, diffs)
    compare_values("completeness", old.get("completeness"), new.get("completeness"), tol, rel_tol, diffs)
    return len(set(a) & set(b)), diffs


def _jobs(rows: Any) -> list:
    """Failed/flagged Job rows in a stable order (their order follows the run's scheduling)."""
    return sorted(rows or [], key=lambda r: json.dumps(r, sort_keys=True, default=str))


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("old", type=Path)
    p.add_argument("new", type=Path)
    p.add_argument("--tol", type=float, default=0.0, help="absolute tolerance on numbers (default 0)")
    p.add_argument("--rel-tol", type=float, default=0.0, help="relative tolerance on numbers (default 0)")
    args = p.parse_args(argv)
    old, new = load(args.old), load(args.new)
    n, diffs = compare(old, new, args.tol, args.rel_tol)
    for d in diffs:
        print(d)
    tol = f"tol {args.tol:g}, rel-tol {args.rel_tol:g}"
    if diffs:
        print(f"{len(diffs)} differences over {n} common metrics ({tol}): {args.old} vs {args.new}")
        return 1
    print(f"identical: {n} metrics, score, failures, flagged and completeness ({tol}): {args.old} vs {args.new}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
