"""Compare two result folders (or results.json files) metric by metric.

    python tools/compare_metrics.py OLD_DIR NEW_DIR [--tol 0] [--rel-tol 0]
    python tools/compare_metrics.py OLD_DIR NEW_DIR --converged


Every metric row is matched by (task, item, name, series, x); for each, value, reference,
error, score, status, reason, flag, unit, group and source must agree: numbers within
``--tol`` (absolute) or ``--rel-tol`` (relative), both 0 by default (bit-identical), the
rest exactly.  The scorecard (overall, per category, counts) and the failed/missing Job
lists are compared the same way.  Exit status 0 when everything agrees, 1 otherwise
(each difference is printed), 2 for a folder without results.json.

``--converged`` is the check for a protocol change that should not move the answers (another
optimiser, a warm start): each metric's value may move by ``alloybench.convergence.tolerance``
(0.5 % of the old value or the unit's floor: 1 meV, 1 meV/atom, 1 mJ/m², 0.05 GPa, 1 meV/Å), its status
must not change, a flag may not appear or vanish, and the overall score must agree to 3
decimals.  It prints per task the metrics compared, those beyond tolerance and the largest
change in units of its tolerance, then each metric that moved.
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


def paired(old: dict[str, Any], new: dict[str, Any], diffs: list[str]) -> tuple[dict, dict]:
    """Both runs' metrics by key; a metric in only one of them is a difference."""
    a = {key(m): m for m in old.get("metrics", [])}
    b = {key(m): m for m in new.get("metrics", [])}
    for k in sorted(set(a) ^ set(b), key=str):
        diffs.append(f"{'/'.join(map(str, k))}: only in {'new' if k in b else 'old'}")
    return a, b


def compare(old: dict[str, Any], new: dict[str, Any], tol: float = 0.0, rel_tol: float = 0.0
            ) -> tuple[int, list[str]]:
    """(metrics compared, differences)."""
    diffs: list[str] = []
    a, b = paired(old, new, diffs)
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


def compare_converged(old: dict[str, Any], new: dict[str, Any]) -> tuple[list[str], list[str]]:
    """(per-task summary lines, differences) under the convergence tolerance (see module doc)."""
    from alloybench.convergence import tolerance

    diffs: list[str] = []
    a, b = paired(old, new, diffs)
    per_task: dict[str, list[float]] = {}
    moved: dict[str, int] = {}
    for k in sorted(set(a) & set(b), key=str):
        x, y = a[k], b[k]
        name = "/".join(str(p) for p in k if p not in ("", None))
        task = k[0]
        per_task.setdefault(task, [])
        moved.setdefault(task, 0)
        if x.get("status") != y.get("status"):
            diffs.append(f"{name} status: {x.get('status')!r} vs {y.get('status')!r} ({y.get('reason') or x.get('reason')})")
            moved[task] += 1
            continue
        if bool(x.get("flag")) != bool(y.get("flag")):
            diffs.append(f"{name} flag: {x.get('flag')!r} vs {y.get('flag')!r}")
            moved[task] += 1
        v, w = x.get("value"), y.get("value")
        if not isinstance(v, (int, float)) or not isinstance(w, (int, float)):
            if v != w:
                diffs.append(f"{name} value: {v!r} vs {w!r}")
                moved[task] += 1
            continue
        tol = tolerance(x.get("unit", ""), float(v))
        ratio = abs(w - v) / tol if tol > 0 else (0.0 if w == v else math.inf)
        per_task[task].append(ratio)
        if ratio > 1:
            diffs.append(f"{name}: {v:.6g} -> {w:.6g} {x.get('unit', '')} (change {w - v:+.3g}, "
                         f"tolerance {tol:.3g})")
            moved[task] += 1
    so, sn = (old.get("score") or {}).get("overall"), (new.get("score") or {}).get("overall")
    if not (isinstance(so, (int, float)) and isinstance(sn, (int, float)) and round(so, 3) == round(sn, 3)):
        diffs.append(f"overall score: {so!r} vs {sn!r} (not equal to 3 decimals)")
    lines = [f"{'task':20s} {'metrics':>7s} {'moved':>5s} {'largest change / tolerance':>27s}"]
    for task in sorted(per_task):
        r = per_task[task]
        lines.append(f"{task:20s} {len(r):7d} {moved[task]:5d} {max(r, default=0.0):27.3f}")
    lines.append(f"overall score: {so!r} -> {sn!r}")
    return lines, diffs


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("old", type=Path)
    p.add_argument("new", type=Path)
    p.add_argument("--tol", type=float, default=0.0, help="absolute tolerance on numbers (default 0)")
    p.add_argument("--rel-tol", type=float, default=0.0, help="relative tolerance on numbers (default 0)")
    p.add_argument("--converged", action="store_true",
                   help="values within alloybench.convergence.tolerance, same statuses, score to 3 decimals")
    args = p.parse_args(argv)
    old, new = load(args.old), load(args.new)
    if args.converged:
        lines, diffs = compare_converged(old, new)
        print("\n".join(lines))
        for d in diffs:
            print(d)
        verdict = f"{len(diffs)} beyond the convergence tolerance" if diffs else "every metric within the convergence tolerance"
        print(f"{verdict}: {args.old} vs {args.new}")
        return 1 if diffs else 0
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
