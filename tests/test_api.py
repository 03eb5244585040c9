"""The Python API (alloybench.benchmark / load_results) gives what ``alloybench run`` gives."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

import alloybench
from alloybench.errors import UserError


def _rows(doc):
    return [{k: v for k, v in m.items()} for m in doc["metrics"]]


def test_benchmark_matches_the_cli_on_emt(tmp_path):
    results = alloybench.benchmark("emt", tasks="bulk,elastic", out=tmp_path / "api")
    assert results.clean and results.computed > 0 and results.reused == 0
    assert {m["task"] for m in results.metrics} == {"bulk", "elastic"}
    for name in ("results.sqlite", "results.json", "report.md"):
        assert (tmp_path / "api" / name).is_file()

    env = dict(os.environ, COLUMNS="200")
    p = subprocess.run([sys.executable, "-m", "alloybench.cli", "run", "-m", "emt", "--tasks", "bulk,elastic",
                        "-o", str(tmp_path / "cli"), "-q"], capture_output=True, text=True, env=env, timeout=600)
    assert p.returncode == 0, p.stderr
    cli_doc = json.loads((tmp_path / "cli" / "results.json").read_text())
    assert _rows(cli_doc) == results.metrics  # every metric, value for value
    assert cli_doc["score"] == results.score
    assert cli_doc["model"] == results.model

    loaded = alloybench.load_results(tmp_path / "api")
    assert loaded.metrics == results.metrics and loaded.score == results.score
    m = loaded.metric("bulk", "Al", "volume_per_atom")
    assert m["unit"] == "Å^3/atom" and m["value"] > 0

    again = alloybench.benchmark("emt", tasks=["bulk", "elastic"], out=tmp_path / "api")  # resumes the store
    assert again.computed == 0 and again.reused == results.computed and again.metrics == results.metrics


def test_to_pandas(tmp_path):
    pd = pytest.importorskip("pandas")
    results = alloybench.benchmark("emt", tasks="bulk", out=tmp_path / "r")
    frame = results.to_pandas()
    assert isinstance(frame, pd.DataFrame) and len(frame) == len(results.metrics)
    assert {"task", "item", "name", "value", "reference", "unit"} <= set(frame.columns)


@pytest.mark.parametrize("kwargs, needle", [
    ({"model": "no-such-model"}, "unknown model"),
    ({"model": "emt", "tasks": "elastik"}, "unknown task 'elastik'"),
    ({"model": "emt", "tier": "huge"}, "tier must be one of"),
    ({"model": "emt", "engine": "gpu"}, "engine must be one of"),
])
def test_user_mistakes_raise_and_write_nothing(tmp_path, kwargs, needle):
    with pytest.raises(UserError, match=needle):
        alloybench.benchmark(out=tmp_path / "out", **kwargs)
    assert not (tmp_path / "out").exists()


def test_load_results_of_a_folder_without_results(tmp_path):
    with pytest.raises(UserError, match="no results.json"):
        alloybench.load_results(tmp_path)
