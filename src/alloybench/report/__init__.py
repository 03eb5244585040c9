"""Reports: results.json (machine-readable) and report.md (terminal / paper tables)."""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Any

from alloybench.scoring import Scorecard, score
from alloybench.tasks.base import Metric


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:
        return True
    return True


def remove_stale_temps(folder: Path) -> None:
    """Temporary files of report writes that were killed (``.NAME.PID.XXXX.tmp`` of dead processes)."""
    try:
        for tmp in folder.glob(".*.tmp"):
            parts = tmp.name.split(".")
            pid = parts[-3] if len(parts) >= 4 else ""
            if pid.isdigit() and not _pid_alive(int(pid)):
                tmp.unlink(missing_ok=True)
    except OSError:
        pass


def _temp_for(path: Path, text: str) -> str:
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.{os.getpid()}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, 0o644)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return tmp


def write_atomic(path: Path, text: str) -> None:
    """Write via a temporary file and rename: never a half-written report.  An OSError
    (unwritable target, disk full) is a UserError naming the file; no temporary file stays."""
    write_all([(path, text)])


def write_all(files: list[tuple[Path, str]]) -> None:
    """Several files that belong together (results.json, report.md): every one is written in
    full to a temporary file first, then all are renamed into place one after the other, so an
    interruption leaves the old set or the new set (up to the instants between renames)."""
    from alloybench.errors import UserError

    temps: list[tuple[str, Path]] = []
    try:
        for path, text in files:
            path.parent.mkdir(parents=True, exist_ok=True)
            remove_stale_temps(path.parent)
            temps.append((_temp_for(path, text), path))
        for tmp, path in temps:
            os.replace(tmp, path)
    except OSError as exc:
        target = next((p for t, p in temps if Path(t).exists()), files[len(temps)][0] if len(temps) < len(files)
                      else files[-1][0])
        raise UserError(f"cannot write {target}: {exc.strerror or exc}; choose another path") from None
    finally:
        for tmp, _ in temps:
            Path(tmp).unlink(missing_ok=True)


def completeness(failures: list[dict], missing: list[dict], run_status: str = "finished") -> dict[str, Any]:
    """What results.json says about how complete the run is: Jobs missing (never computed:
    an interrupted run) are told apart from Jobs that failed (computed, stored with a reason)."""
    return {"complete": not missing and run_status == "finished", "run_status": run_status,
            "jobs_missing": len(missing), "jobs_failed": len(failures), "missing": missing[:100]}


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


def load_results(directory: Path) -> dict[str, Any]:
    return json.loads((directory / "results.json").read_text())


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


def _fmt(x: float | None, digits: int = 3) -> str:
    if x is None:
        return "–"
    if abs(x) >= 1000 or (abs(x) < 1e-3 and x != 0):
        return f"{x:.3g}"
    return f"{x:.{digits}f}"


def _escape_md(text: str) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


def markdown(docs: list[dict[str, Any]]) -> str:
    """One model: full metric tables.  Several: scores and values side by side."""
    lines: list[str] = ["# alloybench report", ""]
    names = [d["model"]["name"] for d in docs]
    lines += ["| model | family | elements | overall score (95% CI) | " + " | ".join(_categories(docs))
              + " | failed | wall s | device | tier | date |",
              "|---|---|---|---|" + "---|" * len(_categories(docs)) + "---|---|---|---|---|"]
    ranked = sorted(docs, key=lambda d: -(d["score"]["overall"] if d["score"]["overall"] is not None else -1))
    for d in ranked:
        s = d["score"]
        ci = s.get("overall_ci95")
        overall = _fmt(s["overall"], 3) + (f" ({ci[0]:.2f}–{ci[1]:.2f})" if ci else "")
        cats = " | ".join(_fmt(s["categories"].get(c), 3) for c in _categories(docs))
        timing = d.get("timing") or {}
        wall = _fmt(timing.get("wall_seconds"), 0)
        if timing.get("reused"):  # a resumed run: its wall time covers only the Jobs it computed
            wall += f" ({timing.get('computed', 0)} of {timing.get('computed', 0) + timing['reused']} Jobs)"
        covered = [e for e in ("Al", "Cu", "Mg", "Zn") if not d["run"].get("elements") or e in d["run"]["elements"]]
        scope = "Al-Cu-Mg-Zn" if len(covered) == 4 else "-".join(covered)
        lines.append(f"| {_escape_md(d['model']['name'])} | {_escape_md(d['model'].get('family', ''))} | {scope} | {overall} | {cats} | "
                     f"{s['n_failed']} | {wall} | {_escape_md(str(timing.get('device', '')))} | "
                     f"{d['run'].get('tier', '')} | {d['run'].get('date', '')[:10]} |")
    notes = [(d["model"]["name"], incomplete_note(d)) for d in ranked]
    for name, note in notes:
        if note:
            lines += ["", f"> **{_escape_md(name)}: {note}**"]
    lines += ["", "Scores are 0..1 (1 = within the 'good' threshold of DFT for every metric); "
              "thresholds are in `alloybench/scoring/metrics.yaml`. Wall s is the run's own wall time; a resumed "
              "run says how many of its Jobs it computed (the rest came from its store).", ""]

    lines += ["## Errors by metric group", "",
              "| group | unit | " + " | ".join(f"{_escape_md(n)} MAE (score)" for n in names) + " |",
              "|---|---|" + "---|" * len(names)]
    groups = sorted({g for d in docs for g in d["score"]["groups"]})
    for g in groups:
        cells = []
        unit = ""
        for d in docs:
            row = d["score"]["groups"].get(g)
            if row:
                unit = row["unit"]
                cells.append(f"{_fmt(row['mae'])} ({_fmt(row['score'], 2)})" + (f", {row['n_failed']} failed" if row["n_failed"] else ""))
            else:
                cells.append("–")
        lines.append(f"| {g} | {unit} | " + " | ".join(cells) + " |")
    lines.append("")

    tasks: list[str] = []
    for d in docs:
        for m in d["metrics"]:
            if m["task"] not in tasks:
                tasks.append(m["task"])
    for task in tasks:
        lines += [f"## {task}", ""]
        if len(docs) == 1:
            lines += ["| item | quantity | value | DFT | error | unit | score | status |",
                      "|---|---|---|---|---|---|---|---|"]
            for m in docs[0]["metrics"]:
                if m["task"] != task:
                    continue
                status = m["status"] if m["status"] == "ok" else f"{m['status']}: {_escape_md(m['reason'])}"
                if m.get("flag"):
                    status += f" (flag: {_escape_md(m['flag'])})"
                lines.append(f"| {m['item']} | {m['name']} | {_fmt(m['value'])} | {_fmt(m['reference'])} | "
                             f"{_fmt(m['error'])} | {m['unit']} | {_fmt(m.get('score'), 2)} | {status} |")
        else:
            lines += ["| item | quantity | unit | DFT | " + " | ".join(_escape_md(n) for n in names) + " |",
                      "|---|---|---|---|" + "---|" * len(names)]
            keys: dict[tuple[str, str], dict[str, Any]] = {}
            for d in docs:
                for m in d["metrics"]:
                    if m["task"] == task:
                        keys.setdefault((m["item"], m["name"]), m)
            for (item, name), m in keys.items():
                cells = []
                for d in docs:
                    hit = next((x for x in d["metrics"] if x["task"] == task and x["item"] == item and x["name"] == name), None)
                    cells.append("–" if hit is None else (_fmt(hit["value"]) + ("†" if hit.get("flag") else "")
                                                          if hit["status"] == "ok" else hit["status"]))
                lines.append(f"| {item} | {name} | {m['unit']} | {_fmt(m['reference'])} | " + " | ".join(cells) + " |")
        lines.append("")

    if any(m.get("flag") for d in docs for m in d["metrics"]):
        lines += ["## Flagged values", "",
                  "Reported and scored, with a caveat (marked † above): a relaxation accepted by the "
                  "unconverged-relaxation rule (largest force left at most 5 x fmax; docs/protocols.md), or an "
                  "elastic constant that the strain size changes (+-0.5 % vs +-0.1 %).", "",
                  "| model | task | item | quantity | value | flag |", "|---|---|---|---|---|---|"]
        for d in docs:
            for m in d["metrics"]:
                if m.get("flag"):
                    lines.append(f"| {_escape_md(d['model']['name'])} | {m['task']} | {m['item']} | {m['name']} | "
                                 f"{_fmt(m['value'])} | {_escape_md(m['flag'])} |")
        lines.append("")
    for d in docs:
        if d.get("failures"):
            lines += [f"## Failed calculations: {_escape_md(d['model']['name'])}", "", "| task | job | stage | reason |", "|---|---|---|---|"]
            for f in d["failures"]:
                lines.append(f"| {f['task']} | {f['name']} | {f['stage']} | {_escape_md(f['reason'])} |")
            lines.append("")
    costed = [d for d in docs if d.get("cost")]
    if costed:
        lines += ["## Cost per call (`alloybench cost`)", "",
                  "| model | device | threads | load s | largest cell | µs/atom/call there | MD steps/s (atoms) | peak RSS MiB |",
                  "|---|---|---|---|---|---|---|---|"]
        for d in costed:
            c = d["cost"]
            sp = (c.get("single_point") or [{}])[-1]
            md = c.get("md") or {}
            lines.append(f"| {_escape_md(d['model']['name'])} | {_escape_md(c.get('device_name') or c.get('device', ''))} | "
                         f"{c.get('threads', '')} | {_fmt(c.get('load_seconds'), 2)} | {sp.get('n_atoms', '–')} | "
                         f"{_fmt(sp.get('microseconds_per_atom'), 1)} | {_fmt(md.get('steps_per_second'), 1)} "
                         f"({md.get('n_atoms', '–')}) | {_fmt((c.get('memory') or {}).get('rss_peak_mib'), 0)} |")
        lines.append("")
    for d in docs:
        t = d.get("timing") or {}
        if t:
            lines += [f"## Cost: {_escape_md(d['model']['name'])}", "",
                      f"Wall time {t.get('wall_seconds', 0):.1f} s on {t.get('device', '?')}; "
                      f"{t.get('computed', 0)} Jobs computed, {t.get('reused', 0)} reused from the store.", ""]
            per = t.get("per_task") or {}
            if per:
                lines += ["| task | jobs | engine seconds |", "|---|---|---|"]
                for task, (n, s) in per.items():
                    lines.append(f"| {task} | {n} | {s:.1f} |")
                lines.append("")
    return "\n".join(lines)


def _categories(docs: list[dict[str, Any]]) -> list[str]:
    seen: list[str] = []
    for d in docs:
        for c in d["score"]["categories"]:
            if c not in seen:
                seen.append(c)
    return seen


__all__ = ["Scorecard", "completeness", "incomplete_note", "load_results", "markdown", "results_document",
           "write_all", "write_atomic"]
