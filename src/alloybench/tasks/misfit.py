"""Misfit volumes of solutes and the vacancy: Cu, Mg, Zn, Si and Vac in Al
(``8100-MisfitVol_X``, ``8100-PressureMisfitVol_X``) and Al in Cu
(``635950-MisfitVol_Al``), Å^3.

The public port of the reference suite (ml-peg, ``ml_peg/calcs/alloy_metallurgy/``)
does not compute misfit volumes; the two reference families are read as:

* ``MisfitVol`` (relaxed cell): ``dV = V[cell with one X, cell and positions
  relaxed at zero pressure] - V[pure cell relaxed the same way]``, the same
  number of lattice sites in both (for the vacancy: N - 1 atoms against N, so
  dV is the vacancy's relaxation volume, negative).  Cell relaxed
  hydrostatically (xx, yy, zz; the cubic cell keeps its shape) to a cell
  force of 1e-4 eV/Å with L-BFGS (UnitCellFilter with that mask: that is a residual
  stress below ~6e-6 eV/Å^3, ~0.05 Å^3 in dV for 256 sites); the pure cell goes through
  the same protocol so residual errors of the bulk relaxation cancel.  misfit-1 used
  FIRE here, which stopped short: the vacancy's dV moved 3.5 % when its fmax was halved;
  with L-BFGS halving it moves dV by <= 0.35 % (docs/protocols.md 14.6).
* ``PressureMisfitVol``: ``dV = V (p[X] - p[pure]) / B`` with the pressure
  p = -tr(sigma)/3 of the cell with X at the host's fixed lattice (positions
  relaxed with L-BFGS to 1e-3 eV/Å: tighter than ``solute_binding``'s 2e-3, which moved
  the vacancy's value 3.5 % when halved (misfit-1); at 1e-3 halving moves it 0.2 %), V the
  cell volume and B the model's bulk modulus of the host, -V dp/dV from
  +-0.5 % hydrostatic strain of the conventional cell.  In linear elasticity
  both definitions agree; the reference's two values differ by up to 2 Å^3,
  so both are scored.  Positive dV: the solute expands the lattice.

Supercells: the conventional cubic cell of the model's relaxed host
(``relax_job(ref, "Al"|"Cu")``) repeated 4x4x4 for Al (256 sites) and 3x3x3
for Cu (108 sites), the sizes of the reference's solute calculations (the
reference does not document the misfit cell).  Jobs per solute: 2 (relaxed
cell, fixed cell); per host: pure relaxed cell, pure single point, 2 strained
conventional cells.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from alloybench.jobs import Job, Relax, Result, Structure
from alloybench.tasks.base import Context, Metric, Task, failed_reason
from alloybench.tasks.bulk import relax_job
from alloybench.tasks.solutes import (
    DEFAULT_REPEATS,
    HOST_PHASES,
    cell_job,
    decorate,
    host_cell,
    host_lattice,
    pure_job,
    single_job,
    solute_elements,
)

MISFIT_PROTOCOL = "misfit-2"
CELL_RELAX = Relax(fmax=1e-4, max_steps=3000, cell_mask=(True, True, True, False, False, False), optimizer="LBFGS")
FIXED_RELAX = Relax(fmax=1e-3, max_steps=2000, cell_mask=None, optimizer="LBFGS")
BULK_STRAIN = 0.005  # linear, hydrostatic


@dataclass(frozen=True)
class MisfitSettings:
    repeats: tuple[tuple[str, int], ...] = DEFAULT_REPEATS
    cell_relax: Relax = CELL_RELAX
    fixed_relax: Relax = FIXED_RELAX

    def n(self, phase: str) -> int:
        return dict(self.repeats)[phase]


@dataclass(frozen=True)
class MisfitItem:
    phase: str
    solute: str
    kind: str  # "relaxed_cell" | "pressure"
    key: str

    @property
    def item(self) -> str:
        return f"{HOST_PHASES[self.phase]}:{self.solute}"


def misfit_items(ref) -> list[MisfitItem]:
    by_id = {ref.phases[p].id: p for p in HOST_PHASES if p in ref.phases}
    out = []
    for key in sorted(ref.values):
        m = re.fullmatch(r"(\w+)-(Pressure)?MisfitVol_([A-Za-z]+)", key)
        if m and m.group(1) in by_id:
            out.append(MisfitItem(by_id[m.group(1)], m.group(3), "pressure" if m.group(2) else "relaxed_cell", key))
    return out


def pressure(result: Result) -> float:
    return -float(np.mean(result.stress[:3]))


def relaxed_cell_job(phase: str, species: str | None, a: float, n: int, relax: Relax) -> Job:
    element = HOST_PHASES[phase]
    atoms = decorate(element, a, n, [((0, 0, 0), species)]) if species else host_cell(element, a, n)
    return cell_job("misfit_volume", f"misfit/{phase}/cell/{species or 'pure'}", atoms, relax)


def strain_job(phase: str, a: float, sign: int) -> Job:
    atoms = host_cell(HOST_PHASES[phase], a * (1 + sign * BULK_STRAIN), 1)
    return Job(task="misfit_volume", name=f"misfit/{phase}/bulk{'+' if sign > 0 else '-'}",
               structure=Structure.from_atoms(atoms), relax=None, protocol=MISFIT_PROTOCOL)


def bulk_modulus(plus: Result, minus: Result) -> float:
    """-V dp/dV (eV/Å^3) by central difference of +-BULK_STRAIN hydrostatic strain."""
    dv_over_v = (1 + BULK_STRAIN) ** 3 - (1 - BULK_STRAIN) ** 3
    return -(pressure(plus) - pressure(minus)) / dv_over_v


class MisfitVolumeTask(Task):
    name = "misfit_volume"
    title = "Misfit volumes"
    computes = "misfit volumes (Å^3) of Cu, Mg, Zn, Si and the vacancy in Al and of Al in Cu: relaxed cell and pressure"
    reference_source = "alcumgzn_pbe: 8100-MisfitVol_X, 8100-PressureMisfitVol_X, 635950-MisfitVol_Al"
    tier = "standard"
    protocol = MISFIT_PROTOCOL

    def __init__(self, settings: MisfitSettings | None = None):
        self.settings = settings or MisfitSettings()

    def build(self, ctx: Context, results: Mapping[str, Result]) -> list[Job]:
        s = self.settings
        jobs: dict[str, Job] = {}
        for phase in HOST_PHASES:
            mine = [it for it in misfit_items(ctx.reference)
                    if it.phase == phase and ctx.covers(solute_elements(phase, [it.solute]))]
            if not mine:
                continue
            relax = relax_job(ctx.reference, phase)
            jobs[relax.name] = relax
            a = host_lattice(results, phase)
            if a is None:
                continue
            n = s.n(phase)
            for it in mine:
                if it.kind == "relaxed_cell":
                    for sp in (None, it.solute):
                        j = relaxed_cell_job(phase, sp, a, n, s.cell_relax)
                        jobs[j.name] = j
                else:
                    for j in (pure_job(self.name, phase, a, n), single_job(self.name, phase, it.solute, a, n, s.fixed_relax),
                              strain_job(phase, a, 1), strain_job(phase, a, -1)):
                        jobs[j.name] = j
        return list(jobs.values())

    def analyse(self, ctx: Context, results: Mapping[str, Result]) -> list[Metric]:
        metrics = []
        for it in misfit_items(ctx.reference):
            rv = ctx.reference.value(it.key)
            common = dict(task=self.name, item=it.item, name=it.kind, group="misfit_volume", unit="Å^3",
                          reference=float(rv.value), source=rv.source)
            missing = ctx.missing(solute_elements(it.phase, [it.solute]))
            if missing:
                metrics.append(Metric(**common, value=None, status="not_applicable",
                                      reason=f"model lacks {', '.join(missing)}"))
                continue
            p = it.phase
            if it.kind == "relaxed_cell":
                names = [f"relax/{p}", f"misfit/{p}/cell/pure", f"misfit/{p}/cell/{it.solute}"]
            else:
                names = [f"relax/{p}", f"{p}/pure", f"{p}/single/{it.solute}", f"misfit/{p}/bulk+", f"misfit/{p}/bulk-"]
            fail = failed_reason(results, names)
            if fail is None and it.kind == "pressure" and any(results[nm].stress is None for nm in names[1:]):
                fail = "the model gives no stress"
            if fail:
                metrics.append(Metric(**common, value=None, status="failed", reason=fail))
                continue
            if it.kind == "relaxed_cell":
                value = results[names[2]].atoms.get_volume() - results[names[1]].atoms.get_volume()
            else:
                b = bulk_modulus(results[names[3]], results[names[4]])
                if not b > 0:
                    metrics.append(Metric(**common, value=None, status="failed",
                                          reason=f"non-positive bulk modulus {b:.4g} eV/Å^3"))
                    continue
                volume = results[names[1]].atoms.get_volume()
                value = volume * (pressure(results[names[2]]) - pressure(results[names[1]])) / b
            metrics.append(Metric(**common, value=float(value)))
        return metrics
