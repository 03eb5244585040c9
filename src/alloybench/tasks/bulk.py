"""Bulk relaxation: volume/atom, lattice parameters, angles, formation energy.

Positions and cell relax together (FrechetCellFilter, all six strain
components).  Lattice parameters are compared in the cell the reference
reports: the primitive cell (spglib) reduced by Niggli, with angles folded
into [0, 90] deg; that reproduces every reference cell from its input
structure (checked in tests).  Formation energies use the model's own
relaxed elemental phases (fcc Al, fcc Cu, hcp Mg, hcp Zn).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping

import numpy as np
import spglib
from ase import Atoms
from ase.build.tools import niggli_reduce_cell
from ase.geometry import cell_to_cellpar

from alloybench.jobs import FULL_CELL, Job, Relax, Result
from alloybench.reference import Reference
from alloybench.tasks.base import Context, Metric, Task, failed_reason

spglib.error.OLD_ERROR_HANDLING = False  # raise instead of returning None with a warning

BULK_PROTOCOL = "bulk-1"
BULK_RELAX = Relax(fmax=1e-3, max_steps=1000, cell_mask=FULL_CELL, optimizer="FIRE")
ELEMENT_PHASES = {"Al": "Al", "Cu": "Cu", "Mg": "Mg", "Zn": "Zn"}


def relax_job(ref: Reference, phase: str) -> Job:
    """The one relaxation of a reference phase; every task that needs the
    relaxed cell builds this same Job, so it is computed once."""
    return Job(
        task="bulk",
        name=f"relax/{phase}",
        structure=ref.phases[phase].structure.to_structure(),
        relax=BULK_RELAX,
        protocol=BULK_PROTOCOL,
    )


def reduced_cellpar(atoms: Atoms, symprec: float = 1e-2) -> np.ndarray:
    """a, b, c (Å) and alpha, beta, gamma (deg, folded to <= 90) of the Niggli-reduced primitive cell."""
    cell = atoms.cell.array
    try:
        found = spglib.standardize_cell(
            (cell, atoms.get_scaled_positions(), atoms.numbers), to_primitive=True, no_idealize=True, symprec=symprec
        )
    except Exception:  # no symmetry found: keep the cell as it is
        found = None
    if found is not None:
        cell = np.asarray(found[0])
    reduced, _ = niggli_reduce_cell(cell)
    par = cell_to_cellpar(reduced)
    par[3:] = np.where(par[3:] > 90.0, 180.0 - par[3:], par[3:])
    return par


def fcc_lattice_constant(atoms: Atoms) -> float:
    """Cubic lattice constant (Å) of an fcc cell of any shape, from its volume per atom."""
    return float((4.0 * atoms.get_volume() / len(atoms)) ** (1.0 / 3.0))


def elemental_potentials(ctx: Context, results: Mapping[str, Result]) -> dict[str, float]:
    """eV/atom of each covered element in its relaxed reference phase (only successful ones)."""
    mu = {}
    for element, phase in ELEMENT_PHASES.items():
        r = results.get(f"relax/{phase}")
        if r is not None and r.ok and r.energy is not None and r.structure is not None:
            mu[element] = r.energy / len(r.structure)
    return mu


def formation_energy(result: Result, mu: Mapping[str, float]) -> float:
    counts = Counter(result.structure.symbols)
    n = sum(counts.values())
    return (result.energy - sum(c * mu[el] for el, c in counts.items())) / n


class BulkTask(Task):
    name = "bulk"
    title = "Bulk relaxation"
    computes = "volume/atom, lattice constants, cell angles, formation energy of the 8 reference phases"
    reference_source = "alcumgzn_pbe: <id>-volume_peratom, lattice_*, angle_*, formation_energy"
    tier = "quick"
    protocol = BULK_PROTOCOL

    def phases(self, ctx: Context) -> list[str]:
        return list(ctx.reference.phases)

    def build(self, ctx: Context, results: Mapping[str, Result]) -> list[Job]:
        needed = set(self.phases(ctx)) | set(ELEMENT_PHASES.values())
        return [
            relax_job(ctx.reference, p)
            for p in ctx.reference.phases
            if p in needed and ctx.covers(ctx.reference.phases[p].elements)
        ]

    def analyse(self, ctx: Context, results: Mapping[str, Result]) -> list[Metric]:
        ref = ctx.reference
        mu = elemental_potentials(ctx, results)
        metrics: list[Metric] = []
        for phase in self.phases(ctx):
            pdata = ref.phases[phase]
            props = [("volume_per_atom", "volume_peratom", "volume")]
            props += [(f"lattice_{x}", f"lattice_{x}", "lattice_constant") for x in "abc"]
            props += [(f"angle_{x}", f"angle_{k}", "angle") for x, k in zip(("alpha", "beta", "gamma"), ("alph", "beta", "gamm"))]
            is_element = phase in ELEMENT_PHASES.values()
            if not is_element:  # 0 by definition for the elements themselves
                props.append(("formation_energy", "formation_energy", "formation_energy"))
            missing = ctx.missing(pdata.elements)
            fail = None if missing else failed_reason(results, [f"relax/{phase}"])
            values: dict[str, float] = {}
            if not missing and fail is None:
                r = results[f"relax/{phase}"]
                atoms = r.atoms
                par = reduced_cellpar(atoms)
                values["volume_per_atom"] = atoms.get_volume() / len(atoms)
                for i, x in enumerate("abc"):
                    values[f"lattice_{x}"] = float(par[i])
                for i, x in enumerate(("alpha", "beta", "gamma")):
                    values[f"angle_{x}"] = float(par[3 + i])
                if not is_element:
                    need = sorted(pdata.elements - set(mu))
                    if need:
                        fail = f"elemental reference phase failed for {', '.join(need)}"
                    else:
                        values["formation_energy"] = formation_energy(r, mu)
            for name, key, group in props:
                rv = ref.phase_value(phase, key)
                refval = float(rv.value) if rv else None
                unit = rv.unit if rv else ""
                source = rv.source if rv else ""
                if missing:
                    metrics.append(Metric(self.name, phase, name, group, unit, None, refval, source,
                                          "not_applicable", f"model lacks {', '.join(missing)}"))
                elif name in values:
                    metrics.append(Metric(self.name, phase, name, group, unit, values[name], refval, source))
                else:
                    metrics.append(Metric(self.name, phase, name, group, unit, None, refval, source, "failed", fail or ""))
        return metrics
