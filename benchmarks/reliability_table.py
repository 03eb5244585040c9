"""The reliability table of docs/reliability.md: malformed inputs by category, kill -9 points, hangs.

    PYTHONPATH=src python benchmarks/reliability_table.py [--kills 12] [--fuzz-scale 1]

1. Malformed inputs: runs tests/test_fuzz_inputs.py under pytest with hypothesis statistics;
   each property test is one category, its generated examples are the inputs tried, and the
   test's oracle is "exit status 2, one line, no traceback, nothing written". A failing
   category is counted as having tracebacks (the test stops at its first bad input).
2. kill -9: `alloybench run --model emt --elements Al,Cu --tasks bulk,elastic` is killed with
   SIGKILL at spread-out moments, resumed, and its metrics compared (tolerance 0) with an
   uninterrupted run; the store's integrity check must pass and no Job may be stored twice.
3. Hangs: a model that sleeps on cells of more than two atoms, with --job-timeout 1: the run
   must end, with every hung Job stored as stage "timeout" (exit 1).
Prints Markdown.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PY = sys.executable
RUN = [PY, "-m", "alloybench.cli", "run", "--model", "emt", "--elements", "Al,Cu", "--tasks", "bulk,elastic", "-q"]


def _env() -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT / "src"), str(ROOT / "tests"), str(ROOT / "tests" / "helpers"),
                                         env.get("PYTHONPATH", "")])
    return env


def fuzz_table(scale: float) -> list[tuple[str, int, int, str]]:
    env = _env()
    env["ALLOYBENCH_FUZZ_SCALE"] = str(scale)
    proc = subprocess.run([PY, "-m", "pytest", "-q", "-p", "no:cacheprovider", "--hypothesis-show-statistics",
                           str(ROOT / "tests" / "test_fuzz_inputs.py")], env=env, capture_output=True, text=True)
    text = proc.stdout + proc.stderr
    rows = []
    for block in re.split(r"\n(?=\S*test_fuzz_inputs\.py::)", text):
        m = re.match(r"\S*test_fuzz_inputs\.py::(\w+)", block)
        if not m:
            continue
        # hypothesis: "- 120 passing, 0 failing, and 3 invalid test cases" per phase
        passing = sum(int(x) for x in re.findall(r"(\d+) passing", block))
        failing = sum(int(x) for x in re.findall(r"(\d+) failing", block))
        rows.append((m.group(1), passing + failing, failing, "FAILED" if failing else "ok"))
    if proc.returncode not in (0,):
        failed = set(re.findall(r"FAILED \S*::(\w+)", text))
        rows = [(n, k, f or (1 if n in failed else 0), "FAILED" if n in failed else s) for n, k, f, s in rows]
    return rows


def _metrics(out: Path) -> dict:
    doc = json.loads((out / "results.json").read_text())
    return {(m["task"], m["name"]): (m.get("value"), m.get("status")) for m in doc["metrics"]}


def _store_check(out: Path) -> tuple[bool, int]:
    db = sqlite3.connect(out / "results.sqlite")
    try:
        ok = db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        tables = [r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type='table'")]
        table = "results" if "results" in tables else tables[0]
        cols = [r[1] for r in db.execute(f"PRAGMA table_info({table})")]
        key = [c for c in cols if c in ("model", "job_digest")]  # one row per (model, Job)
        dup = 0
        if key:
            dup = db.execute(f"SELECT COUNT(*) FROM (SELECT {','.join(key)}, COUNT(*) c FROM {table} "
                             f"GROUP BY {','.join(key)} HAVING c > 1)").fetchone()[0]
        return ok, dup
    finally:
        db.close()


def kill_trials(n: int, work: Path) -> dict:
    env = _env()
    ref_out = work / "ref"
    t0 = time.perf_counter()
    subprocess.run(RUN + ["--out", str(ref_out)], env=env, check=True, capture_output=True)
    full = time.perf_counter() - t0
    ref = _metrics(ref_out)
    survived = lost = 0
    details = []
    for i in range(n):
        out = work / f"k{i}"
        delay = full * (0.15 + 0.8 * i / max(1, n - 1))  # spread over start-up, Jobs and report writing
        p = subprocess.Popen(RUN + ["--out", str(out)], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep(delay)
        killed = p.poll() is None
        if killed:
            p.send_signal(signal.SIGKILL)
        p.wait()
        r = subprocess.run(RUN + ["--out", str(out)], env=env, capture_output=True, text=True)
        same = r.returncode == 0 and _metrics(out) == ref
        ok, dup = _store_check(out)
        survived += int(same and ok and dup == 0)
        lost += int(not same)
        details.append((round(delay, 2), killed, same, ok, dup))
    return {"trials": n, "run_seconds": round(full, 1), "survived": survived, "data_lost": lost, "details": details}


def hang_trial(work: Path) -> dict:
    out = work / "hang"
    t0 = time.perf_counter()
    r = subprocess.run([PY, "-m", "alloybench.cli", "run", "--model", "misbehaving:sleeps_on_big_cells", "--elements",
                        "Al,Cu", "--tasks", "bulk", "--job-timeout", "1", "--out", str(out), "-q"],
                       env=_env(),
                       capture_output=True, text=True, timeout=600)
    doc = json.loads((out / "results.json").read_text())
    stages = [f["stage"] for f in doc.get("failures", [])]
    return {"exit": r.returncode, "seconds": round(time.perf_counter() - t0, 1), "timeouts": stages.count("timeout"),
            "other_failures": len(stages) - stages.count("timeout")}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--kills", type=int, default=12)
    ap.add_argument("--fuzz-scale", type=float, default=1.0)
    args = ap.parse_args()
    rows = fuzz_table(args.fuzz_scale)
    print("| category (tests/test_fuzz_inputs.py) | inputs tried | handled (one-line error, exit 2; a still-valid "
          "results file may report, exit 0) | tracebacks |")
    print("|---|---|---|---|")
    for name, n, bad, status in rows:
        print(f"| {name} | {n} | {n - bad} | {bad} |")
    tot = sum(r[1] for r in rows)
    print(f"| **all** | **{tot}** | **{tot - sum(r[2] for r in rows)}** | **{sum(r[2] for r in rows)}** |")
    with tempfile.TemporaryDirectory(prefix="ab-rel-") as d:
        k = kill_trials(args.kills, Path(d))
        h = hang_trial(Path(d))
    print()
    print(f"kill -9: {k['trials']} trials over a {k['run_seconds']} s run; survived (metrics identical, integrity ok, "
          f"no Job stored twice) {k['survived']}; data lost {k['data_lost']}")
    print("details (delay s, killed, metrics identical, integrity ok, duplicate Jobs):", k["details"])
    print(f"hang: exit {h['exit']} after {h['seconds']} s; {h['timeouts']} Jobs stored as timeout, "
          f"{h['other_failures']} other failures")


if __name__ == "__main__":
    main()
