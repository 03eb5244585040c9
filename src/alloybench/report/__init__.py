"""Reports: results.json (machine-readable) and report.md (terminal / paper tables)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from alloybench.report.completeness import completeness, incomplete_note
from alloybench.report.files import write_all, write_atomic
from alloybench.scoring import Scorecard, score
from alloybench.tasks.base import Metric


def results_document(model: dict[str, Any], run: dict[str, Any], metrics: list[Metric],
                     failures: list[dict], timing: dict[str, Any], cost: dict[str, Any] | None = None,
                     missing: list[dict] | None = None, run_status: str = "finished",
                     flagged: list[dict] | None = None) -> dict[str, Any]:
    """``flagged``: the unconverged relaxations accepted by alloybench.policy (Jobs, like failures)."""
    card = score(metrics)
    return {
        "cost": cost,
        "alloybench_results": 1,
        "model": model,
        "run": run,
        "completeness": completeness(failures, missing or [], run_status),
        "score": {**card.to_dict(), "n_flagged": sum(bool(m.flag) for m in metrics)},
        "metrics": [dict(m.to_dict(), score=card.per_metric.get(m.key)) for m in metrics],
        "failures": failures,
        "flagged": flagged or [],
        "timing": timing,
    }


def write_results(directory: Path, model, run_info: dict[str, Any], outcome, timing: dict[str, Any],
                  cost: dict[str, Any] | None = None) -> dict[str, Any]:
    """results.json and report.md of one run (a resolved Model and its runner.RunOutcome), written
    together; returns the results document.  Every way of running a suite (the CLI, Dask, fine-tuning
    points) writes its folder through here, so completeness and flagged Jobs are never left out."""
    doc = results_document({"name": model.name, "id": model.id, **model.info}, run_info, outcome.metrics,
                           outcome.failures, timing, cost, missing=outcome.missing, flagged=outcome.flagged)
    write_all([(Path(directory) / "results.json", json.dumps(doc, indent=1)),
               (Path(directory) / "report.md", markdown([doc]))])
    return doc


def load_results(directory: Path) -> dict[str, Any]:
    """results.json of a result folder, with the folder's cost.json (``alloybench cost --out``) as its cost
    figure when results.json has none."""
    doc = json.loads((directory / "results.json").read_text())
    attach_cost(doc, directory)
    return doc


def attach_cost(doc: dict[str, Any], directory: Path) -> dict[str, Any]:
    """Give ``doc`` the cost document DIRECTORY/cost.json when it has none of its own."""
    from alloybench.errors import UserError

    path = Path(directory) / "cost.json"
    if not doc.get("cost") and path.exists():
        try:
            cost = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise UserError(f"{path}: not a cost file written by 'alloybench cost' ({exc}); remove or rewrite it"
                            ) from None
        if not isinstance(cost, dict):
            raise UserError(f"{path}: not a cost file written by 'alloybench cost'; remove or rewrite it")
        doc["cost"] = cost
    return doc


def markdown(docs: list[dict[str, Any]]) -> str:
    """report.md for one or more results documents (see alloybench.report.md)."""
    from alloybench.report.md import markdown as _markdown

    return _markdown(docs)


__all__ = ["Scorecard", "attach_cost", "completeness", "incomplete_note", "load_results", "markdown",
           "results_document", "write_all", "write_atomic", "write_results"]
