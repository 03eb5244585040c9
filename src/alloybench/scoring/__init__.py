"""Scores: per-metric 0..1 from good/bad thresholds, MAE per group, category
and weighted overall scores, bootstrap confidence interval of the overall."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from typing import Any

import numpy as np
import yaml

from alloybench.tasks.base import Metric


@dataclass(frozen=True)
class Threshold:
    group: str
    category: str
    error: str  # "absolute" | "relative"
    good: float
    bad: float
    unit: str
    weight: float = 1.0

    def normalised_error(self, m: Metric) -> float | None:
        if m.error is None:
            return None
        e = abs(m.error)
        if self.error == "relative":
            if not m.reference:
                return None
            e /= abs(m.reference)
        return e

    def score(self, m: Metric) -> float | None:
        """1 at or below good, 0 at or above bad, linear between; failed = 0; None = not scored."""
        if m.status == "not_applicable" or m.reference is None:
            return None
        if m.status == "failed":
            return 0.0
        e = self.normalised_error(m)
        if e is None:
            return None
        return float(np.clip((self.bad - e) / (self.bad - self.good), 0.0, 1.0))


@lru_cache(maxsize=None)
def load_thresholds() -> tuple[dict[str, Threshold], dict[str, dict[str, Any]]]:
    data = yaml.safe_load(resources.files("alloybench.scoring").joinpath("metrics.yaml").read_text())
    groups = {name: Threshold(group=name, **spec) for name, spec in data["groups"].items()}
    for t in groups.values():
        if t.category not in data["categories"] or not t.good < t.bad:
            raise ValueError(f"bad threshold entry for group {t.group}")
    return groups, data["categories"]


@dataclass
class Scorecard:
    overall: float | None
    overall_ci: tuple[float, float] | None
    categories: dict[str, float]
    groups: dict[str, dict[str, Any]]  # group -> {mae, n, n_failed, score, unit}
    per_metric: dict[str, float | None]  # metric key -> score
    n_failed: int
    n_not_applicable: int

    def to_dict(self) -> dict[str, Any]:
        return {
            "overall": self.overall,
            "overall_ci95": list(self.overall_ci) if self.overall_ci else None,
            "categories": self.categories,
            "groups": self.groups,
            "n_failed": self.n_failed,
            "n_not_applicable": self.n_not_applicable,
        }


def _overall(cat_scores: dict[str, list[float]], categories: dict[str, dict[str, Any]]) -> float | None:
    num = den = 0.0
    for cat, scores in cat_scores.items():
        if scores:
            w = float(categories[cat].get("weight", 1.0))
            num += w * float(np.mean(scores))
            den += w
    return num / den if den else None


def category_weighted_mean(values: np.ndarray, cat_idx: np.ndarray, weights: np.ndarray, axis: int = -1) -> np.ndarray:
    """The overall score of each sample along ``axis``: the mean per category over the categories
    present in that sample, weighted by the categories' weights (``_overall``, vectorised)."""
    values, cat_idx = np.moveaxis(values, axis, -1), np.moveaxis(cat_idx, axis, -1)
    onehot = cat_idx[..., None] == np.arange(len(weights))  # ... x n x categories
    sums = (values[..., None] * onehot).sum(axis=-2)
    counts = onehot.sum(axis=-2)
    present = counts > 0
    means = np.divide(sums, counts, out=np.zeros_like(sums, dtype=float), where=present)
    return (means * weights * present).sum(axis=-1) / (weights * present).sum(axis=-1)


def bootstrap_overall(scored: list[tuple[str, float]], categories: dict[str, dict[str, Any]], n_boot: int = 1000,
                      seed: int = 0) -> tuple[float, float]:
    """Percentile bootstrap 95% interval of the overall score, resampling the scored metrics
    ((category, score) pairs) with scipy.stats.bootstrap."""
    from scipy.stats import bootstrap

    values = np.array([v for _, v in scored], dtype=float)
    if np.all(values == values[0]):  # one metric, or all equal: nothing to resample, the interval is the value
        return float(values[0]), float(values[0])
    cats = sorted({c for c, _ in scored})
    cat_idx = np.array([cats.index(c) for c, _ in scored], dtype=float)
    weights = np.array([float(categories[c].get("weight", 1.0)) for c in cats])
    res = bootstrap((values, cat_idx), lambda v, c, axis=-1: category_weighted_mean(v, c, weights, axis),
                    paired=True, vectorized=True, n_resamples=n_boot, method="percentile",
                    random_state=np.random.default_rng(seed))
    return float(res.confidence_interval.low), float(res.confidence_interval.high)


def score(metrics: Iterable[Metric], n_boot: int = 1000, seed: int = 0) -> Scorecard:
    groups, categories = load_thresholds()
    metrics = list(metrics)
    per_metric: dict[str, float | None] = {}
    by_cat: dict[str, list[float]] = defaultdict(list)
    by_group: dict[str, list[Metric]] = defaultdict(list)
    scored: list[tuple[str, float]] = []
    for m in metrics:
        t = groups.get(m.group)
        if t is None:
            raise KeyError(f"metric group '{m.group}' has no thresholds in metrics.yaml")
        s = t.score(m)
        per_metric[m.key] = s
        by_group[m.group].append(m)
        if s is not None and t.weight > 0:
            by_cat[t.category].append(s)
            scored.append((t.category, s))
    group_table = {}
    for g, ms in by_group.items():
        t = groups[g]
        errs = [abs(m.error) for m in ms if m.status == "ok" and m.error is not None]
        ss = [per_metric[m.key] for m in ms if per_metric[m.key] is not None]
        group_table[g] = {
            "category": t.category, "unit": t.unit, "n": len(errs),
            "n_failed": sum(m.status == "failed" for m in ms),
            "mae": float(np.mean(errs)) if errs else None,
            "score": float(np.mean(ss)) if ss else None, "weight": t.weight,
        }
    overall = _overall(by_cat, categories)
    ci = bootstrap_overall(scored, categories, n_boot, seed) if scored and n_boot else None
    return Scorecard(
        overall=overall,
        overall_ci=ci,
        categories={c: float(np.mean(v)) for c, v in by_cat.items() if v},
        groups=group_table,
        per_metric=per_metric,
        n_failed=sum(m.status == "failed" for m in metrics),
        n_not_applicable=sum(m.status == "not_applicable" for m in metrics),
    )
