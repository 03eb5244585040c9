"""Batched engine: many Jobs advance together, one model call per step for all of them.

How it works
------------
Every Job runs in its own worker thread through the *same* code as the serial
engine (:func:`alloybench.engine.serial.run_job`: ASE FIRE/BFGS/L-BFGS,
the same cell filter for the Job's cell mask (FrechetCellFilter, UnitCellFilter for a
partial mask), FixAtoms, FixCartesian, the same
convergence test and failure checks).  The worker's calculator does not
compute: it hands its structure to a broker and waits.  Once every live worker
is waiting (or finished), the broker evaluates all waiting structures in one
batched model call (a torch-sim ``ModelInterface``, or SevenNet's own graph
batching), hands each worker its energy, forces and stress, and the workers
take their next optimiser step.  So relaxations run in lock-step, batched on
the device, while each trajectory is the one the serial engine would follow
(up to float32 summation order in the model): the same Jobs, the same answers.

Static Jobs (relax None) cost one batched call; relaxations of any kind (full
or masked cell, fixed atoms, free directions, FIRE, BFGS or L-BFGS) are expressed the
same way, so nothing needs a separate code path.  Jobs the batched model cannot
take (an element it lacks, a structure that makes the batched call fail) are
retried one by one; a Job whose single evaluation still fails is recorded as a
failure by ``run_job`` exactly as the serial engine would.

Memory: workers are admitted while their atoms fit a budget (``max_atoms``);
as Jobs finish, new ones are admitted (in-flight batching).  On CUDA the first
batch is a probe of at most ``probe_atoms``; its peak memory per atom sets the
budget to ``memory_fraction`` of the memory still free on the card (other
processes sharing it keep theirs); a CUDA out-of-memory error halves
the batch and the budget.  On the CPU an exhausted host is not an exception but a
killed process, so the budget is calibrated before it grows: the first batch is
at most ``cpu_probe_atoms``; every call's peak resident memory per atom is measured
(``alloybench.hostmem``), and the largest seen caps the budget at ``memory_fraction``
of what the host (or the container's limit) can still give, and at 4096 atoms.  DPA3 on
the CPU takes ~47 MB per atom (one 256-atom cell adds 11.7 GB resident; docs/performance.md):
two such cells in one call killed a 24 GB host.

Backends (``alloybench.engine.backends``) are chosen by the model's family
(``Family.batched`` in ``alloybench.models.families``); ``make_backend`` asks it.
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np
from ase import Atoms
from ase.calculators.calculator import Calculator, all_changes

from alloybench import hostmem
from alloybench.engine.backends import (Backend, CalculatorBackend, CHGNetBackend, DeepMDBackend, Evaluation,
                                        MatglBackend, SevenNetBackend, TorchSimBackend, torch_sim_available)
from alloybench.engine.serial import SerialEngine, run_job
from alloybench.errors import UserError
from alloybench.jobs import Job, Result
from alloybench.models.families import family_of
from alloybench.models.families.base import cueq_requested, default_device

def _is_oom(exc: BaseException) -> bool:
    text = f"{type(exc).__name__}: {exc}"
    return "out of memory" in text.lower() or type(exc).__name__ == "OutOfMemoryError"



def _usable_cuda_bytes(torch, dev) -> int:
    """Memory this process may still plan for: what the driver reports free (other
    processes sharing the card have taken theirs already) plus PyTorch's own cache."""
    free, _total = torch.cuda.mem_get_info(dev)
    return int(free + torch.cuda.memory_reserved(dev) - torch.cuda.memory_allocated(dev))


@dataclass(frozen=True)
class BackendRequest:
    """What a family's batched factory is asked for: the device, ``prefer`` ("auto", "torch-sim" or
    "native"), cuEquivariance kernels, and the model's calculator source (the one already loaded,
    else a fresh load), for backends that reuse the serial engine's calculator."""

    device: str
    prefer: str
    enable_cueq: bool
    calculator: Callable[[], Calculator]


def _calculator_source(model, calculator: Calculator | None) -> Callable[[], Calculator]:
    """The model's calculator: the one already loaded, else a fresh load."""
    return (lambda: calculator) if calculator is not None else model.make_calculator


def make_backend(model, device: str | None = None, prefer: str = "auto", enable_cueq: bool | None = None,
                 calculator: Calculator | None = None) -> Backend:
    """A batched backend for a resolved :class:`alloybench.models.Model`, from its family
    (``Family.batched``), with the model's own options (``model.options``, as the serial engine
    loads it).

    ``prefer``: "auto" (torch-sim when it and the model's wrapper import, else the
    family's own batching), "torch-sim", "native" or "loop" (CalculatorBackend).
    Raises UserError when the model family has no batched path (use the serial engine).
    ``enable_cueq`` None follows ALLOYBENCH_CUEQ, as the serial calculator does.
    ``calculator``: the model's ASE calculator if already loaded (CHGNet, matgl and DeePMD
    backends reuse it instead of loading the model a second time)."""
    source = _calculator_source(model, calculator)
    if prefer == "loop":
        return CalculatorBackend(source)
    fam = family_of(model.family)
    backend = None
    if fam is not None and fam.batched is not None:
        request = BackendRequest(device=device or default_device(), prefer=prefer,
                                 enable_cueq=cueq_requested() if enable_cueq is None else enable_cueq,
                                 calculator=source)
        backend = fam.batched(model, request)
    if backend is None:
        raise UserError(f"model family '{model.family}' has no batched path; use the serial engine")
    return backend


# --------------------------------------------------------------------------- broker


class _Cancelled(RuntimeError):
    pass


class _Slot:
    """One worker's mailbox."""

    __slots__ = ("atoms", "result", "error", "ready")

    def __init__(self) -> None:
        self.atoms: Atoms | None = None
        self.result: Evaluation | None = None
        self.error: BaseException | None = None
        self.ready = threading.Event()


class _BrokerCalculator(Calculator):
    """Hands the structure to the broker and blocks until the batched call answers."""

    implemented_properties = ["energy", "free_energy", "forces", "stress"]

    def __init__(self, broker: "_Broker"):
        super().__init__()
        self._broker = broker
        self._slot = _Slot()

    def calculate(self, atoms=None, properties=("energy",), system_changes=all_changes):
        super().calculate(atoms, properties, system_changes)
        ev = self._broker.request(self._slot, self.atoms.copy())
        self.results = {"energy": ev.energy, "free_energy": ev.energy, "forces": np.array(ev.forces, dtype=float)}
        if ev.stress is not None:
            self.results["stress"] = np.array(ev.stress, dtype=float)


class _Broker:
    def __init__(self) -> None:
        self.cond = threading.Condition()
        self.waiting: list[_Slot] = []
        self.running = 0  # workers executing Python (not waiting, not finished)
        self.cancelled = False

    def request(self, slot: _Slot, atoms: Atoms) -> Evaluation:
        slot.atoms, slot.result, slot.error = atoms, None, None
        slot.ready.clear()
        with self.cond:
            if self.cancelled:
                raise _Cancelled("batched engine stopped")
            self.waiting.append(slot)
            self.running -= 1
            self.cond.notify_all()
        slot.ready.wait()
        if slot.error is not None:
            raise slot.error
        assert slot.result is not None
        return slot.result


# --------------------------------------------------------------------------- engine


class BatchedEngine:
    """Executes many Jobs together, one batched model call per optimiser step.

    ``backend`` evaluates lists of structures (see module doc); ``fallback``
    makes an ASE calculator for the serial path, used when the backend cannot be
    built.  ``max_atoms`` bounds the atoms in flight (None: calibrated from the
    first batch's memory per atom, on CUDA and on the CPU); ``max_systems`` bounds
    the Jobs in flight."""

    name = "batched"

    def __init__(self, backend: Backend | Callable[[], Backend], fallback: Callable[[], Calculator] | None = None,
                 max_atoms: int | None = None, max_systems: int = 512):
        self._backend_or_factory = backend
        self._backend: Backend | None = None
        self._fallback = fallback
        self._serial: SerialEngine | None = None
        self.max_atoms = max_atoms
        self._fixed = max_atoms is not None  # the caller's bound: never recalibrated
        self._calibrated = max_atoms is not None
        self._cpu_bytes_per_atom = 0.0  # CPU: the most resident memory per atom a call has taken
        self._cpu_measurable: bool | None = None  # CPU: whether /proc gives the figures (Linux)
        self.max_systems = max_systems
        self.probe_atoms = 2048  # CUDA: atoms admitted before memory per atom is known
        self.cpu_probe_atoms = 256  # CPU: the same, smaller, since running out there kills the process
        self.cpu_max_atoms = 4096  # CPU: more atoms per call buy little once the cores are busy
        self.memory_fraction = 0.7  # share of the free memory (card or host) the budget may plan for
        self.stats: dict[str, Any] = {"batched_calls": 0, "structures_evaluated": 0, "oom_splits": 0,
                                      "single_retries": 0, "max_batch_atoms": 0, "fallback_jobs": 0}

    # -- backend / fallback
    @property
    def backend(self) -> Backend:
        if self._backend is None:
            b = self._backend_or_factory
            self._backend = b() if callable(b) and not hasattr(b, "evaluate") else b  # type: ignore[assignment]
        return self._backend  # type: ignore[return-value]

    def _budget(self) -> int:
        if self.max_atoms is None:  # until the first batch has measured bytes per atom
            if self.backend.device.startswith("cuda"):
                return self.probe_atoms
            if self._cpu_measurable is None:  # asked once, not at every step until the first measurement
                self._cpu_measurable = hostmem.rss_bytes() is not None and hostmem.available_bytes() is not None
            if not self._cpu_measurable:
                self.max_atoms = self.cpu_max_atoms  # no way to measure here (not Linux): the plain cap
                return self.max_atoms
            return self.cpu_probe_atoms
        return self.max_atoms

    # -- evaluation with OOM splitting and per-structure isolation
    def _evaluate(self, slots: list[_Slot]) -> None:
        structures = [s.atoms for s in slots]
        failure: str | None = None
        try:
            results = self._call(structures)
        except Exception as exc:
            # leave the except block before retrying: the live traceback would keep
            # the failed call's device tensors allocated and every retry would OOM too
            failure = "oom" if _is_oom(exc) else "error"
            if len(slots) == 1:
                slots[0].error = exc
            del exc
        if failure is not None:
            self._free_device_memory()
            if failure == "oom" and len(slots) > 1:
                self.stats["oom_splits"] += 1
                self.max_atoms = max(1, sum(len(a) for a in structures) // 2)
                self._calibrated = True
                self._fixed = True  # the device said no: measured CPU budgets must not grow past it
                half = len(slots) // 2
                self._evaluate(slots[:half])
                self._evaluate(slots[half:])
            elif len(slots) > 1:  # isolate the structure(s) the model rejects
                for s in slots:
                    self.stats["single_retries"] += 1
                    self._evaluate([s])
            else:
                slots[0].ready.set()
            return
        for s, r in zip(slots, results):
            s.result = r
            s.ready.set()

    def _free_device_memory(self) -> None:
        if self.backend.device.startswith("cuda"):
            import gc

            import torch

            gc.collect()
            torch.cuda.empty_cache()

    def _call(self, structures: list[Atoms]) -> list[Evaluation]:
        n = sum(len(a) for a in structures)
        cuda = self.backend.device.startswith("cuda")
        if cuda:
            import torch

            torch.cuda.reset_peak_memory_stats()
            base = torch.cuda.memory_allocated()
        # CPU: every call of 64+ atoms is measured (a heap trim and a few /proc reads, ~1 ms with a
        # 1 GB heap): a later
        # call may hold more per atom.  Free heap pages go back first, else the call could reuse
        # them unseen; a refused restart of the peak mark only overestimates, which is safe.
        rss_before = None
        if not cuda and not self._fixed and n >= 64:
            hostmem.release_free_heap()
            rss_before = hostmem.rss_bytes()
            self.stats["peak_mark_restarted"] = hostmem.restart_peak()
        out = self.backend.evaluate(structures)
        self.stats["batched_calls"] += 1
        self.stats["structures_evaluated"] += len(structures)
        self.stats["max_batch_atoms"] = max(self.stats["max_batch_atoms"], n)
        if cuda and not self._calibrated and n >= 64:
            per_atom = max(1.0, (torch.cuda.max_memory_allocated() - base) / n)
            usable = _usable_cuda_bytes(torch, torch.device(self.backend.device))
            self.max_atoms = int(max(256, min(200_000, self.memory_fraction * usable / per_atom)))
            self.stats["bytes_per_atom"] = per_atom
            self._calibrated = True
        if rss_before is not None:
            self._measure_cpu(rss_before, getattr(self.backend, "peak_atoms", None) or n)
        return out

    def _measure_cpu(self, rss_before: int, peak_atoms: int) -> None:
        """Budget from the largest resident memory per atom any call has taken. ``peak_atoms``:
        the atoms of the call's largest single model evaluation (a backend that evaluates a
        batch in parts, as DeePMD's size groups, says so), the part the peak belongs to."""
        peak, now, free = hostmem.peak_bytes(), hostmem.rss_bytes(), hostmem.available_bytes()
        if peak is None or now is None or free is None or peak_atoms < 64:  # small calls: overheads, not atoms
            return
        self._cpu_bytes_per_atom = max(self._cpu_bytes_per_atom, (peak - rss_before) / peak_atoms, 1.0)
        usable = free + max(0, now - rss_before)  # free + what this call left cached in the process
        self.max_atoms = int(max(1, min(self.cpu_max_atoms, self.memory_fraction * usable / self._cpu_bytes_per_atom)))
        self.stats["bytes_per_atom"] = self._cpu_bytes_per_atom

    # -- main loop
    def close(self) -> None:
        """Release what the backend holds besides the model (CHGNet's graph workers)."""
        backend = self._backend
        if backend is not None and hasattr(backend, "close"):
            backend.close()

    def run(self, jobs: Iterable[Job]) -> Iterator[tuple[Job, Result]]:
        jobs = list(jobs)
        if not jobs:
            return
        try:
            self.backend
        except Exception as exc:
            if self._fallback is None:
                raise
            self.stats["fallback_jobs"] += len(jobs)
            self.stats["fallback_reason"] = f"{type(exc).__name__}: {exc}"[:300]
            if self._serial is None:
                self._serial = SerialEngine(self._fallback)
            yield from self._serial.run(jobs)
            return
        yield from self._run_batched(jobs)

    def _run_batched(self, jobs: list[Job]) -> Iterator[tuple[Job, Result]]:
        broker = _Broker()
        queue = deque(sorted(range(len(jobs)), key=lambda i: -jobs[i].n_atoms))  # big first: better packing
        finished: deque[tuple[Job, Result]] = deque()
        active: dict[int, tuple[threading.Thread, int]] = {}
        atoms_in_flight = 0

        def work(job: Job) -> None:
            calc = _BrokerCalculator(broker)
            try:
                result = run_job(job, calc)
            except BaseException as exc:  # run_job catches model errors; this is the broker stopping
                result = Result.failure("setup", f"{type(exc).__name__}: {exc}"[:500])
            with broker.cond:
                finished.append((job, result))
                broker.running -= 1
                broker.cond.notify_all()

        try:
            while queue or active:
                # admit Jobs while they fit the atom budget (at least one)
                budget = self._budget()
                with broker.cond:
                    while queue and len(active) < self.max_systems:
                        i = queue[0]
                        if active and atoms_in_flight + jobs[i].n_atoms > budget:
                            break
                        queue.popleft()
                        t = threading.Thread(target=work, args=(jobs[i],), daemon=True, name=f"ab-job-{i}")
                        active[i] = (t, jobs[i].n_atoms)
                        atoms_in_flight += jobs[i].n_atoms
                        broker.running += 1
                        t.start()
                    # wait until every live worker is waiting or finished
                    broker.cond.wait_for(lambda: broker.running == 0)
                    batch = list(broker.waiting)
                    broker.waiting.clear()
                    done = list(finished)
                    finished.clear()
                for job, result in done:
                    idx = next(i for i, (t, _) in active.items() if jobs[i] is job)
                    t, n = active.pop(idx)
                    atoms_in_flight -= n
                    t.join()
                    yield job, result
                if batch:
                    with broker.cond:
                        broker.running += len(batch)
                    self._evaluate(batch)
        finally:
            with broker.cond:
                broker.cancelled = True
                pending = list(broker.waiting)
                broker.waiting.clear()
            for s in pending:
                s.error = _Cancelled("batched engine stopped")
                s.ready.set()


def batched_engine_for(model, device: str | None = None, prefer: str = "auto", max_atoms: int | None = None,
                       enable_cueq: bool | None = None, calculator: Calculator | None = None) -> BatchedEngine:
    """The engine ``alloybench run --engine batched`` uses: the model's batched backend,
    falling back to the serial ASE path when the model has none."""
    return BatchedEngine(lambda: make_backend(model, device=device, prefer=prefer, enable_cueq=enable_cueq,
                                              calculator=calculator),
                         fallback=_calculator_source(model, calculator), max_atoms=max_atoms)



# the backends are re-exported: callers (tests, benchmarks) import them from here
__all__ = ["Backend", "BackendRequest", "BatchedEngine", "CalculatorBackend", "CHGNetBackend", "DeepMDBackend",
           "Evaluation", "MatglBackend", "SevenNetBackend", "TorchSimBackend", "batched_engine_for", "make_backend",
           "torch_sim_available"]
