"""`alloybench report` on the committed standard results gives the same tables as the code of commit
ceb5c07 (tests/data/report_standard_ceb5c07.md): every cell compared as text, tolerance 0
(tools/compare_report_tables.py; new tables and columns are not compared).

When a committed store is rerun, regenerate the baseline with that commit's code on the new data:
``git worktree add /tmp/ceb ceb5c07 && cd /tmp/ceb && PYTHONPATH=src python -m alloybench.cli report
ROOT/docs/results/standard/*/ --md ROOT/tests/data/report_standard_ceb5c07.md`` (last: SevenNet-0 rerun
under elastic-2, 2026-12-02; the four classical potentials and SevenNet-0 rerun under the current protocols, 2026-12-06; SevenNet-l3i5 and -MF-0, 2026-12-08)."""

from __future__ import annotations

import importlib.util
import re
from pathlib import Path

from typer.testing import CliRunner

from alloybench.cli import app

ROOT = Path(__file__).resolve().parents[1]


def _compare():
    spec = importlib.util.spec_from_file_location("compare_report_tables", ROOT / "tools" / "compare_report_tables.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_standard_report_tables_unchanged(tmp_path):
    dirs = sorted(str(p) for p in (ROOT / "docs" / "results" / "standard").iterdir() if (p / "results.json").exists())
    out = tmp_path / "report.md"
    res = CliRunner().invoke(app, ["report", *dirs, "--md", str(out)])
    assert res.exit_code == 0, res.output
    mod = _compare()
    old = (ROOT / "tests" / "data" / "report_standard_ceb5c07.md").read_text(encoding="utf-8")
    new = out.read_text(encoding="utf-8")
    assert len(mod.tables(old)) > 12000
    # ceb5c07's per-metric table lists every dataset frame; since the dataset task's report (#14) the
    # per-metric table keeps only the per-kind rows (those still compared, cell by cell)
    frame_row = re.compile(r"missing in new: \('dataset', '[a-z_]+/\d+ / ")  # e.g. ('dataset', 'phase/2 / ...
    # ceb5c07 printed a wall time of 1838 s as "1.84e+03"; the report now groups its digits ("1 838"):
    # the same number, to the old text's three significant figures, is not a difference
    reformatted = re.compile(r"differs: \('\*', '[^']+', 'wall s'\): old '([0-9.e+]+)(.*)', new '([0-9\\u2009]+)(.*)'$")

    def same_wall(p: str) -> bool:
        m = reformatted.match(p)
        if not m:
            return False
        old_s, new_s = float(m.group(1)), float(m.group(3).replace("\\u2009", ""))
        return m.group(2) == m.group(4) and f"{new_s:.3g}" == f"{old_s:.3g}"

    wall = "differs: ('*', 'm', 'wall s'): old '%s (9 of 810 Jobs)', new '1\\u2009838 (9 of 810 Jobs)'"
    assert same_wall(wall % "1.84e+03") and not same_wall(wall % "1.85e+03")
    compare = lambda a, b: [p for p in mod.compare(a, b) if not frame_row.match(p) and not same_wall(p)]  # noqa: E731
    assert compare(old, new) == []
    assert any(k[0] == "dataset" for k in mod.tables(new))
    assert new.index("## Fitness for purpose") < new.index("## Leaderboard")
    # the comparison can fail: one changed number is found
    assert len(compare(old, new.replace("| 0.812 (0.78–0.84) |", "| 0.813 (0.78–0.84) |"))) == 1
