"""How complete a run is: Jobs missing (never computed) told apart from Jobs that failed."""

from __future__ import annotations

from typing import Any


def completeness(failures: list[dict], missing: list[dict], run_status: str = "finished") -> dict[str, Any]:
    """What results.json says about how complete the run is: Jobs missing (never computed:
    an interrupted run) are told apart from Jobs that failed (computed, stored with a reason)."""
    return {"complete": not missing and run_status == "finished", "run_status": run_status,
            "jobs_missing": len(missing), "jobs_failed": len(failures), "missing": missing[:100]}


def incomplete_note(d: dict[str, Any]) -> str | None:
    """One sentence when a run is incomplete (None when complete or not known)."""
    c = d.get("completeness") or {}
    if not c or c.get("complete", True):
        return None
    status = c.get("run_status", "")
    why = {"interrupted": "the run was interrupted", "running": "the run had not finished (or was killed)"}.get(
        status, "the analysis asks for Jobs the store does not hold: a protocol changed since the run, or the run "
                "used up its rounds")
    return (f"Incomplete run: {c.get('jobs_missing', 0)} Jobs missing ({why}; at least that many: Jobs that depend "
            f"on them were never built), {c.get('jobs_failed', 0)} failed. Missing Jobs count as failures in the "
            f"score; run 'alloybench run' again on the same --out to resume.")
