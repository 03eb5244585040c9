"""What a task is: a pure description of Jobs plus an analysis of their Results.

A task never calls a calculator.  ``build`` is called repeatedly with the
results known so far and returns every Job it needs given those results
(for example strained cells once the relaxed cell is known); the runner stops
when a round adds no Job that is not already stored.  ``analyse`` turns the
results into Metrics compared with the reference.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

from alloybench.jobs import Job, Result
from alloybench.reference import Reference

Tier = Literal["quick", "standard", "full"]
TIERS: tuple[Tier, ...] = ("quick", "standard", "full")
Status = Literal["ok", "failed", "not_applicable"]


@dataclass(frozen=True)
class Context:
    """Everything a task may depend on besides results."""

    reference: Reference
    tier: Tier
    elements: frozenset[str] | None  # None: the model claims every element

    def covers(self, elements: frozenset[str] | set[str]) -> bool:
        return self.elements is None or set(elements) <= self.elements

    def missing(self, elements: frozenset[str] | set[str]) -> list[str]:
        if self.elements is None:
            return []
        return sorted(set(elements) - self.elements)


@dataclass(frozen=True)
class Metric:
    """One compared quantity.  ``group`` selects the thresholds in
    scoring/metrics.yaml; ``series``/``x`` place curve points (GSF, shells)."""

    task: str
    item: str
    name: str
    group: str
    unit: str
    value: float | None
    reference: float | None
    source: str = ""
    status: Status = "ok"
    reason: str = ""
    series: str = ""
    x: float | None = None
    flag: str = ""  # a caveat on an ok value (unconverged relaxation accepted, strain-dependent): still scored

    @property
    def key(self) -> str:
        return f"{self.task}/{self.item}/{self.name}"

    @property
    def error(self) -> float | None:
        if self.value is None or self.reference is None:
            return None
        return self.value - self.reference

    def to_dict(self) -> dict[str, Any]:
        return {
            "task": self.task,
            "item": self.item,
            "name": self.name,
            "group": self.group,
            "unit": self.unit,
            "value": self.value,
            "reference": self.reference,
            "error": self.error,
            "source": self.source,
            "status": self.status,
            "reason": self.reason,
            "series": self.series,
            "x": self.x,
            "flag": self.flag,
        }

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> "Metric":
        """A Metric from its to_dict (or a results.json entry, which adds error and score)."""
        return cls(**{k: v for k, v in d.items() if k in cls.__dataclass_fields__})


class Task(ABC):
    """Subclasses set these class attributes."""

    name: str = ""
    title: str = ""
    computes: str = ""
    reference_source: str = ""
    tier: Tier = "quick"  # cheapest tier that includes this task
    protocol: str = "1"  # bump when the protocol changes: old results then no longer match (a change of
    # a Job's Relax alone, e.g. its optimiser, changes its digest already: no bump is needed for that)
    x_label: str = ""  # what x means on this task's curves (metrics with series and x), with its unit
    curve_reference_note: str = ""  # how curve_references places its points, for the figure's caption

    def acceptance_bound(self, job: Job) -> float | None:
        """A looser residual-force bound (eV/Å) than policy's 5 x fmax for a stopped relaxation of
        ``job``, where this task has measured that its numbers stay converged at it; None: the
        general rule.  Read by policy.bound when results are read, so it never enters a Job digest."""
        return None

    def curve_references(self, metrics: list[Mapping[str, Any]]) -> list[dict[str, Any]]:
        """DFT points to draw on this task's curves besides the metrics' own references, from metric dicts
        (results.json): ``{"series", "x", "value", "unit", "item", "label"}``.  Default: none."""
        return []

    @abstractmethod
    def build(self, ctx: Context, results: Mapping[str, Result]) -> list[Job]:
        """All Jobs needed given ``results`` (job name -> Result) known so far."""

    @abstractmethod
    def analyse(self, ctx: Context, results: Mapping[str, Result]) -> list[Metric]:
        """Metrics for every reference item: ok, failed or not_applicable."""


def outcome_metric(task: str, item: str, name: str, group: str, unit: str, value: float | None,
                   reference: float | None, source: str = "", missing: list[str] | tuple[str, ...] = (),
                   reason: str = "", flag: str = "") -> Metric:
    """The Metric of one compared quantity: not applicable when the model lacks an element
    (``missing``), ok when ``value`` is known, else failed with ``reason``."""
    if missing:
        return Metric(task, item, name, group, unit, None, reference, source, "not_applicable",
                      f"model lacks {', '.join(missing)}")
    if value is not None:
        return Metric(task, item, name, group, unit, value, reference, source, flag=flag)
    return Metric(task, item, name, group, unit, None, reference, source, "failed", reason)


def failed_reason(results: Mapping[str, Result], names: list[str]) -> str | None:
    """The first reason why one of ``names`` is missing or failed, else None."""
    for n in names:
        r = results.get(n)
        if r is None:
            return f"{n}: not computed"
        if not r.ok:
            return f"{n}: {r.stage}: {r.reason}"
    return None
