"""Fitness for purpose and coverage: what a metallurgist decides from.

Pure functions of results.json documents (``alloybench.report.results_document``)
and of the ``verdicts`` / ``applications`` sections of ``scoring/metrics.yaml``:

- :func:`assess` gives each model, for each application (plasticity,
  precipitation, clustering and diffusion), a score, a verdict (good / usable /
  poor / very poor, or "not covered") and the components and metric keys
  behind it;
- :func:`coverage` says what a model was scored on (elements, tasks, metrics);
- :func:`scopes` splits the models into universal ones (every element of the
  reference system) and subsystem ones, and :func:`subset_ranking` ranks a
  subsystem's models against the universal models on exactly the metrics the
  subsystem models were scored on, never mixing the two silently.

Nothing here knows a task by name: the applications file does.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from importlib import resources
from typing import Any

import numpy as np
import yaml

from alloybench.scoring import bootstrap_overall, load_thresholds, score
from alloybench.tasks.base import Metric

SYSTEM: tuple[str, ...] = ("Al", "Cu", "Mg", "Zn")  # the reference study's alloy system
NOT_COVERED = "not covered"


@dataclass(frozen=True)
class Component:
    name: str
    title: str
    task: str | None = None
    group: str | None = None
    item: str | None = None  # regular expression (re.search) on Metric.item
    quantity: str | None = None  # regular expression on Metric.name

    def selects(self, m: dict[str, Any]) -> bool:
        return ((self.task is None or m["task"] == self.task)
                and (self.group is None or m["group"] == self.group)
                and (self.item is None or re.search(self.item, str(m["item"])) is not None)
                and (self.quantity is None or re.search(self.quantity, str(m["name"])) is not None))


@dataclass(frozen=True)
class Application:
    name: str
    title: str
    question: str
    components: tuple[Component, ...]


@dataclass(frozen=True)
class Level:
    name: str
    min_score: float
    min_component: float
    meaning: str


@lru_cache(maxsize=None)
def load_applications() -> tuple[tuple[Application, ...], tuple[Level, ...]]:
    """The applications and verdict levels of scoring/metrics.yaml (best level first)."""
    data = yaml.safe_load(resources.files("alloybench.scoring").joinpath("metrics.yaml").read_text())
    levels = tuple(Level(name=v["name"], min_score=float(v["min_score"]), min_component=float(v["min_component"]),
                         meaning=v.get("meaning", "")) for v in data.get("verdicts") or [])
    if levels and (any(a.min_score < b.min_score for a, b in zip(levels, levels[1:])) or levels[-1].min_score > 0):
        raise ValueError("metrics.yaml verdicts: min_score must decrease and end at 0")
    apps = []
    for name, spec in (data.get("applications") or {}).items():
        comps = []
        for c in spec["components"]:
            unknown = set(c) - {"name", "title", "task", "group", "item", "quantity"}
            if unknown:
                raise ValueError(f"metrics.yaml application {name}: unknown component keys {sorted(unknown)}")
            comps.append(Component(**c))
        apps.append(Application(name=name, title=spec.get("title", name), question=spec.get("question", ""),
                                components=tuple(comps)))
    return tuple(apps), levels


def scored(m: dict[str, Any]) -> bool:
    """A metric that counts in the scores: it has a score and its group has a weight."""
    groups, _ = load_thresholds()
    t = groups.get(m["group"])
    return m.get("score") is not None and t is not None and t.weight > 0


def metric_key(m: dict[str, Any]) -> str:
    return f"{m['task']}/{m['item']}/{m['name']}"


# --------------------------------------------------------------- applications
@dataclass
class ComponentResult:
    component: Component
    score: float | None  # None: nothing scored
    n: int  # scored metrics
    n_failed: int
    keys: list[str] = field(default_factory=list)
    available: bool = True  # some model in the report has a scored metric here


@dataclass
class Verdict:
    application: Application
    score: float | None
    verdict: str  # a Level name, or NOT_COVERED
    components: list[ComponentResult]
    limited_by: str | None = None  # the component that lowered the verdict below what the score reaches

    @property
    def covered(self) -> int:
        return sum(c.score is not None for c in self.components if c.available)

    @property
    def available(self) -> int:
        return sum(c.available for c in self.components)

    @property
    def partial(self) -> bool:
        return 0 < self.covered < self.available

    def to_dict(self) -> dict[str, Any]:
        return {"application": self.application.name, "score": self.score, "verdict": self.verdict,
                "covered": self.covered, "available": self.available, "limited_by": self.limited_by,
                "components": {c.component.name: {"score": c.score, "n": c.n, "n_failed": c.n_failed,
                                                  "available": c.available} for c in self.components}}


def verdict_for(app_score: float | None, component_scores: Sequence[float], levels: Sequence[Level]) -> tuple[str, str | None]:
    """(verdict, None or 'weakest component') for an application score and its components' scores."""
    if app_score is None:
        return NOT_COVERED, None
    by_score = next((lv for lv in levels if app_score >= lv.min_score), levels[-1])
    worst = min(component_scores) if component_scores else 1.0
    final = next((lv for lv in levels if app_score >= lv.min_score and worst >= lv.min_component), levels[-1])
    return final.name, ("weakest" if final is not by_score else None)


def assess(docs: Sequence[dict[str, Any]]) -> list[list[Verdict]]:
    """For each document, one Verdict per application (in metrics.yaml order)."""
    apps, levels = load_applications()
    available = {(a.name, c.name): False for a in apps for c in a.components}
    per_doc: list[list[Verdict]] = []
    for d in docs:
        metrics = [m for m in d["metrics"] if scored(m)]
        verdicts = []
        for app in apps:
            comps = []
            for c in app.components:
                hit = [m for m in metrics if c.selects(m)]
                s = float(np.mean([m["score"] for m in hit])) if hit else None
                if hit:
                    available[(app.name, c.name)] = True
                comps.append(ComponentResult(c, s, len(hit), sum(m["status"] == "failed" for m in hit),
                                             [metric_key(m) for m in hit]))
            verdicts.append(Verdict(app, None, NOT_COVERED, comps))
        per_doc.append(verdicts)
    for verdicts in per_doc:
        for v in verdicts:
            for c in v.components:
                c.available = available[(v.application.name, c.component.name)]
            got = [c.score for c in v.components if c.available and c.score is not None]
            v.score = float(np.mean(got)) if got else None
            v.verdict, limited = verdict_for(v.score, got, levels)
            if limited:
                weakest = min((c for c in v.components if c.available and c.score is not None), key=lambda c: c.score)
                v.limited_by = weakest.component.title
    return per_doc


# ------------------------------------------------------------------ coverage
def elements_of(doc: dict[str, Any]) -> tuple[str, ...]:
    """The reference-system elements the model was run on (all four when the run set none)."""
    chosen = (doc.get("run") or {}).get("elements")
    return tuple(e for e in SYSTEM if not chosen or e in chosen)


@dataclass
class Coverage:
    elements: tuple[str, ...]
    tasks_scored: int
    tasks_total: int
    metrics_scored: int
    metrics_total: int

    @property
    def scope(self) -> str:
        return "Al–Cu–Mg–Zn" if len(self.elements) == len(SYSTEM) else "–".join(self.elements)

    @property
    def universal(self) -> bool:
        return len(self.elements) == len(SYSTEM)

    def to_dict(self) -> dict[str, Any]:
        return {"elements": list(self.elements), "scope": self.scope, "tasks_scored": self.tasks_scored,
                "tasks_total": self.tasks_total, "metrics_scored": self.metrics_scored,
                "metrics_total": self.metrics_total}


def coverage(docs: Sequence[dict[str, Any]]) -> list[Coverage]:
    """Per document: its elements, tasks with a scored metric, scored metrics, out of what any model in
    ``docs`` was scored on."""
    all_keys = {metric_key(m) for d in docs for m in d["metrics"] if scored(m)}
    all_tasks = {m["task"] for d in docs for m in d["metrics"] if scored(m)}
    out = []
    for d in docs:
        mine = [m for m in d["metrics"] if scored(m)]
        out.append(Coverage(elements_of(d), len({m["task"] for m in mine}), len(all_tasks),
                            len({metric_key(m) for m in mine}), len(all_keys)))
    return out


def scopes(docs: Sequence[dict[str, Any]]) -> tuple[list[int], dict[tuple[str, ...], list[int]]]:
    """(indices of universal models, {subsystem elements: indices of its models}), subsystems smallest first."""
    universal: list[int] = []
    sub: dict[tuple[str, ...], list[int]] = {}
    for i, d in enumerate(docs):
        els = elements_of(d)
        if len(els) == len(SYSTEM):
            universal.append(i)
        else:
            sub.setdefault(els, []).append(i)
    return universal, dict(sorted(sub.items(), key=lambda kv: (len(kv[0]), kv[0])))


@dataclass
class SubsetRow:
    index: int  # document index
    overall: float | None
    ci95: tuple[float, float] | None
    n: int  # metrics of the subset this model was scored on
    subsystem_model: bool


def subset_score(doc: dict[str, Any], keys: set[str], n_boot: int = 1000, seed: int = 0
                 ) -> tuple[float | None, tuple[float, float] | None, int]:
    """The overall score (category-weighted, as alloybench.scoring.score) of ``doc`` on the metric keys
    ``keys`` only, its bootstrap 95% interval (resampling the metrics: scoring.bootstrap_overall) and the count used."""
    groups, categories = load_thresholds()
    ms = [Metric.from_dict({k: m[k] for k in ("task", "item", "name", "group", "unit", "value", "reference",
                                               "source", "status", "reason", "series", "x") if k in m})
          for m in doc["metrics"] if metric_key(m) in keys]
    card = score(ms, n_boot=0)
    pairs = [(groups[m.group].category, card.per_metric[m.key]) for m in ms
             if card.per_metric.get(m.key) is not None and groups[m.group].weight > 0]
    if not pairs or not n_boot:
        return card.overall, None, len(pairs)
    return card.overall, bootstrap_overall(pairs, categories, n_boot, seed), len(pairs)


def subset_ranking(docs: Sequence[dict[str, Any]], members: Sequence[int], universal: Sequence[int]
                   ) -> tuple[int, list[SubsetRow]]:
    """Rank the subsystem models ``members`` and the universal models on the metrics the subsystem models were
    scored on (their union); returns (number of metrics in the subset, rows best first)."""
    keys = {metric_key(m) for i in members for m in docs[i]["metrics"] if scored(m)}
    rows = []
    for i in list(members) + [u for u in universal if u not in members]:
        overall, ci, n = subset_score(docs[i], keys)
        rows.append(SubsetRow(i, overall, ci, n, i in members))
    rows.sort(key=lambda r: -(r.overall if r.overall is not None else -1.0))
    return len(keys), rows


__all__ = ["Application", "Component", "Coverage", "Level", "NOT_COVERED", "SYSTEM", "SubsetRow", "Verdict",
           "assess", "coverage", "elements_of", "load_applications", "metric_key", "scopes", "scored",
           "subset_ranking", "subset_score", "verdict_for"]
