"""GPAW as a model of ``alloybench run`` (``--model gpaw``, ``gpaw-low`` for tests).

The suite's tasks run on ``DFTCalculator`` through the serial engine like any potential
(the batched engine is refused: a DFT code has no batched backend).  DFT cost grows as
N^2–N^3 with the atom count, so ``MAX_ATOMS`` = 40 atoms per Job is the limit: before
anything runs, ``check_run`` plans each selected task's Jobs (``planned_jobs``: its
``build`` fed synthetic results, so the Jobs of later rounds, such as the 256-site
solute cells built once the Al lattice constant is known, are seen too) and refuses a
task any of whose Jobs is larger, in one line naming the tasks that fit.  Refusing
(rather than recording Jobs as not applicable) keeps a DFT run from scoring a model on
a subset of a task while looking complete, and costs no DFT time.  As a second guard,
``LimitedDFTCalculator`` fails a Job above the limit (stored, with the reason) should a
task build one that the plan did not foresee.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ase.calculators.calculator import all_changes

from alloybench.dft.calculator import DFTCalculator
from alloybench.errors import UserError
from alloybench.jobs import Job, Result

MAX_ATOMS = 40
ELEMENTS = frozenset({"Al", "Cu", "Mg", "Zn", "Si"})
PLAN_ROUNDS = 12


def load_gpaw(weights: Path | None = None, settings: str = "default", max_atoms: int = MAX_ATOMS, **_: Any):
    """The loader of the ``dft`` family: settings 'default' | 'low' | 'reference-k'."""
    from alloybench.dft.calculator import require_gpaw

    require_gpaw()
    return LimitedDFTCalculator(_settings(settings), max_atoms=max_atoms)


def _settings(name: str):
    from alloybench.dft.settings import DEFAULT, LOW, REFERENCE_K

    return {"default": DEFAULT, "low": LOW, "reference-k": REFERENCE_K}[name]


class LimitedDFTCalculator(DFTCalculator):
    """DFTCalculator that refuses cells above ``max_atoms`` atoms (a ValueError: a failed Job)."""

    def __init__(self, settings, max_atoms: int = MAX_ATOMS, **kwargs: Any):
        super().__init__(settings, **kwargs)
        self.max_atoms = max_atoms

    def calculate(self, atoms=None, properties=("energy",), system_changes=all_changes):
        n = len(atoms if atoms is not None else self.atoms)
        if n > self.max_atoms:
            raise ValueError(f"{n} atoms: above the DFT limit of {self.max_atoms} atoms per Job")
        super().calculate(atoms, properties, system_changes)


def version() -> str:
    """gpaw's installed version (package metadata: nothing is imported)."""
    from importlib.metadata import PackageNotFoundError
    from importlib.metadata import version as dist_version

    try:
        return dist_version("gpaw")
    except PackageNotFoundError:
        return "none"


def _synthetic(job: Job) -> Result:
    """A result as if the Job had run and changed nothing (for planning: sizes, not values)."""
    n = len(job.structure)
    return Result(ok=True, energy=-3.0 * n, forces=[[0.0, 0.0, 0.0]] * n, stress=[0.0] * 6,
                  structure=job.structure, steps=1)


def planned_jobs(task, ctx) -> list[Job]:
    """Every Job ``task`` would build, round after round, were each Job to return its own
    structure unchanged."""
    results: dict[str, Result] = {}
    seen: dict[str, Job] = {}
    for _ in range(PLAN_ROUNDS):
        jobs = task.build(ctx, results)
        new = [j for j in jobs if j.name not in results]
        if not new:
            break
        for j in new:
            seen[j.name] = j
            results[j.name] = _synthetic(j)
    return list(seen.values())


def largest(task, ctx) -> int:
    try:
        return max((len(j.structure) for j in planned_jobs(task, ctx)), default=0)
    except Exception:  # noqa: BLE001 - a task whose build needs real values: judged by what it builds first
        return max((len(j.structure) for j in task.build(ctx, {})), default=0)


def check_run(model, tasks: list, ctx, batched: bool) -> None:
    """UserError (one line) when a DFT model is asked for the batched engine or for a task
    with a Job above its atom limit; nothing for other models."""
    if model.family != "dft":
        return
    if batched:
        raise UserError(f"model '{model.name}' (GPAW) runs on the serial engine only: drop --engine batched")
    limit = int(model.info.get("options", {}).get("max_atoms", MAX_ATOMS))
    sizes = {t.name: largest(t, ctx) for t in tasks}
    big = {n: s for n, s in sizes.items() if s > limit}
    if big:
        fits = [n for n, s in sizes.items() if s <= limit]
        shown = ", ".join(f"{n} ({s} atoms)" for n, s in big.items())
        raise UserError(f"model '{model.name}' (GPAW) runs Jobs of at most {limit} atoms; too large: {shown}; "
                        f"choose --tasks among: {', '.join(fits) or 'none of these'} (and --elements to narrow)")
