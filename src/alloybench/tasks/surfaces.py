"""Surface energies of fcc Al, Cu {111, 100, 110} and hcp Mg, Zn (0001),
(10-10), (11-20), (1-101), (10-12), (11-21), (11-22).

gamma = (E_slab - N E_bulk) / (2 A), in mJ/m^2 (1 eV/Å^2 = 16021.766 mJ/m^2),
with E_bulk the model's energy per atom of its own relaxed bulk phase
(``relax_job`` of tasks/bulk.py) and A the in-plane cell area.

Slabs.  Every slab is cut from the model's relaxed bulk: fcc from the cubic
lattice constant a = (4 V/atom)^(1/3) with ase.build.fcc111/fcc100/fcc110
(one atom per layer, 1x1 in-plane cell); hcp from a and c of the relaxed cell
with ase.build.surface on ase.build.bulk(el, "hcp", a, c/a), the construction
of the reference suite, with the hcp Miller-Bravais index (h k i l) given as
the three-index (h k l) of ASE's 120-degree cell: (0001)=(001), (10-10)=(100),
(11-20)=(110), (1-101)=(101) [the same {10-11} family], (10-12)=(102),
(11-21)=(111), (11-22)=(112).  ase.build.surface stacks whole copies of the
two-atom hcp motif; every A-B atom midpoint of hcp is an inversion centre, so
such a slab is centrosymmetric and its two surfaces are the same termination
(checked by ``centrosymmetric`` in the tests for every slab).  The
termination is therefore ASE's, as in the reference: for (1-101) that is the
cut through the narrow (0.4 Å for Mg) interplanar gap, the higher-energy
termination, kept to match the reference construction.
Thin (1-101) slabs of that cut can reconstruct on relaxation (EMT hcp Cu:
1102 mJ/m^2 with 2-3 motif copies, 1431 from 4 on); the thickness ladder
below catches such jumps.  The slab sits in 16 Å of vacuum (8 Å each side:
more than any model cutoff), the cell is fixed and all atoms relax (L-BFGS,
fmax 2e-3 eV/Å).  A single point of the unrelaxed slab at the converged
thickness is reported as ``surface_energy_unrelaxed``, unscored unless
SCORE_RELAXED is False: the DFT reference slabs were SCF only (see
docs/protocols.md), relaxation lowers Al/Cu low-index gamma by 0-1 % with EMT.

Thickness.  Slabs are built at bulk-equivalent thicknesses of >= 12, 16, 20,
26, 32 Å (number of layers, or hcp motif copies, from the reference lattice,
so every model gets the same layer counts).  The two thinnest are always
computed; a thicker one is added while gamma changed by more than 1 %
(or 1 mJ/m^2) from the next thinner slab, and the thickest computed value is
reported.  With EMT (Al, Cu) the 12 Å slab already agrees with 40 Å to
0.01 % and the task stops at 16 Å; models with a longer reach add rungs.  No
k-points: the models are local, so in-plane periodicity is all there is.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
from ase import Atoms, units
from ase.build import bulk as ase_bulk
from ase.build import fcc100, fcc110, fcc111, surface

from alloybench.jobs import Job, Relax, Result, Structure
from alloybench.reference import Reference
from alloybench.tasks.base import Context, Metric, Task, failed_reason
from alloybench.tasks.bulk import fcc_lattice_constant, relax_job

SURFACE_PROTOCOL = "surfaces-1"
EV_PER_A2_TO_MJ_PER_M2 = units._e * 1e23  # J/eV * (1e10 Å/m)^2 * 1e3 mJ/J = 16021.766...
VACUUM = 16.0  # Å of vacuum between periodic images of the slab
THICKNESS_LADDER = (12.0, 16.0, 20.0, 26.0, 32.0)  # Å, bulk-equivalent slab thickness
CONVERGED_REL = 0.01  # relative change of gamma vs the next thinner slab
CONVERGED_ABS = 1.0  # mJ/m^2: below this change a slab is converged whatever gamma is
SCORE_RELAXED = True  # False: score the unrelaxed slab instead (the DFT reference slabs were SCF only)
SLAB_RELAX = Relax(fmax=2e-3, max_steps=1000, cell_mask=None, optimizer="LBFGS")

FCC_FACETS = {"111": fcc111, "100": fcc100, "110": fcc110}
HCP_FACETS = {  # reference label -> (h k l) in ASE's hcp cell (a1 ^ a2 = 120 deg)
    "0001": (0, 0, 1),
    "10m10": (1, 0, 0),
    "11m20": (1, 1, 0),
    "1m101": (1, 0, 1),
    "10m12": (1, 0, 2),
    "11m21": (1, 1, 1),
    "11m22": (1, 1, 2),
}
FCC_PHASES = ("Al", "Cu")
HCP_PHASES = ("Mg", "Zn")


@dataclass(frozen=True)
class Facet:
    phase: str
    label: str  # "111" or "10m10"
    lattice: str  # "fcc" | "hcp"

    @property
    def ref_suffix(self) -> str:
        return f"SurfaceEnergy_{self.label}" if self.lattice == "fcc" else f"SurfaceHCP_{self.label}"

    def ref_key(self, ref: Reference) -> str:
        return f"{ref.phases[self.phase].id}-{self.ref_suffix}"

    @property
    def item(self) -> str:
        return f"{self.phase}({self.label.replace('m', '-')})"


FACETS: tuple[Facet, ...] = tuple(
    [Facet(p, lab, "fcc") for p in FCC_PHASES for lab in FCC_FACETS]
    + [Facet(p, lab, "hcp") for p in HCP_PHASES for lab in HCP_FACETS]
)


# ----------------------------------------------------------------- geometry

def element_of(atoms: Atoms) -> str:
    symbols = set(atoms.get_chemical_symbols())
    if len(symbols) != 1:
        raise ValueError(f"not an elemental phase: {sorted(symbols)}")
    return symbols.pop()


def hcp_lattice_constants(atoms: Atoms) -> tuple[float, float]:
    """a and c (Å) of a two-atom hcp cell: a from the two in-plane vectors, c from the volume."""
    if len(atoms) != 2:
        raise ValueError(f"expected the two-atom hcp cell, got {len(atoms)} atoms")
    a = float(np.mean(np.sort(atoms.cell.lengths())[:2]))
    c = float(atoms.get_volume() / (a * a * math.sqrt(3.0) / 2.0))
    return a, c


def surface_area(atoms: Atoms) -> float:
    return float(np.linalg.norm(np.cross(atoms.cell[0], atoms.cell[1])))


def fcc_slab(element: str, a: float, label: str, layers: int, vacuum: float = VACUUM) -> Atoms:
    slab = FCC_FACETS[label](element, (1, 1, layers), a=a, vacuum=vacuum / 2.0, periodic=True)
    slab.pbc = True
    return slab


def hcp_slab(element: str, a: float, c: float, label: str, repeats: int, vacuum: float = VACUUM) -> Atoms:
    """``repeats`` copies of the two-atom motif along the surface normal, centrosymmetric."""
    slab = surface(ase_bulk(element, "hcp", a=a, covera=c / a), HCP_FACETS[label], repeats, vacuum=vacuum / 2.0)
    slab.pbc = True
    return slab


def unit_thickness(facet: Facet, a: float, c: float | None = None) -> float:
    """Bulk-equivalent thickness (Å) of one layer (fcc) or one motif copy (hcp)."""
    if facet.lattice == "fcc":
        one = FCC_FACETS[facet.label]("X", (1, 1, 1), a=a, periodic=True)
    else:
        one = surface(ase_bulk("X", "hcp", a=a, covera=c / a), HCP_FACETS[facet.label], 1, periodic=True)
    return float(one.get_volume() / surface_area(one))


def units_for(thickness: float, per_unit: float) -> int:
    return max(2, int(math.ceil(thickness / per_unit - 1e-6)))


def centrosymmetric(atoms: Atoms, tol: float = 1e-3) -> bool:
    """True if an inversion (through some point, modulo in-plane lattice vectors) maps the slab onto
    itself, i.e. its top and bottom surfaces are the same termination.  Needs a, b in the xy plane."""
    pos = atoms.positions
    inplane = atoms.cell.array[:2, :2]  # xy of a and b
    to_frac = np.linalg.inv(inplane)

    def maps_onto_itself(image: np.ndarray) -> bool:
        for q in image:
            d = pos - q
            d = d[np.abs(d[:, 2]) < tol]
            if len(d) == 0:
                return False
            f = d[:, :2] @ to_frac
            r = (f - np.round(f)) @ inplane
            if np.min(np.linalg.norm(r, axis=1)) > tol:
                return False
        return True

    return any(maps_onto_itself(pos[0] + pos[j] - pos) for j in range(len(atoms)))


# ----------------------------------------------------------------- the task

def slab_job_name(facet: Facet, units_: int, relaxed: bool = True) -> str:
    return f"{'slab' if relaxed else 'slab-unrelaxed'}/{facet.phase}/{facet.label}/{units_}"


def ladder(facet: Facet, ref: Reference) -> list[int]:
    """Layer (fcc) or motif (hcp) counts for THICKNESS_LADDER, from the reference lattice."""
    atoms = ref.phases[facet.phase].structure.to_structure().to_atoms()
    if facet.lattice == "fcc":
        per = unit_thickness(facet, fcc_lattice_constant(atoms))
    else:
        per = unit_thickness(facet, *hcp_lattice_constants(atoms))
    counts: list[int] = []
    for t in THICKNESS_LADDER:
        n = units_for(t, per)
        if not counts or n > counts[-1]:
            counts.append(n)
    return counts


def slab_for(facet: Facet, bulk_atoms: Atoms, units_: int) -> Atoms:
    element = element_of(bulk_atoms)
    if facet.lattice == "fcc":
        return fcc_slab(element, fcc_lattice_constant(bulk_atoms), facet.label, units_)
    a, c = hcp_lattice_constants(bulk_atoms)
    return hcp_slab(element, a, c, facet.label, units_)


def surface_energy(slab_energy: float, n_atoms: int, bulk_energy_per_atom: float, area: float) -> float:
    """mJ/m^2 for a slab with two equal surfaces of ``area`` Å^2 each."""
    return (slab_energy - n_atoms * bulk_energy_per_atom) / (2.0 * area) * EV_PER_A2_TO_MJ_PER_M2


def converged(new: float, old: float) -> bool:
    return abs(new - old) <= max(CONVERGED_ABS, CONVERGED_REL * abs(new))


class SurfaceTask(Task):
    name = "surfaces"
    title = "Surface energies"
    computes = ("relaxed surface energies (mJ/m^2) of fcc Al, Cu {111,100,110} and hcp Mg, Zn, seven facets, "
                "converged in slab thickness")
    reference_source = "alcumgzn_pbe: <id>-SurfaceEnergy_<hkl> (fcc), <id>-SurfaceHCP_<hkil> (hcp)"
    tier = "quick"  # fcc facets only in the quick tier; hcp facets from the standard tier on
    protocol = SURFACE_PROTOCOL

    @staticmethod
    def phases(ctx: Context) -> tuple[str, ...]:
        return FCC_PHASES if ctx.tier == "quick" else FCC_PHASES + HCP_PHASES

    def _gamma(self, results: Mapping[str, Result], name: str, e_bulk: float) -> float | None:
        r = results.get(name)
        if r is None or not r.ok or r.energy is None or r.structure is None:
            return None
        atoms = r.atoms
        return surface_energy(r.energy, len(atoms), e_bulk, surface_area(atoms))

    def _walk(self, facet: Facet, ref: Reference, results: Mapping[str, Result], e_bulk: float):
        """Rungs needed so far, the last rung, gamma there and whether it converged.
        Stops at the first rung not (successfully) computed yet."""
        counts = ladder(facet, ref)
        needed = counts[:2]
        gammas: list[float] = []
        for i, n in enumerate(counts):
            if i >= len(needed):
                break
            g = self._gamma(results, slab_job_name(facet, n), e_bulk)
            if g is None:
                return needed, None, False
            gammas.append(g)
            if i >= 1:
                if converged(gammas[-1], gammas[-2]):
                    return needed, n, True
                if i + 1 < len(counts):
                    needed = counts[: i + 2]
        return needed, needed[-1], False

    def _jobs_for(self, facet: Facet, bulk_atoms: Atoms, counts: list[int], final: int | None) -> list[Job]:
        jobs = [Job(task=self.name, name=slab_job_name(facet, n),
                    structure=Structure.from_atoms(slab_for(facet, bulk_atoms, n)),
                    relax=SLAB_RELAX, protocol=self.protocol) for n in counts]
        if final is not None:
            jobs.append(Job(task=self.name, name=slab_job_name(facet, final, relaxed=False),
                            structure=Structure.from_atoms(slab_for(facet, bulk_atoms, final)),
                            relax=None, protocol=self.protocol))
        return jobs

    def build(self, ctx: Context, results: Mapping[str, Result]) -> list[Job]:
        ref = ctx.reference
        jobs: list[Job] = []
        for phase in self.phases(ctx):
            if not ctx.covers(ref.phases[phase].elements):
                continue
            relax = relax_job(ref, phase)
            jobs.append(relax)
            r = results.get(relax.name)
            if r is None or not r.ok or r.energy is None:
                continue
            bulk_atoms = r.atoms
            e_bulk = r.energy / len(bulk_atoms)
            for facet in (f for f in FACETS if f.phase == phase):
                counts, final, _ = self._walk(facet, ref, results, e_bulk)
                jobs.extend(self._jobs_for(facet, bulk_atoms, counts, final))
        return jobs

    def analyse(self, ctx: Context, results: Mapping[str, Result]) -> list[Metric]:
        ref = ctx.reference
        metrics: list[Metric] = []
        for facet in FACETS:
            key = facet.ref_key(ref)
            rv = ref.value(key)
            refval = float(rv.value) if rv else None
            source = rv.source if rv else key
            missing = ctx.missing(ref.phases[facet.phase].elements)

            def emit(value, status="ok", reason="", name="surface_energy", unrelaxed=False):
                scored = unrelaxed != SCORE_RELAXED
                metrics.append(Metric(self.name, facet.item, name, "surface_energy", "mJ/m^2", value,
                                      refval if scored else None, source if scored else "", status, reason))

            if missing or facet.phase not in self.phases(ctx):
                reason = f"model lacks {', '.join(missing)}" if missing else "hcp facets run from the standard tier on"
                emit(None, "not_applicable", reason)
                emit(None, "not_applicable", reason, "surface_energy_unrelaxed", True)
                continue
            fail = failed_reason(results, [f"relax/{facet.phase}"])
            if fail:
                emit(None, "failed", fail)
                emit(None, "failed", fail, "surface_energy_unrelaxed", True)
                continue
            rb = results[f"relax/{facet.phase}"]
            e_bulk = rb.energy / len(rb.structure)
            counts, final, ok = self._walk(facet, ref, results, e_bulk)
            if final is None:
                fail = failed_reason(results, [slab_job_name(facet, n) for n in counts]) or "slab not computed"
                emit(None, "failed", fail)
                emit(None, "failed", fail, "surface_energy_unrelaxed", True)
                continue
            gamma = self._gamma(results, slab_job_name(facet, final), e_bulk)
            note = "" if ok else f"not converged to {CONVERGED_REL:.0%} in slab thickness at {final} layers"
            emit(gamma, "ok", note)
            sp_name = slab_job_name(facet, final, relaxed=False)
            g0 = self._gamma(results, sp_name, e_bulk)
            if g0 is None:
                emit(None, "failed", failed_reason(results, [sp_name]) or "not computed", "surface_energy_unrelaxed",
                     True)
            else:
                emit(g0, "ok", "", "surface_energy_unrelaxed", True)
        return metrics
