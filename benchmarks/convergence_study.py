"""Twofold tightening of every task's numerical settings: the tables of docs/protocols.md
section 14.5.

    PYTHONPATH=src python benchmarks/convergence_study.py --model emt [--tasks bulk,surfaces] \
        [--phases Al,Cu] [--surface-tier quick] [--seed-store docs/results/quick/MODEL/results.sqlite] \
        [--json OUT.json]

For each setting (force threshold, strain, slab thickness and vacuum, fault-cell height,
solute cell size...) the task runs through its own code (``run_tasks``, the serial engine,
one temporary store so shared Jobs are computed once) at the shipped value and with the
setting tightened twofold (fmax halved with twice the steps, strain halved, thickness or
height or vacuum doubled, supercell of about twice the atoms); every metric present in
both runs is compared with ``alloybench.convergence.tolerance`` (0.5 %, or 1 meV,
1 meV/atom, 1 mJ/m^2, 0.05 GPa, whichever is larger).  Settings that are module constants
are changed for the run and restored; tasks with a settings dataclass get one.  Printed:
a Markdown table, one row per setting and item with its worst metric (largest change
against its tolerance) and how many of the item's metrics are not converged.

Adaptive settings (the slab-thickness ladder of surfaces, the cell-height ladder of
stacking faults) are tested at the value the shipped run chose for each facet or phase:
that rung alone, against twice it.
"""

from __future__ import annotations

import argparse
import contextlib
import functools
import json
import re
import shutil
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

import numpy as np
from ase import units

import alloybench.tasks.antisites as antisites
import alloybench.tasks.bulk as bulk
import alloybench.tasks.elastic as elastic
import alloybench.tasks.misfit as misfit
import alloybench.tasks.point_defects as point_defects
import alloybench.tasks.precipitate_gsf as precipitate_gsf
import alloybench.tasks.solute_fault as solute_fault
import alloybench.tasks.solutes as solutes
import alloybench.tasks.solution as solution
import alloybench.tasks.stacking_faults as stacking_faults
import alloybench.tasks.surfaces as surfaces
from alloybench.convergence import tolerance
from alloybench.engine.serial import single_threaded_blas
from alloybench.engine.subprocess import engine_for
from alloybench.jobs import Relax
from alloybench.models import resolve
from alloybench.reference import Reference, load_reference
from alloybench.runner import RunOutcome, run_tasks
from alloybench.store import Store
from alloybench.tasks.base import Metric, Task

Patch = tuple[object, dict]  # (module, {name: value}) set for one run


def tighter(relax: Relax) -> Relax:
    return replace(relax, fmax=relax.fmax / 2, max_steps=2 * relax.max_steps)


@contextlib.contextmanager
def patched(patches: list[Patch]) -> Iterator[None]:
    saved = [(mod, {k: getattr(mod, k) for k in values}) for mod, values in patches]
    try:
        for mod, values in patches:
            for k, v in values.items():
                setattr(mod, k, v)
        yield
    finally:
        for mod, values in reversed(saved):
            for k, v in values.items():
                setattr(mod, k, v)


@dataclass
class Variant:
    tasks: Callable[[], list[Task]]  # built inside the patches
    patches: list[Patch] = field(default_factory=list)
    tier: str = "standard"


@dataclass
class Row:
    task: str
    setting: str
    shipped: str
    tightened: str
    item: str
    metric: str
    unit: str
    value: float | None
    new: float | None
    change: float | None
    tol: float | None
    n_metrics: int
    n_bad: int
    seconds: float
    note: str = ""

    @property
    def verdict(self) -> str:
        if self.change is None:
            return f"not comparable{': ' + self.note if self.note else ''}"
        return "converged" if self.n_bad == 0 else f"**NOT converged** ({self.n_bad} of {self.n_metrics})"


class Study:
    def __init__(self, model, reference: Reference, store: Store, engine, quiet: bool = False):
        self.model, self.ref, self.store, self.engine, self.quiet = model, reference, store, engine, quiet
        self.rows: list[Row] = []
        self.details: list[dict] = []

    def run(self, variant: Variant) -> tuple[RunOutcome, float]:
        t0 = time.perf_counter()
        with patched(variant.patches):
            out = run_tasks(self.model, variant.tasks(), variant.tier, self.ref, self.store, self.engine)
        return out, time.perf_counter() - t0

    def compare(self, task: str, setting: str, shipped: str, tightened: str, base: Variant, tight: Variant,
                keep: Callable[[Metric], bool] = lambda m: True, extra: Callable | None = None) -> None:
        """Run both variants and add one row per item: its worst metric."""
        done = len(self.rows)
        a, ta = self.run(base)
        b, tb = self.run(tight)
        if not self.quiet:
            print(f"  {task}: {setting}: {ta:.0f} s + {tb:.0f} s", file=sys.stderr, flush=True)
        new = {(m.key, m.series, m.x): m for m in b.metrics}
        per_item: dict[str, list[tuple]] = {}
        for m in a.metrics:
            if not keep(m) or m.status == "not_applicable":
                continue
            n = new.get((m.key, m.series, m.x))
            label = m.name if m.x is None or m.name.endswith(f"{m.x:.2f}") else f"{m.name}@{m.x:g}"
            if m.value is None or n is None or n.value is None:
                reason = m.reason or (n.reason if n is not None else "absent")
                per_item.setdefault(m.item, []).append((np.inf, label, m, None, None, None, reason))
                continue
            tol = tolerance(m.unit, m.value)
            d = n.value - m.value
            per_item.setdefault(m.item, []).append((abs(d) / tol if tol else np.inf, label, m, n.value, d, tol, ""))
            self.details.append(dict(task=task, setting=setting, item=m.item, metric=label, unit=m.unit,
                                     value=m.value, tightened=n.value, change=d, tolerance=tol))
        for item, entries in per_item.items():
            comparable = [e for e in entries if e[4] is not None]
            bad = sum(1 for e in comparable if abs(e[4]) > e[5])
            worst = max(comparable, key=lambda e: e[0]) if comparable else entries[0]
            score, label, m, value, d, tol, note = worst
            self.rows.append(Row(task, setting, shipped, tightened, item, label, m.unit, m.value, value, d, tol,
                                 len(comparable), bad, ta + tb, note if not comparable else
                                 (f"{len(entries) - len(comparable)} not comparable" if len(entries) > len(comparable)
                                  else "")))
        if extra is not None:
            extra(self, task, setting, shipped, tightened, a, b, ta + tb)
        print("\n".join(table(self.rows[done:]).splitlines()[2:]), flush=True)  # kept if the run is stopped


# ------------------------------------------------------------------ per task

def residual_stress_rows(study: Study, task, setting, shipped, tightened, a: RunOutcome, b: RunOutcome, secs):
    """The largest residual stress component (MPa) each bulk relaxation leaves."""
    for name, r in sorted(a.views.get("bulk", {}).items()):
        r2 = b.views.get("bulk", {}).get(name)
        if r.stress is None or r2 is None or r2.stress is None:
            continue
        s1 = float(np.abs(r.stress).max() / units.GPa * 1000)
        s2 = float(np.abs(r2.stress).max() / units.GPa * 1000)
        study.rows.append(Row(task, setting, shipped, tightened, name.split("/")[-1], "largest residual stress component",
                              "MPa", s1, s2, s2 - s1, None, 1, 0, 0.0, "reported"))


def study_bulk(s: Study, ref: Reference) -> None:
    s.compare("bulk", "bulk relaxation fmax (eV/Å)", "1e-3 (1000 steps)", "5e-4 (2000)",
              Variant(lambda: [bulk.BulkTask()], tier="quick"),
              Variant(lambda: [bulk.BulkTask()], [(bulk, {"BULK_RELAX": tighter(bulk.BULK_RELAX)})], tier="quick"),
              extra=residual_stress_rows)


def study_elastic(s: Study, ref: Reference) -> None:
    main = lambda m: "@" not in m.name  # noqa: E731  scored +-0.5 % values (and moduli)
    s.compare("elastic", "elastic strain", "±0.5 %", "±0.25 %",
              Variant(lambda: [elastic.ElasticTask()], tier="quick"),
              Variant(lambda: [elastic.ElasticTask()], [(elastic, {"STRAIN": elastic.STRAIN / 2})], tier="quick"),
              keep=main)
    s.compare("elastic", "ion relaxation fmax (eV/Å)", "1e-5 BFGS", "5e-6 BFGS",
              Variant(lambda: [elastic.ElasticTask()], tier="quick"),
              Variant(lambda: [elastic.ElasticTask()], [(elastic, {"ION_RELAX": tighter(elastic.ION_RELAX)})],
                      tier="quick"), keep=main)


SURFACE_TIER = "standard"  # --surface-tier


def study_surfaces(s: Study, ref: Reference) -> None:
    shipped, _ = s.run(Variant(lambda: [surfaces.SurfaceTask()], tier=SURFACE_TIER))
    finals = {}
    for j in shipped.jobs:
        m = re.fullmatch(r"slab-unrelaxed/(\w+)/(\w+)/(\d+)", j.name)
        if m:
            finals[(m.group(1), m.group(2))] = int(m.group(3))
    slab = functools.partial
    for facet in surfaces.FACETS:
        n = finals.get((facet.phase, facet.label))
        if n is None:
            continue
        atoms = ref.phases[facet.phase].structure.to_structure().to_atoms()
        per = surfaces.unit_thickness(facet, *((bulk.fcc_lattice_constant(atoms),) if facet.lattice == "fcc"
                                               else surfaces.hcp_lattice_constants(atoms)))
        pin = lambda k, f=facet: {"FACETS": (f,), "THICKNESS_LADDER": (k * per,)}  # noqa: E731
        base = Variant(lambda: [surfaces.SurfaceTask()], [(surfaces, pin(n))], SURFACE_TIER)
        unit = "layers" if facet.lattice == "fcc" else "motifs"
        s.compare("surfaces", f"slab thickness ({unit})", str(n), str(2 * n), base,
                  Variant(lambda: [surfaces.SurfaceTask()], [(surfaces, pin(2 * n))], SURFACE_TIER))
        s.compare("surfaces", "vacuum (Å)", f"{surfaces.VACUUM:g}", f"{2 * surfaces.VACUUM:g}", base,
                  Variant(lambda: [surfaces.SurfaceTask()], [(surfaces, {
                      **pin(n), "fcc_slab": slab(surfaces.fcc_slab, vacuum=2 * surfaces.VACUUM),
                      "hcp_slab": slab(surfaces.hcp_slab, vacuum=2 * surfaces.VACUUM)})], SURFACE_TIER))
        s.compare("surfaces", "slab relaxation fmax (eV/Å)", "2e-3", "1e-3", base,
                  Variant(lambda: [surfaces.SurfaceTask()], [(surfaces, {**pin(n),
                                                                         "SLAB_RELAX": tighter(surfaces.SLAB_RELAX)})],
                          SURFACE_TIER))


def study_stacking_faults(s: Study, ref: Reference) -> None:
    shipped, _ = s.run(Variant(lambda: [stacking_faults.StackingFaultTask()], tier="quick"))
    heights: dict[str, int] = {}
    for j in shipped.jobs:  # the chosen height is the tallest one built (the ladder stops there)
        m = re.fullmatch(r"gsf/(\w+)/(\d+)/[\d.]+", j.name)
        if m:
            heights[m.group(1)] = max(heights.get(m.group(1), 0), int(m.group(2)))
    task = lambda: [stacking_faults.StackingFaultTask()]  # noqa: E731
    for phase, n in sorted(heights.items()):
        pin = lambda k, p=phase: {"PHASES": (p,), "HEIGHTS": (k,)}  # noqa: E731
        base = Variant(task, [(stacking_faults, pin(n))], tier="quick")
        s.compare("stacking_faults", "fault-cell height ((111) layers)", str(n), str(2 * n), base,
                  Variant(task, [(stacking_faults, pin(2 * n))], tier="quick"))
        s.compare("stacking_faults", "fault relaxation fmax (eV/Å)", "2e-3", "1e-3", base,
                  Variant(task, [(stacking_faults, {**pin(n), "FAULT_RELAX": tighter(stacking_faults.FAULT_RELAX)})],
                          tier="quick"))


def study_precipitate_gsf(s: Study, ref: Reference) -> None:
    task = lambda: [precipitate_gsf.PrecipitateGSFTask()]  # noqa: E731
    base = Variant(task)
    specs = tuple(replace(sp, zrepeats=2 * sp.zrepeats) for sp in precipitate_gsf.SPECS)
    s.compare("precipitate_gsf", "fault-cell height (base-cell repeats)", "8", "16", base,
              Variant(task, [(precipitate_gsf, {"SPECS": specs})]))
    s.compare("precipitate_gsf", "fault relaxation fmax (eV/Å)", "5e-3 (500 steps)", "2.5e-3 (1000)", base,
              Variant(task, [(precipitate_gsf, {"FAULT_FMAX": precipitate_gsf.FAULT_FMAX / 2,
                                                "FAULT_STEPS": 2 * precipitate_gsf.FAULT_STEPS})]))
    s.compare("precipitate_gsf", "pre-relaxation fmax (eV/Å)", "1e-3", "5e-4", base,
              Variant(task, [(precipitate_gsf, {"PRERELAX": tighter(precipitate_gsf.PRERELAX)})]))


BIGGER = (("Al", 5), ("Cu", 4))  # conventional cells per edge: 500 (x1.95) and 256 (x2.4) sites


SOLUTE_SHELLS: int | None = None  # --solute-shells: a sample (first shells, no clusters) where all is too dear


def study_solute_binding(s: Study, ref: Reference) -> None:
    sample = {} if SOLUTE_SHELLS is None else {"max_shells": SOLUTE_SHELLS, "clusters": False}
    S = functools.partial(solutes.SoluteSettings, **sample)
    base = Variant(lambda: [solutes.SoluteBindingTask(S())])
    s.compare("solute_binding", "solute cell (conventional cells per edge)", "Al 4, Cu 3", "Al 5, Cu 4", base,
              Variant(lambda: [solutes.SoluteBindingTask(S(repeats=BIGGER))]))
    s.compare("solute_binding", "solute relaxation fmax (eV/Å)", "2e-3", "1e-3", base,
              Variant(lambda: [solutes.SoluteBindingTask(S(relax=tighter(solutes.SOLUTE_RELAX)))]))


def study_misfit(s: Study, ref: Reference) -> None:
    S = misfit.MisfitSettings
    base = Variant(lambda: [misfit.MisfitVolumeTask()])
    s.compare("misfit_volume", "solute cell (conventional cells per edge)", "Al 4, Cu 3", "Al 5, Cu 4", base,
              Variant(lambda: [misfit.MisfitVolumeTask(S(repeats=BIGGER))]))
    s.compare("misfit_volume", "cell relaxation fmax (eV/Å)", "1e-4", "5e-5", base,
              Variant(lambda: [misfit.MisfitVolumeTask(S(cell_relax=tighter(misfit.CELL_RELAX)))]))
    s.compare("misfit_volume", "fixed-cell relaxation fmax (eV/Å)", "1e-3", "5e-4", base,
              Variant(lambda: [misfit.MisfitVolumeTask(S(fixed_relax=tighter(misfit.FIXED_RELAX)))]))
    s.compare("misfit_volume", "bulk-modulus strain", "±0.5 %", "±0.25 %", base,
              Variant(lambda: [misfit.MisfitVolumeTask()], [(misfit, {"BULK_STRAIN": misfit.BULK_STRAIN / 2})]))


def study_solute_fault(s: Study, ref: Reference) -> None:
    S = solute_fault.SoluteFaultSettings
    base = Variant(lambda: [solute_fault.SoluteFaultTask()])
    s.compare("solute_fault", "fault-cell height (ABC periods)", "3", "6", base,
              Variant(lambda: [solute_fault.SoluteFaultTask(S(periods=6))]))
    s.compare("solute_fault", "fault-cell width (in-plane repeats)", "Al 4, Cu 3", "Al 6, Cu 4 (area x2.25, x1.8)",
              base, Variant(lambda: [solute_fault.SoluteFaultTask(S(inplane=(("Al", 6), ("Cu", 4))))]))
    s.compare("solute_fault", "fault relaxation fmax (eV/Å)", "1e-3", "5e-4", base,
              Variant(lambda: [solute_fault.SoluteFaultTask(S(relax=tighter(solute_fault.FAULT_RELAX)))]))


def study_solution(s: Study, ref: Reference) -> None:
    task = lambda: [solution.SolutionEnergyTask()]  # noqa: E731
    base = Variant(task)
    s.compare("solution", "solute cell (conventional cells per edge)", "4", "5", base,
              Variant(task, [(solution, {"CELL_REPEATS": 5})]))
    s.compare("solution", "solute relaxation fmax (eV/Å)", "2e-3", "1e-3", base,
              Variant(task, [(solution, {"SOLUTE_RELAX": tighter(solution.SOLUTE_RELAX)})]))


def study_antisites(s: Study, ref: Reference) -> None:
    task = lambda: [antisites.AntisiteTask()]  # noqa: E731
    s.compare("antisites", "supercell (target sites)", str(antisites.TARGET_SITES), str(2 * antisites.TARGET_SITES),
              Variant(task), Variant(task, [(antisites, {"supercell_repeats": functools.partial(
                  antisites.supercell_repeats, target=2 * antisites.TARGET_SITES)})]))


def study_vacancy(s: Study, ref: Reference) -> None:
    task = lambda: [point_defects.VacancyTask()]  # noqa: E731
    s.compare("vacancy", "vacancy relaxation fmax (eV/Å)", "2e-3", "1e-3", Variant(task, tier="standard"),
              Variant(task, [(point_defects, {"VACANCY_RELAX": tighter(point_defects.VACANCY_RELAX)})], tier="standard"))  # standard: with the 256-site cells


def study_cohesive(s: Study, ref: Reference) -> None:
    task = lambda: [point_defects.CohesiveTask()]  # noqa: E731
    s.compare("cohesive", "isolated-atom box (Å)", f"{point_defects.ATOM_BOX:g}", f"{2 * point_defects.ATOM_BOX:g}",
              Variant(task, tier="quick"),
              Variant(task, [(point_defects, {"isolated_atom_job": functools.partial(
                  point_defects.isolated_atom_job, box=2 * point_defects.ATOM_BOX)})], tier="quick"))


def study_misfit_proposal(s: Study, ref: Reference) -> None:
    """The candidate misfit-2 settings (fixed-cell fmax 1e-3, cell fmax 5e-5), each tightened twofold again."""
    S = misfit.MisfitSettings
    fixed = replace(solutes.SOLUTE_RELAX, fmax=1e-3, max_steps=2 * solutes.SOLUTE_RELAX.max_steps)
    cell = tighter(misfit.CELL_RELAX)
    base = Variant(lambda: [misfit.MisfitVolumeTask(S(fixed_relax=fixed, cell_relax=cell))])
    s.compare("misfit_volume", "fixed-cell fmax, from the candidate 1e-3 (eV/Å)", "1e-3", "5e-4", base,
              Variant(lambda: [misfit.MisfitVolumeTask(S(fixed_relax=tighter(fixed), cell_relax=cell))]))
    s.compare("misfit_volume", "cell fmax, from the candidate 5e-5 (eV/Å)", "5e-5", "2.5e-5", base,
              Variant(lambda: [misfit.MisfitVolumeTask(S(fixed_relax=fixed, cell_relax=tighter(cell)))]))


def study_misfit_lbfgs(s: Study, ref: Reference) -> None:
    """misfit-2 candidates with L-BFGS (#20): fixed-cell 1e-3, and the cell relaxation with L-BFGS at
    1e-4 instead of FIRE, each tightened twofold."""
    S = misfit.MisfitSettings
    fixed = replace(solutes.SOLUTE_RELAX, fmax=1e-3, max_steps=2 * solutes.SOLUTE_RELAX.max_steps)
    cell = replace(misfit.CELL_RELAX, optimizer="LBFGS")
    base = Variant(lambda: [misfit.MisfitVolumeTask(S(fixed_relax=fixed, cell_relax=cell))])
    s.compare("misfit_volume", "fixed-cell L-BFGS fmax (eV/Å)", "1e-3", "5e-4", base,
              Variant(lambda: [misfit.MisfitVolumeTask(S(fixed_relax=tighter(fixed), cell_relax=cell))]))
    s.compare("misfit_volume", "cell L-BFGS fmax (eV/Å)", "1e-4", "5e-5", base,
              Variant(lambda: [misfit.MisfitVolumeTask(S(fixed_relax=fixed, cell_relax=tighter(cell)))]))


STUDIES: dict[str, Callable[[Study, Reference], None]] = {
    "bulk": study_bulk, "elastic": study_elastic, "surfaces": study_surfaces, "stacking_faults": study_stacking_faults,
    "precipitate_gsf": study_precipitate_gsf, "solute_binding": study_solute_binding, "misfit_volume": study_misfit,
    "solute_fault": study_solute_fault, "solution": study_solution, "antisites": study_antisites,
    "vacancy": study_vacancy, "cohesive": study_cohesive, "misfit_proposal": study_misfit_proposal,
    "misfit_lbfgs": study_misfit_lbfgs,
}


def fmt(x: float | None, unit: str = "") -> str:
    if x is None:
        return "–"
    return f"{x:.4g}" + (f" {unit}" if unit else "")


def table(rows: list[Row]) -> str:
    head = ["task", "setting", "shipped", "tightened", "item", "worst metric", "shipped value", "tightened value",
            "change", "tolerance", "verdict"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for r in rows:
        change = "–" if r.change is None else f"{r.change:+.3g}"
        verdict = "reported" if r.note == "reported" else r.verdict
        lines.append("| " + " | ".join([r.task, r.setting, r.shipped, r.tightened, r.item, f"{r.metric} ({r.unit})",
                                        fmt(r.value), fmt(r.new), change, fmt(r.tol), verdict]) + " |")
    return "\n".join(lines)


def summary(rows: list[Row]) -> str:
    """One row per setting: its worst item and metric, and how many compared metrics are not converged."""
    head = ["task", "setting", "shipped", "tightened", "worst item: metric", "shipped value", "change",
            "tolerance", "verdict"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    groups: dict[tuple, list[Row]] = {}
    for r in rows:
        groups.setdefault((r.task, r.setting), []).append(r)
    for (task, setting), rs in groups.items():
        scored = [r for r in rs if r.note != "reported" and r.change is not None]
        reported = [r for r in rs if r.note == "reported"]
        if scored:
            w = max(scored, key=lambda r: abs(r.change) / r.tol if r.tol else np.inf)
            bad, total = sum(r.n_bad for r in scored), sum(r.n_metrics for r in scored)
            verdict = "converged" if not bad else f"**NOT converged** ({bad} of {total} metrics)"
            lines.append("| " + " | ".join([task, setting, w.shipped, w.tightened, f"{w.item}: {w.metric}",
                                            f"{fmt(w.value)} {w.unit}", f"{w.change:+.3g}", fmt(w.tol),
                                            f"{verdict}; {total} metrics"]) + " |")
        if reported:
            w = max(reported, key=lambda r: r.value)
            lines.append("| " + " | ".join([task, setting, w.shipped, w.tightened, f"{w.item}: {w.metric}",
                                            f"{fmt(w.value)} {w.unit}", f"→ {fmt(w.new)}", "–",
                                            "reported (largest over items)"]) + " |")
        for r in rs:
            if r.change is None and r.note != "reported":
                lines.append("| " + " | ".join([task, setting, r.shipped, r.tightened, f"{r.item}: {r.metric}",
                                                "–", "–", "–", r.verdict]) + " |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--model", default="emt")
    p.add_argument("--tasks", default=",".join(STUDIES), help=f"comma-separated, of {', '.join(STUDIES)}")
    p.add_argument("--phases", default=None, help="reference phases for elastic (default: all)")
    p.add_argument("--json", default=None, help="also write every compared metric here")
    p.add_argument("--surface-tier", default="standard", choices=("quick", "standard"),
                   help="quick: fcc facets only (the task's quick tier)")
    p.add_argument("--solute-shells", type=int, default=None,
                   help="solute_binding: only the first N shells of each pair, no clusters (default: all)")
    p.add_argument("--seed-store", default=None,
                   help="a results.sqlite of the same model (e.g. docs/results/quick/MODEL): copied, its Jobs reused")
    p.add_argument("--quiet", action="store_true")
    p.add_argument("--render", default=None, help="print the summary table of a --json file and stop")
    args = p.parse_args(argv)
    if args.render:
        print(summary([Row(**r) for r in json.loads(Path(args.render).read_text())["rows"]]))
        return
    names = args.tasks.split(",")
    unknown = sorted(set(names) - set(STUDIES))
    if unknown:
        p.error(f"unknown tasks {unknown}; choose from {', '.join(STUDIES)}")
    model = resolve(args.model)
    engine = engine_for(model, load=True)
    single_threaded_blas()
    full = load_reference()
    global SURFACE_TIER, SOLUTE_SHELLS
    SURFACE_TIER, SOLUTE_SHELLS = args.surface_tier, args.solute_shells
    t0 = time.perf_counter()
    print(f"model {model.name}, tasks {args.tasks}\n\n" + table([]), flush=True)
    with tempfile.TemporaryDirectory() as tmp:
        if args.seed_store:  # a copy: the shipped-setting Jobs it holds are reused, the file is left as it is
            shutil.copyfile(args.seed_store, Path(tmp) / "results.sqlite")
        store = Store(Path(tmp) / "results.sqlite")
        with store:
            study = Study(model, full, store, engine, args.quiet)
            for name in names:
                ref = full
                if args.phases and name == "elastic":
                    ref = full.model_copy(update={"phases": {k: v for k, v in full.phases.items()
                                                             if k in args.phases.split(",")}})
                study.ref = ref
                STUDIES[name](study, ref)
                study.ref = full
                if args.json:
                    Path(args.json).write_text(json.dumps({"rows": [asdict(r) for r in study.rows],
                                                           "metrics": study.details}, indent=1, default=float))
    getattr(engine, "close", lambda: None)()
    print(f"\n{time.perf_counter() - t0:.0f} s wall\n\n" + summary(study.rows))


if __name__ == "__main__":
    main()
