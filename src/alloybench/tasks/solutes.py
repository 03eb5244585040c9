"""Solute-solute and solute-vacancy binding by neighbour shell, solute triplets
and Cu clusters, in the Al matrix (reference phase "Al", OQMD 8100) and the Cu
matrix ("Cu", OQMD 635950).

Protocol (definitions from the reference suite's public port, ml-peg
``ml_peg/calcs/alloy_metallurgy/alzncumg_regression/calc_alzncumg_regression.py``,
functions ``solute_solute_binding``, ``neighbor_shell_indices``,
``conventional_fcc_supercell``, constant ``SOLUTE_SOLUTE_SPECS``):

* Host cell: the conventional cubic fcc cell of the MODEL's relaxed bulk
  (``relax_job(ref, "Al"|"Cu")``; lattice constant a = (4 V/atom)^(1/3))
  repeated n x n x n: n = 4 for Al (256 sites), n = 3 for Cu (108 sites), as in
  the reference.  The cell is never relaxed (fixed at the model's bulk lattice
  constant, as in the reference); atomic positions are relaxed (L-BFGS,
  fmax 2e-3 eV/Å, tighter than the reference's 5e-3 eV/Å and 50 steps).
* Binding energy, meV, NEGATIVE = ATTRACTIVE:
  ``E_b(A, B, shell) = E[A at 0, B at shell site] + E[pure] - E[A] - E[B]``;
  the pure cell is a single point, every other cell is relaxed; ``Vac`` means
  the site is removed.
* Shells: every fcc site (a/2)(h, k, l), h + k + l even, with 0 <= h, k, l <= n
  (the non-negative octant of the half cell), one representative per distinct
  distance, in increasing distance; where inequivalent sites share a distance
  ((4,1,1) and (3,3,0): 8.57 Å in Al) the representative is the one first in
  the atom order of ASE's cubic cell repeated (the reference's choice).  The
  reference lists 8 shells for most Al pairs, 17 (every octant shell) for
  Cu-Cu, 12 for Cu-Vac and 4 in Cu; every listed shell is computed.

Triplets and clusters are not in the public port; the definitions below are
the ones the reference values satisfy (checked against the pair values: a
triplet is close to the sum of its three pair bindings, and the key
``ClusterE_Cu,Cu,Cu_111`` equals ``Triplet_Cu,Cu,Cu_111``):

* ``E_cluster = E[cluster] - sum_i E[single X_i] + (n - 1) E[pure]`` in eV,
  negative = bound, in the same 4x4x4 Al cell and protocol as the pairs.
* Geometry: the digits are the neighbour shells of the pairs.  ``A,B,C_111``:
  three mutual nearest neighbours (a {111} triangle); ``A,B,C_112``: A-B and
  B-C nearest neighbours, A-C second neighbours (B is the corner of a
  right-angled triangle in a {100} plane; the keys list each such
  configuration once with B in the middle).  Four Cu: ``111111`` the
  nearest-neighbour tetrahedron, ``111112`` five nearest-neighbour pairs and
  one second-neighbour pair, ``111122`` the {100} nearest-neighbour square
  (each is the only such configuration in fcc up to symmetry).
  Configurations that are the same (e.g. ``Cu,Mg,Zn_111`` and
  ``Mg,Zn,Cu_111``, or a three-Cu ``Triplet`` and ``ClusterE`` key) are
  computed and scored once; the Metric's source names every key.

Jobs: one per configuration, all independent once the host is relaxed:
default 117 Al pairs + 12 Cu pairs + 31 clusters + 7 single solutes + 2 pure
cells (fewer for models lacking Mg/Zn/Si).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
from ase import Atoms
from ase.build import bulk

from alloybench.jobs import Job, Relax, Result, Structure
from alloybench.reference import Reference
from alloybench.tasks.base import Context, Metric, Task, failed_reason
from alloybench.tasks.bulk import fcc_lattice_constant, relax_job

# Shared by the solute-cell tasks (solutes, solution, antisites, misfit_volume): the same structure
# + relax + protocol is the same Job digest, so e.g. the pure 256-site Al cell is computed once for
# all of them (misfit-2's fixed-cell points relax to 1e-3 eV/Å: their own Jobs).
SOLUTE_CELL_PROTOCOL = "solute-cells-1"
SOLUTE_RELAX = Relax(fmax=2e-3, max_steps=1000, cell_mask=None, optimizer="LBFGS")
HOST_PHASES = {"Al": "Al", "Cu": "Cu"}  # reference phase -> host element (fcc)
DEFAULT_REPEATS = (("Al", 4), ("Cu", 3))
VAC = "Vac"
Site = tuple[int, int, int]  # fcc site in units of a/2 (h + k + l even)


# ---------------------------------------------------------------- geometry
def host_cell(element: str, a: float, n: int) -> Atoms:
    """n x n x n conventional fcc cell; atom 0 at the origin."""
    return bulk(element, "fcc", a=a, cubic=True).repeat((n, n, n))


def site_index(atoms: Atoms, site: Site, a: float, n: int) -> int:
    """Index of the atom at ``site`` (wrapped into the cell)."""
    target = (np.asarray(site, dtype=float) * a / 2.0) % (n * a)
    d = atoms.positions - target
    d -= np.round(d / (n * a)) * (n * a)
    i = int(np.argmin(np.linalg.norm(d, axis=1)))
    if np.linalg.norm(d[i]) > 1e-6 * a:
        raise ValueError(f"no fcc site at {site}")
    return i


def decorate(element: str, a: float, n: int, decorations: list[tuple[Site, str]]) -> Atoms:
    """Host cell with the given sites substituted (``Vac``: removed)."""
    atoms = host_cell(element, a, n)
    vacancies = []
    for site, species in decorations:
        i = site_index(atoms, site, a, n)
        if species == VAC:
            vacancies.append(i)
        else:
            atoms[i].symbol = species
    for i in sorted(vacancies, reverse=True):
        del atoms[i]
    return atoms


def shell_sites(n: int) -> list[Site]:
    """One site per distinct distance from the origin in the non-negative
    octant of the half cell, nearest first (the reference's shell choice)."""
    cell = host_cell("Al", 2.0, n)  # a = 2: positions are in units of a/2
    best: dict[int, tuple[int, Site]] = {}
    for index, p in enumerate(cell.positions):
        hkl = tuple(int(round(x)) for x in p)
        if any(x > n for x in hkl):
            continue
        r2 = sum(x * x for x in hkl)
        if r2 and r2 not in best:
            best[r2] = (index, hkl)
    return [best[r2][1] for r2 in sorted(best)]


def site_distance(site: Site, a: float) -> float:
    return float(np.linalg.norm(site) * a / 2.0)


# Cluster geometries in units of a/2, first site at the origin.
TRIPLET_SITES: dict[str, list[Site]] = {
    "111": [(0, 0, 0), (1, 1, 0), (1, 0, 1)],
    "112": [(0, 0, 0), (1, 1, 0), (2, 0, 0)],  # A-B, B-C nearest; A-C second neighbours
}
QUAD_SITES: dict[str, list[Site]] = {
    "111111": [(0, 0, 0), (1, 1, 0), (1, 0, 1), (0, 1, 1)],
    "111112": [(0, 0, 0), (1, 1, 0), (1, 0, 1), (2, 0, 0)],
    "111122": [(0, 0, 0), (1, 1, 0), (2, 0, 0), (1, -1, 0)],
}


def cluster_sites(label: str) -> list[Site]:
    return {**TRIPLET_SITES, **QUAD_SITES}[label]


def canonical_cluster(species: tuple[str, ...], label: str) -> tuple[tuple[str, ...], str]:
    """One representative of symmetry-equivalent decorations."""
    if label == "111" or set(label) == {"1"}:
        return tuple(sorted(species)), label
    if label == "112":  # A,B,C ~ C,B,A (B is the corner)
        return min(species, species[::-1]), label
    if len(set(species)) == 1:
        return species, label
    raise ValueError(f"no canonical form for {species} {label}")


# ------------------------------------------------------------------- jobs
@dataclass(frozen=True)
class SoluteSettings:
    """``repeats``: conventional cells per edge for each host phase.
    ``max_shells``: compute at most this many shells per pair (None: every
    reference shell).  ``clusters``: include triplets and 4-Cu clusters."""

    repeats: tuple[tuple[str, int], ...] = DEFAULT_REPEATS
    max_shells: int | None = None
    clusters: bool = True
    relax: Relax = SOLUTE_RELAX

    def n(self, phase: str) -> int:
        return dict(self.repeats)[phase]


def cell_job(task: str, name: str, atoms: Atoms, relax: Relax | None) -> Job:
    return Job(task=task, name=name, structure=Structure.from_atoms(atoms), relax=relax,
               protocol=SOLUTE_CELL_PROTOCOL)


def binding_energy_meV(e_pair: float, e_pure: float, e_a: float, e_b: float) -> float:
    """E_b = E[A+B] + E[pure] - E[A] - E[B] in meV (negative = attractive)."""
    return 1000.0 * (e_pair + e_pure - e_a - e_b)


def host_lattice(results: Mapping[str, Result], phase: str) -> float | None:
    r = results.get(f"relax/{phase}")
    if r is None or not r.ok or r.structure is None:
        return None
    return fcc_lattice_constant(r.atoms)


def pure_job(task: str, phase: str, a: float, n: int) -> Job:
    return cell_job(task, f"{phase}/pure", host_cell(HOST_PHASES[phase], a, n), None)


def single_job(task: str, phase: str, species: str, a: float, n: int, relax: Relax) -> Job:
    atoms = decorate(HOST_PHASES[phase], a, n, [((0, 0, 0), species)])
    return cell_job(task, f"{phase}/single/{species}", atoms, relax)


def pair_job(task: str, phase: str, a_sp: str, b_sp: str, shell: int, site: Site, a: float, n: int,
             relax: Relax) -> Job:
    atoms = decorate(HOST_PHASES[phase], a, n, [(site, b_sp), ((0, 0, 0), a_sp)])
    return cell_job(task, f"{phase}/pair/{a_sp}-{b_sp}/{shell}", atoms, relax)


def cluster_name(phase: str, species: tuple[str, ...], label: str) -> str:
    return f"{phase}/cluster/{','.join(species)}_{label}"


def cluster_job(task: str, phase: str, species: tuple[str, ...], label: str, a: float, n: int,
                relax: Relax) -> Job:
    atoms = decorate(HOST_PHASES[phase], a, n, list(zip(cluster_sites(label), species)))
    return cell_job(task, cluster_name(phase, species, label), atoms, relax)


# --------------------------------------------------------------- reference
@dataclass(frozen=True)
class PairItem:
    phase: str
    a: str
    b: str
    key: str  # <id>-SolSol_<A>_<B>

    @property
    def item(self) -> str:
        return f"{HOST_PHASES[self.phase]}:{self.a}-{self.b}"


@dataclass(frozen=True)
class ClusterItem:
    phase: str
    species: tuple[str, ...]  # as in the first reference key
    label: str
    keys: tuple[str, ...]  # every reference key for this configuration

    @property
    def item(self) -> str:
        return f"{HOST_PHASES[self.phase]}:{','.join(self.species)}_{self.label}"


def _phase_by_id(ref: Reference) -> dict[str, str]:
    return {ref.phases[p].id: p for p in HOST_PHASES if p in ref.phases}


def pair_items(ref: Reference) -> list[PairItem]:
    by_id = _phase_by_id(ref)
    out = []
    for key in sorted(ref.values):
        m = re.fullmatch(r"(\w+)-SolSol_([A-Za-z]+)_([A-Za-z]+)_BindingEnergy", key)
        if m and m.group(1) in by_id:
            out.append(PairItem(by_id[m.group(1)], m.group(2), m.group(3), key.removesuffix("_BindingEnergy")))
    return out


def cluster_items(ref: Reference) -> list[ClusterItem]:
    by_id = _phase_by_id(ref)
    groups: dict[tuple, tuple[tuple[str, ...], list[str]]] = {}
    for key in sorted(ref.values):
        m = re.fullmatch(r"(\w+)-(?:Triplet|ClusterE)_([A-Za-z,]+)_(\d+)", key)
        if m and m.group(1) in by_id:
            species, label = tuple(m.group(2).split(",")), m.group(3)
            group = groups.setdefault((by_id[m.group(1)], canonical_cluster(species, label)), (species, []))
            group[1].append(key)
    return [ClusterItem(p, species, canon[1], tuple(keys)) for (p, canon), (species, keys) in groups.items()]


def solute_elements(phase: str, species: tuple[str, ...] | list[str]) -> set[str]:
    return {HOST_PHASES[phase]} | {s for s in species if s != VAC}


# -------------------------------------------------------------------- task
class SoluteBindingTask(Task):
    name = "solute_binding"
    x_label = "neighbour-shell distance (Å)"
    title = "Solute binding and clusters"
    computes = ("solute-solute and solute-vacancy binding energies by neighbour shell (meV) in Al and Cu; "
                "solute triplet and Cu cluster energies (eV) in Al")
    reference_source = ("alcumgzn_pbe: <id>-SolSol_<A>_<B>_BindingEnergy/_Distances, 8100-Triplet_<A,B,C>_<geom>, "
                        "8100-ClusterE_<Cu..>_<geom>")
    tier = "standard"
    protocol = SOLUTE_CELL_PROTOCOL

    def __init__(self, settings: SoluteSettings | None = None):
        self.settings = settings or SoluteSettings()

    def _shells(self, ctx: Context, item: PairItem) -> int:
        ref = ctx.reference.value(f"{item.key}_BindingEnergy")
        count = len(ref.value) if ref is not None and isinstance(ref.value, list) else 0
        if self.settings.max_shells is not None:
            count = min(count, self.settings.max_shells)
        return count

    def build(self, ctx: Context, results: Mapping[str, Result]) -> list[Job]:
        ref = ctx.reference
        s = self.settings
        jobs: dict[str, Job] = {}
        pairs = pair_items(ref)
        clusters = cluster_items(ref) if s.clusters else []
        for phase in HOST_PHASES:
            mine_p = [p for p in pairs if p.phase == phase and ctx.covers(solute_elements(phase, (p.a, p.b)))]
            mine_c = [c for c in clusters if c.phase == phase and ctx.covers(solute_elements(phase, c.species))]
            if not (mine_p or mine_c):
                continue
            relax = relax_job(ref, phase)
            jobs[relax.name] = relax
            a = host_lattice(results, phase)
            if a is None:
                continue
            n = s.n(phase)
            sites = shell_sites(n)
            jobs[f"{phase}/pure"] = pure_job(self.name, phase, a, n)
            for p in mine_p:
                for sp in (p.a, p.b):
                    j = single_job(self.name, phase, sp, a, n, s.relax)
                    jobs[j.name] = j
                for k in range(min(self._shells(ctx, p), len(sites))):
                    j = pair_job(self.name, phase, p.a, p.b, k + 1, sites[k], a, n, s.relax)
                    jobs[j.name] = j
            for c in mine_c:
                for sp in c.species:
                    j = single_job(self.name, phase, sp, a, n, s.relax)
                    jobs[j.name] = j
                j = cluster_job(self.name, phase, c.species, c.label, a, n, s.relax)
                jobs[j.name] = j
        return list(jobs.values())

    def analyse(self, ctx: Context, results: Mapping[str, Result]) -> list[Metric]:
        ref = ctx.reference
        metrics: list[Metric] = []
        for p in pair_items(ref):
            metrics.extend(self._pair_metrics(ctx, results, p))
        for c in cluster_items(ref):
            metrics.append(self._cluster_metric(ctx, results, c))
        return metrics

    def _pair_metrics(self, ctx: Context, results: Mapping[str, Result], p: PairItem) -> list[Metric]:
        ref = ctx.reference
        be = ref.value(f"{p.key}_BindingEnergy")
        dist = ref.value(f"{p.key}_Distances")
        values = list(be.value) if be is not None else []
        dvals = list(dist.value) if dist is not None else [None] * len(values)
        missing = ctx.missing(solute_elements(p.phase, (p.a, p.b)))
        n = self.settings.n(p.phase)
        n_sites = len(shell_sites(n))
        wanted = self._shells(ctx, p)
        out = []
        for k, refval in enumerate(values):
            source = f"{be.source}[{k}]" + (f"; {dist.source}[{k}]" if dist is not None else "")
            x = float(dvals[k]) if dvals[k] is not None else None
            common = dict(task=self.name, item=p.item, name=f"shell{k + 1}", group="binding_energy", unit="meV",
                          reference=float(refval), source=source, series=p.item, x=x)
            if missing:
                out.append(Metric(**common, value=None, status="not_applicable",
                                  reason=f"model lacks {', '.join(missing)}"))
                continue
            if k >= wanted:
                out.append(Metric(**common, value=None, status="not_applicable",
                                  reason=f"shell beyond settings.max_shells={self.settings.max_shells}"))
                continue
            if k >= n_sites:
                out.append(Metric(**common, value=None, status="failed",
                                  reason=f"shell {k + 1} does not fit the {n}^3 supercell"))
                continue
            names = [f"relax/{p.phase}", f"{p.phase}/pure", f"{p.phase}/single/{p.a}", f"{p.phase}/single/{p.b}",
                     f"{p.phase}/pair/{p.a}-{p.b}/{k + 1}"]
            fail = failed_reason(results, names)
            if fail:
                out.append(Metric(**common, value=None, status="failed", reason=fail))
                continue
            e = [results[nm].energy for nm in names[1:]]
            value = binding_energy_meV(e[3], e[0], e[1], e[2])
            out.append(Metric(**common, value=float(value)))
        return out

    def _cluster_metric(self, ctx: Context, results: Mapping[str, Result], c: ClusterItem) -> Metric:
        ref = ctx.reference
        rvs = [ref.value(k) for k in c.keys]
        refval = float(rvs[0].value)
        source = "; ".join(rv.source for rv in rvs)
        common = dict(task=self.name, item=c.item, name="energy", group="cluster_energy", unit="eV",
                      reference=refval, source=source, series=f"{HOST_PHASES[c.phase]}:clusters")
        missing = ctx.missing(solute_elements(c.phase, c.species))
        if missing:
            return Metric(**common, value=None, status="not_applicable", reason=f"model lacks {', '.join(missing)}")
        if not self.settings.clusters:
            return Metric(**common, value=None, status="not_applicable", reason="clusters off in settings")
        names = [f"relax/{c.phase}", f"{c.phase}/pure", cluster_name(c.phase, c.species, c.label)]
        names += [f"{c.phase}/single/{sp}" for sp in c.species]
        fail = failed_reason(results, names)
        if fail:
            return Metric(**common, value=None, status="failed", reason=fail)
        e_pure = results[f"{c.phase}/pure"].energy
        e_cluster = results[names[2]].energy
        singles = sum(results[f"{c.phase}/single/{sp}"].energy for sp in c.species)
        value = e_cluster - singles + (len(c.species) - 1) * e_pure
        return Metric(**common, value=float(value))
