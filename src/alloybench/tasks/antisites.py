"""Antisite and vacancy formation energies in the precipitates and the fcc hosts.

Structures (daniel-sintef/aiida-alloy ``aiida_create_antisite_structures.py`` with
``project_scripts/generate_antisites*.sh``; the ml-peg port does not cover this family):
the host's relaxed *conventional standard* cell (spglib; Al, Cu 4 atoms, theta-prime
12, theta 12, theta-double-prime 4, S 16) is repeated by adding one repeat along the
currently shortest supercell vector (first index wins ties) until it holds >= 108
sites: 108 (Al, Cu), 144 (theta-prime, theta), 128 (theta-double-prime), 192 (S).
One defect per symmetry-inequivalent site of the unit cell (the first atom of the
orbit; ASE ``repeat`` keeps the unit cell's atoms first): the site's atom replaced by
another element, or removed ("Vac").  The reference's numbers are single points at
the host geometry (DFT.json: Cu in Al +0.055 eV, Al vacancy 0.726 eV, i.e. unrelaxed;
docs/protocols.md section 10), so the defect cells are single points here too.

Definitions (verified on the reference itself, docs/protocols.md sections 1 and 10):
* ``formation_energies`` F = E(defect) - E(host supercell) - sum_i dn_i mu_i^sol  (eV per
  defect), with *solution references* mu_Al^sol = E(fcc Al)/atom and
  mu_X^sol = E(X ground state)/atom + dE_sol(X), where
  dE_sol(X) = E(Al255 X) - (255/256) E(Al256) - E(X)/atom is the dilute heat of solution
  in a 4x4x4 conventional Al cell, ions relaxed at the model's Al lattice parameter
  (the very Jobs of tasks/solutes.py and tasks/solution.py, so computed once)
  (DFT: dE_sol(Cu) = ``Ediff_cusol_cubulk`` = -0.11297 eV).  Positive: costs energy
  with respect to an Al solid-solution reservoir.
* ``deltaformation_energies`` = [E(defect) - sum n_i mu_i^elem]/N_defect - E_f(host)
  (eV/atom): the change of per-atom formation energy with elemental references.
* ``partition_energies`` = deltaformation - dn_Cu * dE_sol(Cu) (a legacy mix of an
  eV/atom and an eV/defect term; reproduced literally).
``_new_elements``, ``_wyckoffsymbols``, ``_originalelements``, ``_structureindices``,
``_num_atoms`` and ``_chem_formulas`` describe the items; the built cells are checked
against them.  S-phase: the reference host ``NOTINOQMD_Sphase`` is the same Cmcm
Al2CuMg structure as OQMD 10434 (DFT.json: equal lattice to 1e-3 Å, formation energy
to 4e-6 eV/atom), so the S cells are built from phase "S".
T phase (``TPhaseAnti_*``) and eta-prime (``EtaPIVAnti_*``): the ordered cells the
reference used are not published -> not_applicable.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import spglib
from ase import Atoms

from alloybench.jobs import Job, Result, Structure
from alloybench.reference import Reference
from alloybench.tasks.base import Context, Metric, Task, failed_reason
from alloybench.tasks.bulk import ELEMENT_PHASES, relax_job
from alloybench.tasks.solutes import SOLUTE_RELAX, host_lattice, pure_job, single_job

ANTISITE_PROTOCOL = "antisites-1"
TARGET_SITES = 108
SYMPREC = 1e-3
SOLUTION_REPEATS = 4  # 4x4x4 conventional Al: 256 sites (the solute tasks' cells: same Jobs)
GROUP = "antisite_energy"
# deltaformation is eV/atom (a per-defect energy divided by N ~ 100): it has no group of
# its own in scoring/metrics.yaml yet; "formation_energy" is the eV/atom group.
PER_ATOM_GROUP = "antisite_peratom"  # reported, not scored: the same defect energy divided by the cell size
VAC = "Vac"
HOSTS: dict[str, str] = {  # reference id -> phase
    "8100": "Al",
    "635950": "Cu",
    "695020": "theta_prime",
    "NOTINOQMD_00001": "theta",
    "NOTINOQMD_00002": "theta_dprime",
    "NOTINOQMD_Sphase": "S",
}
UNCOVERED_PREFIXES = {
    "TPhaseAnti_": "structure not available: the ordered T-phase (Mg32(Al,Zn)49) cells of the reference are not published",
    "EtaPIVAnti_": "structure not available: the eta-prime cells of the reference are not published",
}


@dataclass(frozen=True)
class Site:
    index: int  # index in the conventional cell (= in the supercell)
    element: str
    wyckoff: str  # multiplicity + letter, e.g. "8h"


@dataclass(frozen=True)
class Item:
    host: str  # reference id
    site: int  # position in the reference's site list
    variant: int  # position in the reference's new_elements[site]
    label: str  # e.g. "Al1"
    wyckoff: str
    new: str  # element or "Vac"

    @property
    def name(self) -> str:
        return f"{self.label}({self.wyckoff})->{self.new}"


def conventional_cell(atoms: Atoms, symprec: float = SYMPREC) -> tuple[Atoms, list[Site]]:
    """spglib conventional standard cell (no idealisation: the model's geometry is kept)
    and its symmetry-inequivalent sites in order of first appearance."""
    cell = (atoms.cell.array, atoms.get_scaled_positions(), atoms.numbers)
    std = spglib.standardize_cell(cell, to_primitive=False, no_idealize=True, symprec=symprec)
    if std is None:
        raise ValueError("spglib found no symmetry")
    lattice, frac, numbers = std
    conv = Atoms(numbers=numbers, scaled_positions=frac, cell=lattice, pbc=True)
    data = spglib.get_symmetry_dataset((lattice, frac, numbers), symprec=symprec)
    equiv = np.asarray(data.equivalent_atoms)
    wyckoffs = list(data.wyckoffs)
    sites = []
    for rep in dict.fromkeys(int(e) for e in equiv):
        mult = int(np.sum(equiv == rep))
        sites.append(Site(rep, conv[rep].symbol, f"{mult}{wyckoffs[rep]}"))
    return conv, sites


def label_sites(sites: list[Site]) -> dict[str, Site]:
    """'Al1', 'Al2', 'Cu1', ...: element + running index of the inequivalent site."""
    count: Counter[str] = Counter()
    out = {}
    for s in sites:
        count[s.element] += 1
        out[f"{s.element}{count[s.element]}"] = s
    return out


def match_site(item: Item, sites: list[Site]) -> Site | None:
    """The inequivalent site of ``item``: same element and Wyckoff multiplicity.  Letters are
    compared only to break ties, because they depend on the origin choice (theta-double-prime:
    spglib's 2h/1b/1a are the reference's 2g/1d/1c, shifted by (1/2, 1/2, 0))."""
    element = item.label.rstrip("0123456789")
    mult = item.wyckoff.rstrip("abcdefghijklmnopqrstuvwxyz")
    same = [s for s in sites if s.element == element and s.wyckoff.rstrip("abcdefghijklmnopqrstuvwxyz") == mult]
    if len(same) <= 1:
        return same[0] if same else None
    exact = [s for s in same if s.wyckoff == item.wyckoff]
    if len(exact) == 1:
        return exact[0]
    rank = int(item.label[len(element):]) - 1  # running index among this element's sites
    of_element = [s for s in sites if s.element == element]
    return of_element[rank] if rank < len(of_element) and of_element[rank] in same else None


def supercell_repeats(cell: np.ndarray, n_atoms: int, target: int = TARGET_SITES) -> tuple[int, int, int]:
    """Add one repeat along the currently shortest supercell vector until >= target sites."""
    reps = [1, 1, 1]
    lengths = np.linalg.norm(cell, axis=1)
    while n_atoms * reps[0] * reps[1] * reps[2] < target:
        current = lengths * reps
        smallest = int(np.flatnonzero(current <= current.min() * (1 + 1e-6))[0])
        reps[smallest] += 1
    return tuple(reps)  # type: ignore[return-value]


def defect_cell(supercell: Atoms, index: int, new: str) -> Atoms:
    out = supercell.copy()
    if new == VAC:
        del out[index]
    else:
        out[index].symbol = new
    return out


def species_change(original: str, new: str) -> Counter[str]:
    dn: Counter[str] = Counter({original: -1})
    if new != VAC:
        dn[new] += 1
    return dn


def antisite_energies(e_defect: float, counts_defect: Mapping[str, int], e_host: float,
                      counts_host: Mapping[str, int], mu_elem: Mapping[str, float],
                      dsol: Mapping[str, float]) -> dict[str, float]:
    """formation (eV/defect), deltaformation (eV/atom), partition (eV) of one defect.
    ``mu_elem``: eV/atom of the elemental ground states; ``dsol``: heat of solution in Al
    (eV) for every non-Al species exchanged (solution reference mu^sol = mu_elem + dsol)."""
    dn = Counter(counts_defect)
    dn.subtract(counts_host)
    mu_sol = {el: mu_elem[el] + (0.0 if el == "Al" else dsol[el]) for el, d in dn.items() if d}
    formation = e_defect - e_host - sum(d * mu_sol[el] for el, d in dn.items() if d)
    n_def, n_host = sum(counts_defect.values()), sum(counts_host.values())
    ef_def = (e_defect - sum(n * mu_elem[el] for el, n in counts_defect.items())) / n_def
    ef_host = (e_host - sum(n * mu_elem[el] for el, n in counts_host.items())) / n_host
    delta = ef_def - ef_host
    partition = delta - dn.get("Cu", 0) * dsol.get("Cu", 0.0)
    return {"formation": formation, "delta": delta, "partition": partition}


def reference_items(ref: Reference, host: str) -> list[Item]:
    labels = ref.value(f"{host}-AntiSite_originalelements")
    news = ref.value(f"{host}-AntiSite_new_elements")
    wyck = ref.value(f"{host}-AntiSite_wyckoffsymbols")
    if labels is None or news is None or wyck is None:
        return []
    return [Item(host, i, j, str(label), str(wyck.value[i]), str(new))
            for i, label in enumerate(labels.value) for j, new in enumerate(news.value[i])]


def reference_keys(ref: Reference, host: str) -> list[str]:
    return sorted(k for k in ref.values if k.startswith(f"{host}-AntiSite_"))


def host_job_name(host: str) -> str:
    return f"antisite/{host}/host"


def defect_job_name(item: Item) -> str:
    return f"antisite/{item.host}/{item.label}/{item.new}"


def needed_solutes(items: list[Item], host_elements: set[str]) -> set[str]:
    exchanged = set(host_elements) | {i.new for i in items if i.new != VAC}
    return {el for el in exchanged if el != "Al"}


class AntisiteTask(Task):
    name = "antisites"
    title = "Antisites and vacancies in precipitates"
    computes = ("antisite and vacancy formation energies (eV), per-atom formation-energy changes "
                "(eV/atom) and legacy partition energies in Al, Cu, theta-prime, theta, "
                "theta-double-prime and S-phase supercells (unrelaxed, as the reference)")
    reference_source = ("alcumgzn_pbe: <id>-AntiSite_{formation,deltaformation,partition}_energies; "
                        "TPhaseAnti_*, EtaPIVAnti_* (not covered)")
    tier = "standard"
    protocol = ANTISITE_PROTOCOL

    def _elements(self, ref: Reference, host: str) -> set[str]:
        items = reference_items(ref, host)
        phase = HOSTS[host]
        els = set(ref.phases[phase].elements) | {i.new for i in items if i.new != VAC} | {"Al"}
        return els

    def _hosts(self, ctx: Context) -> list[str]:
        return [h for h in HOSTS if HOSTS[h] in ctx.reference.phases and reference_items(ctx.reference, h)]

    def build(self, ctx: Context, results: Mapping[str, Result]) -> list[Job]:
        ref = ctx.reference
        jobs: dict[str, Job] = {}
        for host in self._hosts(ctx):
            elements = self._elements(ref, host)
            if not ctx.covers(elements):
                continue
            phase = HOSTS[host]
            for el in sorted(elements):
                jobs[f"relax/{ELEMENT_PHASES[el]}"] = relax_job(ref, ELEMENT_PHASES[el])
            relax = relax_job(ref, phase)
            jobs[relax.name] = relax
            a_al = host_lattice(results, "Al")
            items = reference_items(ref, host)
            solutes = sorted(needed_solutes(items, set(ref.phases[phase].elements)))
            if a_al is not None and solutes:
                pure = pure_job(self.name, "Al", a_al, SOLUTION_REPEATS)
                jobs[pure.name] = pure
                for solute in solutes:
                    job = single_job(self.name, "Al", solute, a_al, SOLUTION_REPEATS, SOLUTE_RELAX)
                    jobs[job.name] = job
            r = results.get(relax.name)
            if r is None or not r.ok:
                continue
            try:
                conv, sites = conventional_cell(r.atoms)
            except ValueError:
                continue  # reported as failed in analyse
            supercell = conv.repeat(supercell_repeats(conv.cell.array, len(conv)))
            jobs[host_job_name(host)] = Job(task=self.name, name=host_job_name(host),
                                            structure=Structure.from_atoms(supercell), protocol=self.protocol)
            for item in items:
                site = match_site(item, sites)
                if site is None:
                    continue
                jobs[defect_job_name(item)] = Job(
                    task=self.name, name=defect_job_name(item),
                    structure=Structure.from_atoms(defect_cell(supercell, site.index, item.new)),
                    protocol=self.protocol)
        return list(jobs.values())

    def analyse(self, ctx: Context, results: Mapping[str, Result]) -> list[Metric]:
        ref = ctx.reference
        metrics: list[Metric] = []
        for host in HOSTS:
            items = reference_items(ref, host)
            if not items:
                continue
            phase = HOSTS[host]
            keys = reference_keys(ref, host)
            meta_source = ", ".join(f"{ref.values[k].source}" for k in keys
                                    if not k.endswith(("formation_energies", "partition_energies")))
            missing = ctx.missing(self._elements(ref, host)) if phase in ref.phases else []
            base_fail = None
            sites: list[Site] = []
            if phase not in ref.phases:
                base_fail = f"phase {phase} not in the packaged reference"
            elif not missing:
                base_fail = failed_reason(results, [f"relax/{phase}", host_job_name(host)])
                if base_fail is None:
                    try:
                        sites = conventional_cell(results[f"relax/{phase}"].atoms)[1]
                    except ValueError as exc:
                        base_fail = f"symmetry of the relaxed host: {exc}"
            for item in items:
                values, fail = {}, base_fail
                if not missing and fail is None:
                    if match_site(item, sites) is None:
                        fail = (f"relaxed host has no site {item.label} ({item.wyckoff}); found "
                                f"{', '.join(f'{k}({s.wyckoff})' for k, s in label_sites(sites).items())}")
                    else:
                        values, fail = self._values(ctx, results, host, item)
                for name, kind, group, unit in (("formation_energy", "formation", GROUP, "eV"),
                                                ("delta_formation_energy", "delta", PER_ATOM_GROUP, "eV/atom"),
                                                ("partition_energy", "partition", "antisite_partition", "eV")):
                    key = {"formation": "formation_energies", "delta": "deltaformation_energies",
                           "partition": "partition_energies"}[kind]
                    rv = ref.value(f"{host}-AntiSite_{key}")
                    if rv is None:
                        continue
                    refval = float(rv.value[item.site][item.variant])
                    source = f"{rv.source}[{item.site}][{item.variant}]; items: {meta_source}"
                    m_item = f"{phase}:{item.name}"
                    if missing:
                        metrics.append(Metric(self.name, m_item, name, group, unit, None, refval, source,
                                              "not_applicable", f"model lacks {', '.join(missing)}"))
                    elif fail is None:
                        metrics.append(Metric(self.name, m_item, name, group, unit, values[kind], refval, source))
                    else:
                        metrics.append(Metric(self.name, m_item, name, group, unit, None, refval, source,
                                              "failed", fail))
        for key, rv in ref.values.items():
            for prefix, reason in UNCOVERED_PREFIXES.items():
                if key.startswith(prefix):
                    metrics.append(Metric(self.name, key.split("Anti_")[0] + "Anti", key.split("Anti_", 1)[1],
                                          GROUP, "eV", None, float(rv.value), rv.source, "not_applicable", reason))
        return metrics

    def _values(self, ctx: Context, results: Mapping[str, Result], host: str,
                item: Item) -> tuple[dict[str, float], str | None]:
        ref = ctx.reference
        phase = HOSTS[host]
        elements = self._elements(ref, host)
        solutes = needed_solutes(reference_items(ref, host), set(ref.phases[phase].elements))
        names = [f"relax/{ELEMENT_PHASES[el]}" for el in sorted(elements)]
        if solutes:
            names.append("Al/pure")
        names += [f"Al/single/{s}" for s in sorted(solutes)] + [defect_job_name(item)]
        fail = failed_reason(results, names)
        if fail:
            return {}, fail
        mu = {el: results[f"relax/{ELEMENT_PHASES[el]}"].energy / len(results[f"relax/{ELEMENT_PHASES[el]}"].structure)
              for el in elements}
        dsol = {}
        if solutes:
            pure = results["Al/pure"]
            n = len(pure.structure)
            dsol = {s: results[f"Al/single/{s}"].energy - (n - 1) / n * pure.energy - mu[s] for s in solutes}
        host_r, def_r = results[host_job_name(host)], results[defect_job_name(item)]
        return antisite_energies(def_r.energy, Counter(def_r.structure.symbols), host_r.energy,
                                 Counter(host_r.structure.symbols), mu, dsol), None
