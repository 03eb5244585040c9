"""Intrinsic (stable) and unstable stacking-fault energies of fcc Al and Cu and
the generalised stacking-fault (GSF) curve along <112>, by the tilted-cell method.

Cell.  From the model's relaxed bulk (cubic lattice constant a = (4 V/atom)^(1/3))
a periodic stack of n (111) layers, one atom per layer: x along [1-10],
z along [111] (the fault normal), in-plane vectors a1 = a/sqrt2 [1,0,0] and
a2 = a/sqrt2 [1/2, sqrt3/2, 0], layer k at k (b_p + d z^), with d = a/sqrt3 and
b_p = (a1 + a2)/3, the a/6<112> Shockley partial (|b_p| = a/sqrt6).  For n a
multiple of 3 the third vector (0, 0, n d) closes the perfect ABC stack.
Tilting it to (0, 0, n d) + x b_p shifts every periodic image by x b_p, so the
cell holds one fault with displacement x per n layers: x = 1 is the intrinsic
stacking fault (ABC|BCA: C is followed by B), x = 0.5 the bridge position.

Relaxation.  Atoms move only along z (Relax.free_directions = (F, F, T)); the
in-plane cell and the tilt stay fixed; the cell height relaxes (zz strain
only: UnitCellFilter with that mask), as in the ml-peg port of the reference (the DFT
kept a 15-layer cell fixed, docs/protocols.md).  With the height also fixed
the fault's excess volume is squeezed back elastically at a cost that decays
only as 1/n (EMT Al, x = 1: -3.5, -5.7, -7.7, -8.7 mJ/m^2 at 9, 12, 18, 24
layers, limit about -11.2), while with the height free the energy is
converged at 6 layers (-11.227 mJ/m^2 from 6 to 24).  (EMT puts hcp below
fcc for Al and Cu, hence its negative intrinsic SFE.)

gamma(x) = (E(x) - E(0)) / A in mJ/m^2, with E(0) the untilted cell of the same
height (the same number of atoms, so no bulk reference is needed; it equals
n E_bulk).  Height: the displacements x = 0, 0.5, 1 are computed at n = 9 and
12 layers, then 15, 18, 24, 30 while gamma(0.5) or gamma(1) changed by more
than 1 % (or 1 mJ/m^2) from the previous height.  At the converged height the
whole curve x = 0, 0.05, ..., 1 (21 points) is computed.  StableSF = gamma(1);
UnStableSF = the maximum of the curve on [0, 1], refined by a parabola through
the highest grid point and its neighbours.  Every curve point is reported
(series gsf_<element>, unscored).
"""

from __future__ import annotations

import math
from collections.abc import Mapping

import numpy as np
from ase import Atoms

from alloybench.jobs import Job, Relax, Result, Structure
from alloybench.tasks.base import Context, Metric, Task, failed_reason
from alloybench.tasks.bulk import fcc_lattice_constant, relax_job
from alloybench.tasks.surfaces import CONVERGED_REL, EV_PER_A2_TO_MJ_PER_M2, converged, element_of, surface_area

SF_PROTOCOL = "stacking-faults-1"
HEIGHTS = (9, 12, 15, 18, 24, 30)  # (111) layers per fault, multiples of 3
PROBES = (0.0, 0.5, 1.0)  # displacements (units of b_p) that decide the height
N_STEPS = 20  # GSF curve: x = i / N_STEPS, i = 0..N_STEPS
# height convergence: surfaces.converged (1 % or 1 mJ/m^2, as for slab thickness)
FAULT_RELAX = Relax(fmax=2e-3, max_steps=1000, cell_mask=(False, False, True, False, False, False),
                    free_directions=(False, False, True), optimizer="LBFGS")
PHASES = ("Al", "Cu")


def curve_points() -> list[float]:
    return [i / N_STEPS for i in range(N_STEPS + 1)]


def tilted_cell(element: str, a: float, layers: int, x: float) -> Atoms:
    """``layers`` (111) layers of fcc with the third cell vector tilted by x partial Burgers vectors."""
    if layers % 3:
        raise ValueError("the number of (111) layers must be a multiple of 3")
    s = a / math.sqrt(2.0)
    a1 = np.array([s, 0.0, 0.0])
    a2 = np.array([s / 2.0, s * math.sqrt(3.0) / 2.0, 0.0])
    bp = (a1 + a2) / 3.0
    d = a / math.sqrt(3.0)
    positions = [k * bp + np.array([0.0, 0.0, k * d]) for k in range(layers)]
    atoms = Atoms([element] * layers, positions=positions,
                  cell=[a1, a2, np.array([0.0, 0.0, layers * d]) + x * bp], pbc=True)
    atoms.wrap()
    return atoms


def fault_energy(energy: float, energy0: float, area: float) -> float:
    """mJ/m^2 of one fault of ``area`` Å^2 relative to the perfect cell's energy ``energy0``."""
    return (energy - energy0) / area * EV_PER_A2_TO_MJ_PER_M2


def unstable_maximum(xs: list[float], gammas: list[float]) -> tuple[float, float]:
    """(x, gamma) of the curve maximum, refined by a parabola through the top grid point and its neighbours."""
    i = int(np.argmax(gammas))
    if 0 < i < len(xs) - 1:
        y0, y1, y2 = gammas[i - 1], gammas[i], gammas[i + 1]
        h = xs[i + 1] - xs[i]
        den = y0 - 2.0 * y1 + y2
        if den < 0:
            t = 0.5 * (y0 - y2) / den
            return xs[i] + t * h, y1 - 0.25 * (y0 - y2) * t
    return xs[i], gammas[i]


def job_name(phase: str, layers: int, x: float) -> str:
    return f"gsf/{phase}/{layers}/{x:.4f}"


class StackingFaultTask(Task):
    name = "stacking_faults"
    title = "Stacking faults"
    computes = ("fcc Al, Cu intrinsic and unstable stacking-fault energies (mJ/m^2) and the <112> GSF curve, "
                "tilted (111) cell, height converged")
    reference_source = "alcumgzn_pbe: <id>-StableSF, <id>-UnStableSF"
    tier = "quick"
    protocol = SF_PROTOCOL
    x_label = "fault displacement x (units of the a/6<112> partial; 1 = intrinsic fault)"
    curve_reference_note = ("stable fault at x = 1; the unstable fault energy at x = 0.5, the bridge position "
                            "where the curve peaks: the reference gives its value, not its position")

    def curve_references(self, metrics):
        """The reference's stable (x = 1) and unstable (drawn at x = 0.5) fault energies on each gsf_<element> curve."""
        out, seen = [], set()
        for m in metrics:
            at = {"StableSF": 1.0, "UnStableSF": 0.5}.get(m["name"])
            if at is None or m.get("reference") is None or (m["item"], m["name"]) in seen:
                continue
            seen.add((m["item"], m["name"]))
            out.append({"series": f"gsf_{m['item']}", "x": at, "value": float(m["reference"]), "unit": m["unit"],
                        "item": m["item"], "label": m["name"]})
        return out

    @staticmethod
    def points(ctx: Context) -> list[float]:
        """The quick tier stops at the three probes (unstable SFE from a parabola through
        0, 1/2, 1 partial); from the standard tier on, the whole curve."""
        return list(PROBES) if ctx.tier == "quick" else curve_points()

    def _energy(self, results: Mapping[str, Result], phase: str, layers: int, x: float) -> float | None:
        r = results.get(job_name(phase, layers, x))
        return r.energy if r is not None and r.ok and r.energy is not None else None

    def _gamma(self, results, phase, layers, x, area) -> float | None:
        e, e0 = self._energy(results, phase, layers, x), self._energy(results, phase, layers, 0.0)
        return None if e is None or e0 is None else fault_energy(e, e0, area)

    def _height(self, results: Mapping[str, Result], phase: str, area: float) -> tuple[list[int], int | None, bool]:
        """Heights whose probes are needed so far; the converged (or last) height once known."""
        needed = list(HEIGHTS[:2])
        previous: list[float] | None = None
        for i, n in enumerate(HEIGHTS):
            if i >= len(needed):
                break
            probes = [self._gamma(results, phase, n, x, area) for x in PROBES[1:]]
            if any(g is None for g in probes):
                return needed, None, False
            if previous is not None:
                if all(converged(g, p) for g, p in zip(probes, previous)):
                    return needed, n, True
                if i + 1 < len(HEIGHTS):
                    needed = list(HEIGHTS[: i + 2])
            previous = probes
        return needed, needed[-1], False

    def _setup(self, ctx: Context, results: Mapping[str, Result], phase: str):
        r = results.get(f"relax/{phase}")
        if r is None or not r.ok or r.structure is None:
            return None
        atoms = r.atoms
        element, a = element_of(atoms), fcc_lattice_constant(atoms)
        area = surface_area(tilted_cell(element, a, 3, 0.0))
        return element, a, area

    def build(self, ctx: Context, results: Mapping[str, Result]) -> list[Job]:
        jobs: list[Job] = []
        for phase in PHASES:
            if not ctx.covers(ctx.reference.phases[phase].elements):
                continue
            jobs.append(relax_job(ctx.reference, phase))
            setup = self._setup(ctx, results, phase)
            if setup is None:
                continue
            element, a, area = setup
            heights, final, _ = self._height(results, phase, area)
            wanted = {(n, x) for n in heights for x in PROBES}
            if final is not None:
                wanted |= {(final, x) for x in self.points(ctx)}
            for n, x in sorted(wanted):
                jobs.append(Job(task=self.name, name=job_name(phase, n, x),
                                structure=Structure.from_atoms(tilted_cell(element, a, n, x)),
                                relax=FAULT_RELAX, protocol=self.protocol))
        return jobs

    def analyse(self, ctx: Context, results: Mapping[str, Result]) -> list[Metric]:
        ref = ctx.reference
        metrics: list[Metric] = []
        xs = self.points(ctx)
        for phase in PHASES:
            pid = ref.phases[phase].id
            scored = []
            for name in ("StableSF", "UnStableSF"):
                rv = ref.value(f"{pid}-{name}")
                scored.append((name, float(rv.value) if rv else None, rv.source if rv else f"{pid}-{name}"))
            missing = ctx.missing(ref.phases[phase].elements)
            fail = None
            curve: list[float] = []
            if missing:
                status, fail = "not_applicable", f"model lacks {', '.join(missing)}"
            else:
                status = "failed"
                setup = self._setup(ctx, results, phase)
                if setup is None:
                    fail = failed_reason(results, [f"relax/{phase}"]) or "bulk relaxation missing"
                else:
                    _, _, area = setup
                    heights, final, ok = self._height(results, phase, area)
                    names = [job_name(phase, n, x) for n in heights for x in PROBES]
                    if final is not None:
                        names = [job_name(phase, final, x) for x in xs]
                    fail = failed_reason(results, names)
                    if fail is None and final is not None:
                        curve = [self._gamma(results, phase, final, x, area) for x in xs]
                        status = "ok"
                        fail = "" if ok else f"not converged to {CONVERGED_REL:.0%} in cell height at {final} layers"
                    elif fail is None:
                        fail = "not computed"
            if status == "ok":
                usf = unstable_maximum(xs, curve)[1]
                values = {"StableSF": curve[-1], "UnStableSF": usf}
                notes = {"StableSF": fail or "", "UnStableSF": "; ".join(
                    x for x in (fail, "quick tier: maximum of a parabola through 0, 1/2, 1 partial"
                                if ctx.tier == "quick" else "") if x)}
                for name, refval, source in scored:
                    metrics.append(Metric(self.name, phase, name, "stacking_fault", "mJ/m^2", values[name], refval,
                                          source, "ok", notes[name]))
                for x, g in zip(xs, curve):
                    metrics.append(Metric(self.name, phase, f"gsf_{x:.2f}", "stacking_fault", "mJ/m^2", g, None,
                                          "", "ok", series=f"gsf_{phase}", x=x))
            else:
                for name, refval, source in scored:
                    metrics.append(Metric(self.name, phase, name, "stacking_fault", "mJ/m^2", None, refval, source,
                                          status, fail or ""))
                for x in xs:
                    metrics.append(Metric(self.name, phase, f"gsf_{x:.2f}", "stacking_fault", "mJ/m^2", None, None,
                                          "", status, fail or "", series=f"gsf_{phase}", x=x))
        return metrics
