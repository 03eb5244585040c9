"""Vacancy formation and cohesive energies of each element the model covers.

Vacancy (task ``vacancy``), in the model's own relaxed ground-state phase of the
element (fcc Al, fcc Cu, hcp Mg, hcp Zn; bulk task's relaxation):
    E_vac = E(N-1) - (N-1)/N E(N)      (eV; the chemical potential is E(N)/N)
in a supercell of the spglib conventional cell grown as the antisite task grows it
(one repeat along the shortest vector until >= 108 sites: 108 for fcc, 108 for hcp
[3x3x6 of the 2-atom cell]), at fixed cell:
  * ``E_vac_unrelaxed@108``: ions not relaxed, the reference's protocol (DFT.json
    <id>-AntiSite_formation_energies, the "Vac" entry: Al 0.726 eV, Cu 1.002 eV,
    single points at the host geometry) -> scored where the reference has it;
  * ``E_vac_relaxed@108``: ions relaxed (L-BFGS to 2e-3 eV/Å, the solute cells'
    threshold), cell fixed: the usual definition; no PBE value packaged -> reported;
  * ``E_vac_relaxed@256``: the same in a >= 256-site cell; ``finite_size`` = the
    change from 108 to 256 sites (eV), reported (a change above FINITE_SIZE_EV flags
    the 108-site values).  Standard tier and above only: the four 256-site relaxations
    were most of the quick tier on a CPU (#20), and the check is a convergence check,
    not a property.
Cohesive energy (task ``cohesive``): E_coh = E(isolated atom) - E(bulk)/atom (eV/atom,
positive = bound), the atom alone in a periodic cubic box of ATOM_BOX Å (nothing
within any model's cutoff).  Interatomic potentials have no spin: the isolated atom is
whatever the model gives, which for a model trained on spin-polarised DFT is close to
the spin-polarised free atom and for a classical potential is its fitted cohesive
energy.  The packaged PBE reference has no isolated-atom energies (DFT.json holds only
QE total energies with pseudopotential offsets), so E_coh is reported, not scored.
"""

from __future__ import annotations

from collections.abc import Mapping

from ase import Atoms

from alloybench.jobs import Job, Relax, Result, Structure
from alloybench.tasks.antisites import conventional_cell, supercell_repeats
from alloybench.tasks.base import Context, Metric, Task, failed_reason, outcome_metric
from alloybench.tasks.bulk import ELEMENT_PHASES, relax_job

VACANCY_PROTOCOL = "vacancy-1"
COHESIVE_PROTOCOL = "cohesive-1"
SIZES = (108, 256)  # target sites: the reference's size, and the finite-size check
VACANCY_RELAX = Relax(fmax=2e-3, max_steps=1000, cell_mask=None, optimizer="LBFGS")
FINITE_SIZE_EV = 0.02
ATOM_BOX = 20.0  # Å


def vacancy_supercell(relaxed: Atoms, target: int) -> Atoms:
    conv, _ = conventional_cell(relaxed)
    return conv.repeat(supercell_repeats(conv.cell.array, len(conv), target))


def sizes_for(tier: str) -> tuple[int, ...]:
    """The quick tier has the reference's size only; the finite-size check starts at standard."""
    return SIZES[:1] if tier == "quick" else SIZES


def _name(kind: str, element: str, size: int) -> str:
    return f"{kind}/{element}/{size}"


def vacancy_energy(e_defect: float, e_host: float, n_host: int) -> float:
    return e_defect - (n_host - 1) / n_host * e_host


class VacancyTask(Task):
    name = "vacancy"
    title = "Vacancy formation energy"
    computes = ("vacancy formation energy (eV) of each element in its ground-state phase: unrelaxed (scored "
                "against PBE where packaged: Al, Cu) and ion-relaxed at fixed cell in 108- and 256-site cells")
    reference_source = "alcumgzn_pbe: <id>-AntiSite_formation_energies ('Vac' entry; Al 8100, Cu 635950)"
    tier = "quick"
    protocol = VACANCY_PROTOCOL

    def build(self, ctx: Context, results: Mapping[str, Result]) -> list[Job]:
        jobs: list[Job] = []
        for element, phase in ELEMENT_PHASES.items():
            if phase not in ctx.reference.phases or not ctx.covers({element}):
                continue
            relax = relax_job(ctx.reference, phase)
            jobs.append(relax)
            r = results.get(relax.name)
            if r is None or not r.ok:
                continue
            try:
                cells = {n: vacancy_supercell(r.atoms, n) for n in sizes_for(ctx.tier)}
            except ValueError:
                continue  # reported as failed in analyse
            for n, host in cells.items():
                vac = host.copy()
                del vac[0]
                jobs.append(Job(self.name, _name("host", element, n), Structure.from_atoms(host), protocol=self.protocol))
                jobs.append(Job(self.name, _name("relaxed", element, n), Structure.from_atoms(vac), VACANCY_RELAX,
                                protocol=self.protocol))
                if n == SIZES[0]:
                    jobs.append(Job(self.name, _name("unrelaxed", element, n), Structure.from_atoms(vac),
                                    protocol=self.protocol))
        return jobs

    def _reference(self, ctx: Context, phase: str):
        energies = ctx.reference.phase_value(phase, "AntiSite_formation_energies")
        news = ctx.reference.phase_value(phase, "AntiSite_new_elements")
        if energies is None or news is None:
            return None, ""
        for i, row in enumerate(news.value):
            for j, new in enumerate(row):
                if new == "Vac":
                    return float(energies.value[i][j]), energies.source
        return None, ""

    def analyse(self, ctx: Context, results: Mapping[str, Result]) -> list[Metric]:
        metrics: list[Metric] = []
        small, large = SIZES
        checked = large in sizes_for(ctx.tier)  # the finite-size check runs from the standard tier
        for element, phase in ELEMENT_PHASES.items():
            if phase not in ctx.reference.phases:
                continue
            refval, source = self._reference(ctx, phase)
            missing = ctx.missing({element})
            values: dict[str, float] = {}
            fails: dict[str, str] = {}
            sizes: dict[int, int] = {}
            wanted = [("unrelaxed", small), ("relaxed", small)] + ([("relaxed", large)] if checked else [])
            if not missing:
                base = failed_reason(results, [f"relax/{phase}"])
                for kind, n in wanted:
                    key = f"E_vac_{kind}@{n}"
                    fail = base or failed_reason(results, [_name("host", element, n), _name(kind, element, n)])
                    if fail:
                        fails[key] = fail
                        continue
                    host = results[_name("host", element, n)]
                    sizes[n] = len(host.structure)
                    values[key] = vacancy_energy(results[_name(kind, element, n)].energy, host.energy, sizes[n])
                k1, k2 = f"E_vac_relaxed@{small}", f"E_vac_relaxed@{large}"
                if k1 in values and k2 in values:
                    values["finite_size"] = values[k2] - values[k1]
                else:
                    fails["finite_size"] = fails.get(k1) or fails.get(k2) or ""
            flag = ""
            if abs(values.get("finite_size", 0.0)) > FINITE_SIZE_EV:
                flag = (f"finite-size: {values['finite_size']:+.3f} eV from {sizes.get(small)} to "
                        f"{sizes.get(large)} sites")
            rows = [(f"E_vac_unrelaxed@{small}", "vacancy_formation", refval, source),
                    (f"E_vac_relaxed@{small}", "vacancy_relaxed", None, "")]
            if checked:
                rows += [(f"E_vac_relaxed@{large}", "vacancy_relaxed", None, ""),
                         ("finite_size", "vacancy_finite_size", None, "")]
            for name, group, rv, src in rows:
                metrics.append(outcome_metric(self.name, element, name, group, "eV", values.get(name), rv, src,
                                              missing, fails.get(name) or "symmetry of the relaxed cell not found",
                                              flag if name.endswith(f"@{small}") else ""))
        return metrics


def isolated_atom_job(element: str, box: float = ATOM_BOX) -> Job:
    atoms = Atoms(element, positions=[(box / 2, box / 2, box / 2)], cell=[box, box, box], pbc=True)
    return Job("cohesive", f"atom/{element}", Structure.from_atoms(atoms), protocol=COHESIVE_PROTOCOL)


class CohesiveTask(Task):
    name = "cohesive"
    title = "Cohesive energy"
    computes = ("cohesive energy (eV/atom) of each element in its ground-state phase against the isolated atom "
                f"in a {ATOM_BOX:g} Å periodic box (no spin: the model's own atom); no PBE value packaged: reported")
    reference_source = "none packaged (DFT.json has no isolated-atom energies)"
    tier = "quick"
    protocol = COHESIVE_PROTOCOL

    def build(self, ctx: Context, results: Mapping[str, Result]) -> list[Job]:
        jobs = []
        for element, phase in ELEMENT_PHASES.items():
            if phase in ctx.reference.phases and ctx.covers({element}):
                jobs += [relax_job(ctx.reference, phase), isolated_atom_job(element)]
        return jobs

    def analyse(self, ctx: Context, results: Mapping[str, Result]) -> list[Metric]:
        metrics = []
        for element, phase in ELEMENT_PHASES.items():
            if phase not in ctx.reference.phases:
                continue
            missing = ctx.missing({element})
            fail = None if missing else failed_reason(results, [f"relax/{phase}", f"atom/{element}"])
            e = None
            if not missing and fail is None:
                bulk = results[f"relax/{phase}"]
                e = results[f"atom/{element}"].energy - bulk.energy / len(bulk.structure)
            metrics.append(outcome_metric(self.name, element, "E_coh", "cohesive_energy", "eV/atom", e, None, "",
                                          missing, fail or ""))
        return metrics
