"""Serial ASE engine: one Job after another on one calculator."""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Iterable, Iterator

import numpy as np
from ase.calculators.calculator import Calculator
from ase.constraints import FixAtoms, FixCartesian
from ase.filters import FrechetCellFilter, UnitCellFilter
from ase.optimize import BFGS, FIRE, LBFGS

from alloybench.engine.limits import JobLimits, JobTimeout, timeout_result, wall_clock_limit
from alloybench.errors import UserError
from alloybench.jobs import Job, Result, Structure

OPTIMIZERS = {"FIRE": FIRE, "BFGS": BFGS, "LBFGS": LBFGS}
MIN_DISTANCE = 0.6  # Å: closer atoms mean the model exploded
MAX_VOLUME_CHANGE = 2.0  # factor: beyond it a relaxation has run away


def _check_geometry(job: Job, atoms) -> str | None:
    v0 = abs(np.linalg.det(np.array(job.structure.cell)))
    v = atoms.get_volume()
    if not (v0 / MAX_VOLUME_CHANGE < v < v0 * MAX_VOLUME_CHANGE):
        return f"volume changed from {v0:.2f} to {v:.2f} Å^3"
    if len(atoms) > 1:
        d = atoms.get_all_distances(mic=True)
        d[np.diag_indices_from(d)] = np.inf
        if d.min() < MIN_DISTANCE:
            return f"atoms {d.min():.2f} Å apart"
    return None


def _cell_filter(atoms, mask):
    """FrechetCellFilter for full cell relaxations; for partial masks (e.g. only the
    strain normal to a fault) UnitCellFilter, which minimises the same enthalpy but
    avoids the matrix logarithm that is slow and inaccurate on strongly tilted cells."""
    if all(mask):
        return FrechetCellFilter(atoms)
    return UnitCellFilter(atoms, mask=list(mask))


def run_job(job: Job, calc: Calculator, limit: float | None = None) -> Result:
    """Execute one Job; every failure becomes a Result with stage and reason.
    ``limit``: wall-clock seconds (see ``alloybench.engine.limits``); past it, stage "timeout"."""
    t0 = time.perf_counter()
    try:
        with wall_clock_limit(limit):
            return _run_job(job, calc, t0)
    except JobTimeout:
        reset = getattr(calc, "reset", None)
        if callable(reset):  # whatever the interrupted call left half-computed is discarded
            try:
                reset()
            except Exception:  # noqa: BLE001
                pass
        return timeout_result(limit or 0.0, time.perf_counter() - t0)


def _run_job(job: Job, calc: Calculator, t0: float) -> Result:
    atoms = job.structure.to_atoms()
    atoms.calc = calc
    stage = "setup"
    steps = 0
    converged = True
    try:
        if job.relax is not None:
            spec = job.relax
            constraints = []
            if spec.fixed_atoms:
                constraints.append(FixAtoms(indices=list(spec.fixed_atoms)))
            if not all(spec.free_directions):
                movable = [i for i in range(len(atoms)) if i not in set(spec.fixed_atoms)]
                constraints.append(FixCartesian(movable, mask=tuple(not f for f in spec.free_directions)))
            atoms.set_constraint(constraints)
            target = _cell_filter(atoms, spec.cell_mask) if spec.cell_mask else atoms
            stage = "relax"
            opt = OPTIMIZERS[spec.optimizer](target, logfile=None)
            converged = bool(opt.run(fmax=spec.fmax, steps=spec.max_steps))
            steps = int(opt.nsteps)
            if not converged:  # the optimiser's own criterion, so a noise floor is told from a divergence
                residual = float(np.sqrt((np.asarray(target.get_forces()) ** 2).sum(axis=1).max()))
        stage = "evaluate"
        energy = float(atoms.get_potential_energy())
        forces = atoms.get_forces()
        try:
            stress = [float(x) for x in atoms.get_stress(voigt=True)]
        except Exception:  # some calculators have no stress; only cell work needs it
            stress = None
        if not math.isfinite(energy) or not np.all(np.isfinite(forces)):
            return Result.failure(stage, "non-finite energy or forces", time.perf_counter() - t0)
        bad = _check_geometry(job, atoms)
        if bad:
            return Result.failure("relax" if job.relax else stage, f"explosion: {bad}", time.perf_counter() - t0)
        atoms.set_constraint()
        res = Result(
            ok=converged,
            energy=energy,
            forces=forces.tolist(),
            stress=stress,
            structure=Structure.from_atoms(atoms),
            steps=steps,
            converged=converged,
            stage="" if converged else "relax",
            reason="" if converged else (f"not converged in {steps} steps (fmax {job.relax.fmax} eV/Å; "
                                         f"largest force left {residual:.2g} eV/Å)"),
            seconds=time.perf_counter() - t0,
        )
        return res
    except Exception as exc:  # a model failing on a structure is a result, not a crash
        return Result.failure(stage, f"{type(exc).__name__}: {exc}".strip()[:500], time.perf_counter() - t0)


def check_calculator(calc: object, what: str = "the model") -> Calculator:
    """What a model's factory returned must be an ASE calculator (UserError otherwise)."""
    if not (callable(getattr(calc, "get_potential_energy", None)) or callable(getattr(calc, "calculate", None))):
        raise UserError(f"{what} returned {type(calc).__name__} {str(calc)[:40]!r}, not an ASE calculator "
                        f"(an object with get_potential_energy/calculate)")
    return calc  # type: ignore[return-value]


def single_threaded_blas() -> None:
    """Small-cell optimisers do 3x3..768x768 linear algebra: BLAS threads only fight the
    model's own threads (and other workers) for the cores.  Called once per process."""
    try:
        from threadpoolctl import threadpool_limits

        threadpool_limits(limits=1, user_api="blas")
    except ImportError:
        pass


def load_calculator(make: Callable[[], Calculator], what: str = "the model") -> Calculator:
    """Call a model's factory; any failure is one line (UserError), not a traceback."""
    try:
        calc = make()
    except UserError:
        raise
    except Exception as exc:  # a model that cannot load stops the run with one line, not a traceback
        first = str(exc).strip().splitlines()[0][:300] if str(exc).strip() else ""
        raise UserError(f"{what} failed to load: {type(exc).__name__}: {first}") from exc
    return check_calculator(calc, what)


class SerialEngine:
    """Runs Jobs one by one with a calculator from ``make_calculator``, each within its
    wall-clock limit (``limits``; default: ``JobLimits.from_env()``)."""

    name = "serial"

    def __init__(self, make_calculator: Callable[[], Calculator], limits: JobLimits | None = None):
        self._make = make_calculator
        self._calc: Calculator | None = None
        self.limits = limits if limits is not None else JobLimits.from_env()

    @property
    def calculator(self) -> Calculator:
        if self._calc is None:
            self._calc = load_calculator(self._make, "the model")
        return self._calc

    def load(self) -> None:
        """Load the model now (the CLI does, before it creates a store)."""
        _ = self.calculator

    def run(self, jobs: Iterable[Job]) -> Iterator[tuple[Job, Result]]:
        for job in jobs:
            yield job, run_job(job, self.calculator, self.limits.seconds(job))

    def close(self) -> None:
        pass
