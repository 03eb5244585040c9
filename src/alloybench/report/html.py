"""Static HTML report: a self-contained site that opens from disk (no network).

``write_html(docs, out_dir)`` takes results.json documents (see
``alloybench.report.results_document``) and writes

- ``index.html``: the answer per application first (fitness-for-purpose verdicts,
  one click from the metrics behind them), the leaderboard of universal models with
  each model's coverage, subsystem models ranked apart (and against the universal
  models on their metrics only), the heat-map, accuracy vs cost on one footing
  (``alloybench cost`` figures), interactive parity plots and curves against DFT,
  and the correlation with Matbench Discovery;
- ``models/NN-name.html``: per model, its verdicts with their components and metrics,
  every metric (value, reference, error, status, reason, source), failed
  calculations, cost, Matbench entry and provenance;
- ``figures/*.svg`` and ``figures/*.png``: every figure, for papers, rendered from the
  same Vega-Lite spec the page draws (:mod:`alloybench.report.figures`).

Pages are Jinja2 templates (``report/templates``) with autoescaping: every string
from a user (model names, paths, notes, reasons, commands) is escaped there; CSS
and JavaScript are package files (``report/static``).  The figures' data travel as
JSON in a ``<script type="application/json">`` element with '<' escaped.  Task labels
(titles, curve axes, extra reference points) come from the tasks themselves.
"""

from __future__ import annotations

import datetime as dt
import json
import math
import re
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

import jinja2
from markupsafe import Markup

from alloybench.report import fitness
from alloybench.report.costs import cost_command, footing, run_seconds
from alloybench.report.figures import (PALETTE, Chart, Rows, colour, correlation_chart, curves_charts,
                                       heatmap_chart, pareto_chart, pareto_front, parity_chart)
from alloybench.report.completeness import incomplete_note
from alloybench.report.files import write_atomic
from alloybench.report.fmt import num, seconds, sortval
from alloybench.scoring import load_thresholds

HEAT_STOPS = ((0.0, (215, 48, 39)), (0.25, (252, 141, 89)), (0.5, (254, 224, 139)), (0.75, (145, 207, 96)),
              (1.0, (26, 152, 80)))  # ColorBrewer RdYlGn


def heat(s: float | None) -> str:
    """Background colour of a 0..1 score."""
    if s is None:
        return "#e6e8eb"
    s = max(0.0, min(1.0, float(s)))
    for (a, ca), (b, cb) in zip(HEAT_STOPS, HEAT_STOPS[1:]):
        if s <= b:
            t = (s - a) / (b - a)
            return "#%02x%02x%02x" % tuple(round(x + (y - x) * t) for x, y in zip(ca, cb))
    return "#1a9850"


def heat_text(s: float | None) -> str:
    return "#111" if s is None or 0.15 < s < 0.85 else "#fff"


def slug(text: str, limit: int = 48) -> str:
    s = re.sub(r"[^A-Za-z0-9_.-]+", "_", str(text)).strip("._")
    return (s or "model")[:limit]


def _pretty(v: Any) -> str:
    if isinstance(v, dict):
        return "; ".join(f"{k}: {_pretty(x)}" for k, x in v.items()) or "–"
    if isinstance(v, (list, tuple)):
        return ", ".join("–" if x is None else _pretty(x) for x in v) or "–"
    if isinstance(v, float):
        return num(v, 4)
    return "–" if v is None else str(v)


def _selector(c: fitness.Component) -> str:
    parts = [f"{k} = {getattr(c, k)}" for k in ("task", "group") if getattr(c, k)]
    parts += [f"{k} ~ /{getattr(c, k)}/" for k in ("item", "quantity") if getattr(c, k)]
    return ", ".join(parts)


def _ncell(x: Any, digits: int = 3) -> Markup:
    """A numeric <td> (the value is a number or None: nothing to escape)."""
    text = num(x, digits)
    if text == "–":
        return Markup('<td class="n" data-sort="">–</td>')
    return Markup(f'<td class="n">{text}</td>')  # report.js sorts on the number shown


def _secscell(x: Any, digits: int = 1) -> Markup:
    return Markup(f'<td class="n" data-sort="{sortval(x) if isinstance(x, (int, float)) else ""}">{seconds(x, digits)}</td>')


def _scorecell(s: Any, ci: Any = None) -> Markup:
    if s is None:
        return Markup('<td class="n" data-sort="">–</td>')
    extra = f' <span class="note">({ci[0]:.2f}–{ci[1]:.2f})</span>' if ci else ""
    return Markup(f'<td class="n" data-sort="{s:.6g}"><span class="score" style="background:{heat(s)};'
                  f'color:{heat_text(s)}">{s:.3f}</span>{extra}</td>')


def _env() -> jinja2.Environment:
    env = jinja2.Environment(loader=jinja2.PackageLoader("alloybench.report", "templates"),
                             autoescape=jinja2.select_autoescape(["html"], default=True),
                             undefined=jinja2.StrictUndefined, trim_blocks=False, lstrip_blocks=False)
    env.filters.update(num=num, seconds=seconds, sortval=sortval, heat=heat, heat_text=heat_text, pretty=_pretty,
                       selector=_selector, ncell=_ncell, secscell=_secscell, scorecell=_scorecell)
    return env


def _static(name: str) -> str:
    return resources.files("alloybench.report").joinpath("static", name).read_text(encoding="utf-8")


def _json_for_script(obj: Any) -> str:
    """JSON safe inside <script type="application/json">: no '<' (so no '</script>'), no NaN."""
    text = json.dumps(obj, ensure_ascii=False, separators=(",", ":"), allow_nan=False, default=_json_default)
    return text.replace("<", "\\u003c").replace("\u2028", "\\u2028").replace("\u2029", "\\u2029")


def _json_default(o: Any) -> Any:
    raise TypeError(f"not JSON: {type(o).__name__}")


def _clean(v: Any) -> Any:
    """NaN/inf -> None, recursively (JSON has neither)."""
    if isinstance(v, float) and not math.isfinite(v):
        return None
    if isinstance(v, dict):
        return {k: _clean(x) for k, x in v.items()}
    if isinstance(v, list):
        return [_clean(x) for x in v]
    return v


def _categories(docs: Sequence[dict[str, Any]]) -> list[str]:
    _, cats = load_thresholds()
    seen = {c for d in docs for c in d["score"]["categories"]}
    return [c for c in cats if c in seen] + sorted(seen - set(cats))


def _groups(docs: Sequence[dict[str, Any]]) -> list[str]:
    groups, cats = load_thresholds()
    seen = {g for d in docs for g in d["score"]["groups"]} | {m["group"] for d in docs for m in d["metrics"]}
    order = {c: i for i, c in enumerate(cats)}
    known = sorted((g for g in seen if g in groups), key=lambda g: (order.get(groups[g].category, 99),
                                                                     list(groups).index(g)))
    return known + sorted(seen - set(groups))


def _task_meta() -> dict[str, Any]:
    from alloybench.tasks import TASKS

    return dict(TASKS)


@dataclass
class Built:
    index: Path
    figures: list[str]
    bytes_index: int


# ------------------------------------------------------------------ context
def _index_context(docs, pages, mb, verdicts, cov, table: Rows, result_dirs: Sequence[str] | None):
    from alloybench.report.correlation import LABELS as MB_LABELS, MIN_MODELS, correlate
    from alloybench.models.matbench import METRICS as MB_METRICS

    apps, levels = fitness.load_applications()
    universal, subsystems = fitness.scopes(docs)
    cats = _categories(docs)
    _, cat_info = load_thresholds()
    foot = footing(docs)
    names = [str(d["model"]["name"]) for d in docs]

    def href(i: int, app: str) -> str:
        return f"{pages[i]}#app-{app}"

    order = sorted(range(len(docs)), key=lambda i: (not cov[i].universal,
                                                    -(docs[i]["score"].get("overall") or -1.0)))
    verdict_rows = [{"index": i, "name": names[i], "page": pages[i], "scope": cov[i].scope,
                     "universal": cov[i].universal, "overall": docs[i]["score"].get("overall"),
                     "cells": [{"v": v, "href": href(i, v.application.name)} for v in verdicts[i]]} for i in order]
    answers = []
    for a_i, app in enumerate(apps):
        ranked = sorted((i for i in range(len(docs)) if verdicts[i][a_i].score is not None),
                        key=lambda i: -verdicts[i][a_i].score)
        answers.append({"title": app.title, "question": app.question,
                        "best": [{"name": names[i], "href": href(i, app.name), "v": verdicts[i][a_i]}
                                 for i in ranked if cov[i].universal][:3],
                        "sub": [{"name": names[i], "href": href(i, app.name), "v": verdicts[i][a_i],
                                 "scope": cov[i].scope} for i in ranked if not cov[i].universal]})

    def leader(i: int) -> dict[str, Any]:
        d = docs[i]
        s = d["score"]
        t = d.get("timing") or {}
        engine, jobs = run_seconds(d)
        c = cov[i]
        return {"index": i, "name": names[i], "page": pages[i], "family": d["model"].get("family", ""),
                "training": d["model"].get("training_data", ""), "scope": c.scope,
                "tasks": f"{c.tasks_scored}/{c.tasks_total}", "metrics": f"{c.metrics_scored}/{c.metrics_total}",
                "overall": s.get("overall"), "ci": s.get("overall_ci95"),
                "cats": [s["categories"].get(k) for k in cats], "n_failed": s.get("n_failed"),
                "failed_jobs": len(d.get("failures") or []), "n_na": s.get("n_not_applicable"),
                "cost": foot.points.get(i) or foot.elsewhere.get(i), "engine": engine,
                "per_job": engine / jobs if engine is not None and jobs else None, "wall": t.get("wall_seconds"),
                "device": t.get("device", ""), "tier": (d.get("run") or {}).get("tier", ""),
                "date": str((d.get("run") or {}).get("date", ""))[:10],
                "mb_f1": mb[i] and mb[i].get("F1"), "mb_kappa": mb[i] and mb[i].get("kappa_SRME")}

    by_overall = lambda i: -(docs[i]["score"].get("overall") or -1.0)  # noqa: E731
    leaders = [leader(i) for i in sorted(universal, key=by_overall)]
    sub_leaders = [leader(i) for els in subsystems.values() for i in sorted(els, key=by_overall)]
    subs = []
    for els, members in subsystems.items():
        n, rows = fitness.subset_ranking(docs, members, universal)
        subs.append({"scope": "–".join(els), "slug": "-".join(els), "members": [names[i] for i in members], "n": n,
                     "rows": [{"name": names[r.index], "page": pages[r.index], "scope": cov[r.index].scope,
                               "overall": r.overall, "ci": r.ci95, "n": r.n, "subsystem": r.subsystem_model,
                               "own": docs[r.index]["score"].get("overall"),
                               "coverage": f"{cov[r.index].metrics_scored}/{cov[r.index].metrics_total}"}
                              for r in rows]})

    groups = _groups(docs)
    thresholds, _ = load_thresholds()
    heat_rows = []
    for i in order:
        cells = []
        for g in groups:
            row = docs[i]["score"]["groups"].get(g)
            s = row.get("score") if row else None
            text = "–" if s is None else f"{s:.2f}"
            if row and row.get("n_failed"):
                text += f" {row['n_failed']}✗"
            t = thresholds.get(g)
            if row:
                mae = row.get("mae")
                norm = f", MAE/good = {mae / t.good:.2f}" if t is not None and mae is not None and t.error == "absolute" else ""
                tip = (f"{names[i]} — {g}: score {num(s, 2)}, MAE {num(mae)} {row.get('unit', '')}{norm}, "
                       f"{row.get('n', 0)} ok, {row.get('n_failed', 0)} failed")
            else:
                tip = f"{names[i]} — {g}: not computed"
            cells.append({"bg": heat(s), "fg": heat_text(s), "text": text, "tip": tip,
                          "href": f"{pages[i]}#group-{g}"})
        heat_rows.append({"index": i, "name": names[i], "page": pages[i], "universal": cov[i].universal,
                          "scope": cov[i].scope, "cells": cells})
    heat_cats = []
    for g in groups:
        c = thresholds[g].category if g in thresholds else ""
        if heat_cats and heat_cats[-1]["key"] == c:
            heat_cats[-1]["span"] += 1
        else:
            heat_cats.append({"key": c, "title": c, "span": 1})

    charts: list[Chart] = []
    pareto = pareto_chart(docs, foot)
    if pareto is not None:
        pareto.caption = (f"Overall score (bars: bootstrap 95% CI) against the alloybench cost figure, all measured "
                          f"on one machine ({foot.host}); dashed: Pareto front of the universal models (no model both "
                          "cheaper and better); hollow: subsystem models, scored on their own elements only, so "
                          "not comparable and not on the front. "
                          "Left: µs per atom per energy+forces+stress call on fcc Al at "
                          + (f"the {foot.n_atoms}-atom cell (the largest every plotted model measured); "
                             if foot.n_atoms else "each model's largest cell measured; ") +
                          "right: peak memory (GPU allocated on CUDA, else RSS).")
        charts.append(pareto)
    from alloybench.tasks.dataset import ERROR_GROUPS

    # the dataset task's metrics are errors (reference 0), not values: no parity plot of them
    parity = [c for g in groups if g not in ERROR_GROUPS and (c := parity_chart(table, g)) is not None]
    curves = curves_charts(table, docs, _task_meta())
    charts += parity + curves

    correlations = correlate(docs) if any(mb) else []
    mb_charts = [correlation_chart(c, names) for c in correlations if c.n >= MIN_MODELS and c.rho is not None]
    charts += mb_charts

    dirs = list(result_dirs) if result_dirs else [f"docs/results/standard/{slug(n)}" for n in names]
    missing = [names[i] for i in foot.missing]
    cost_ctx = {"total": len(docs), "missing": missing,
                "commands": "\n".join(cost_command(docs[i], dirs[i]) for i in foot.missing),
                "note": (f"Cost figures on one footing: every plotted model was measured by `alloybench cost` on "
                         f"{foot.host}." if foot.points else "No model has an `alloybench cost` figure."),
                "rows": [{"name": names[i], "page": pages[i], "p": foot.points.get(i) or foot.elsewhere.get(i),
                          "elsewhere": i in foot.elsewhere, "wall": (docs[i].get("timing") or {}).get("wall_seconds"),
                          "device": (docs[i].get("timing") or {}).get("device", ""),
                          "engine": run_seconds(docs[i])[0]} for i in order]}
    mb_ctx = {"rows": correlations, "charts": mb_charts, "min_models": MIN_MODELS,
              "labels": [MB_LABELS[k] for k in MB_METRICS],
              "entries": [{"name": names[i], "key": m["key"], "vals": [m.get(k) for k in MB_METRICS]}
                          for i, m in enumerate(mb) if m]}
    ctx = {"apps": apps, "levels": levels, "answers": answers, "verdict_rows": verdict_rows,
           "system": "–".join(fitness.SYSTEM), "cats": [cat_info.get(c, {}).get("title", c) for c in cats],
           "leaders": leaders, "sub_leaders": sub_leaders, "subsystems": subs, "show_mb": any(mb),
           "heat": {"groups": groups, "rows": heat_rows, "cats": heat_cats},
           "pareto": pareto, "cost": cost_ctx, "parity": parity, "curves": curves, "mb": mb_ctx,
           "toggles": [{"name": n, "index": i, "colour": colour(i)} for i, n in enumerate(names)],
           "model_list": [{"name": names[i], "page": pages[i], "id": docs[i]["model"].get("id", "")}
                          for i in range(len(docs))]}
    return ctx, charts, heatmap_chart([docs[i] for i in order], groups)


def _model_context(d, i, mb, verdicts, cov, result_dir: str):
    from alloybench.models.matbench import METRICS as MB_METRICS
    from alloybench.report.correlation import LABELS as MB_LABELS
    from alloybench.report.costs import cost_point

    _, cat_info = load_thresholds()
    s = d["score"]
    engine, jobs = run_seconds(d)
    timing = {"wall_seconds": None, "computed": None, "reused": None, "device": "", **(d.get("timing") or {})}
    c = d.get("cost") or {}
    return {"verdicts": verdicts, "cov": cov, "by_key": {fitness.metric_key(m): m for m in d["metrics"]},
            "s": {"overall": s.get("overall"), "overall_ci95": s.get("overall_ci95"), "groups": s.get("groups", {}),
                  "n_failed": s.get("n_failed"), "n_not_applicable": s.get("n_not_applicable")},
            "cat_rows": [(k, cat_info.get(k, {}).get("title", k), v) for k, v in s["categories"].items()],
            "metrics": [{"series": "", "x": None, "error": None, "score": None, "reason": "", "source": "", **m}
                        for m in d["metrics"]],
            "failures": [{"task": "", "name": "", "stage": "", "reason": "", **f} for f in d.get("failures") or []],
            "cost": cost_point(d), "cost_rows": [{"gpu_peak_mib": None, **r} for r in c.get("single_point") or []],
            "cost_cmd": cost_command(d, result_dir), "engine": engine, "jobs": jobs,
            "per_job": engine / jobs if engine is not None and jobs else None, "timing": timing,
            "per_task": list((timing.get("per_task") or {}).items()),
            "mb": mb, "mb_rows": [(MB_LABELS[k], mb.get(k), mb["units"][k], mb["sources"][k]) for k in MB_METRICS]
            if mb else [],
            "model": d.get("model") or {}, "run": {k: v for k, v in (d.get("run") or {}).items() if k != "timing"},
            "incomplete": incomplete_note(d)}


# --------------------------------------------------------------------- write
def write_html(docs: list[dict[str, Any]], out_dir: Path, result_dirs: Sequence[str] | None = None,
               static_figures: bool = True) -> Path:
    """Write the static site for ``docs`` (results.json documents) into ``out_dir``; return index.html.

    ``result_dirs``: the folders the documents came from (named in the commands that measure missing cost
    figures).  ``static_figures``: also write figures/*.svg and *.png (vl-convert)."""
    from alloybench import __version__ as version
    from alloybench.models.matbench import metrics_for_doc
    from alloybench.report.vega import javascript_bundle, to_png, to_svg

    if not docs:
        raise ValueError("write_html needs at least one results document")
    docs = [_clean(d) for d in docs]
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    env = _env()
    css, js = _static("report.css"), _static("report.js")
    pages = [f"models/{i:02d}-{slug(d['model']['name'])}.html" for i, d in enumerate(docs)]
    mb = [metrics_for_doc(d) for d in docs]
    verdicts = fitness.assess(docs)
    cov = fitness.coverage(docs)
    table = Rows.of(docs)
    dirs = list(result_dirs) if result_dirs else [f"RESULTS/{slug(d['model']['name'])}" for d in docs]
    ctx, charts, heatmap = _index_context(docs, pages, mb, verdicts, cov, table, dirs)
    when = dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    base = {"css": css, "js": js, "version": version}

    model_tpl = env.get_template("model.html")
    for i, d in enumerate(docs):
        name = d["model"]["name"]
        sub = f"{d['model'].get('family', '')} · {d['model'].get('id', '')} · {(d.get('run') or {}).get('date', '')}"
        nav = [("all models", "../index.html"), ("verdicts", "#fitness"), ("scores", "#summary"),
               ("metrics", "#metrics"), ("failures", "#failures"), ("cost", "#cost"), ("provenance", "#provenance")]
        write_atomic(out_dir / pages[i], model_tpl.render(**base, title=f"alloybench: {name}", subtitle=sub, nav=nav,
                                                          vega_js="", data_json="",
                                                          **_model_context(d, i, mb[i], verdicts[i], cov[i], dirs[i])))

    data = {"rows": table.to_json(), "charts": [c.page_json() for c in charts], "palette": PALETTE}
    nav = [("Verdicts", "#fitness"), ("Leaderboard", "#leaderboard-section"), ("Heat-map", "#heatmap"),
           ("Cost", "#cost"), ("Parity", "#parity"), ("Curves", "#curves"), ("Matbench", "#matbench"),
           ("Models", "#models")]
    index = out_dir / "index.html"
    html = env.get_template("index.html").render(
        **base, **ctx, title="alloybench report", nav=nav, vega_js=javascript_bundle(),
        data_json=_json_for_script(_clean(data)),
        subtitle=f"{len(docs)} model(s) · Al–Cu–Mg–Zn vs PBE · generated {when}")
    write_atomic(index, html)

    figs = out_dir / "figures"
    figs.mkdir(exist_ok=True)
    done = []
    if static_figures:
        jobs = [(c.id, c.static_spec(table)) for c in charts] + [(heatmap.id, heatmap.static_spec(table))]

        def render(job):
            stem, spec = job
            svg = to_svg(spec)
            write_atomic(figs / f"{stem}.svg", svg)
            write_atomic(figs / f"{stem}.png", to_png(svg))
            return stem

        with ThreadPoolExecutor(max_workers=2) as pool:
            done = list(pool.map(render, jobs))
    write_atomic(figs / "index.json", json.dumps(
        {c.id: {"title": c.title, "files": [f"{c.id}.svg", f"{c.id}.png"]} for c in charts + [heatmap]
         if c.id in done}, indent=1, ensure_ascii=False))
    return index


__all__ = ["heat", "pareto_front", "write_html"]
