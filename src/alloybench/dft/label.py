"""Label structures with PBE (GPAW) through the store: resumable, nothing computed twice.

Each structure is a single-point Job (task ``dft_label``); the model id is
``gpaw-VERSION@SETTINGS_DIGEST`` so labels of other settings never mix.  A killed run
keeps every finished label (one transaction each) and a re-run skips them.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from pathlib import Path

import numpy as np
from ase import Atoms

from alloybench.dft.settings import DEFAULT, DFTSettings, kpoint_mesh
from alloybench.jobs import Job, Result, Structure

TASK = "dft_label"
PROTOCOL = "dft-sp-1"


def model_id(settings: DFTSettings) -> str:
    from alloybench.dft.calculator import gpaw_version

    return f"gpaw-{gpaw_version() or 'unknown'}@{settings.digest}"


def job_for(atoms: Atoms, name: str) -> Job:
    return Job(task=TASK, name=name, structure=Structure.from_atoms(atoms), protocol=PROTOCOL)


def frame_name(atoms: Atoms, index: int) -> str:
    return str(atoms.info.get("name", f"frame{index}"))


def compute(job: Job, calc) -> Result:
    """One DFT single point; an SCF failure is a stored Result with stage and reason."""
    t0 = time.perf_counter()
    atoms = job.structure.to_atoms()
    atoms.calc = calc
    try:
        e = float(atoms.get_potential_energy())
        f = np.asarray(atoms.get_forces())
        s = [float(x) for x in atoms.get_stress(voigt=True)]
    except Exception as exc:  # KohnShamConvergenceError and friends
        return Result.failure("scf", f"{type(exc).__name__}: {exc}"[:500], time.perf_counter() - t0)
    if not np.isfinite(e) or not np.all(np.isfinite(f)):
        return Result.failure("scf", "non-finite energy or forces", time.perf_counter() - t0)
    return Result(ok=True, energy=e, forces=f.tolist(), stress=s, structure=job.structure,
                  seconds=time.perf_counter() - t0)


def label(frames: list[Atoms], store, settings: DFTSettings = DEFAULT,
          progress: Callable[[int, int, Job, Result | None], None] | None = None,
          calc_factory: Callable[[], object] | None = None) -> tuple[list[tuple[Atoms, Job, Result]], int]:
    """Label ``frames`` (stored ones are reused). Returns (frame, job, result) per frame and
    how many were computed now."""
    mid = model_id(settings)
    jobs = [job_for(a, frame_name(a, i)) for i, a in enumerate(frames)]
    calc = None
    computed = 0
    out = []
    for i, (a, job) in enumerate(zip(frames, jobs)):
        res = store.get(mid, job)
        if res is None:
            if calc is None:
                if calc_factory is not None:
                    calc = calc_factory()
                else:
                    from alloybench.dft.calculator import DFTCalculator

                    calc = DFTCalculator(settings)
            res = compute(job, calc)
            store.put(mid, job, res)
            computed += 1
        out.append((a, job, res))
        if progress:
            progress(i + 1, len(frames), job, res)
    return out, computed


def labelled_atoms(frame: Atoms, job: Job, result: Result, settings: DFTSettings, mid: str) -> Atoms:
    """The frame with its labels and provenance (ASE extxyz: energy eV, forces eV/Å,
    stress eV/Å^3 Voigt, ASE sign)."""
    from ase.calculators.singlepoint import SinglePointCalculator

    a = job.structure.to_atoms()
    a.info = {k: v for k, v in frame.info.items() if k not in ("energy", "stress", "free_energy")}
    a.info.update({"dft_code": "gpaw", "dft_version": mid.split("@")[0].removeprefix("gpaw-"),
                   "dft_model_id": mid, "dft_settings_digest": settings.digest,
                   "dft_settings": ";".join(f"{k}={v}" for k, v in settings.to_dict().items()),
                   "dft_kpts": " ".join(map(str, kpoint_mesh(a.cell.array, a.pbc, settings.kpt_density_A))),
                   "dft_wall_s": round(result.seconds, 2), "dft_converged": bool(result.ok),
                   "energy_unit": "eV", "forces_unit": "eV/A", "stress_unit": "eV/A^3"})
    a.calc = SinglePointCalculator(a, energy=result.energy, free_energy=result.energy,
                                   forces=np.array(result.forces), stress=np.array(result.stress))
    return a


def write_labelled(path: Path, items: Iterable[tuple[Atoms, Job, Result]], settings: DFTSettings) -> int:
    """Write the successful labels atomically; return how many frames were written."""
    import os

    from ase.io import write

    mid = model_id(settings)
    frames = [labelled_atoms(a, j, r, settings, mid) for a, j, r in items if r.ok]
    path = Path(path)
    tmp = path.with_name(".part." + path.name)  # same suffix: a .gz output is written compressed
    write(tmp, frames, format="extxyz")
    os.replace(tmp, path)
    return len(frames)
