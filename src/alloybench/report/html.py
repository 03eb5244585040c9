"""Static HTML report: a self-contained site that opens from disk.

``write_html(docs, out_dir)`` takes results.json documents (see
``alloybench.report.results_document``) and writes

- ``index.html``: sortable leaderboard, models x metric-groups heat-map,
  accuracy-vs-cost Pareto plot, parity plots per metric group, curves (metrics
  with ``series``/``x``) overlaid on DFT, correlation with Matbench Discovery;
- ``models/NN-name.html``: every metric of one model with its reference, source,
  status and reason, its failed calculations, and the provenance of the run;
- ``figures/*.png`` and ``figures/*.svg``: the same figures, for papers.

Nothing is fetched: CSS and JavaScript are inline, plots are inline SVG made with
matplotlib.  Every string that comes from a user (model names, paths, notes,
reasons, commands) is HTML-escaped; in figures it is written as SVG text, which
matplotlib escapes, with '$' escaped so that it is never read as mathtext.
"""

from __future__ import annotations

import datetime as dt
import html
import io
import json
import math
import os
import re
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg", force=False)  # never a GUI backend; figures are made with the OO API below
from matplotlib.figure import Figure  # noqa: E402
from matplotlib.patches import Rectangle  # noqa: E402

from alloybench.models.matbench import METRICS as MB_METRICS, metrics_for_doc  # noqa: E402
from alloybench.report.correlation import LABELS as MB_LABELS, MIN_MODELS, correlate, mpl_text, scatter_figure  # noqa: E402
from alloybench.scoring import load_thresholds  # noqa: E402

# x-axis labels of curve figures, by task name; other tasks get X_LABEL_DEFAULT.
X_LABELS: dict[str, str] = {
    "precipitate_gsf": "point along the fault path (index)",
    "solute_binding": "neighbour-shell distance (Å)",
    "solute_fault": "solute layer (index from the fault plane)",
}
X_LABEL_DEFAULT = "x"
PANELS_PER_FIGURE = 12
MARKERS = "osD^vP*Xh<>p"
RC = {"svg.fonttype": "none", "svg.hashsalt": "alloybench", "font.size": 9,
      "font.family": ["DejaVu Sans", "sans-serif"], "axes.titlesize": 9}


# --------------------------------------------------------------------- helpers
def esc(x: Any) -> str:
    return html.escape("" if x is None else str(x), quote=True)


def num(x: Any, digits: int = 3) -> str:
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return "–"
    if isinstance(x, (int,)) and not isinstance(x, bool):
        return str(x)
    x = float(x) + 0.0  # no "-0.0000"
    if x == 0:
        x = 0.0
    if x != 0 and (abs(x) >= 1e4 or abs(x) < 1e-3):
        return f"{x:.3g}"
    return f"{x:.{digits}f}"


def sortval(x: Any) -> str:
    """data-sort attribute: a plain number, or empty (sorted last)."""
    if x is None or (isinstance(x, float) and not math.isfinite(x)):
        return ""
    return repr(float(x))


def slug(text: str, limit: int = 48) -> str:
    s = re.sub(r"[^A-Za-z0-9_.-]+", "_", str(text)).strip("._")
    return (s or "model")[:limit]


def colour(i: int) -> Any:
    from matplotlib import colormaps

    cmap = colormaps["tab10"] if i < 10 else colormaps["tab20"]
    return cmap(i % 10) if i < 10 else cmap((i - 10) % 20)


def marker(i: int) -> str:
    return MARKERS[i % len(MARKERS)]


def _cost(doc: dict[str, Any]) -> tuple[float | None, float | None, int | None]:
    """(engine seconds over every Job of the model, seconds per Job, Jobs)."""
    t = doc.get("timing") or {}
    per = t.get("per_task") or {}
    if per:
        jobs = sum(int(v[0]) for v in per.values())
        secs = sum(float(v[1]) for v in per.values())
    else:
        jobs = int(t.get("computed") or 0) + int(t.get("reused") or 0) or None
        secs = t.get("wall_seconds")
    if secs is None:
        return None, None, jobs
    return float(secs), (float(secs) / jobs if jobs else None), jobs


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


# --------------------------------------------------------------------- figures
@dataclass
class Fig:
    name: str  # file stem under figures/
    title: str
    caption: str
    svg: str = ""  # inline SVG
    width_px: int = 0  # rendered width at 96 dpi
    tips: dict[str, tuple[int, str]] = field(default_factory=dict)  # gid -> (model index, tooltip)


class _Figures:
    """Renders each figure once to SVG (inline + file) and PNG (file)."""

    def __init__(self, out_dir: Path):
        self.dir = out_dir / "figures"
        self.dir.mkdir(parents=True, exist_ok=True)
        self.done: list[Fig] = []

    def add(self, fig: Figure, spec: Fig) -> Fig:
        with matplotlib.rc_context(RC):
            buf = io.StringIO()
            fig.savefig(buf, format="svg", metadata={"Date": None})
            svg = buf.getvalue()
            _write_bytes_atomic(self.dir / f"{spec.name}.svg", svg.encode("utf-8"))
            png = io.BytesIO()
            fig.savefig(png, format="png", dpi=200, metadata={"Software": None})
            _write_bytes_atomic(self.dir / f"{spec.name}.png", png.getvalue())
        spec.svg = _inline_svg(svg, spec.name, spec.title, spec.tips)
        spec.width_px = int(round(fig.get_size_inches()[0] * 72 * 4 / 3))
        self.done.append(spec)
        return spec


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


_UMASK = _umask()


def _write_text(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    _write_bytes_atomic(path, text.encode("utf-8"))


def _write_bytes_atomic(path: Path, data: bytes) -> None:
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
        os.chmod(tmp, 0o666 & ~_UMASK)  # mkstemp makes 0600; a report is for reading
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _inline_svg(svg: str, prefix: str, title: str, tips: dict[str, tuple[int, str]]) -> str:
    """matplotlib's SVG made fit for inlining: no prolog or metadata, ids unique in the page,
    model artists marked with class="model-mark" data-model=INDEX and a <title> tooltip."""
    svg = svg[svg.index("<svg"):]
    svg = re.sub(r"<metadata>.*?</metadata>", "", svg, flags=re.S)
    p = re.sub(r"[^A-Za-z0-9_-]", "_", prefix)
    svg = re.sub(r'\bid="([^"]+)"', lambda m: f'id="{p}--{m.group(1)}"', svg)
    svg = svg.replace("url(#", f"url(#{p}--").replace('href="#', f'href="#{p}--')

    def mark(m: re.Match) -> str:
        gid = m.group(1)
        idx, tip = tips.get(gid, (int(m.group(2)), ""))
        return (f'<g id="{p}--{gid}" class="model-mark" data-model="{idx}">'
                + (f"<title>{esc(tip)}</title>" if tip else ""))

    svg = re.sub(rf'<g id="{re.escape(p)}--(abm(\d+)-[A-Za-z0-9_-]*)">', mark, svg)
    svg = re.sub(r"<svg\b", f'<svg class="plot" role="img" aria-label="{esc(title)}"', svg, count=1)
    return svg


def heatmap_figure(docs: Sequence[dict[str, Any]], groups: list[str]) -> tuple[Figure, dict]:
    from matplotlib import colormaps

    thresholds, _ = load_thresholds()
    cmap = colormaps["RdYlGn"]
    n, m = len(docs), len(groups)
    fig = Figure(figsize=(max(5.0, 0.62 * m + 2.6), max(2.0, 0.42 * n + 1.9)), layout="constrained")
    ax = fig.add_subplot()
    tips: dict[str, tuple[int, str]] = {}
    for i, d in enumerate(docs):
        name = d["model"]["name"]
        for j, g in enumerate(groups):
            row = d["score"]["groups"].get(g)
            s = row.get("score") if row else None
            face = cmap(s) if s is not None else (0.88, 0.88, 0.88, 1.0)
            gid = f"abm{i}-heat-{j}"
            ax.add_patch(Rectangle((j, i), 1, 1, facecolor=face, edgecolor="white", lw=1.0, gid=gid))
            label = "–" if s is None else f"{s:.2f}"
            if row and row.get("n_failed"):
                label += f"\n{row['n_failed']}✗"
            ax.text(j + 0.5, i + 0.5, label, ha="center", va="center", fontsize=7,
                    color="black" if s is None or 0.25 < s < 0.8 else "white")
            t = thresholds.get(g)
            if row:
                mae = row.get("mae")
                norm = ""
                if t is not None and mae is not None and t.error == "absolute":
                    norm = f", MAE/good = {mae / t.good:.2f}"
                tips[gid] = (i, f"{name} — {g}: score {num(s, 2)}, MAE {num(mae)} {row.get('unit', '')}{norm}, "
                                f"{row.get('n', 0)} ok, {row.get('n_failed', 0)} failed")
            else:
                tips[gid] = (i, f"{name} — {g}: not computed")
    ax.set_xlim(0, m)
    ax.set_ylim(n, 0)
    ax.set_xticks([j + 0.5 for j in range(m)])
    cats = {g: thresholds[g].category if g in thresholds else "" for g in groups}
    ax.set_xticklabels([f"{g}" for g in groups], rotation=55, ha="right", fontsize=8)
    ax.set_yticks([i + 0.5 for i in range(n)])
    ax.set_yticklabels([mpl_text(d["model"]["name"]) for d in docs], fontsize=8)
    ax.tick_params(length=0)
    for spine in ax.spines.values():
        spine.set_visible(False)
    # category bands above the columns
    start = 0
    for j in range(1, m + 1):
        if j == m or cats[groups[j]] != cats[groups[start]]:
            ax.annotate(cats[groups[start]], xy=((start + j) / 2 / m, 1.01), xycoords="axes fraction",
                        ha="center", va="bottom", fontsize=7, color="0.35")
            start = j
    from matplotlib.cm import ScalarMappable
    from matplotlib.colors import Normalize

    fig.colorbar(ScalarMappable(Normalize(0, 1), cmap), ax=ax, shrink=0.8, label="group score (1 = within 'good')")
    return fig, tips


def pareto_front(points: Sequence[tuple[float, float, int]]) -> list[tuple[float, float, int]]:
    """Points (cost, score, index) not beaten by a cheaper-or-equal, better-scoring point."""
    front: list[tuple[float, float, int]] = []
    best = -math.inf
    for c, s, i in sorted(points, key=lambda p: (p[0], -p[1])):
        if s > best:
            front.append((c, s, i))
            best = s
    return front


def pareto_figure(docs: Sequence[dict[str, Any]]) -> tuple[Figure | None, dict]:
    fig = Figure(figsize=(9.0, 3.8), layout="constrained")
    axes = fig.subplots(1, 2, sharey=True)
    tips: dict[str, tuple[int, str]] = {}
    any_point = False
    for k, (ax, which, label) in enumerate(zip(axes, (0, 1), ("engine seconds (all Jobs of the model)",
                                                           "seconds per Job"))):
        pts = []
        for i, d in enumerate(docs):
            cost = _cost(d)[which]
            overall = d["score"].get("overall")
            if cost is None or cost <= 0 or overall is None:
                continue
            pts.append((cost, overall, i))
            ci = d["score"].get("overall_ci95")
            yerr = [[overall - ci[0]], [ci[1] - overall]] if ci else None
            name = d["model"]["name"]
            gid = f"abm{i}-pareto{k}"
            cont = ax.errorbar([cost], [overall], yerr=yerr, fmt=marker(i), color=colour(i), ms=7, capsize=3,
                               label=mpl_text(name) if k == 0 else None)
            for artist in cont.get_children():
                artist.set_gid(None)
            cont.lines[0].set_gid(gid)
            tips[gid] = (i, f"{name}: score {num(overall)}, {num(cost)} {'s' if which == 0 else 's/Job'}, "
                            f"device {(d.get('timing') or {}).get('device', '?')}")
            ax.annotate(mpl_text(name), (cost, overall), xytext=(5, 4), textcoords="offset points", fontsize=7)
        if pts:
            any_point = True
            front = pareto_front(pts)
            xs = [p[0] for p in front]
            ys = [p[1] for p in front]
            ax.step(xs + [max(p[0] for p in pts) * 1.5], ys + [ys[-1]], where="post", color="0.5", ls="--",
                    lw=1, zorder=0, label="Pareto front" if k == 0 else None)
            _log_x(ax)
        ax.set_xlabel(label)
        ax.grid(alpha=0.3, which="both")
    axes[0].set_ylabel("overall score")
    axes[0].set_ylim(-0.03, 1.05)
    if not any_point:
        return None, {}
    axes[0].legend(fontsize=7, loc="lower right")
    return fig, tips


def _log_x(ax) -> None:
    """Log x axis with plain-number labels (1, 2, 5 of each decade): no overlapping minor labels."""
    from matplotlib.ticker import FuncFormatter, LogLocator

    def fmt(v: float, _pos: int) -> str:
        if v <= 0:
            return ""
        mantissa = v / 10 ** math.floor(math.log10(v) + 1e-9)
        return f"{v:g}" if round(mantissa, 6) in (1.0, 2.0, 5.0) else ""

    ax.set_xscale("log")
    ax.xaxis.set_major_locator(LogLocator(base=10, subs=(1.0, 2.0, 5.0)))
    ax.xaxis.set_major_formatter(FuncFormatter(fmt))
    ax.xaxis.set_minor_formatter(FuncFormatter(lambda v, p: ""))


def parity_figure(docs: Sequence[dict[str, Any]], group: str) -> tuple[Figure | None, dict]:
    thresholds, _ = load_thresholds()
    fig = Figure(figsize=(4.2, 4.0), layout="constrained")
    ax = fig.add_subplot()
    tips: dict[str, tuple[int, str]] = {}
    lo, hi = math.inf, -math.inf
    unit = ""
    for i, d in enumerate(docs):
        pts = [m for m in d["metrics"] if m["group"] == group and m["status"] == "ok"
               and m["value"] is not None and m["reference"] is not None]
        if not pts:
            continue
        unit = pts[0]["unit"]
        xs = [m["reference"] for m in pts]
        ys = [m["value"] for m in pts]
        lo, hi = min(lo, *xs, *ys), max(hi, *xs, *ys)
        gid = f"abm{i}-parity"
        ax.scatter(xs, ys, s=18, marker=marker(i), color=colour(i), alpha=0.8, label=mpl_text(d["model"]["name"]),
                   gid=gid, zorder=3)
        group_row = d["score"]["groups"].get(group) or {}
        tips[gid] = (i, f"{d['model']['name']} — {group}: {len(pts)} values, MAE {num(group_row.get('mae'))} {unit}")
    if not math.isfinite(lo):
        return None, {}
    pad = 0.06 * (hi - lo) if hi > lo else max(abs(hi) * 0.1, 1.0)
    lo, hi = lo - pad, hi + pad
    line = [lo, hi]
    t = thresholds.get(group)
    if t is not None:
        import numpy as np

        xs = np.linspace(lo, hi, 50)
        band = t.good if t.error == "absolute" else np.abs(xs) * t.good
        ax.fill_between(xs, xs - band, xs + band, color="0.85", zorder=0,
                        label=f"±{t.good:g}{'' if t.error == 'absolute' else ' rel.'} (good)")
    ax.plot(line, line, color="black", lw=0.8, ls="--", zorder=1)
    ax.set_xlim(lo, hi)
    ax.set_ylim(lo, hi)
    ax.set_aspect("equal", adjustable="box")
    ax.set_xlabel(f"DFT (PBE) [{unit}]")
    ax.set_ylabel(f"model [{unit}]")
    ax.set_title(group)
    ax.legend(fontsize=6.5, loc="upper left")
    ax.grid(alpha=0.3)
    return fig, tips


def series_index(docs: Sequence[dict[str, Any]]) -> dict[str, dict[str, dict]]:
    """task -> series -> {"unit", "ref": {x: reference}, "models": {i: {x: value}}, "failed": {i: n}}."""
    out: dict[str, dict[str, dict]] = {}
    for i, d in enumerate(docs):
        for m in d["metrics"]:
            if not m.get("series") or m.get("x") is None:
                continue
            s = out.setdefault(m["task"], {}).setdefault(m["series"], {"unit": m["unit"], "ref": {}, "models": {},
                                                                       "failed": {}})
            if m["reference"] is not None:
                s["ref"].setdefault(float(m["x"]), float(m["reference"]))
            if m["status"] == "ok" and m["value"] is not None:
                s["models"].setdefault(i, {})[float(m["x"])] = float(m["value"])
            elif m["status"] == "failed":
                s["failed"][i] = s["failed"].get(i, 0) + 1
    return out


def curves_figure(docs: Sequence[dict[str, Any]], task: str, series: list[tuple[str, dict]]) -> tuple[Figure, dict]:
    ncols = min(4, len(series))
    nrows = math.ceil(len(series) / ncols)
    fig = Figure(figsize=(3.0 * ncols + (2.2 if ncols <= 2 else 0.4), 2.55 * nrows + (0.2 if ncols <= 2 else 0.7)),
                 layout="constrained")
    axes = fig.subplots(nrows, ncols, squeeze=False)
    tips: dict[str, tuple[int, str]] = {}
    for k, (name, s) in enumerate(series):
        ax = axes[k // ncols][k % ncols]
        if s["ref"]:
            xs = sorted(s["ref"])
            ax.plot(xs, [s["ref"][x] for x in xs], color="black", lw=1.6, marker="o", ms=3.5, mfc="white",
                    label="DFT (PBE)", zorder=4)
        for i, vals in sorted(s["models"].items()):
            xs = sorted(vals)
            gid = f"abm{i}-curve{k}"
            ax.plot(xs, [vals[x] for x in xs], color=colour(i), marker=marker(i), ms=3, lw=1.1, alpha=0.9,
                    label=mpl_text(docs[i]["model"]["name"]), gid=gid, zorder=3)
            tips[gid] = (i, f"{docs[i]['model']['name']} — {name}: {len(xs)} points"
                            + (f", {s['failed'][i]} failed" if s["failed"].get(i) else ""))
        ax.set_title(mpl_text(name), fontsize=8)
        ax.grid(alpha=0.3)
        ax.tick_params(labelsize=7)
        if k % ncols == 0:
            ax.set_ylabel(s["unit"], fontsize=8)
        if k // ncols == nrows - 1 or k + ncols >= len(series):
            ax.set_xlabel(X_LABELS.get(task, X_LABEL_DEFAULT), fontsize=7)
    for k in range(len(series), nrows * ncols):
        axes[k // ncols][k % ncols].set_visible(False)
    handles, labels = axes[0][0].get_legend_handles_labels()
    seen = dict(zip(labels, handles))
    for row in axes:
        for ax in row:
            for h, lab in zip(*ax.get_legend_handles_labels()):
                seen.setdefault(lab, h)
    if ncols <= 2:
        fig.legend(list(seen.values()), list(seen.keys()), loc="outside right upper", fontsize=7)
    else:
        fig.legend(list(seen.values()), list(seen.keys()), loc="outside upper center", ncols=min(6, len(seen)),
                   fontsize=7)
    return fig, tips


# ----------------------------------------------------------------------- pages
CSS = """
:root{--fg:#1b1f24;--muted:#5b6570;--line:#d9dee3;--bg:#fff;--band:#f5f7f9;--acc:#1f5fa8}
*{box-sizing:border-box}
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,"DejaVu Sans",sans-serif;color:var(--fg);background:var(--bg);margin:0}
header{background:#17324d;color:#fff;padding:14px 24px}
header h1{margin:0;font-size:22px}
header p{margin:2px 0 0;color:#c9d6e3}
header a{color:#fff}
nav{position:sticky;top:0;z-index:5;background:#eef2f6;border-bottom:1px solid var(--line);padding:6px 24px}
nav a{margin-right:14px;color:var(--acc);text-decoration:none}
main{padding:8px 24px 40px;max-width:1500px}
h2{border-bottom:2px solid var(--line);padding-bottom:3px;margin-top:30px}
h3{margin-bottom:4px}
.note{color:var(--muted);font-size:13px}
table{border-collapse:collapse;margin:8px 0 14px;font-size:13px}
th,td{border:1px solid var(--line);padding:3px 7px;text-align:left;vertical-align:top}
th{background:var(--band);position:relative}
td.n{text-align:right;font-variant-numeric:tabular-nums;white-space:nowrap}
table.sortable th:not(.nosort){cursor:pointer;user-select:none;padding-right:18px}
table.sortable th:not(.nosort)::after{content:"\\2195";position:absolute;right:4px;color:#9aa5b1;font-size:11px}
table.sortable th[aria-sort=ascending]::after{content:"\\25B2";color:var(--acc)}
table.sortable th[aria-sort=descending]::after{content:"\\25BC";color:var(--acc)}
tr.failed td{background:#fdecea}
tr.not_applicable td{color:#8a949e}
.score{display:inline-block;min-width:3.2em;padding:0 4px;border-radius:3px;text-align:right}
.figs{display:flex;flex-wrap:wrap;gap:18px}
figure{margin:6px 0;border:1px solid var(--line);border-radius:4px;padding:8px;background:#fff}
figure.wide{width:100%}
figcaption{font-size:12px;color:var(--muted);max-width:900px}
svg.plot{max-width:100%;height:auto;display:block}
svg.plot .model-mark:hover{opacity:.65}
.kv td:first-child{font-weight:600;white-space:nowrap;background:var(--band)}
code,.mono{font-family:ui-monospace,"DejaVu Sans Mono",monospace;font-size:12px;word-break:break-all}
input.filter{padding:4px 8px;width:320px;border:1px solid var(--line);border-radius:3px}
.bad{color:#b3261e}
"""

JS = r"""
(function(){
  "use strict";
  function key(td){
    var v = td.getAttribute("data-sort");
    if (v === null) { v = td.textContent.trim(); }
    if (v === "" || v === "\u2013") { return null; }
    var f = Number(v);
    return isFinite(f) && /^[-+]?[0-9.]+(e[-+]?[0-9]+)?$/i.test(v) ? f : v.toLowerCase();
  }
  function sortBy(table, col, th){
    var dir = th.getAttribute("aria-sort") === "descending" ? "ascending" : "descending";
    Array.prototype.forEach.call(table.tHead.rows[0].cells, function(c){ c.removeAttribute("aria-sort"); });
    th.setAttribute("aria-sort", dir);
    var sign = dir === "ascending" ? 1 : -1;
    var body = table.tBodies[0];
    var rows = Array.prototype.slice.call(body.rows);
    rows.sort(function(a, b){
      var ka = key(a.cells[col]), kb = key(b.cells[col]);
      if (ka === null && kb === null) { return 0; }
      if (ka === null) { return 1; }
      if (kb === null) { return -1; }
      if (typeof ka === typeof kb) { return (ka < kb ? -1 : ka > kb ? 1 : 0) * sign; }
      return typeof ka === "number" ? -1 : 1;
    });
    rows.forEach(function(r){ body.appendChild(r); });
  }
  Array.prototype.forEach.call(document.querySelectorAll("table.sortable"), function(table){
    Array.prototype.forEach.call(table.tHead.rows[0].cells, function(th, col){
      if (th.classList.contains("nosort")) { return; }
      th.tabIndex = 0;
      th.addEventListener("click", function(){ sortBy(table, col, th); });
      th.addEventListener("keydown", function(e){
        if (e.key === "Enter" || e.key === " ") { e.preventDefault(); sortBy(table, col, th); }
      });
    });
  });
  Array.prototype.forEach.call(document.querySelectorAll("input.filter"), function(input){
    var table = document.getElementById(input.getAttribute("data-table"));
    if (!table) { return; }
    input.addEventListener("input", function(){
      var q = input.value.toLowerCase();
      Array.prototype.forEach.call(table.tBodies[0].rows, function(r){
        r.hidden = q !== "" && r.textContent.toLowerCase().indexOf(q) < 0;
      });
    });
  });
  document.documentElement.setAttribute("data-ready", "1");
})();
"""


def _page(title: str, body: str, nav: list[tuple[str, str]], subtitle: str = "") -> str:
    links = "".join(f'<a href="{esc(h)}">{esc(t)}</a>' for t, h in nav)
    return ("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
            "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">"
            "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; "
            "style-src 'unsafe-inline'; script-src 'unsafe-inline'; img-src data:\">"
            f"<title>{esc(title)}</title><style>{CSS}</style></head><body>"
            f"<header><h1>{esc(title)}</h1>{f'<p>{subtitle}</p>' if subtitle else ''}</header>"
            f"<nav>{links}</nav><main>{body}</main><script>{JS}</script></body></html>\n")


def _score_cell(s: float | None, ci: Sequence[float] | None = None) -> str:
    if s is None:
        return '<td class="n" data-sort="">–</td>'
    hue = int(120 * max(0.0, min(1.0, s)))
    extra = f' <span class="note">({ci[0]:.2f}–{ci[1]:.2f})</span>' if ci else ""
    return (f'<td class="n" data-sort="{sortval(s)}"><span class="score" '
            f'style="background:hsl({hue},65%,82%)">{s:.3f}</span>{extra}</td>')


def _num_cell(x: Any, digits: int = 3) -> str:
    return f'<td class="n" data-sort="{sortval(x) if isinstance(x, (int, float)) else ""}">{esc(num(x, digits))}</td>'


def _kv(d: Any) -> str:
    """A dict as a two-column table (nested dicts nest); every string escaped."""
    if isinstance(d, dict):
        if not d:
            return '<span class="note">–</span>'
        rows = "".join(f"<tr><td>{esc(k)}</td><td>{_kv(v)}</td></tr>" for k, v in d.items())
        return f'<table class="kv">{rows}</table>'
    if isinstance(d, (list, tuple)):
        if all(not isinstance(v, (dict, list, tuple)) for v in d):
            return esc(", ".join("–" if v is None else str(v) for v in d)) or '<span class="note">–</span>'
        return "<br>".join(_kv(v) for v in d)
    if isinstance(d, float):
        return esc(num(d, 4))
    return f'<span class="mono">{esc(d)}</span>' if isinstance(d, str) and ("/" in d or " " in d) else esc(d)


def _figure_html(f: Fig, prefix: str, wide: bool = False) -> str:
    size = "" if wide else f' style="width:{f.width_px + 18}px;max-width:100%"'
    return (f'<figure class="{"wide" if wide else ""}" id="fig-{esc(f.name)}"{size}>{f.svg}'
            f"<figcaption><b>{esc(f.title)}</b> {f.caption} "
            f'<a href="{prefix}figures/{esc(f.name)}.png">PNG</a> · '
            f'<a href="{prefix}figures/{esc(f.name)}.svg">SVG</a></figcaption></figure>')


def _model_pages(docs: Sequence[dict[str, Any]]) -> list[str]:
    return [f"models/{i:02d}-{slug(d['model']['name'])}.html" for i, d in enumerate(docs)]


def _leaderboard(docs: Sequence[dict[str, Any]], pages: list[str], mb: list[dict | None]) -> str:
    cats = _categories(docs)
    _, cat_info = load_thresholds()
    show_mb = any(mb)
    head = ["#", "model", "family", "training data", "overall score (95% CI)"]
    head += [cat_info.get(c, {}).get("title", c) for c in cats]
    head += ["failed metrics", "failed Jobs", "not applicable", "engine s", "s / Job", "wall s", "device", "tier",
             "date"]
    if show_mb:
        head += ["MBD F1", "MBD κ_SRME"]
    order = sorted(range(len(docs)), key=lambda i: -(docs[i]["score"].get("overall") or -1))
    rows = []
    for rank, i in enumerate(order, 1):
        d = docs[i]
        s = d["score"]
        secs, per_job, _ = _cost(d)
        t = d.get("timing") or {}
        run = d.get("run") or {}
        cells = [f'<td class="n" data-sort="{rank}">{rank}</td>',
                 f'<td class="model" data-sort="{esc(str(d["model"]["name"]).lower())}">'
                 f'<a href="{esc(pages[i])}">{esc(d["model"]["name"])}</a></td>',
                 f"<td>{esc(d['model'].get('family', ''))}</td>",
                 f"<td>{esc(d['model'].get('training_data', ''))}</td>",
                 _score_cell(s.get("overall"), s.get("overall_ci95"))]
        cells += [_score_cell(s["categories"].get(c)) for c in cats]
        cells += [_num_cell(s.get("n_failed")), _num_cell(len(d.get("failures") or [])),
                  _num_cell(s.get("n_not_applicable")), _num_cell(secs, 1), _num_cell(per_job, 3),
                  _num_cell(t.get("wall_seconds"), 1), f"<td>{esc(t.get('device', ''))}</td>",
                  f"<td>{esc(run.get('tier', ''))}</td>", f"<td>{esc(str(run.get('date', ''))[:10])}</td>"]
        if show_mb:
            cells += [_num_cell(mb[i] and mb[i].get("F1")), _num_cell(mb[i] and mb[i].get("kappa_SRME"))]
        rows.append(f'<tr data-model="{i}">' + "".join(cells) + "</tr>")
    ths = "".join(f'<th scope="col">{esc(h)}</th>' for h in head)
    return (f'<table id="leaderboard" class="sortable"><thead><tr>{ths}</tr></thead>'
            f"<tbody>{''.join(rows)}</tbody></table>"
            '<p class="note">Click a column to sort. Scores are 0..1: 1 = every metric within the "good" '
            "threshold of DFT, 0 = at or beyond \"bad\" or failed (thresholds: <code>alloybench/scoring/metrics.yaml"
            "</code>). Engine seconds: time spent computing every Job of the model (from the store, including Jobs "
            "reused in this run); wall s: this run's wall time. MBD: Matbench Discovery.</p>")


def _correlation_section(docs: Sequence[dict[str, Any]], figs: _Figures, mb: list[dict | None]) -> str:
    mapped = [(i, m) for i, m in enumerate(mb) if m]
    if not mapped:
        return ('<p class="note">No evaluated model has an exact Matbench Discovery entry '
                "(see <code>alloybench/models/matbench.py</code>).</p>")
    rows = correlate(docs)
    colours = {docs[i]["model"]["name"]: colour(i) for i in range(len(docs))}
    gids = {docs[i]["model"]["name"]: f"abm{i}-corr" for i in range(len(docs))}
    index = {docs[i]["model"]["name"]: i for i in range(len(docs))}
    trs, plots = [], []
    for c in rows:
        ci = "–" if not c.ci95 else f"{c.ci95[0]:+.2f} … {c.ci95[1]:+.2f}"
        trs.append(f"<tr><td>{esc(c.label)}</td><td>{'higher' if c.higher_is_better else 'lower'}</td>"
                   f"{_num_cell(c.n)}<td class='n'>{'–' if c.rho is None else f'{c.rho:+.2f}'}</td>"
                   f"<td class='n'>{esc(ci)}</td><td class='n'>{esc(num(c.p_value, 3))}</td>"
                   f"<td>{esc(', '.join(c.models))}</td></tr>")
        if c.n >= MIN_MODELS and c.rho is not None:
            fig = scatter_figure(c, colours, gids)
            tips = {gids[n]: (index[n], f"{n}: {c.label} {num(x)}, score {num(y)}")
                    for n, x, y in zip(c.models, c.x, c.y)}
            f = figs.add(fig, Fig(f"matbench-{c.metric}", f"alloybench score vs Matbench Discovery {c.label}",
                                  esc(f"Spearman rho over {c.n} models; 95% CI from 2000 bootstrap resamples of "
                                      "the models."), tips=tips))
            plots.append(_figure_html(f, ""))
    mbtr = "".join(
        f"<tr><td>{esc(docs[i]['model']['name'])}</td><td>{esc(m['key'])}</td>"
        + "".join(_num_cell(m.get(k), 4) for k in MB_METRICS) + "</tr>" for i, m in mapped)
    return ("<table><thead><tr><th>Matbench metric</th><th>better</th><th>models</th><th>Spearman ρ</th>"
            "<th>95% CI</th><th>p</th><th>models used</th></tr></thead><tbody>" + "".join(trs) + "</tbody></table>"
            + (f'<div class="figs">{"".join(plots)}</div>' if plots else
               f'<p class="note">Scatter plots need at least {MIN_MODELS} models with a Matbench entry.</p>')
            + "<h3>Matbench Discovery entries used</h3><table><thead><tr><th>model</th><th>Matbench key</th>"
            + "".join(f"<th>{esc(MB_LABELS[k])}</th>" for k in MB_METRICS) + f"</tr></thead><tbody>{mbtr}</tbody>"
            "</table><p class=\"note\">Discovery metrics (F1, energy MAE) on the unique-prototypes test set; "
            "RMSD of relaxed structures; κ_SRME of the thermal-conductivity benchmark. p: exact permutation test "
            "(n ≤ 8) or t approximation. With fewer than about 6 models the bootstrap interval is coarse (a perfect "
            "ranking of 3 models gives [1, 1]): read it with the p-value. Matbench Discovery, "
            "Riebesell et al., Nat. Mach. Intell. (2025), commit 2c7f9fc. A negative ρ for a lower-is-better "
            "metric means the metric ranks models as alloybench does.</p>")


def _index(docs: Sequence[dict[str, Any]], figs: _Figures, pages: list[str], mb: list[dict | None]) -> str:
    groups = _groups(docs)
    parts = [f'<section id="leaderboard-section"><h2>Leaderboard</h2>{_leaderboard(docs, pages, mb)}</section>']

    fig, tips = heatmap_figure(docs, groups)
    f = figs.add(fig, Fig("heatmap", "Scores by metric group",
                          "Colour and number: group score (0..1); ✗: failed metrics; grey: not computed. "
                          "Hover a cell for the MAE.", tips=tips))
    parts.append(f'<section id="heatmap"><h2>Models × metric groups</h2>{_figure_html(f, "", wide=True)}</section>')

    fig, tips = pareto_figure(docs)
    if fig is not None:
        f = figs.add(fig, Fig("pareto", "Accuracy vs cost",
                              "Overall score (bars: bootstrap 95% CI) against compute time; dashed: Pareto front "
                              "(no model is both cheaper and better). Times come from each run's own machine.",
                              tips=tips))
        parts.append(f'<section id="cost"><h2>Accuracy vs cost</h2>{_figure_html(f, "", wide=True)}</section>')
    else:
        parts.append('<section id="cost"><h2>Accuracy vs cost</h2><p class="note">No timing recorded.</p></section>')

    parity = []
    for g in groups:
        fig, tips = parity_figure(docs, g)
        if fig is None:
            continue
        f = figs.add(fig, Fig(f"parity-{slug(g)}", f"Parity: {g}",
                              "Model value vs DFT reference; dashed: y = x; grey band: the 'good' threshold.",
                              tips=tips))
        parity.append(_figure_html(f, ""))
    parts.append('<section id="parity"><h2>Parity plots by metric group</h2>'
                 + (f'<div class="figs">{"".join(parity)}</div>' if parity else
                    '<p class="note">No metric with both a value and a reference.</p>') + "</section>")

    curves = []
    for task, series in series_index(docs).items():
        items = sorted((k, v) for k, v in series.items() if v["models"])  # skip DFT-only (not applicable) curves
        if not items:
            continue
        for part in range(0, len(items), PANELS_PER_FIGURE):
            chunk = items[part:part + PANELS_PER_FIGURE]
            fig, tips = curves_figure(docs, task, chunk)
            n = part // PANELS_PER_FIGURE
            suffix = f" ({n + 1}/{math.ceil(len(items) / PANELS_PER_FIGURE)})" if len(items) > PANELS_PER_FIGURE else ""
            f = figs.add(fig, Fig(f"curves-{slug(task)}" + (f"-{n + 1}" if suffix else ""),
                                  f"{task}: curves vs DFT{suffix}",
                                  "Black: DFT (PBE) reference; coloured: models. Failed points are omitted.",
                                  tips=tips))
            curves.append(_figure_html(f, "", wide=True))
    parts.append('<section id="curves"><h2>Curves vs DFT</h2>'
                 + ("".join(curves) if curves else '<p class="note">No metric with a series (GSF curves, '
                    "binding energy by neighbour shell, …) in these results.</p>") + "</section>")

    parts.append(f'<section id="matbench"><h2>Correlation with Matbench Discovery</h2>'
                 f"{_correlation_section(docs, figs, mb)}</section>")

    items = "".join(f'<li><a href="{esc(pages[i])}">{esc(d["model"]["name"])}</a> '
                    f'<span class="note">{esc(d["model"].get("id", ""))}</span></li>' for i, d in enumerate(docs))
    parts.append(f'<section id="models"><h2>Model pages</h2><ul>{items}</ul>'
                 '<p class="note">Every figure is also under <code>figures/</code> as PNG (200 dpi) and SVG.</p>'
                 "</section>")
    return "".join(parts)


def _model_page(d: dict[str, Any], i: int, mb: dict | None) -> str:
    s = d["score"]
    _, cat_info = load_thresholds()
    name = d["model"]["name"]
    cat_rows = "".join(f"<tr><td>{esc(cat_info.get(c, {}).get('title', c))}</td>{_score_cell(v)}</tr>"
                       for c, v in s["categories"].items())
    group_rows = "".join(
        f"<tr><td>{esc(g)}</td><td>{esc(r.get('category', ''))}</td>{_num_cell(r.get('mae'))}"
        f"<td>{esc(r.get('unit', ''))}</td>{_num_cell(r.get('n'))}{_num_cell(r.get('n_failed'))}"
        f"{_score_cell(r.get('score'))}{_num_cell(r.get('weight'), 1)}</tr>" for g, r in s["groups"].items())
    metric_rows = []
    for m in d["metrics"]:
        status = m["status"]
        metric_rows.append(
            f'<tr class="{esc(status)}"><td>{esc(m["task"])}</td><td>{esc(m["item"])}</td><td>{esc(m["name"])}</td>'
            f"<td>{esc(m.get('series', ''))}</td>{_num_cell(m.get('x'))}{_num_cell(m['value'], 4)}"
            f"{_num_cell(m['reference'], 4)}{_num_cell(m.get('error'), 4)}<td>{esc(m['unit'])}</td>"
            f"{_num_cell(m.get('score'), 2)}<td>{esc(status)}</td><td>{esc(m.get('reason', ''))}</td>"
            f"<td class=\"mono\">{esc(m.get('source', ''))}</td></tr>")
    fails = d.get("failures") or []
    fail_html = ("<p class=\"note\">None.</p>" if not fails else
                 '<table class="sortable"><thead><tr><th>task</th><th>job</th><th>stage</th><th>reason</th></tr>'
                 "</thead><tbody>" + "".join(
                     f"<tr><td>{esc(f.get('task'))}</td><td>{esc(f.get('name'))}</td><td>{esc(f.get('stage'))}</td>"
                     f"<td>{esc(f.get('reason'))}</td></tr>" for f in fails) + "</tbody></table>")
    secs, per_job, jobs = _cost(d)
    timing = d.get("timing") or {}
    per_task = timing.get("per_task") or {}
    cost_rows = "".join(f"<tr><td>{esc(t)}</td>{_num_cell(v[0])}{_num_cell(v[1], 2)}</tr>"
                        for t, v in per_task.items())
    mb_html = '<p class="note">No exact Matbench Discovery entry for this model.</p>'
    if mb:
        mb_html = ("<table><thead><tr><th>metric</th><th>value</th><th>unit</th><th>source</th></tr></thead><tbody>"
                   + "".join(f"<tr><td>{esc(MB_LABELS[k])}</td>{_num_cell(mb.get(k), 4)}<td>{esc(mb['units'][k])}"
                             f"</td><td class=\"mono\">{esc(mb['sources'][k])}</td></tr>" for k in MB_METRICS)
                   + f"</tbody></table><p class=\"note\">Matbench key {esc(mb['key'])}; {esc(mb['model_name'])} "
                     f"{esc(mb['model_version'])}; trained on {esc(', '.join(mb['training_sets']))}; "
                     f"{esc(num(mb['model_params']))} parameters.</p>")
    body = (
        '<p><a href="../index.html">← all models</a></p>'
        + _incomplete_html(d) +
        f'<section id="summary"><h2>Scores</h2><table><tbody><tr><td>overall</td>'
        f"{_score_cell(s.get('overall'), s.get('overall_ci95'))}</tr>{cat_rows}</tbody></table>"
        f"<p>{esc(s.get('n_failed', 0))} failed metrics, {esc(s.get('n_not_applicable', 0))} not applicable, "
        f"{esc(len(fails))} failed Jobs.</p>"
        '<table class="sortable"><thead><tr><th>group</th><th>category</th><th>MAE</th><th>unit</th><th>n ok</th>'
        f"<th>failed</th><th>score</th><th>weight</th></tr></thead><tbody>{group_rows}</tbody></table></section>"
        '<section id="metrics"><h2>Every metric</h2>'
        '<p><input class="filter" type="search" data-table="metric-table" placeholder="filter rows (task, item, '
        'status, reason…)" aria-label="filter metrics"></p>'
        '<table id="metric-table" class="sortable"><thead><tr><th>task</th><th>item</th><th>quantity</th>'
        "<th>series</th><th>x</th><th>value</th><th>DFT</th><th>error</th><th>unit</th><th>score</th>"
        f"<th>status</th><th>reason</th><th>source</th></tr></thead><tbody>{''.join(metric_rows)}</tbody></table>"
        "</section>"
        f'<section id="failures"><h2>Failed calculations</h2>{fail_html}</section>'
        f'<section id="cost"><h2>Cost</h2><p>Engine time {esc(num(secs, 1))} s over {esc(num(jobs))} Jobs '
        f"({esc(num(per_job, 3))} s/Job); this run: wall {esc(num(timing.get('wall_seconds'), 1))} s, "
        f"{esc(timing.get('computed', '–'))} computed, {esc(timing.get('reused', '–'))} reused, "
        f"device {esc(timing.get('device', '?'))}.</p>"
        + (f"<table><thead><tr><th>task</th><th>Jobs</th><th>engine s</th></tr></thead><tbody>{cost_rows}"
           "</tbody></table>" if cost_rows else "") + "</section>"
        f'<section id="matbench"><h2>Matbench Discovery</h2>{mb_html}</section>'
        f'<section id="provenance"><h2>Provenance</h2><h3>Model</h3>{_kv(d.get("model") or {})}'
        f'<h3>Run</h3>{_kv({k: v for k, v in (d.get("run") or {}).items() if k != "timing"})}</section>'
    )
    nav = [("all models", "../index.html"), ("scores", "#summary"), ("metrics", "#metrics"),
           ("failures", "#failures"), ("cost", "#cost"), ("provenance", "#provenance")]
    return _page(f"alloybench: {name}", body, nav,
                 subtitle=esc(f"{d['model'].get('family', '')} · {d['model'].get('id', '')} · "
                              f"{(d.get('run') or {}).get('date', '')}"))


def _incomplete_html(d: dict[str, Any]) -> str:
    """A warning paragraph when the run is incomplete (Jobs missing, not only failed)."""
    from alloybench.report import incomplete_note

    note = incomplete_note(d)
    return f'<p class="incomplete"><strong>{esc(note)}</strong></p>' if note else ""


def write_html(docs: list[dict[str, Any]], out_dir: Path) -> Path:
    """Write the static site for ``docs`` (results.json documents) into ``out_dir``; return index.html."""
    if not docs:
        raise ValueError("write_html needs at least one results document")
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    figs = _Figures(out_dir)
    pages = _model_pages(docs)
    mb = [metrics_for_doc(d) for d in docs]
    for i, d in enumerate(docs):
        _write_text(out_dir / pages[i], _model_page(d, i, mb[i]))
    body = _index(docs, figs, pages, mb)
    when = dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    nav = [("Leaderboard", "#leaderboard-section"), ("Heat-map", "#heatmap"), ("Cost", "#cost"),
           ("Parity", "#parity"), ("Curves", "#curves"), ("Matbench", "#matbench"), ("Models", "#models")]
    index = out_dir / "index.html"
    _write_text(index, _page("alloybench report", body, nav,
                              subtitle=esc(f"{len(docs)} model(s) · Al–Cu–Mg–Zn vs PBE · generated {when}")))
    _write_text(out_dir / "figures" / "index.json",
                 json.dumps({f.name: {"title": f.title, "files": [f"{f.name}.png", f"{f.name}.svg"]}
                             for f in figs.done}, indent=1, ensure_ascii=False))
    return index


__all__ = ["pareto_front", "series_index", "write_html"]
