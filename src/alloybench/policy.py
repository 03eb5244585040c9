"""What counts as a usable relaxation: one rule for every model.

A relaxation that stops (its step limit reached) with its largest remaining
force above the Job's fmax but at most ``LOOSE_FACTOR`` (5) x fmax is *accepted*:
its energy and structure are used, and every metric that depends on it carries
a flag naming the Job and its residual force; the metric is scored like any
other.  Above that bound the relaxation is a failure (scores 0), as are
explosions (atoms closer than 0.6 Å, volume changed by more than a factor 2),
non-finite energies or forces, and exceptions: those are never accepted.

Why 5 x fmax: the energy left in a relaxation stopped at residual force F is
about F^2 / (2 k) for its softest mode of stiffness k.  Measured on EMT
(benchmarks/unconverged_policy.py evidence: a Cu-Cu pair, a vacancy and a
Cu3-vacancy cluster in 107-108-atom Al cells, FIRE stopped when the largest force
first falls below F): 0.4-0.7 meV at F = 0.01 eV/Å (5 x the solute cells' fmax
2e-3), against 2-3.5 meV at 0.02 eV/Å and 6-7 meV at 0.05 eV/Å.  So within the
bound an accepted energy is within 1 meV of its converged value, the
convergence criterion of docs/protocols.md.

A task may declare a looser bound for some of its Jobs where it has measured that its
numbers stay converged (``Task.acceptance_bound``).  One does: the ion relaxations of the
scored relaxed-ion elastic tensor (the +-0.5 % strain cells, fmax 1e-5) are accepted up to
``tasks.elastic.SCORED_STRAIN_BOUND`` (1e-4 eV/Å, 10 x fmax).  A float32 model's forces are noisy
at 1e-5 (CHGNet's BFGS stops at 2e-5 - 1e-4 on theta and theta-double-prime), and
docs/protocols.md 14.1 shows what stopping at 1e-4 costs: EMT theta C44 moves by
0.11 % (BFGS) / 0.32 % (FIRE) and theta-prime's by 0 %, inside the 0.5 % criterion.
The +-0.1 % cells keep 5 x fmax: their induced forces are five times smaller, and
at 1e-4 theta C44 moves 0.76 % (BFGS) / 2.5 % (FIRE).  The rule is applied
when results are read (the store keeps what the engine returned), so it applies
the same way to old stores; ``alloybench report`` rebuilds with it.
"""

from __future__ import annotations

import re
from dataclasses import replace

import numpy as np

from alloybench.jobs import Job, Result

LOOSE_FACTOR = 5.0
ACCEPTED = "accepted unconverged relaxation"
_LEFT = re.compile(r"largest force left ([0-9.eE+-]+) eV/Å")


def residual_force(job: Job, result: Result) -> float | None:
    """Largest remaining force (eV/Å) of a stopped relaxation: the engine's own figure
    (the optimiser's forces, the cell's included) when its reason states it, else the
    stored atomic forces, with the cell's generalised forces (|V sigma| / N, as ASE's
    cell filters scale them) for a relaxation with a cell mask."""
    m = _LEFT.search(result.reason or "")
    if m:
        return float(m.group(1))
    if result.forces is None:
        return None
    f = float(np.sqrt((np.asarray(result.forces) ** 2).sum(axis=1)).max()) if len(result.forces) else 0.0
    if job.relax is not None and job.relax.cell_mask and result.stress is not None and result.structure is not None:
        atoms = result.structure.to_atoms()
        s = np.abs(np.asarray(result.stress)) * atoms.get_volume() / len(atoms)
        f = max(f, float(max(s[i] for i, on in enumerate(job.relax.cell_mask) if on)))
    return f


def bound(job: Job) -> float:
    """The largest residual force (eV/Å) at which a stopped relaxation of ``job`` is accepted."""
    from alloybench.tasks import TASKS  # here: the tasks import this module's users

    b = LOOSE_FACTOR * job.relax.fmax
    task = TASKS.get(job.task)
    own = task.acceptance_bound(job) if task is not None else None
    return b if own is None else max(b, own)


def apply(job: Job, result: Result) -> Result:
    """The result as the analysis sees it: an unconverged relaxation within the bound
    becomes usable (ok, ``converged`` False, reason saying so); anything else as it is."""
    if result.ok or job.relax is None or result.stage != "relax" or not (result.reason or "").startswith("not converged"):
        return result
    if result.energy is None or result.structure is None:
        return result
    left = residual_force(job, result)
    limit = bound(job)
    if left is None or not np.isfinite(left) or left > limit:
        return result
    return replace(result, ok=True, converged=False,
                   reason=f"{ACCEPTED}: largest force {left:.2g} eV/Å after {result.steps} steps "
                          f"(fmax {job.relax.fmax:g}; accepted up to {limit:g} eV/Å)")


def is_accepted(result: Result) -> bool:
    return result.ok and not result.converged and (result.reason or "").startswith(ACCEPTED)


def residual_force_text(result: Result) -> str:
    m = re.search(r"largest force ([0-9.eE+-]+) eV/Å", result.reason or "")
    return f" ({m.group(1)} eV/Å)" if m else ""
