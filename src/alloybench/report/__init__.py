"""Reports: results.json (machine-readable) and report.md (terminal / paper tables)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from alloybench.report.files import write_atomic
from alloybench.scoring import Scorecard, score
from alloybench.tasks.base import Metric


def results_document(model: dict[str, Any], run: dict[str, Any], metrics: list[Metric],
                     failures: list[dict], timing: dict[str, Any], cost: dict[str, Any] | None = None) -> dict[str, Any]:
    card = score(metrics)
    return {
        "cost": cost,
        "alloybench_results": 1,
        "model": model,
        "run": run,
        "score": card.to_dict(),
        "metrics": [dict(m.to_dict(), score=card.per_metric.get(m.key)) for m in metrics],
        "failures": failures,
        "timing": timing,
    }


def load_results(directory: Path) -> dict[str, Any]:
    """results.json of a result folder, with the folder's cost.json (``alloybench cost --out``) as its cost
    figure when results.json has none."""
    doc = json.loads((directory / "results.json").read_text())
    attach_cost(doc, directory)
    return doc


def attach_cost(doc: dict[str, Any], directory: Path) -> dict[str, Any]:
    """Give ``doc`` the cost document DIRECTORY/cost.json when it has none of its own."""
    path = Path(directory) / "cost.json"
    if not doc.get("cost") and path.exists():
        doc["cost"] = json.loads(path.read_text())
    return doc


def markdown(docs: list[dict[str, Any]]) -> str:
    """report.md for one or more results documents (see alloybench.report.markdown)."""
    from alloybench.report.markdown import markdown as _markdown

    return _markdown(docs)


__all__ = ["Scorecard", "attach_cost", "load_results", "markdown", "results_document", "write_atomic"]
