"""The command line: a user's mistake is one line and exit 2; a run writes its three files."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest


def alloybench(*args: str, cwd=None) -> subprocess.CompletedProcess:
    env = dict(os.environ, COLUMNS="200")
    return subprocess.run([sys.executable, "-m", "alloybench.cli", *args], capture_output=True, text=True,
                          cwd=cwd, env=env, timeout=1100)


@pytest.mark.parametrize(
    "args, needle",
    [
        (["run", "--model", "no-such-model"], "unknown model 'no-such-model'"),
        (["run", "--model", "/nonexistent/pot.eam.alloy"], "model path not found"),
        (["run", "--model", "emt", "--tasks", "elastik"], "unknown task 'elastik'"),
        (["run", "--model", "emt", "--elements", "Mg"], "does not cover element(s) Mg"),
        (["run", "--model", "emt", "--elements", "Xx"], "not a chemical element: Xx"),
        (["run", "--model", "emt", "--tier", "huge"], "huge"),
        (["report", "/nonexistent-dir"], "no results.sqlite or results.json"),
    ],
)
def test_bad_input_is_one_line_exit_2_and_writes_nothing(tmp_path, args, needle):
    out = tmp_path / "out"
    if args[0] == "run":
        args = [*args, "--out", str(out)]
    p = alloybench(*args, cwd=tmp_path)
    assert p.returncode == 2, p.stderr
    assert "Traceback" not in p.stderr + p.stdout
    assert needle in p.stderr
    if args[0] == "run" and "--tier" not in args:
        assert len(p.stderr.strip().splitlines()) == 1, p.stderr
    assert not out.exists()


def test_models_and_tasks_listings():
    p = alloybench("models")
    assert p.returncode == 0
    for name in ("emt", "sevennet-0", "chgnet-0.3.0"):
        assert name in p.stdout
    p = alloybench("tasks")
    assert p.returncode == 0 and "bulk" in p.stdout and "elastic" in p.stdout


def test_run_and_report_with_emt(tmp_path):
    out = tmp_path / "emt"
    p = alloybench("run", "--model", "emt", "--elements", "Al", "--tasks", "bulk,elastic", "--out", str(out), "--quiet")
    assert p.returncode == 0, p.stderr
    doc = json.loads((out / "results.json").read_text())
    assert (out / "results.sqlite").exists() and (out / "report.md").exists()
    assert doc["model"]["name"] == "emt" and doc["run"]["tier"] == "quick"
    names = {(m["task"], m["item"], m["name"]) for m in doc["metrics"]}
    assert ("elastic", "Al", "C_11") in names and ("bulk", "Al", "lattice_a") in names
    assert doc["timing"]["computed"] == 25  # 1 relaxation + 2 x 12 strained cells (+-0.5 %, +-0.1 %)
    # the second run computes nothing and the rebuilt report matches
    p2 = alloybench("run", "--model", "emt", "--elements", "Al", "--tasks", "bulk,elastic", "--out", str(out), "--quiet")
    assert p2.returncode == 0
    assert json.loads((out / "results.json").read_text())["timing"]["computed"] == 0
    rep = alloybench("report", str(out), str(out))
    assert rep.returncode == 0 and "| emt |" in rep.stdout and "C_11" in rep.stdout


def test_report_html_from_a_run(tmp_path):
    out = tmp_path / "emt"
    assert alloybench("run", "--model", "emt", "--elements", "Al", "--tasks", "bulk", "--out", str(out), "-q").returncode == 0
    site = tmp_path / "site"
    p = alloybench("report", str(out), "--html", str(site))
    assert p.returncode == 0, p.stderr
    assert (site / "index.html").exists() and (site / "figures" / "heatmap.svg").exists()
    assert "emt" in (site / "index.html").read_text()


def test_full_tier_measures_cost_and_reports_it(tmp_path):
    out = tmp_path / "emt"
    p = alloybench("run", "--model", "emt", "--elements", "Al", "--tasks", "bulk", "--tier", "full", "--out", str(out), "-q")
    assert p.returncode == 0, p.stderr
    cost = json.loads((out / "cost.json").read_text())
    sizes = [row["n_atoms"] for row in cost["single_point"]]
    assert sizes == sorted(sizes) and len(sizes) >= 2
    assert all(row["median_seconds"] > 0 for row in cost["single_point"])
    assert json.loads((out / "results.json").read_text())["cost"]["md"]["steps_per_second"] > 0
    assert "## Cost per call" in (out / "report.md").read_text()
    rep = alloybench("report", str(out))
    assert "## Cost per call" in rep.stdout


def test_cost_command_result_enters_the_store_and_the_report(tmp_path):
    out = tmp_path / "emt"
    assert alloybench("run", "--model", "emt", "--elements", "Al", "--tasks", "bulk", "--out", str(out), "-q").returncode == 0
    p = alloybench("cost", "--model", "emt", "--quick", "--out", str(out))
    assert p.returncode == 0, p.stderr
    from alloybench.store import Store

    with Store(out / "results.sqlite") as store:
        assert store.latest_cost()["single_point"][0]["median_seconds"] > 0
    rep = alloybench("report", str(out))
    assert "## Cost per call" in rep.stdout
    bad = alloybench("cost", "--model", "no-such-model")
    assert bad.returncode == 2 and "unknown model" in bad.stderr
