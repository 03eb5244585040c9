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
          calc_factory: Callable[[], object] | None = None, workers: int = 1,
          stop_after_s: float | None = None) -> tuple[list[tuple[Atoms, Job, Result]], int]:
    """Label ``frames`` (stored ones are reused). Returns (frame, job, result) for every frame
    that has a result now, and how many were computed now.

    ``workers`` > 1 labels in that many processes (one single-threaded GPAW each: GPAW's
    plane-wave mode does not use threads, so one process per core is how a node is used);
    the store is written by this process alone, one transaction per label, so a killed run
    keeps what finished.  ``stop_after_s``: no label is started after that many seconds
    (those already running finish), for a batch system's wall-time limit; the frames not
    started stay pending for the next run.
    """
    mid = model_id(settings)
    jobs = [job_for(a, frame_name(a, i)) for i, a in enumerate(frames)]
    results: dict[int, Result] = {}
    for i, job in enumerate(jobs):
        res = store.get(mid, job)
        if res is not None:
            results[i] = res
    pending = [i for i in range(len(frames)) if i not in results]
    deadline = None if stop_after_s is None else time.time() + stop_after_s
    done = len(results)
    computed = 0

    def record(i: int, res: Result) -> None:
        nonlocal done, computed
        store.put(mid, jobs[i], res)
        results[i] = res
        done += 1
        computed += 1
        if progress:
            progress(done, len(frames), jobs[i], res)

    if workers <= 1 or len(pending) <= 1:
        calc = None
        for i in pending:
            if deadline is not None and time.time() > deadline:
                break
            if calc is None:
                calc = calc_factory() if calc_factory is not None else _default_calc(settings)
            record(i, compute(jobs[i], calc))
    else:
        # run to the end: largest first, so the long labels do not start last and leave cores idle;
        # under a deadline: smallest first, so the most labels finish before it (the largest
        # Cu-rich cells take longer than a 10-minute batch call on 16 cores)
        sign = 1 if deadline is not None else -1
        pending.sort(key=lambda i: sign * _cost(frames[i], settings))
        for i, res in _label_parallel([jobs[i] for i in pending], pending, settings, calc_factory, workers,
                                      deadline):
            record(i, res)
    out = [(frames[i], jobs[i], results[i]) for i in range(len(frames)) if i in results]
    return out, computed


def _default_calc(settings: DFTSettings):
    from alloybench.dft.calculator import DFTCalculator

    return DFTCalculator(settings)


# valence electrons of GPAW's PBE setups: bands scale with them (Cu and Zn carry their d shell)
_VALENCE = {"Al": 3, "Cu": 11, "Mg": 2, "Zn": 12, "Si": 4}


def _cost(atoms: Atoms, settings: DFTSettings) -> float:
    """A plane-wave single point's relative cost: k-points x bands^2 x plane waves
    (bands ~ valence electrons, plane waves ~ volume)."""
    electrons = sum(_VALENCE.get(s, 8) for s in atoms.get_chemical_symbols())
    kpts = float(np.prod(kpoint_mesh(atoms.cell.array, atoms.pbc, settings.kpt_density_A)))
    return kpts * electrons ** 2 * abs(atoms.get_volume())


# one calculator per worker process, built on its first label
_WORKER: dict = {}


def _worker_init(settings: DFTSettings, calc_factory) -> None:
    _WORKER.update(settings=settings, factory=calc_factory, calc=None)


def _worker_compute(job: Job, deadline: float | None) -> Result | None:
    if deadline is not None and time.time() > deadline:
        return None  # past --stop-after: leave it pending
    if _WORKER["calc"] is None:
        factory = _WORKER["factory"]
        _WORKER["calc"] = factory() if factory is not None else _default_calc(_WORKER["settings"])
        from alloybench.engine.serial import single_threaded_blas

        single_threaded_blas()  # also the BLAS that GPAW's extension loaded just now
    return compute(job, _WORKER["calc"])


def _label_parallel(jobs: list[Job], keys: list[int], settings: DFTSettings, calc_factory, workers: int,
                    deadline: float | None):
    """Yield (key, result) as labels finish in ``workers`` spawned processes."""
    import multiprocessing
    import os
    from concurrent.futures import ProcessPoolExecutor, as_completed

    threads = {k: "1" for k in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")}
    saved = {k: os.environ.get(k) for k in threads}
    # the pool spawns its workers on the first submits, not when it is built: the one-core
    # environment must stay set until every worker has started, so for the pool's whole life
    os.environ.update(threads)
    pool = ProcessPoolExecutor(max_workers=workers, mp_context=multiprocessing.get_context("spawn"),
                               initializer=_worker_init, initargs=(settings, calc_factory))
    try:
        futures = {pool.submit(_worker_compute, job, deadline): key for job, key in zip(jobs, keys)}
        for fut in as_completed(futures):
            res = fut.result()
            if res is not None:
                yield futures[fut], res
    finally:
        pool.shutdown(wait=True, cancel_futures=True)
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


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
