"""Heats of solution in Al and solute-referenced formation energies.

The reference's ``solformation_energy`` measures compounds against solutes
dissolved in Al rather than against the pure elements: mu_X = E_X(bulk)/atom +
dH_X, with dH_X = E[Al_(N-1) X] - (N-1)/N E[Al_N] - E_X(bulk)/atom the dilute
heat of solution (eV per solute, negative = exothermic); dH_Al = 0.  For the
pure solute phases solformation = -dH_X, which is how the reference stores
the heats of Mg and Zn (``9226-/122929-solformation_energy``); Cu's is also
``Ediff_cusol_cubulk``.  The dilute cells are the 4x4x4 (256-site) Al cells of
the solute-binding task (same Jobs, computed once), ions relaxed at the
model's Al lattice constant.  Not in the quick tier (256-atom relaxations).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping

from alloybench.jobs import Job, Result
from alloybench.tasks.base import Context, Metric, Task, failed_reason
from alloybench.tasks.bulk import ELEMENT_PHASES, elemental_potentials, relax_job
from alloybench.tasks.solutes import SOLUTE_RELAX, host_lattice, pure_job, single_job

SOLUTES = ("Cu", "Mg", "Zn")
CELL_REPEATS = 4


class SolutionEnergyTask(Task):
    name = "solution_energy"
    title = "Heats of solution and solute-referenced formation energies"
    computes = "dilute heat of solution of Cu, Mg, Zn in Al; formation energy of the precipitates against dissolved solutes"
    reference_source = "alcumgzn_pbe: <id>-solformation_energy, Ediff_cusol_cubulk"
    tier = "standard"
    protocol = "solution-1"

    def _solutes(self, ctx: Context) -> list[str]:
        return [x for x in SOLUTES if ctx.covers({"Al", x})]

    def build(self, ctx: Context, results: Mapping[str, Result]) -> list[Job]:
        if not ctx.covers({"Al"}):
            return []
        jobs = [relax_job(ctx.reference, p) for el, p in ELEMENT_PHASES.items() if ctx.covers({el})]
        jobs += [relax_job(ctx.reference, p) for p, ph in ctx.reference.phases.items()
                 if p not in ELEMENT_PHASES.values() and ctx.covers(ph.elements)]
        a = host_lattice(results, "Al")
        if a is not None:
            jobs.append(pure_job(self.name, "Al", a, CELL_REPEATS))
            jobs += [single_job(self.name, "Al", x, a, CELL_REPEATS, SOLUTE_RELAX) for x in self._solutes(ctx)]
        return jobs

    def heats(self, ctx: Context, results: Mapping[str, Result]) -> tuple[dict[str, float], dict[str, str]]:
        """dH per solute (eV) and, for those that could not be computed, why."""
        mu = elemental_potentials(ctx, results)
        heats: dict[str, float] = {"Al": 0.0}
        why: dict[str, str] = {}
        for x in self._solutes(ctx):
            fail = failed_reason(results, ["relax/Al", f"relax/{ELEMENT_PHASES[x]}", "Al/pure", f"Al/single/{x}"])
            if fail:
                why[x] = fail
                continue
            pure, single = results["Al/pure"], results[f"Al/single/{x}"]
            n = len(pure.structure)
            heats[x] = single.energy - (n - 1) / n * pure.energy - mu[x]
        return heats, why

    def analyse(self, ctx: Context, results: Mapping[str, Result]) -> list[Metric]:
        ref = ctx.reference
        heats, why = self.heats(ctx, results) if ctx.covers({"Al"}) else ({}, {})
        mu = elemental_potentials(ctx, results)
        metrics: list[Metric] = []
        for x in SOLUTES:
            rv = ref.value("Ediff_cusol_cubulk") if x == "Cu" else None
            refval = float(rv.value) if rv else None
            source = rv.source if rv else ""
            if rv is None:  # pure-solute solformation = -dH
                sol = ref.phase_value(x, "solformation_energy")
                refval, source = -float(sol.value), f"{sol.source} (negated)"
            if not ctx.covers({"Al", x}):
                metrics.append(Metric(self.name, f"{x} in Al", "heat_of_solution", "solution_energy", "eV", None,
                                      refval, source, "not_applicable", f"model lacks {', '.join(ctx.missing({'Al', x}))}"))
            elif x in heats:
                metrics.append(Metric(self.name, f"{x} in Al", "heat_of_solution", "solution_energy", "eV", heats[x],
                                      refval, source))
            else:
                metrics.append(Metric(self.name, f"{x} in Al", "heat_of_solution", "solution_energy", "eV", None,
                                      refval, source, "failed", why.get(x, "not computed")))
        for phase, pdata in ref.phases.items():
            if phase in ELEMENT_PHASES.values():
                continue
            rv = ref.phase_value(phase, "solformation_energy")
            refval = float(rv.value)
            missing = ctx.missing(pdata.elements)
            if missing:
                metrics.append(Metric(self.name, phase, "solformation_energy", "formation_energy", "eV/atom", None,
                                      refval, rv.source, "not_applicable", f"model lacks {', '.join(missing)}"))
                continue
            fail = failed_reason(results, [f"relax/{phase}"])
            lacking = sorted(set(pdata.elements) - set(heats) - {"Al"} | (set(pdata.elements) - set(mu)))
            if fail or lacking:
                reason = fail or "; ".join(why.get(x, f"{x}: reference energy missing") for x in lacking)
                metrics.append(Metric(self.name, phase, "solformation_energy", "formation_energy", "eV/atom", None,
                                      refval, rv.source, "failed", reason))
                continue
            r = results[f"relax/{phase}"]
            counts = Counter(r.structure.symbols)
            n = sum(counts.values())
            value = (r.energy - sum(c * (mu[el] + heats[el]) for el, c in counts.items())) / n
            metrics.append(Metric(self.name, phase, "solformation_energy", "formation_energy", "eV/atom", value,
                                  refval, rv.source))
        return metrics
