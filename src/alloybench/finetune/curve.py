"""learning_curve.json / .md / .png from the points of a sweep.

Per (mode, N): the overall and category scores over seeds (mean, min, max), the
test-split errors, the training wall time and device; horizontal lines for the base
model (N = 0) and for comparison result folders (``--compare``: e.g. the best offline
foundation model's results.json, re-scored on the same tasks so the lines are comparable);
forgetting: the test errors on the kinds each draw lacked next to the base model's on the
same structures, and the change of the bulk and elastic category scores from the base model.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from alloybench.finetune.evaluate import summarise


def rescore(doc: dict[str, Any], tasks: list[str]) -> dict[str, Any]:
    """A results.json's score over the metrics of ``tasks`` only (the same scoring code)."""
    from alloybench.scoring import score
    from alloybench.tasks.base import Metric

    ms = [Metric.from_dict(m) for m in doc["metrics"] if m["task"] in tasks]
    return score(ms).to_dict()


def _stats(xs: list[float | None]) -> dict[str, Any] | None:
    v = [x for x in xs if x is not None]
    if not v:
        return None
    return {"mean": float(np.mean(v)), "min": float(np.min(v)), "max": float(np.max(v)),
            "std": float(np.std(v)), "n_seeds": len(v)}


def build(points: list[dict[str, Any]], meta: dict[str, Any], compare: list[dict[str, Any]]) -> dict[str, Any]:
    base = next((p for p in points if p["mode"] == "base"), None)
    cats = sorted({c for p in points for c in (p.get("score") or {}).get("categories", {})})
    curves: dict[str, list[dict[str, Any]]] = {}
    for mode in ("finetune", "scratch"):
        rows = []
        for n in sorted({p["n"] for p in points if p["mode"] == mode}):
            ps = [p for p in points if p["mode"] == mode and p["n"] == n]
            row = {"n": n, "seeds": [p["seed"] for p in ps],
                   "overall": _stats([(p.get("score") or {}).get("overall") for p in ps]),
                   "categories": {c: _stats([(p.get("score") or {}).get("categories", {}).get(c) for p in ps])
                                  for c in cats},
                   "train_wall_seconds": _stats([p.get("train_wall_seconds") for p in ps]),
                   "devices": sorted({p.get("device", "") for p in ps})}
            for key in ("energy_mae_meV_per_atom", "force_mae_meV_per_A", "stress_mae_GPa"):
                row[f"test_{key}"] = _stats([((p.get("test") or {}).get("all") or {}).get(key) for p in ps])
                row[f"untrained_{key}"] = _stats([((p.get("test") or {}).get("on_untrained_kinds") or {}).get(key)
                                                  for p in ps])
                row[f"base_on_untrained_{key}"] = _stats([(p.get("base_on_untrained") or {}).get(key) for p in ps])
            if base and base.get("score"):
                for c in ("bulk", "elastic"):
                    b = base["score"]["categories"].get(c)
                    row[f"delta_{c}_vs_base"] = _stats([
                        (p["score"]["categories"].get(c) - b) if p.get("score") and b is not None
                        and p["score"]["categories"].get(c) is not None else None for p in ps])
            rows.append(row)
        if rows:
            curves[mode] = rows
    doc = {"alloybench_learning_curve": 1, **meta, "categories": cats, "base": _slim(base), "curves": curves,
           "compare": compare, "points": [_slim(p) for p in points]}
    doc["findings"] = findings(doc)
    return doc


def _slim(p: dict[str, Any] | None) -> dict[str, Any] | None:
    if p is None:
        return None
    q = dict(p)
    if q.get("test"):
        q["test"] = {k: v for k, v in q["test"].items() if k != "records"}
    return q


def first_reaching(rows: list[dict[str, Any]], target: float | None) -> int | None:
    """The smallest N whose seed-mean overall score is at or above ``target``."""
    if target is None:
        return None
    for r in rows:
        if r["overall"] and r["overall"]["mean"] >= target:
            return r["n"]
    return None


def findings(doc: dict[str, Any]) -> dict[str, Any]:
    ft = doc["curves"].get("finetune", [])
    sc = doc["curves"].get("scratch", [])
    # a comparison model that lacks one of the curve's tasks is scored over fewer tasks: not a target
    best = max((c for c in doc["compare"] if c.get("overall") is not None and not c.get("missing_tasks")),
               key=lambda c: c["overall"], default=None)
    scratch_top = sc[-1] if sc else None
    target_b = scratch_top["overall"]["mean"] if scratch_top and scratch_top["overall"] else None
    return {
        "best_compare": best and {"name": best["name"], "overall": best["overall"]},
        "n_reaching_best_compare": first_reaching(ft, best["overall"] if best else None),
        "scratch_largest_n": scratch_top["n"] if scratch_top else None,
        "scratch_score_at_largest_n": target_b,
        "n_reaching_scratch_at_largest_n": first_reaching(ft, target_b),
        "finetune_points": len(ft),  # 0: a from-scratch-only sweep, nothing to say about reaching
    }


def _f(x: Any, d: int = 3) -> str:
    if x is None:
        return "–"
    if isinstance(x, dict):
        if x.get("n_seeds", 1) > 1:
            return f"{x['mean']:.{d}f} ({x['min']:.{d}f}–{x['max']:.{d}f})"
        return f"{x['mean']:.{d}f}"
    return f"{x:.{d}f}" if isinstance(x, float) else str(x)


def _suite_label(tier: str, tasks: list[str]) -> str:
    """'quick tier: a, b' when the tasks are the tier's, else 'tasks: a, b' (a --tasks choice)."""
    from alloybench.tasks import tasks_for_tier

    try:
        own = [t.name for t in tasks_for_tier(tier)]
    except ValueError:  # an unknown tier in an old curve file: say only what was run
        own = None
    return f"{tier} tier: {', '.join(tasks)}" if own == list(tasks) else f"tasks: {', '.join(tasks)}"


def markdown(doc: dict[str, Any]) -> str:
    cats = doc["categories"]
    lines = [f"# Learning curve: {doc['base_model']} ({_suite_label(doc['tier'], doc['tasks'])})", "",
             f"Pool {doc['pool']} ({doc['pool_size']} structures, digest {doc['pool_digest']}); "
             f"test {doc.get('test') or '–'} ({doc.get('test_size') or 0} structures). "
             "Scores: mean over seeds (min–max).", ""]
    b = doc.get("base")
    if b and b.get("score"):
        lines += [f"Base model (N = 0): overall {_f(b['score']['overall'])}; "
                  + ", ".join(f"{c} {_f(b['score']['categories'].get(c))}" for c in cats), ""]
    for c in doc["compare"]:
        where = ("on the same tasks" if not c.get("missing_tasks") else
                 f"without {', '.join(c['missing_tasks'])} (not in its results: over fewer tasks, not a target)")
        lines.append(f"Comparison: {c['name']}: overall {_f(c['overall'])} {where} ({c['source']})")
    lines.append("")
    head = ["mode", "N", "seeds", "overall"] + cats + ["test E MAE meV/atom", "test F MAE meV/Å", "test S MAE GPa",
                                                       "untrained-kind F MAE (base) meV/Å", "Δbulk", "Δelastic",
                                                       "train s", "device"]
    lines += ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    bt = (b or {}).get("test") or {}
    if b:
        score = b.get("score") or {}
        cells = (["base", "0", "–", _f(score.get("overall"))]
                 + [_f(score.get("categories", {}).get(c)) for c in cats]
                 + [_f((bt.get("all") or {}).get(k), 1) for k in
                    ("energy_mae_meV_per_atom", "force_mae_meV_per_A", "stress_mae_GPa")]
                 + ["–"] * 4 + [str(b.get("device", ""))])
        lines.append("| " + " | ".join(cells) + " |")  # one cell per column, also with no categories
    for mode, rows in doc["curves"].items():
        for r in rows:
            unt = r["untrained_force_mae_meV_per_A"]
            unt_b = r["base_on_untrained_force_mae_meV_per_A"]
            lines.append("| " + " | ".join([
                "fine-tuned" if mode == "finetune" else "from scratch", str(r["n"]), str(len(r["seeds"])),
                _f(r["overall"]), *[_f(r["categories"].get(c)) for c in cats],
                _f(r["test_energy_mae_meV_per_atom"], 1), _f(r["test_force_mae_meV_per_A"], 1),
                _f(r["test_stress_mae_GPa"], 2),
                f"{_f(unt, 1)} ({_f(unt_b, 1)})" if unt else "–",
                _f(r.get("delta_bulk_vs_base")), _f(r.get("delta_elastic_vs_base")),
                _f(r["train_wall_seconds"], 0), "; ".join(r["devices"])]) + " |")
    fnd = doc["findings"]
    lines += ["", "## Findings", ""]
    if not fnd.get("finetune_points", 1):
        lines.append("- No fine-tuned point in this curve: (a) and (b) need the fine-tuned sweep beside it.")
    elif fnd["best_compare"]:
        n = fnd["n_reaching_best_compare"]
        lines.append(f"- (a) The fine-tuned model reaches {fnd['best_compare']['name']}'s score "
                     f"({fnd['best_compare']['overall']:.3f}) at N = {n}." if n is not None else
                     f"- (a) The fine-tuned model does not reach {fnd['best_compare']['name']}'s score "
                     f"({fnd['best_compare']['overall']:.3f}) at any N measured.")
    if fnd["scratch_score_at_largest_n"] is not None and fnd.get("finetune_points", 1):
        n = fnd["n_reaching_scratch_at_largest_n"]
        lines.append(f"- (b) The from-scratch model scores {fnd['scratch_score_at_largest_n']:.3f} at its largest N "
                     f"({fnd['scratch_largest_n']}); the fine-tuned model reaches that at N = {n}."
                     if n is not None else
                     f"- (b) The from-scratch model scores {fnd['scratch_score_at_largest_n']:.3f} at its largest N "
                     f"({fnd['scratch_largest_n']}); the fine-tuned model does not reach it at any N measured.")
    return "\n".join(lines) + "\n"


def figure(doc: dict[str, Any], path: Path) -> Path | None:
    """Overall score and each category vs N: seed band (min–max), base-model and comparison lines, scratch curve."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return None
    panels = ["overall"] + doc["categories"]
    ncol = min(3, len(panels))
    nrow = (len(panels) + ncol - 1) // ncol
    fig, axes = plt.subplots(nrow, ncol, figsize=(4.2 * ncol, 3.2 * nrow), squeeze=False)
    base = doc.get("base") or {}
    for ax, panel in zip(axes.ravel(), panels):
        for mode, colour, label in (("finetune", "C0", "fine-tuned"), ("scratch", "C3", "from scratch")):
            rows = [r for r in doc["curves"].get(mode, []) if (r["overall"] if panel == "overall"
                                                                else r["categories"].get(panel))]
            if not rows:
                continue
            st = [r["overall"] if panel == "overall" else r["categories"][panel] for r in rows]
            xs = [max(r["n"], 1) for r in rows]
            ax.plot(xs, [s["mean"] for s in st], "o-", color=colour, label=label)
            ax.fill_between(xs, [s["min"] for s in st], [s["max"] for s in st], color=colour, alpha=0.2)
        bs = (base.get("score") or {})
        bv = bs.get("overall") if panel == "overall" else bs.get("categories", {}).get(panel)
        if bv is not None:
            ax.axhline(bv, color="k", ls="--", lw=1, label=f"base ({doc['base_model']})")
        for i, c in enumerate(doc["compare"]):
            cv = c["overall"] if panel == "overall" else c["categories"].get(panel)
            if cv is not None:
                label = c["name"] + (f" (no {', '.join(c['missing_tasks'])})" if c.get("missing_tasks") else "")
                ax.axhline(cv, color=f"C{2 + i}", ls=":", lw=1.2, label=label)
        ax.set_xscale("log")
        ns = sorted({max(r["n"], 1) for rows in doc["curves"].values() for r in rows})
        if ns:  # the measured N as plain tick labels (log minor labels collide)
            from matplotlib.ticker import NullFormatter

            ax.set_xticks(ns, [str(n) for n in ns])
            ax.xaxis.set_minor_formatter(NullFormatter())
        ax.set_ylim(-0.02, 1.02)
        ax.set_title(panel)
        ax.set_xlabel("N DFT structures")
        ax.set_ylabel("score (0–1)")
    for ax in axes.ravel()[len(panels):]:
        ax.axis("off")
    axes[0, 0].legend(fontsize=7, loc="lower right")
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.stem + ".tmp.png")
    fig.savefig(tmp, dpi=120)
    plt.close(fig)
    tmp.replace(path)
    return path


def base_on_subset(base_test: dict[str, Any] | None, kinds_excluded: set[str]) -> dict[str, Any] | None:
    """The base model's errors on the test structures whose kinds a draw lacked (forgetting's yardstick)."""
    if not base_test or "records" not in base_test:
        return None
    recs = [r for r in base_test["records"] if r["kind"] not in kinds_excluded]
    return summarise(recs) if recs else None


def load_compare(dirs: list[Path], tasks: list[str]) -> list[dict[str, Any]]:
    from alloybench.report import load_results

    out = []
    for d in dirs:
        doc = load_results(Path(d))
        s = rescore(doc, tasks)
        have = {m.get("task") for m in doc.get("metrics", [])}
        out.append({"name": doc["model"]["name"], "overall": s["overall"], "categories": s["categories"],
                    "source": str(Path(d) / "results.json"), "tier": doc["run"].get("tier"),
                    "missing_tasks": [t for t in tasks if t not in have]})
    return out
