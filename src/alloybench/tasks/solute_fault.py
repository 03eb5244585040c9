"""Solute-stacking-fault interaction energies by layer: Cu, Mg, Si, Zn at the
intrinsic stacking fault of Al (``8100-SolSF_X``) and Al at that of Cu
(``635950-SolSF_Al``), eV, 4 values = layers 0..3 from the fault.

Definition and fault construction from the reference suite's public port, ml-peg
``ml_peg/calcs/alloy_metallurgy/alzncumg_regression/calc_alzncumg_regression.py``
(``SOLUTE_STACKING_FAULT_SPECS``, ``fcc_stacking_fault_structure``,
``solute_stacking_fault_structure``, ``solute_stacking_fault_interaction``);
cell height and relaxation follow the DFT-side generators as recorded in
docs/protocols.md section 9 (the port uses 12 layers and z-only relaxation):

* Slab: ASE ``fcc111`` of the model's relaxed host lattice constant
  (``relax_job(ref, "Al"|"Cu")``, a = (4 V/atom)^(1/3)), periodic, n x n
  primitive in-plane cells (n = 4 for Al, 3 for Cu) and 9 {111} layers
  (3 ABC periods): 144 and 81 atoms, the DFT cells.
* Fault: the third cell vector is tilted by (a1 + a2)/3 (a1, a2 the in-plane
  primitive vectors), which puts one intrinsic stacking fault (...ABC|BCA...)
  at the periodic boundary between the top layer and layer 0.  Layer 0 (the
  lowest) is a fault layer, layers 1, 2, 3 the next ones away from it (layer j
  is equivalent to layer 8 - j, the other side of the fault).
* Relaxation, every cell: atoms free in 3D (the intrinsic fault is a local
  minimum), the cell only in zz, as in the DFT (L-BFGS, fmax 1e-3 eV/Å).
* ``E_int(layer) = E[fault + X in layer] - E[fault] - E[bulk + X] + E[bulk]``
  (bulk: the same slab without tilt, X in layer 0); NEGATIVE: X is attracted
  to (segregates to) the fault.

Jobs per host: fault, bulk, and per solute: bulk + X and 4 fault + X cells,
all independent once the host is relaxed.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
from ase import Atoms
from ase.build import fcc111

from alloybench.jobs import Job, Relax, Result, Structure
from alloybench.tasks.base import Context, Metric, Task, failed_reason
from alloybench.tasks.bulk import relax_job
from alloybench.tasks.solutes import HOST_PHASES, host_lattice, solute_elements

SOLUTE_FAULT_PROTOCOL = "solute-fault-1"
FAULT_RELAX = Relax(fmax=1e-3, max_steps=3000, cell_mask=(False, False, True, False, False, False), optimizer="LBFGS")
DEFAULT_INPLANE = (("Al", 4), ("Cu", 3))
PERIODS = 3  # ABC periods along [111]: 9 layers
LAYERS = (0, 1, 2, 3)


@dataclass(frozen=True)
class SoluteFaultSettings:
    inplane: tuple[tuple[str, int], ...] = DEFAULT_INPLANE
    periods: int = PERIODS
    relax: Relax = FAULT_RELAX

    def n(self, phase: str) -> int:
        return dict(self.inplane)[phase]


def fault_slab(element: str, a: float, n: int, periods: int, faulted: bool) -> Atoms:
    """Periodic {111} slab, with one intrinsic stacking fault across the boundary if ``faulted``."""
    slab = fcc111(element, (n, n, 3 * periods), a=a, periodic=True)
    if faulted:
        cell = slab.cell.array.copy()
        cell[2] += (cell[0] + cell[1]) / (3.0 * n)
        slab.set_cell(cell, scale_atoms=False)
    return slab


def layer_indices(atoms: Atoms) -> list[list[int]]:
    """Atom indices per {111} layer, lowest z first."""
    z = atoms.positions[:, 2]
    levels = np.unique(np.round(z, 3))
    return [[i for i in range(len(atoms)) if abs(z[i] - lv) < 1e-2] for lv in levels]


def with_solute(atoms: Atoms, species: str, layer: int) -> Atoms:
    out = atoms.copy()
    out[layer_indices(atoms)[layer][0]].symbol = species
    return out


def sf_items(ref) -> list[tuple[str, str, str]]:
    by_id = {ref.phases[p].id: p for p in HOST_PHASES if p in ref.phases}
    out = []
    for key in sorted(ref.values):
        m = re.fullmatch(r"(\w+)-SolSF_([A-Za-z]+)", key)
        if m and m.group(1) in by_id:
            out.append((by_id[m.group(1)], m.group(2), key))
    return out


class SoluteFaultTask(Task):
    name = "solute_fault"
    x_label = "solute layer (index from the fault plane)"
    title = "Solute-stacking-fault interaction"
    computes = "interaction energy (eV) of Cu, Mg, Si, Zn with the intrinsic stacking fault of Al and of Al with that of Cu, layers 0-3"
    reference_source = "alcumgzn_pbe: 8100-SolSF_X, 635950-SolSF_Al"
    tier = "standard"
    protocol = SOLUTE_FAULT_PROTOCOL

    def __init__(self, settings: SoluteFaultSettings | None = None):
        self.settings = settings or SoluteFaultSettings()

    def _job(self, name: str, atoms: Atoms) -> Job:
        return Job(task=self.name, name=name, structure=Structure.from_atoms(atoms), relax=self.settings.relax,
                   protocol=self.protocol)

    def build(self, ctx: Context, results: Mapping[str, Result]) -> list[Job]:
        s = self.settings
        jobs: dict[str, Job] = {}
        for phase, element in HOST_PHASES.items():
            mine = [(p, x, k) for p, x, k in sf_items(ctx.reference)
                    if p == phase and ctx.covers(solute_elements(phase, [x]))]
            if not mine:
                continue
            relax = relax_job(ctx.reference, phase)
            jobs[relax.name] = relax
            a = host_lattice(results, phase)
            if a is None:
                continue
            bulk_slab = fault_slab(element, a, s.n(phase), s.periods, faulted=False)
            fault = fault_slab(element, a, s.n(phase), s.periods, faulted=True)
            jobs[f"sf/{phase}/bulk"] = self._job(f"sf/{phase}/bulk", bulk_slab)
            jobs[f"sf/{phase}/fault"] = self._job(f"sf/{phase}/fault", fault)
            for _, x, key in mine:
                jobs[f"sf/{phase}/bulk/{x}"] = self._job(f"sf/{phase}/bulk/{x}", with_solute(bulk_slab, x, 0))
                for layer in range(self._n_layers(ctx, key)):
                    name = f"sf/{phase}/fault/{x}/{layer}"
                    jobs[name] = self._job(name, with_solute(fault, x, layer))
        return list(jobs.values())

    @staticmethod
    def _n_layers(ctx: Context, key: str) -> int:
        rv = ctx.reference.value(key)
        return len(rv.value) if rv is not None and isinstance(rv.value, list) else len(LAYERS)

    def analyse(self, ctx: Context, results: Mapping[str, Result]) -> list[Metric]:
        metrics = []
        for phase, x, key in sf_items(ctx.reference):
            rv = ctx.reference.value(key)
            item = f"{HOST_PHASES[phase]}:{x}"
            missing = ctx.missing(solute_elements(phase, [x]))
            for layer, refval in enumerate(rv.value):
                common = dict(task=self.name, item=item, name=f"layer{layer}", group="solute_fault", unit="eV",
                              reference=float(refval), source=f"{rv.source}[{layer}]", series=item, x=float(layer))
                if missing:
                    metrics.append(Metric(**common, value=None, status="not_applicable",
                                          reason=f"model lacks {', '.join(missing)}"))
                    continue
                names = [f"relax/{phase}", f"sf/{phase}/fault/{x}/{layer}", f"sf/{phase}/fault",
                         f"sf/{phase}/bulk/{x}", f"sf/{phase}/bulk"]
                fail = failed_reason(results, names)
                if fail:
                    metrics.append(Metric(**common, value=None, status="failed", reason=fail))
                    continue
                e = [results[nm].energy for nm in names[1:]]
                metrics.append(Metric(**common, value=float(e[0] - e[1] - e[2] + e[3])))
        return metrics
