"""Cost on one footing: the figures of ``alloybench cost`` (cost.json), never run wall times.

A run's wall time depends on its machine, its engine, whether it shared a GPU and how
much of it came from a resumed store: it stays in the tables with its device but is
never plotted against accuracy.  The accuracy-vs-cost plot uses the cost document
that ``alloybench cost`` writes (``doc["cost"]``, or DIR/cost.json beside
results.json): the median time of one energy+forces+stress call divided by the
atoms in the cell (µs per atom per step) on fcc Al, at the largest cell that every
compared model measured (per-atom cost depends on the cell: on a CPU it grows with it,
on a GPU it falls), and the peak memory.  Points are compared only when measured on one machine
(:func:`footing`): the host most of the cost documents come from.  Models without
a cost document, or measured elsewhere, are listed as such.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class CostPoint:
    device: str  # "cuda", "cpu", ...
    device_name: str  # "NVIDIA H200", a CPU model
    host: str  # platform string and CPU count of the machine
    threads: int | None
    us_per_atom_step: float  # µs per atom per energy+forces+stress call
    n_atoms: int  # cell size that figure is from
    memory_mib: float | None  # GPU peak allocated on CUDA, else peak RSS
    memory_kind: str
    md_steps_per_second: float | None
    md_atoms: int | None
    date: str

    @property
    def label(self) -> str:
        return f"{self.device_name or self.device}"


def _rows(doc: dict[str, Any]) -> list[dict[str, Any]]:
    return [r for r in (doc.get("cost") or {}).get("single_point") or [] if r.get("microseconds_per_atom")]


def cost_point(doc: dict[str, Any], n_atoms: int | None = None) -> CostPoint | None:
    """The cost figure of one results document at ``n_atoms`` (default: its largest cell measured),
    or None when it has no usable cost document or no row at that size."""
    c = doc.get("cost") or {}
    rows = _rows(doc)
    if n_atoms is not None:
        rows = [r for r in rows if r["n_atoms"] == n_atoms]
    if not rows:
        return None
    best = max(rows, key=lambda r: r["n_atoms"])
    mem = c.get("memory") or {}
    if mem.get("gpu_max_allocated_mib") is not None and str(c.get("device", "")).startswith("cuda"):
        memory, kind = mem["gpu_max_allocated_mib"], "GPU peak allocated"
    else:
        memory, kind = mem.get("rss_peak_mib"), "peak RSS"
    host = c.get("host") or {}
    md = c.get("md") or {}
    return CostPoint(device=str(c.get("device", "")), device_name=str(c.get("device_name") or c.get("device", "")),
                     host=f"{host.get('platform', '?')} ({host.get('cpus', '?')} CPUs)",
                     threads=c.get("threads"), us_per_atom_step=float(best["microseconds_per_atom"]),
                     n_atoms=int(best["n_atoms"]), memory_mib=None if memory is None else float(memory),
                     memory_kind=kind, md_steps_per_second=md.get("steps_per_second"), md_atoms=md.get("n_atoms"),
                     date=str(c.get("date", "")))


@dataclass(frozen=True)
class Footing:
    host: str | None  # the machine every plotted point was measured on
    points: dict[int, CostPoint]  # document index -> point on that machine
    elsewhere: dict[int, CostPoint]  # measured, but on another machine
    missing: list[int]  # no cost document
    n_atoms: int | None = None  # the one cell size every point on that machine is taken at (None: each its largest)


def footing(docs: Sequence[dict[str, Any]]) -> Footing:
    pts = {i: p for i, d in enumerate(docs) if (p := cost_point(d)) is not None}
    missing = [i for i in range(len(docs)) if i not in pts]
    if not pts:
        return Footing(None, {}, {}, missing)
    host = Counter(p.host for p in pts.values()).most_common(1)[0][0]
    here = {i: p for i, p in pts.items() if p.host == host}
    # one cell size for every compared model: the largest that all of them measured
    common = set.intersection(*({r["n_atoms"] for r in _rows(docs[i])} for i in here))
    n = max(common) if common else None
    if n is not None:
        here = {i: cost_point(docs[i], n) for i in here}
    return Footing(host, here, {i: p for i, p in pts.items() if p.host != host}, missing, n)


def run_seconds(doc: dict[str, Any]) -> tuple[float | None, int | None]:
    """(engine seconds summed over every Job of the model, Jobs): from the store's per-task times."""
    t = doc.get("timing") or {}
    per = t.get("per_task") or {}
    if per:
        return sum(float(v[1]) for v in per.values()), sum(int(v[0]) for v in per.values())
    jobs = int(t.get("computed") or 0) + int(t.get("reused") or 0) or None
    return (None if t.get("wall_seconds") is None else float(t["wall_seconds"])), jobs


def cost_command(doc: dict[str, Any], directory: str, device: str = "cuda") -> str:
    """The command that measures a model's cost figure into DIRECTORY/cost.json (a separate store folder first,
    so the published results folder does not gain a store without runs)."""
    run = doc.get("run") or {}
    spec = run.get("model_spec") or doc["model"].get("name", "")
    name = directory.rstrip("/").split("/")[-1]
    dev = "cpu" if str((doc.get("timing") or {}).get("device", "")) == "cpu" and doc["model"].get("family") in (
        "lammps", "kim", "eam", "classical") else device
    return (f"alloybench cost --model '{spec}' --device {dev} --out /tmp/cost/{name} "
            f"&& cp /tmp/cost/{name}/cost.json {directory.rstrip('/')}/cost.json")


__all__ = ["CostPoint", "Footing", "cost_command", "cost_point", "footing", "run_seconds"]
