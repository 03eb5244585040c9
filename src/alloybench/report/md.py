"""report.md: the fitness-for-purpose answer first, then the tables (terminal / paper)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from alloybench.report import fitness
from alloybench.report.completeness import incomplete_note
from alloybench.report.costs import footing
from alloybench.report.fmt import escape_md as _escape_md, md_number as _fmt, seconds


def _parity(metric: dict[str, Any]) -> bool:
    return str(metric.get("group", "")).endswith("_parity")


def verdict_cell(v: fitness.Verdict) -> str:
    if v.score is None:
        return fitness.NOT_COVERED
    text = f"{v.verdict} ({v.score:.2f}; {v.covered}/{v.available})"
    if v.limited_by:
        text += f", held back by {v.limited_by}"
    return text


def fitness_section(docs: Sequence[dict[str, Any]], verdicts: list[list[fitness.Verdict]],
                    cov: list[fitness.Coverage]) -> list[str]:
    apps, levels = fitness.load_applications()
    if not apps:
        return []
    order = sorted(range(len(docs)), key=lambda i: (not cov[i].universal, docs[i]["model"]["name"]))
    lines = ["## Fitness for purpose", ""]
    for a_i, app in enumerate(apps):
        ranked = sorted((i for i in range(len(docs)) if verdicts[i][a_i].score is not None),
                        key=lambda i: (not cov[i].universal, -verdicts[i][a_i].score))
        best = [i for i in ranked if cov[i].universal][:3]
        sub = [i for i in ranked if not cov[i].universal]
        text = "; ".join(f"{_escape_md(docs[i]['model']['name'])}: {verdict_cell(verdicts[i][a_i])}" for i in best)
        line = f"- **{app.title}** ({app.question}): " + (text or "no universal model scored")
        if sub:
            line += ". Subsystem models (on their elements only): " + "; ".join(
                f"{_escape_md(docs[i]['model']['name'])} [{cov[i].scope}]: {verdict_cell(verdicts[i][a_i])}"
                for i in sub)
        lines.append(line)
    lines += ["", "| model | scope | " + " | ".join(a.title for a in apps) + " |",
              "|---|---|" + "---|" * len(apps)]
    for i in order:
        lines.append(f"| {_escape_md(docs[i]['model']['name'])} | {cov[i].scope} | "
                     + " | ".join(verdict_cell(v) for v in verdicts[i]) + " |")
    lines += ["", "Verdict (application score; components covered of those any model here could be scored on). "
              "Application score = mean of its components' scores; levels (`alloybench/scoring/metrics.yaml`): "
              + "; ".join(f"**{lv.name}** score ≥ {lv.min_score:g}" + (f" and every component ≥ {lv.min_component:g}"
                                                                     if lv.min_component else "")
                          + f" ({lv.meaning})" for lv in levels) + ". Components: "
              + "; ".join(f"{a.title}: " + ", ".join(c.title for c in a.components) for a in apps) + ".", ""]
    return lines


def _leader_rows(docs, idx, cats, cov) -> list[str]:
    rows = []
    for i in sorted(idx, key=lambda i: -(docs[i]["score"]["overall"] if docs[i]["score"]["overall"] is not None else -1)):
        d = docs[i]
        s = d["score"]
        ci = s.get("overall_ci95")
        overall = _fmt(s["overall"], 3) + (f" ({ci[0]:.2f}–{ci[1]:.2f})" if ci else "")
        cells = " | ".join(_fmt(s["categories"].get(c), 3) for c in cats)
        timing = d.get("timing") or {}
        wall = seconds(timing.get("wall_seconds"), 0)  # never e-notation
        if timing.get("reused"):  # a resumed run: its wall time covers only the Jobs it computed
            wall += f" ({timing.get('computed', 0)} of {timing.get('computed', 0) + timing['reused']} Jobs)"
        c = cov[i]
        rows.append(f"| {_escape_md(d['model']['name'])} | {_escape_md(d['model'].get('family', ''))} | "
                    f"{c.scope.replace('–', '-')} | {c.metrics_scored}/{c.metrics_total} | {overall} | {cells} | "
                    f"{s['n_failed']} | {wall} | {_escape_md(str(timing.get('device', '')))} | "
                    f"{d['run'].get('tier', '')} | {d['run'].get('date', '')[:10]} |")
    return rows


def markdown(docs: list[dict[str, Any]]) -> str:
    """One model: full metric tables.  Several: the answer per application, then scores and values side by side."""
    cats = _categories(docs)
    names = [d["model"]["name"] for d in docs]
    verdicts = fitness.assess(docs)
    cov = fitness.coverage(docs)
    universal, subsystems = fitness.scopes(docs)
    lines: list[str] = ["# alloybench report", ""]
    lines += fitness_section(docs, verdicts, cov)

    head = ["| model | family | elements | metrics scored | overall score (95% CI) | " + " | ".join(cats)
            + " | failed | wall s | device | tier | date |",
            "|---|---|---|---|---|" + "---|" * len(cats) + "---|---|---|---|---|"]
    if universal:
        lines += [f"## Leaderboard: models covering {'–'.join(fitness.SYSTEM)}", ""] + head
        lines += _leader_rows(docs, universal, cats, cov)
        lines.append("")
    for els, members in subsystems.items():
        scope = "–".join(els)
        lines += [f"## Subsystem {scope}: not ranked with the universal models", ""] + head
        lines += _leader_rows(docs, members, cats, cov)
        n, rows = fitness.subset_ranking(docs, members, universal)
        lines += ["", f"Ranked on the same {n} metrics (those the {scope} model(s) were scored on), universal models "
                  "included:", "", "| rank | model | scope | score on this subset (95% CI) | metrics | overall (own) |",
                  "|---|---|---|---|---|---|"]
        for r_i, r in enumerate(rows, 1):
            d = docs[r.index]
            ci = f" ({r.ci95[0]:.2f}–{r.ci95[1]:.2f})" if r.ci95 else ""
            lines.append(f"| {r_i} | {_escape_md(d['model']['name'])}{' ◀' if r.subsystem_model else ''} | "
                         f"{cov[r.index].scope} | {_fmt(r.overall)}{ci} | {r.n} | {_fmt(d['score']['overall'])} |")
        lines.append("")
    for d in docs:
        note = incomplete_note(d)
        if note:
            lines += [f"> **{_escape_md(d['model']['name'])}: {note}**", ""]
    lines += ["Scores are 0..1 (1 = within the 'good' threshold of DFT for every metric); "
              "thresholds are in `alloybench/scoring/metrics.yaml`. Metrics scored: of those any model in this report "
              "was scored on. A subsystem model is ranked only against its own subsystem, or against the universal "
              "models on exactly its metrics. Wall s is the run's own wall time on its device (not a cost figure: "
              "see 'Cost on one footing'); a resumed run says how many of its Jobs it computed (the rest came from "
              "its store).", ""]

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
        # per-structure parity values (the dataset task's) belong in the HTML report's plots, not in a table
        hidden = sum(1 for d in docs for m in d["metrics"] if m["task"] == task and _parity(m))
        if len(docs) == 1:
            lines += ["| item | quantity | value | DFT | error | unit | score | status |",
                      "|---|---|---|---|---|---|---|---|"]
            for m in docs[0]["metrics"]:
                if m["task"] != task or _parity(m):
                    continue
                status = m["status"] if m["status"] == "ok" else f"{m['status']}: {_escape_md(m['reason'])}"
                if m.get("flag"):
                    status += f" (flag: {_escape_md(m['flag'])})"
                lines.append(f"| {m['item']} | {m['name']} | {_fmt(m['value'])} | {_fmt(m['reference'])} | "
                             f"{_fmt(m['error'])} | {m['unit']} | {_fmt(m.get('score'), 2)} | {status} |")
        else:
            lines += ["| item | quantity | unit | DFT | " + " | ".join(_escape_md(n) for n in names) + " |",
                      "|---|---|---|---|" + "---|" * len(names)]
            index = []
            for d in docs:  # the first metric of each (task, item, name), as a linear search finds it
                ix: dict[tuple[str, str, str], dict[str, Any]] = {}
                for x in d["metrics"]:
                    if x["task"] == task:
                        ix.setdefault((x["task"], x["item"], x["name"]), x)
                index.append(ix)
            keys: dict[tuple[str, str], dict[str, Any]] = {}
            for d in docs:
                for m in d["metrics"]:
                    if m["task"] == task and not _parity(m):
                        keys.setdefault((m["item"], m["name"]), m)
            for (item, name), m in keys.items():
                cells = []
                for ix in index:
                    hit = ix.get((task, item, name))
                    cells.append("–" if hit is None else (_fmt(hit["value"]) + ("†" if hit.get("flag") else "")
                                                          if hit["status"] == "ok" else hit["status"]))
                lines.append(f"| {item} | {name} | {m['unit']} | {_fmt(m['reference'])} | " + " | ".join(cells) + " |")
        if hidden:
            lines += ["", f"{hidden} per-structure model-vs-DFT values (groups `*_parity`) are in results.json and "
                          "the HTML report's parity plots."]
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
    foot = footing(docs)
    lines += ["## Cost on one footing (`alloybench cost`)", ""]
    if foot.points:
        at = (f"the {foot.n_atoms}-atom cell (the largest every compared model measured)" if foot.n_atoms
              else "each model's largest cell measured (no cell size common to all)")
        lines += [f"Measured on one machine: {_escape_md(foot.host)}. µs/atom/step: one energy+forces+stress call on "
                  f"fcc Al at {at}, divided by its atoms.", ""]
    missing = [docs[i]["model"]["name"] for i in foot.missing]
    if missing:
        lines += [f"No `alloybench cost` figure for {len(missing)} of {len(docs)} models ("
                  + ", ".join(_escape_md(n) for n in missing) + "): they are left out of the accuracy-vs-cost "
                  "comparison; run wall times are not used in their place.", ""]
    if foot.elsewhere:
        lines += ["Measured on another machine (not compared): " + ", ".join(
            f"{_escape_md(docs[i]['model']['name'])} ({_escape_md(p.host)})" for i, p in foot.elsewhere.items()), ""]
    costed = [(i, d) for i, d in enumerate(docs) if d.get("cost")]
    if costed:
        at = f"µs/atom/call at {foot.n_atoms} atoms (compared)" if foot.n_atoms else "µs/atom/call (compared)"
        lines += ["## Cost per call (`alloybench cost`)", "",
                  f"| model | device | threads | load s | {at} | largest cell | µs/atom/call there | MD steps/s (atoms) "
                  "| peak RSS MiB |", "|---|---|---|---|---|---|---|---|---|"]
        for i, d in costed:
            c = d["cost"]
            sp = (c.get("single_point") or [{}])[-1]
            md = c.get("md") or {}
            p = foot.points.get(i)
            lines.append(f"| {_escape_md(d['model']['name'])} | {_escape_md(c.get('device_name') or c.get('device', ''))} | "
                         f"{c.get('threads', '')} | {seconds(c.get('load_seconds'), 2)} | "
                         f"{seconds(p.us_per_atom_step if p else None, 1)} | {sp.get('n_atoms', '–')} | "
                         f"{seconds(sp.get('microseconds_per_atom'), 1)} | {seconds(md.get('steps_per_second'), 2)} "
                         f"({md.get('n_atoms', '–')}) | {seconds((c.get('memory') or {}).get('rss_peak_mib'), 0)} |")
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


def _categories(docs: Sequence[dict[str, Any]]) -> list[str]:
    seen: list[str] = []
    for d in docs:
        for c in d["score"]["categories"]:
            if c not in seen:
                seen.append(c)
    return seen


__all__ = ["fitness_section", "markdown", "verdict_cell"]
