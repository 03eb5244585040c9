"""Generalised stacking-fault (GSF) energies in the theta and theta-double-prime precipitates.

Definition (ml-peg ``ml_peg/calcs/alloy_metallurgy/alzncumg_regression/calc_alzncumg_regression.py``,
``generalized_stacking_fault_energies`` / ``tilted_structure``; DFT cells from
daniel-sintef/aiida-alloy ``aiida_create_stackingfault_structures.py`` with
``project_scripts/generate_{theta,thetaDP}_GSF.sh`` and ``launch_{theta,thetaDP}_GSF.sh``):

1. The special base cell (a1, a2 span the slip plane, in the xy plane; a3 is the
   stacking vector), stacked n_z times along a3, is pre-relaxed with the model: ions
   and the three normal cell strains (mask xx, yy, zz), shears fixed (the port
   pre-relaxes the unstacked cell: the same periodic crystal).
2. For each reference displacement
   (f1, f2) = ``<id>-GSF_<plane>_dispcryst``, f1*a1 + f2*a2 is added to the third
   cell vector: one fault per periodic cell (tilted-cell method).
3. Each faulted cell relaxes with every atom restricted to z (the plane normal);
   for theta the cell's zz strain relaxes too (QE vc-relax "z only"), for
   theta-double-prime the cell is fixed.
4. normE(d) = [E(d) - E(0)] / |a1 x a2|  in eV/Å^2 (one fault per cell, no factor 2).

Which cell belongs to which phase: the reference's own ``_dispcart`` equals
f1*a1 + f2*a2 of AIIDA_481617 for theta (``NOTINOQMD_00001``, plane 0-11, Al4Cu2)
and of AIIDA_339739 for theta-double-prime (``NOTINOQMD_00002``, plane 111, Al3Cu);
cells are looked up by their AiiDA id, not by the special-structure name.
n_z = 8 for both, as in the DFT generator scripts (the ml-peg port uses 10 for theta).

S-phase GSF (``Sphase-GSF_SphaseSpecial_*_normE``): neither the cells nor the
displacements are published, so those points are reported not_applicable.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
from ase import Atoms

from alloybench.jobs import Job, Relax, Result, Structure
from alloybench.reference import Reference
from alloybench.tasks.base import Context, Metric, Task, failed_reason

GSF_PROTOCOL = "precipitate-gsf-1"
GROUP = "gsf"
UNIT = "eV/Å^2"
# base-cell pre-relaxation: ions + normal strains only (ml-peg mask 1,1,1,0,0,0)
PRERELAX = Relax(fmax=1e-3, max_steps=1000, cell_mask=(True, True, True, False, False, False), optimizer="LBFGS")
FAULT_FMAX = 5e-3  # eV/Å, as the port
FAULT_STEPS = 500
Z_ONLY = (False, False, True)
CELL_ZZ = (False, False, True, False, False, False)


@dataclass(frozen=True)
class GSFSpec:
    phase: str  # key of Reference.phases
    host_id: str  # reference id prefix
    plane: str  # plane label in the reference key
    cell_id: str  # AiiDA id of the special base cell
    zrepeats: int
    relax_cell_z: bool

    @property
    def prefix(self) -> str:
        return f"{self.host_id}-GSF_{self.plane}"

    @property
    def item(self) -> str:
        return f"{self.phase}_{self.plane}"


SPECS: tuple[GSFSpec, ...] = (
    GSFSpec("theta_dprime", "NOTINOQMD_00002", "111", "AIIDA_339739", zrepeats=8, relax_cell_z=False),
    GSFSpec("theta", "NOTINOQMD_00001", "0m11", "AIIDA_481617", zrepeats=8, relax_cell_z=True),
)
S_PHASE_SERIES = ("Sphase-GSF_SphaseSpecial_13m1_normE", "Sphase-GSF_SphaseSpecial_m1m1m2_normE")
S_PHASE_REASON = ("S-phase GSF cells and displacement vectors are not published (only normE is in the "
                  "reference); the faults cannot be rebuilt faithfully")


def special_cell(ref: Reference, cell_id: str) -> Atoms | None:
    """The special base cell whose source names ``cell_id`` (e.g. AIIDA_481617)."""
    for special in ref.special_structures.values():
        if special.structure_source.rstrip("/").endswith(cell_id) or f"/{cell_id}" in special.structure_source:
            return special.structure.to_structure().to_atoms()
    return None


def orient_plane_normal_z(atoms: Atoms) -> Atoms:
    """Rotate rigidly so that a1 lies along x and a2 in the xy plane (plane normal along z).
    A no-op for cells already in that frame (both reference cells are)."""
    a1, a2 = atoms.cell[0], atoms.cell[1]
    if abs(a1[1]) < 1e-9 and abs(a1[2]) < 1e-9 and abs(a2[2]) < 1e-9:
        return atoms.copy()
    x = a1 / np.linalg.norm(a1)
    z = np.cross(a1, a2)
    z /= np.linalg.norm(z)
    y = np.cross(z, x)
    rot = np.array([x, y, z])
    out = atoms.copy()
    out.set_cell(atoms.cell.array @ rot.T, scale_atoms=False)
    out.positions = atoms.positions @ rot.T
    return out


def fault_area(atoms: Atoms) -> float:
    return float(np.linalg.norm(np.cross(atoms.cell[0], atoms.cell[1])))


def displacement_vector(base: Atoms, frac: tuple[float, float]) -> np.ndarray:
    """Cartesian fault vector f1*a1 + f2*a2 (Å) of the (unrepeated) base cell."""
    return frac[0] * base.cell[0] + frac[1] * base.cell[1]


def tilted_cell(stacked: Atoms, frac: tuple[float, float]) -> Atoms:
    """Tilt the third vector of an already stacked cell by f1*a1 + f2*a2; atoms keep their
    Cartesian positions (one fault at the periodic boundary)."""
    out = stacked.copy()
    cell = stacked.cell.array.copy()
    cell[2] += displacement_vector(stacked, frac)
    out.set_cell(cell, scale_atoms=False)
    out.wrap()
    return out


def faulted_cell(base: Atoms, zrepeats: int, frac: tuple[float, float]) -> Atoms:
    """Stack ``base`` n_z times along a3, then tilt (a1, a2 are unchanged by stacking)."""
    return tilted_cell(base.repeat((1, 1, zrepeats)), frac)


def fault_relax(spec: GSFSpec) -> Relax:
    """FIRE, not L-BFGS: with SevenNet-0, L-BFGS (no line search) ended two theta faults at a point
    5.8 eV above FIRE's minimum and another 5.7 eV below the perfect crystal (docs/protocols.md 14.6)."""
    return Relax(fmax=FAULT_FMAX, max_steps=FAULT_STEPS, cell_mask=CELL_ZZ if spec.relax_cell_z else None,
                 free_directions=Z_ONLY, optimizer="FIRE")


def displacements(ref: Reference, spec: GSFSpec) -> list[tuple[float, float]]:
    rv = ref.value(f"{spec.prefix}_dispcryst")
    return [(float(a), float(b)) for a, b in rv.value] if rv else []


def zero_index(disps: list[tuple[float, float]]) -> int | None:
    for i, d in enumerate(disps):
        if abs(d[0]) < 1e-12 and abs(d[1]) < 1e-12:
            return i
    return None


def base_job_name(spec: GSFSpec) -> str:
    return f"gsf/{spec.phase}/base"


def fault_job_name(spec: GSFSpec, i: int) -> str:
    return f"gsf/{spec.phase}/{spec.plane}/{i}"


class PrecipitateGSFTask(Task):
    name = "precipitate_gsf"
    x_label = "point along the fault path (index)"
    title = "GSF energies in precipitates"
    computes = ("generalised stacking-fault energy curves (eV/Å^2) on the theta (0-11) and "
                "theta-double-prime (111) planes; S-phase curves reported as not covered")
    reference_source = "alcumgzn_pbe: <id>-GSF_<plane>_{dispcryst,dispcart,normE}, Sphase-GSF_SphaseSpecial_*_normE"
    tier = "standard"
    protocol = GSF_PROTOCOL

    def build(self, ctx: Context, results: Mapping[str, Result]) -> list[Job]:
        jobs: list[Job] = []
        for spec in SPECS:
            cell = special_cell(ctx.reference, spec.cell_id)
            disps = displacements(ctx.reference, spec)
            if cell is None or not disps or not ctx.covers(set(cell.get_chemical_symbols())):
                continue
            # the stacked cell is pre-relaxed (normal strains + ions): the same periodic crystal
            # as the 4-6 atom base cell, without the many periodic images of a thin cell
            stacked = orient_plane_normal_z(cell).repeat((1, 1, spec.zrepeats))
            base_job = Job(task=self.name, name=base_job_name(spec), structure=Structure.from_atoms(stacked),
                           relax=PRERELAX, protocol=self.protocol)
            jobs.append(base_job)
            r = results.get(base_job.name)
            if r is None or not r.ok:
                continue
            for i, frac in enumerate(disps):
                jobs.append(Job(task=self.name, name=fault_job_name(spec, i),
                                structure=Structure.from_atoms(tilted_cell(r.atoms, frac)),
                                relax=fault_relax(spec), protocol=self.protocol))
        return jobs

    def analyse(self, ctx: Context, results: Mapping[str, Result]) -> list[Metric]:
        ref = ctx.reference
        metrics: list[Metric] = []
        for spec in SPECS:
            norm = ref.value(f"{spec.prefix}_normE")
            if norm is None:
                continue
            refs = [float(v) for v in norm.value]
            disps = displacements(ref, spec)
            source = (f"{norm.source}; displacements {spec.prefix}_dispcryst, {spec.prefix}_dispcart; "
                      f"cell {spec.cell_id}")
            cell = special_cell(ref, spec.cell_id)
            status, reason = "ok", ""
            values: list[float | None] = [None] * len(refs)
            if cell is None:
                status, reason = "not_applicable", f"special cell {spec.cell_id} not in the packaged reference"
            elif not disps or len(disps) != len(refs):
                status, reason = "not_applicable", f"{spec.prefix}_dispcryst missing or of another length than normE"
            elif ctx.missing(set(cell.get_chemical_symbols())):
                status, reason = "not_applicable", f"model lacks {', '.join(ctx.missing(set(cell.get_chemical_symbols())))}"
            else:
                z = zero_index(disps)
                names = [base_job_name(spec)]
                if z is None:
                    status, reason = "failed", "no zero displacement in the reference set"
                else:
                    zfail = failed_reason(results, names + [fault_job_name(spec, z)])
                    if zfail:
                        status, reason = "failed", zfail
                    else:
                        e0 = results[fault_job_name(spec, z)]
                        area = fault_area(e0.atoms)
                        for i in range(len(refs)):
                            fi = failed_reason(results, [fault_job_name(spec, i)])
                            if fi is None:
                                values[i] = (results[fault_job_name(spec, i)].energy - e0.energy) / area
            for i, refval in enumerate(refs):
                x = float(i)
                point_source = f"{source}; index {i}"
                if status != "ok":
                    metrics.append(Metric(self.name, spec.item, f"normE_{i}", GROUP, UNIT, None, refval, point_source,
                                          status, reason, series=spec.prefix, x=x))
                elif values[i] is None:
                    metrics.append(Metric(self.name, spec.item, f"normE_{i}", GROUP, UNIT, None, refval, point_source,
                                          "failed", failed_reason(results, [fault_job_name(spec, i)]) or "",
                                          series=spec.prefix, x=x))
                else:
                    metrics.append(Metric(self.name, spec.item, f"normE_{i}", GROUP, UNIT, values[i], refval,
                                          point_source, series=spec.prefix, x=x))
        for key in S_PHASE_SERIES:
            rv = ref.value(key)
            if rv is None:
                continue
            item = "S_" + key.split("SphaseSpecial_")[1].removesuffix("_normE")
            for i, refval in enumerate(rv.value):
                metrics.append(Metric(self.name, item, f"normE_{i}", GROUP, UNIT, None, float(refval),
                                      f"{rv.source}; index {i}", "not_applicable", S_PHASE_REASON,
                                      series=key.removesuffix("_normE"), x=float(i)))
        return metrics
