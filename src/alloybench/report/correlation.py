"""Does a Matbench Discovery metric predict metallurgical quality?

Spearman rank correlation, across evaluated models, between alloybench's overall
score and each Matbench Discovery metric (F1, kappa_SRME, RMSD, energy MAE),
with a bootstrap 95 % confidence interval obtained by resampling models.
Models are mapped to Matbench entries by ``alloybench.models.matbench``
(exact matches only).

Sign convention: rho is reported as computed (score vs metric).  For F1 (higher
is better) a predictive metric gives rho > 0; for kappa_SRME, RMSD and energy
MAE (lower is better) it gives rho < 0.  ``Correlation.agreement`` flips the
sign of the lower-is-better metrics so that +1 always means "ranks the models
exactly as alloybench does".
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from scipy.stats import permutation_test, rankdata, spearmanr

from alloybench.models.matbench import METRICS, metrics_for_doc

LABELS = {"F1": "F1", "kappa_SRME": "κ_SRME", "RMSD": "RMSD", "energy_MAE": "energy MAE"}
MIN_MODELS = 3


def spearman(x: Sequence[float], y: Sequence[float]) -> float | None:
    """Spearman's rho (average ranks for ties); None when undefined (n < 2 or a constant vector)."""
    xa, ya = np.asarray(x, dtype=float), np.asarray(y, dtype=float)
    if xa.shape != ya.shape:
        raise ValueError("x and y differ in length")
    if len(xa) < 2 or np.all(xa == xa[0]) or np.all(ya == ya[0]):
        return None
    rho = spearmanr(xa, ya).statistic
    return None if rho is None or math.isnan(rho) else float(rho)


def bootstrap_ci(x: Sequence[float], y: Sequence[float], n_boot: int = 2000, seed: int = 0,
                 level: float = 0.95) -> tuple[float, float] | None:
    """Percentile bootstrap interval of Spearman's rho, resampling (x, y) pairs (models).

    Resamples in which rho is undefined (all x or all y equal) are dropped; None
    when fewer than half of the resamples give a defined rho."""
    import warnings

    from scipy.stats import DegenerateDataWarning, bootstrap

    xa, ya = np.asarray(x, dtype=float), np.asarray(y, dtype=float)
    if len(xa) < 2:
        return None
    # scipy draws the resamples; the undefined rhos are dropped from its bootstrap distribution here
    # (scipy's own percentile would turn them into a NaN interval)
    with np.errstate(invalid="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", DegenerateDataWarning)
        res = bootstrap((xa, ya), lambda a, b, axis=-1: _rowwise_spearman(np.moveaxis(a, axis, -1), np.moveaxis(b, axis, -1)),
                        paired=True, vectorized=True, n_resamples=n_boot, method="percentile",
                        confidence_level=level, random_state=np.random.default_rng(seed))
    rhos = np.asarray(res.bootstrap_distribution)
    rhos = rhos[np.isfinite(rhos)]
    if len(rhos) < n_boot / 2:
        return None
    tail = 100 * (1 - level) / 2
    return float(np.percentile(rhos, tail)), float(np.percentile(rhos, 100 - tail))


def _rowwise_spearman(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Spearman's rho of each row pair (average ranks for ties); NaN where a row is constant."""
    rx = rankdata(x, axis=1)
    ry = rankdata(y, axis=1)
    rx -= rx.mean(axis=1, keepdims=True)
    ry -= ry.mean(axis=1, keepdims=True)
    den = np.sqrt((rx * rx).sum(axis=1) * (ry * ry).sum(axis=1))
    with np.errstate(invalid="ignore", divide="ignore"):
        rho = (rx * ry).sum(axis=1) / den
    rho[den == 0] = np.nan
    return np.clip(rho, -1.0, 1.0)


def permutation_p(x: Sequence[float], y: Sequence[float], exact_max: int = 8) -> float | None:
    """Two-sided p-value of Spearman's rho by scipy's permutation test: exact (every pairing of
    x with y) for n <= exact_max, where the t approximation is wrong (it gives p = 0 for a
    perfect ranking of 3 models); scipy's t approximation above that."""
    xa, ya = np.asarray(x, dtype=float), np.asarray(y, dtype=float)
    rho = spearman(xa, ya)
    if rho is None or len(xa) < 3:
        return None
    if len(xa) > exact_max:
        return float(spearmanr(xa, ya).pvalue)
    # one sample, y held fixed: "pairings" then enumerates every ordering of x against y
    res = permutation_test((xa,), lambda a: spearmanr(a, ya).statistic, permutation_type="pairings",
                           alternative="two-sided", n_resamples=math.inf)
    return float(res.pvalue)


@dataclass
class Correlation:
    metric: str
    label: str
    unit: str
    higher_is_better: bool
    models: list[str] = field(default_factory=list)
    matbench_keys: list[str] = field(default_factory=list)
    x: list[float] = field(default_factory=list)  # Matbench metric
    y: list[float] = field(default_factory=list)  # alloybench overall score
    rho: float | None = None
    ci95: tuple[float, float] | None = None
    p_value: float | None = None

    @property
    def n(self) -> int:
        return len(self.x)

    @property
    def agreement(self) -> float | None:
        """rho with the sign flipped for lower-is-better metrics: +1 = same ranking as alloybench."""
        if self.rho is None:
            return None
        return self.rho if self.higher_is_better else -self.rho

    def to_dict(self) -> dict[str, Any]:
        return {"metric": self.metric, "unit": self.unit, "higher_is_better": self.higher_is_better,
                "n": self.n, "rho": self.rho, "ci95": list(self.ci95) if self.ci95 else None,
                "p_value": self.p_value, "agreement": self.agreement,
                "models": self.models, "matbench_keys": self.matbench_keys, "x": self.x, "y": self.y}


def correlate(docs: Sequence[dict[str, Any]], n_boot: int = 2000, seed: int = 0) -> list[Correlation]:
    """One Correlation per Matbench metric over the models that have both numbers."""
    rows: list[Correlation] = []
    mapped = [(d, metrics_for_doc(d)) for d in docs]
    for metric, higher in METRICS.items():
        c = Correlation(metric=metric, label=LABELS[metric], unit="", higher_is_better=higher)
        for doc, mb in mapped:
            overall = (doc.get("score") or {}).get("overall")
            if mb is None or mb.get(metric) is None or overall is None:
                continue
            c.unit = mb["units"].get(metric, "")
            c.models.append(str(doc["model"]["name"]))
            c.matbench_keys.append(mb["key"])
            c.x.append(float(mb[metric]))
            c.y.append(float(overall))
        c.rho = spearman(c.x, c.y)
        if c.rho is not None:
            c.p_value = permutation_p(c.x, c.y)
            c.ci95 = bootstrap_ci(c.x, c.y, n_boot=n_boot, seed=seed)
        rows.append(c)
    return rows


def scatter_figure(c: Correlation, colours: dict[str, Any] | None = None, gids: dict[str, str] | None = None):
    """Matbench metric (x) vs alloybench overall score (y), one labelled point per model.

    ``colours`` and ``gids`` (SVG ids of the points) are keyed by model name."""
    from matplotlib.figure import Figure

    fig = Figure(figsize=(4.6, 3.8), layout="constrained")
    ax = fig.add_subplot()
    for i, (name, xv, yv) in enumerate(zip(c.models, c.x, c.y)):
        colour = (colours or {}).get(name, f"C{i % 10}")
        pt = ax.scatter([xv], [yv], s=36, color=colour, zorder=3)
        if gids and name in gids:
            pt.set_gid(gids[name])
        ax.annotate(mpl_text(name), (xv, yv), xytext=(4, 3), textcoords="offset points", fontsize=7)
    unit = f" ({c.unit})" if c.unit else ""
    ax.set_xlabel(f"Matbench Discovery {c.label}{unit}" + ("  (higher is better)" if c.higher_is_better
                                                          else "  (lower is better)"))
    ax.set_ylabel("alloybench overall score")
    title = f"Spearman ρ = {c.rho:+.2f}" if c.rho is not None else "Spearman ρ undefined"
    if c.ci95:
        title += f"  [95% CI {c.ci95[0]:+.2f}, {c.ci95[1]:+.2f}]"
    ax.set_title(f"{title}, n = {c.n}", fontsize=9)
    ax.grid(alpha=0.3)
    return fig


def mpl_text(text: str) -> str:
    """A user string made safe for matplotlib text (no mathtext from '$')."""
    return str(text).replace("$", r"\$")


def markdown_table(rows: Sequence[Correlation]) -> str:
    lines = ["| Matbench metric | better | models | Spearman rho | 95% CI (bootstrap) |", "|---|---|---|---|---|"]
    for c in rows:
        rho = "–" if c.rho is None else f"{c.rho:+.2f}"
        ci = "–" if not c.ci95 else f"{c.ci95[0]:+.2f} … {c.ci95[1]:+.2f}"
        lines.append(f"| {c.label} | {'higher' if c.higher_is_better else 'lower'} | {c.n} | {rho} | {ci} |")
    return "\n".join(lines)


__all__ = ["Correlation", "MIN_MODELS", "bootstrap_ci", "correlate", "markdown_table", "mpl_text",
           "permutation_p", "scatter_figure", "spearman"]
