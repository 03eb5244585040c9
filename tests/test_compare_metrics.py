"""tools/compare_metrics.py --converged: metric values within alloybench.convergence.tolerance pass,
a value, a status or the overall score beyond it is reported (exit 1)."""

from __future__ import annotations

import copy
import importlib.util
import json
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _tool():
    spec = importlib.util.spec_from_file_location("compare_metrics", ROOT / "tools" / "compare_metrics.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def _results(value: float, status: str = "ok", overall: float = 0.5) -> dict:
    m = {"task": "solute_binding", "item": "Al:Cu-Cu", "name": "shell1", "series": "", "x": None, "unit": "meV",
         "value": value, "status": status, "flag": "", "reason": ""}
    return {"metrics": [m], "score": {"overall": overall}}


def test_a_change_inside_the_tolerance_passes_and_one_beyond_it_is_listed(tmp_path):
    tool = _tool()
    old = _results(-20.0)
    _, diffs = tool.compare_converged(old, _results(-20.9))  # tolerance: max(0.5 % of 20, 1 meV) = 1 meV
    assert diffs == []
    _, diffs = tool.compare_converged(old, _results(-21.2))
    assert len(diffs) == 1 and "shell1" in diffs[0] and "tolerance 1" in diffs[0]
    _, diffs = tool.compare_converged(old, _results(-20.0, status="failed"))
    assert len(diffs) == 1 and "status" in diffs[0]
    _, diffs = tool.compare_converged(old, _results(-20.0, overall=0.5006))
    assert len(diffs) == 1 and "overall score" in diffs[0]


def test_the_command_exits_1_on_a_difference(tmp_path):
    tool = _tool()
    for name, res in (("old", _results(-20.0)), ("same", _results(-20.5)), ("moved", _results(-25.0))):
        (tmp_path / name).mkdir()
        (tmp_path / name / "results.json").write_text(json.dumps(copy.deepcopy(res)))
    assert tool.main([str(tmp_path / "old"), str(tmp_path / "same"), "--converged"]) == 0
    assert tool.main([str(tmp_path / "old"), str(tmp_path / "moved"), "--converged"]) == 1
