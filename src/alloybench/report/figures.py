"""The report's figures as Vega-Lite specifications: one spec, two renderings.

Why Vega-Lite (through ``vl-convert-python``): the same declarative spec is drawn
interactively in the page by Vega (its JavaScript, about 0.9 MB, embedded once per
page, so the site opens from disk with no network) and rendered to SVG and PNG for
papers by ``vl_convert`` without a browser.  Legend clicks toggle models (bound
selections), hover shows item / value / reference / error, legends sit outside the
plotting area, and a page-wide switch hides a model in every figure (the ``hidden``
parameter of each spec).  plotly was the other candidate: its full bundle is 4.8 MB
(the page would no longer e-mail well) and its static export needs a browser (kaleido).

Data.  Every figure reads the named dataset ``rows``: metric rows
``{model, task, item, quantity, group, unit, value, reference, error, status, series, x, kind}``.
:class:`Rows` keeps them once for the whole page (a key table plus
``[model, key, value, status]`` arrays: the reference, units and labels of a metric
are stored once, not once per model); each figure names the rows it draws.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from alloybench.report.costs import Footing
from alloybench.scoring import load_thresholds

VL_VERSION = "6.4"  # vl-convert bundles this Vega-Lite for the page and renders the static files with it
DFT = "DFT (PBE)"
DFT_COLOUR = "#111111"
PALETTE = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22",
           "#17becf", "#393b79", "#ad494a", "#637939", "#8c6d31", "#7b4173", "#3182bd", "#e6550d", "#31a354",
           "#756bb1", "#636363"]
SHAPES = ["circle", "square", "diamond", "triangle-up", "triangle-down", "cross", "triangle-right",
          "triangle-left"]  # with 20 colours: 40 distinct (colour, shape) pairs before one repeats
STATUS = ("ok", "failed", "not_applicable")
PANELS_PER_FIGURE = 16


def colour(i: int) -> str:
    return PALETTE[i % len(PALETTE)]


def shape(i: int) -> str:
    return SHAPES[i % len(SHAPES)]


# --------------------------------------------------------------------- data
@dataclass
class Rows:
    """Metric rows of every model, each stored once; figures refer to them by index."""

    models: list[str]
    keys: list[list[Any]] = field(default_factory=list)  # [task, item, quantity, group, unit, reference, series, x]
    rows: list[list[Any]] = field(default_factory=list)  # [model index, key index, value, status index]
    _key_index: dict[tuple, int] = field(default_factory=dict)

    @classmethod
    def of(cls, docs: Sequence[dict[str, Any]]) -> "Rows":
        self = cls([str(d["model"]["name"]) for d in docs])
        self.by_model: list[dict[tuple, int]] = []
        for i, d in enumerate(docs):
            mine: dict[tuple, int] = {}
            for m in d["metrics"]:
                k = (m["task"], m["item"], m["name"], m["group"], m["unit"], m["reference"], m.get("series") or "",
                     m.get("x"))
                ki = self._key_index.get(k)
                if ki is None:
                    ki = self._key_index[k] = len(self.keys)
                    self.keys.append(list(k))
                mine.setdefault(k[:3], len(self.rows))
                self.rows.append([i, ki, m["value"], STATUS.index(m["status"]) if m["status"] in STATUS else 0])
            self.by_model.append(mine)
        return self

    def expand(self, r: int) -> dict[str, Any]:
        """Row ``r`` as the figures see it (report.js builds the same object from the same arrays)."""
        mi, ki, value, st = self.rows[r]
        task, item, quantity, group, unit, ref, series, x = self.keys[ki]
        return {"model": self.models[mi], "task": task, "item": item, "quantity": quantity, "group": group,
                "unit": unit, "value": value, "reference": ref,
                "error": None if value is None or ref is None else value - ref, "status": STATUS[st],
                "series": series, "x": x, "kind": "model"}

    def where(self, pred) -> list[int]:
        return [r for r in range(len(self.rows)) if pred(self.rows[r], self.keys[self.rows[r][1]])]

    def to_json(self) -> dict[str, Any]:
        return {"models": self.models, "status": list(STATUS),
                "fields": ["task", "item", "quantity", "group", "unit", "reference", "series", "x"],
                "keys": self.keys, "rows": self.rows}


@dataclass
class Chart:
    """One figure: a Vega-Lite spec reading dataset ``rows`` = the page rows ``rows`` plus ``extra`` (inline)."""

    id: str  # file stem under figures/ and DOM id
    title: str
    caption: str
    spec: dict[str, Any]
    rows: list[int] = field(default_factory=list)
    extra: list[dict[str, Any]] = field(default_factory=list)
    wide: bool = False

    def data(self, table: Rows) -> list[dict[str, Any]]:
        return [table.expand(r) for r in self.rows] + self.extra

    def static_spec(self, table: Rows) -> dict[str, Any]:
        """The spec with its data inline, for vl-convert (static SVG/PNG)."""
        return {**self.spec, "datasets": {"rows": self.data(table)}}

    def page_json(self) -> dict[str, Any]:
        return {"id": self.id, "spec": self.spec, "rows": self.rows, "extra": self.extra}


def _model_scale(models: Sequence[str], with_dft: bool = False) -> dict[str, Any]:
    domain = list(models) + ([DFT] if with_dft else [])
    rng = [colour(i) for i in range(len(models))] + ([DFT_COLOUR] if with_dft else [])
    return {"domain": domain, "range": rng}


def _shape_scale(models: Sequence[str], with_dft: bool = False) -> dict[str, Any]:
    domain = list(models) + ([DFT] if with_dft else [])
    return {"domain": domain, "range": [shape(i) for i in range(len(models))] + (["diamond"] if with_dft else [])}


def _legend_params() -> list[dict[str, Any]]:
    """Clicking legend entries toggles models in and out of the highlighted set (none clicked = all shown);
    ``hidden``: models switched off page-wide (report.js sets it)."""
    return [{"name": "pick", "select": {"type": "point", "fields": ["model"], "toggle": "true"}, "bind": "legend"}]


HIDDEN = {"name": "hidden", "value": []}
NOT_HIDDEN = {"filter": "indexof(hidden, datum.model) < 0"}
OPACITY = {"condition": {"param": "pick", "value": 0.9, "empty": True}, "value": 0.07}
CONFIG = {"font": "DejaVu Sans, system-ui, sans-serif", "view": {"stroke": "#d9dee3"},
          "axis": {"labelFontSize": 10, "titleFontSize": 11, "grid": True, "gridColor": "#eceff2",
                   "labelOverlap": "greedy"},
          "legend": {"labelFontSize": 10, "titleFontSize": 10, "labelLimit": 160, "symbolSize": 60,
                     "orient": "right"},
          "title": {"fontSize": 12, "anchor": "start"}}


def _tooltip(extra: Sequence[dict[str, Any]] = ()) -> list[dict[str, Any]]:
    return [{"field": "model"}, {"field": "item"}, {"field": "quantity"},
            {"field": "value", "format": ".4~f"}, {"field": "reference", "title": "DFT", "format": ".4~f"},
            {"field": "error", "format": "+.4~f"}, {"field": "unit"}, *extra]


# ------------------------------------------------------------------ figures
def parity_chart(table: Rows, group: str) -> Chart | None:
    thresholds, _ = load_thresholds()
    rows = table.where(lambda r, k: k[3] == group and r[3] == 0 and r[2] is not None and k[5] is not None)
    if not rows:
        return None
    vals = [table.rows[r][2] for r in rows] + [table.keys[table.rows[r][1]][5] for r in rows]
    lo, hi = min(vals), max(vals)
    pad = 0.06 * (hi - lo) if hi > lo else max(abs(hi) * 0.1, 1.0)
    lo, hi = lo - pad, hi + pad
    unit = table.keys[table.rows[rows[0]][1]][4]
    t = thresholds.get(group)
    band = []
    if t is not None:
        for j in range(41):
            x = lo + (hi - lo) * j / 40
            w = t.good if t.error == "absolute" else abs(x) * t.good
            band.append({"kind": "band", "x": x, "lo": x - w, "hi": x + w})
    scale = {"domain": [lo, hi], "nice": False, "zero": False}
    layers: list[dict[str, Any]] = []
    if band:
        layers.append({"transform": [{"filter": "datum.kind === 'band'"}], "mark": {"type": "area", "color": "#e3e7eb", "clip": True},
                       "encoding": {"x": {"field": "x", "type": "quantitative", "scale": scale},
                                    "y": {"field": "lo", "type": "quantitative", "scale": scale},
                                    "y2": {"field": "hi"}}})
    layers.append({"transform": [{"filter": "datum.kind === 'band'"}],
                   "mark": {"type": "line", "color": "#222", "strokeDash": [4, 3], "strokeWidth": 1, "clip": True},
                   "encoding": {"x": {"field": "x", "type": "quantitative", "scale": scale},
                                "y": {"field": "x", "type": "quantitative", "scale": scale}}})
    layers.append({"params": _legend_params(), "transform": [{"filter": "datum.kind === 'model'"}, NOT_HIDDEN],
                   "mark": {"type": "point", "filled": True, "size": 38, "clip": True},
                   "encoding": {"x": {"field": "reference", "type": "quantitative", "scale": scale,
                                      "title": f"DFT (PBE) [{unit}]", "axis": {"tickCount": 5}},
                                "y": {"field": "value", "type": "quantitative", "scale": scale,
                                      "title": f"model [{unit}]", "axis": {"tickCount": 5}},
                                "color": {"field": "model", "type": "nominal", "scale": _model_scale(table.models),
                                          "legend": {"title": "model (click: toggle)"}},
                                "shape": {"field": "model", "type": "nominal", "scale": _shape_scale(table.models)},
                                "opacity": OPACITY, "tooltip": _tooltip()}})
    good = "" if t is None else f"; grey band: ±{t.good:g}{'' if t.error == 'absolute' else ' (relative)'} ('good')"
    spec = {"params": [HIDDEN], "data": {"name": "rows"}, "width": 230, "height": 230,
            "title": {"text": group, "subtitle": f"{len(rows)} values"}, "layer": layers, "config": CONFIG}
    return Chart(f"parity-{_slug(group)}", f"Parity: {group}",
                 f"Model value against DFT; dashed: y = x{good}. Hover a point for item, value, reference.",
                 spec, rows, band)


def curves_charts(table: Rows, docs: Sequence[dict[str, Any]], task_meta: dict[str, Any]) -> list[Chart]:
    """Per task, its curves (metrics with series and x) against DFT; one facet per series."""
    out: list[Chart] = []
    tasks: dict[str, dict[str, list[int]]] = {}
    for r, (mi, ki, value, st) in enumerate(table.rows):
        task, _, _, _, _, _, series, x = table.keys[ki]
        if series and x is not None:
            tasks.setdefault(task, {}).setdefault(series, []).append(r)
    for task, series_rows in tasks.items():
        meta = task_meta.get(task)
        refs: dict[tuple[str, float], dict[str, Any]] = {}
        keep: dict[str, list[int]] = {}
        for s, rs in series_rows.items():
            ok = [r for r in rs if table.rows[r][3] == 0 and table.rows[r][2] is not None]
            if not ok:
                continue  # DFT-only (not applicable) curves are left out
            keep[s] = ok
            for r in rs:
                k = table.keys[table.rows[r][1]]
                if k[5] is not None:
                    refs.setdefault((s, float(k[7])), {"model": DFT, "kind": "ref", "series": s, "x": float(k[7]),
                                                       "value": k[5], "reference": k[5], "item": k[1],
                                                       "quantity": k[2], "unit": k[4], "error": None})
        if not keep:
            continue
        extra_refs = []
        if meta is not None:
            all_metrics = [m for d in docs for m in d["metrics"] if m["task"] == task]
            for p in meta.curve_references(all_metrics):
                if p["series"] in keep:
                    extra_refs.append({"model": DFT, "kind": "refpoint", "error": None, "reference": p["value"],
                                       "item": p.get("item", ""), "quantity": p.get("label", ""),
                                       "unit": p.get("unit", ""), "series": p["series"], "x": p["x"],
                                       "value": p["value"]})
        names = sorted(keep)
        x_label = (getattr(meta, "x_label", "") if meta is not None else "") or "x"
        title = (getattr(meta, "title", "") if meta is not None else "") or task
        for part in range(0, len(names), PANELS_PER_FIGURE):
            chunk = names[part:part + PANELS_PER_FIGURE]
            rows = [r for s in chunk for r in keep[s]]
            extra = [v for (s, _), v in refs.items() if s in chunk] + [p for p in extra_refs if p["series"] in chunk]
            n_parts = math.ceil(len(names) / PANELS_PER_FIGURE)
            suffix = f" ({part // PANELS_PER_FIGURE + 1}/{n_parts})" if n_parts > 1 else ""
            cols = min(4, len(chunk))
            enc_x = {"field": "x", "type": "quantitative", "title": x_label, "scale": {"zero": False},
                     "axis": {"tickCount": 5}}
            enc_y = {"field": "value", "type": "quantitative", "title": _unit_of(table, rows), "scale": {"zero": False}}
            colour_enc = {"field": "model", "type": "nominal", "scale": _model_scale(table.models, True),
                          "legend": {"title": "model (click: toggle)"}}
            layers = [
                {"transform": [{"filter": "datum.kind === 'model'"}, NOT_HIDDEN],
                 "mark": {"type": "line", "strokeWidth": 1.3},
                 "encoding": {"x": enc_x, "y": enc_y, "color": colour_enc, "detail": {"field": "model"},
                              "opacity": OPACITY}},
                {"params": _legend_params(), "transform": [NOT_HIDDEN],
                 "mark": {"type": "point", "filled": True, "size": 26},
                 "encoding": {"x": enc_x, "y": enc_y, "color": colour_enc,
                              "shape": {"field": "model", "type": "nominal",
                                        "scale": _shape_scale(table.models, True)},
                              "opacity": OPACITY, "tooltip": _tooltip([{"field": "series"}, {"field": "x"}])}},
                {"transform": [{"filter": "datum.kind === 'ref'"}, NOT_HIDDEN],
                 "mark": {"type": "line", "strokeWidth": 2, "color": DFT_COLOUR},
                 "encoding": {"x": enc_x, "y": enc_y, "opacity": OPACITY, "detail": {"field": "model"}}},
                {"transform": [{"filter": "datum.kind === 'refpoint'"}, NOT_HIDDEN],
                 "mark": {"type": "point", "shape": "diamond", "size": 110, "filled": True, "color": DFT_COLOUR},
                 "encoding": {"x": enc_x, "y": enc_y, "opacity": OPACITY,
                              "tooltip": [{"field": "model"}, {"field": "item"}, {"field": "quantity"},
                                          {"field": "x"}, {"field": "value", "title": "DFT", "format": ".4~f"},
                                          {"field": "unit"}]}},
            ]
            spec = {"params": [HIDDEN], "data": {"name": "rows"},
                    "facet": {"field": "series", "type": "nominal", "title": None, "sort": chunk,
                              "header": {"labelFontSize": 11, "labelLimit": 260}},
                    "columns": cols, "spec": {"width": 195, "height": 150, "layer": layers},
                    "resolve": {"scale": {"x": "independent", "y": "independent"}}, "config": CONFIG}
            has_refpoints = any(p["kind"] == "refpoint" for p in extra)
            caption = ("Black line: DFT (PBE) reference" if any(v["kind"] == "ref" for v in extra) else
                       "No DFT curve for these series") + (
                "; black diamonds: DFT values the reference gives for single points of the curve"
                + (f" ({meta.curve_reference_note})" if meta is not None and getattr(meta, "curve_reference_note", "")
                   else "") if has_refpoints else "") + "; coloured: models. Failed points are omitted."
            out.append(Chart(f"curves-{_slug(task)}" + (f"-{part // PANELS_PER_FIGURE + 1}" if n_parts > 1 else ""),
                             f"{title}: curves vs DFT{suffix}", caption, spec, rows, extra, wide=True))
    return out


def _unit_of(table: Rows, rows: list[int]) -> str:
    return table.keys[table.rows[rows[0]][1]][4] if rows else ""


def pareto_front(points: Sequence[tuple[float, float, int]]) -> list[tuple[float, float, int]]:
    """Points (cost, score, index) not beaten by a cheaper-or-equal, better-scoring point, cheapest first."""
    front: list[tuple[float, float, int]] = []
    best = -math.inf
    for c, s, i in sorted(points, key=lambda p: (p[0], -p[1])):
        if s > best:
            front.append((c, s, i))
            best = s
    return front


def pareto_chart(docs: Sequence[dict[str, Any]], foot: Footing) -> Chart | None:
    """Overall score against µs/atom/step and against memory, for the models measured on one machine."""
    if not foot.points:
        return None
    from alloybench.report.fitness import elements_of, scopes

    models = [str(d["model"]["name"]) for d in docs]
    universal = set(scopes(docs)[0])
    pts = []
    for i, p in foot.points.items():
        s = docs[i]["score"]
        # a subsystem model's score is over its own elements' metrics only: drawn hollow, never on the front
        scope = "Al–Cu–Mg–Zn" if i in universal else "subsystem " + "–".join(elements_of(docs[i]))
        ci = s.get("overall_ci95") or [s.get("overall"), s.get("overall")]
        for panel, x, unit in (("time", p.us_per_atom_step, "µs/atom/step"), ("memory", p.memory_mib, "MiB")):
            if x is None or s.get("overall") is None or x <= 0:
                continue
            pts.append({"model": models[i], "panel": panel, "x": x, "score": s["overall"], "lo": ci[0], "hi": ci[1],
                        "device": p.label, "atoms": p.n_atoms, "memory": p.memory_kind, "unit": unit,
                        "kind": "model", "scope": scope, "universal": i in universal})
    front = []
    for panel in ("time", "memory"):
        mine = [q for q in pts if q["panel"] == panel and q["universal"]]
        front += [{**mine[k], "kind": "front"} for _, _, k in pareto_front([(q["x"], q["score"], k)
                                                                             for k, q in enumerate(mine)])]
    colour_enc = {"field": "model", "type": "nominal", "scale": _model_scale(models),
                  "legend": {"title": "model (click: toggle)"}}

    def panel(which: str, title: str) -> dict[str, Any]:
        x = {"field": "x", "type": "quantitative", "scale": {"type": "log"}, "title": title,
             "axis": {"tickCount": 5, "format": "~g"}}
        y = {"field": "score", "type": "quantitative", "scale": {"domain": [0, 1]}, "title": "overall score"}
        only = {"filter": f"datum.panel === '{which}'"}
        return {"width": 330, "height": 250, "layer": [
            {"transform": [only, {"filter": "datum.kind === 'front'"}],
             "mark": {"type": "line", "interpolate": "step-after", "color": "#888", "strokeDash": [4, 3]},
             "encoding": {"x": x, "y": y}},
            {"transform": [only, {"filter": "datum.kind === 'model'"}, NOT_HIDDEN],
             "mark": {"type": "rule"}, "encoding": {"x": x, "y": {"field": "lo", "type": "quantitative"},
                                                    "y2": {"field": "hi"}, "color": colour_enc, "opacity": OPACITY}},
            {"params": _legend_params() if which == "time" else [],
             "transform": [only, {"filter": "datum.kind === 'model'"}, NOT_HIDDEN],
             "mark": {"type": "point", "size": 70, "strokeWidth": 1.5},
             "encoding": {"x": x, "y": y, "color": colour_enc, "opacity": OPACITY,
                          "fill": {"condition": {"test": "datum.universal", "field": "model", "type": "nominal",
                                                 "scale": _model_scale(models)},  # shares colour's legend
                                   "value": "white"},
                          "shape": {"field": "model", "type": "nominal", "scale": _shape_scale(models)},
                          "tooltip": [{"field": "model"}, {"field": "scope", "title": "scored on"},
                                      {"field": "x", "title": title, "format": ".4~g"},
                                      {"field": "score", "format": ".3f"}, {"field": "device"},
                                      {"field": "atoms", "title": "cell (atoms)"}, {"field": "memory"}]}},
        ]}

    spec = {"params": [HIDDEN], "data": {"name": "rows"},
            "hconcat": [panel("time", "µs per atom per step (log)"), panel("memory", "peak memory, MiB (log)")],
            "config": CONFIG}
    return Chart("pareto", "Accuracy vs cost", "", spec, [], pts + front, wide=True)


def heatmap_chart(docs: Sequence[dict[str, Any]], groups: list[str]) -> Chart:
    """Static-only heat-map (the page shows the same as an HTML table)."""
    vals = []
    for d in docs:
        for g in groups:
            row = d["score"]["groups"].get(g) or {}
            vals.append({"model": d["model"]["name"], "group": g, "score": row.get("score"),
                         "label": "–" if row.get("score") is None else f"{row['score']:.2f}"})
    spec = {"data": {"name": "rows"}, "width": {"step": 34}, "height": {"step": 20},
            "encoding": {"x": {"field": "group", "type": "nominal", "sort": groups, "title": None,
                               "axis": {"labelAngle": -50}},
                         "y": {"field": "model", "type": "nominal", "sort": [d["model"]["name"] for d in docs],
                               "title": None}},
            "layer": [{"mark": "rect", "encoding": {"color": {"field": "score", "type": "quantitative",
                                                               "scale": {"scheme": "redyellowgreen", "domain": [0, 1]},
                                                               "title": "group score"}}},
                      {"mark": {"type": "text", "fontSize": 8}, "encoding": {"text": {"field": "label"}}}],
            "config": CONFIG}
    return Chart("heatmap", "Scores by metric group", "", spec, [], vals)


def correlation_chart(c, models: Sequence[str]) -> Chart:
    """alloybench overall score against one Matbench Discovery metric."""
    rows = [{"model": n, "x": x, "score": y, "kind": "model"} for n, x, y in zip(c.models, c.x, c.y)]
    title = f"Spearman ρ = {c.rho:+.2f}" if c.rho is not None else "Spearman ρ undefined"
    if c.ci95:
        title += f" [95% CI {c.ci95[0]:+.2f}, {c.ci95[1]:+.2f}]"
    unit = f" ({c.unit})" if c.unit else ""
    x = {"field": "x", "type": "quantitative", "scale": {"zero": False},
         "title": f"Matbench Discovery {c.label}{unit} ({'higher' if c.higher_is_better else 'lower'} is better)"}
    y = {"field": "score", "type": "quantitative", "title": "alloybench overall score", "scale": {"zero": False}}
    spec = {"params": [HIDDEN], "data": {"name": "rows"}, "width": 300, "height": 230,
            "title": {"text": f"{title}, n = {c.n}"},
            "transform": [NOT_HIDDEN],
            "layer": [{"params": _legend_params(), "mark": {"type": "point", "filled": True, "size": 60},
                       "encoding": {"x": x, "y": y, "opacity": OPACITY,
                                    "color": {"field": "model", "type": "nominal", "scale": _model_scale(models),
                                              "legend": None},
                                    "tooltip": [{"field": "model"}, {"field": "x", "title": c.label},
                                                {"field": "score", "format": ".3f"}]}},
                      {"mark": {"type": "text", "align": "left", "dx": 6, "dy": -5, "fontSize": 9},
                       "encoding": {"x": x, "y": y, "text": {"field": "model"}, "opacity": OPACITY}}],
            "config": CONFIG}
    return Chart(f"matbench-{c.metric}", f"alloybench score vs Matbench Discovery {c.label}",
                 f"Spearman ρ over {c.n} models; 95% CI from 2000 bootstrap resamples of the models.", spec, [], rows)


def _slug(text: str, limit: int = 48) -> str:
    import re

    s = re.sub(r"[^A-Za-z0-9_.-]+", "_", str(text)).strip("._")
    return (s or "figure")[:limit]


__all__ = ["Chart", "DFT", "PALETTE", "Rows", "VL_VERSION", "colour", "correlation_chart", "curves_charts",
           "heatmap_chart", "pareto_chart", "pareto_front", "parity_chart"]
