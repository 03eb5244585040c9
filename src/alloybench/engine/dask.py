"""Distributed engine: the same Jobs, run on Dask workers; the client stores the answers.

``DaskEngine`` is an engine like the serial and batched ones (``run(jobs)`` yields
``(Job, Result)``), and it also streams (``stream()``, see ``alloybench.engine.stream``):
``alloybench.runner.run_tasks`` submits each task's next Jobs as soon as the Jobs
that task waits for are finished, while the other tasks' Jobs still run, and the
Results stream back (``as_completed``) to the client, which is the only writer of
the store.  A restarted client recomputes nothing finished, since the store keys by
digest.

Placement (:class:`Placement`): the workers that can run a model (the main
environment's, or those started from the model family's environment, ``env-FAMILY``;
GPU workers before CPU ones) are shared between the models running at the same time;
each model keeps a group of them, the workers that already hold it first, so a
worker loads a model once (``alloybench.engine.dask_worker.EngineCache``) and the
model's Jobs go where it is loaded (worker restrictions; loose, so that if the whole
group is gone any capable worker takes them: distributed does not do that for a task
already waiting, so :class:`~alloybench.engine.dask_completion.Completion` finds such
stranded tasks and they are submitted again on the workers alive).  A finished model's workers go to
the others.

Granularity: on CPU workers with the serial engine, one task per Job (the best
balance; a Dask task costs about a millisecond), submitted as the runner hands it
over; on GPU workers (or ``batched``) the runner keeps rounds, each round is cut
into one share per worker of the group, by atoms, and each worker runs its share
through the batched engine: a whole round of a model's Jobs per worker, not one Job
at a time.

Worker deaths: a task whose worker died (``KilledWorker``) is submitted again, on
the workers alive; a batch that died once is retried whole, then Job by Job, so a
Job that kills its worker is isolated.  A Job whose workers died more than
``retries`` times is a failed Result (stage "worker") with the reason.

For other sweeps (``alloybench dft label``, ``alloybench finetune``): ``map_jobs``
runs any picklable function over items with the same retries, resources and
streaming; ``DaskEngine(session, factory=EngineRecipe(...))`` runs Jobs through any
engine a worker can build; see docs/distributed.md.
"""

from __future__ import annotations

import math
import threading
import uuid
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Any

from alloybench.engine.dask_completion import Completion, Stranded
from alloybench.engine.dask_cluster import ENV_RESOURCE, GPU_RESOURCE, SchedulerOptions, Session, open_session
from alloybench.engine.dask_worker import ChunkOutcome, ModelEngine, ModelRef, run_chunk
from alloybench.engine.stream import RoundStream, estimated_cost
from alloybench.errors import UserError
from alloybench.jobs import Job, Result


def _is_death(exc: BaseException) -> bool:
    """The worker running it died (killed, out of memory, node lost), not the task."""
    try:
        from distributed import KilledWorker
    except ImportError:  # pragma: no cover
        return False
    return isinstance(exc, KilledWorker)


def _why(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0][:300] if text else ''}".strip()


@dataclass(frozen=True)
class EngineRecipe:
    """Any engine as a worker builds it: ``build(*args)`` returns an object with
    ``run(jobs) -> Iterator[(Job, Result)]``; built once per worker and ``key``."""

    key: str
    build: Callable[..., Any]
    args: tuple = ()

    def __call__(self):
        return self.build(*self.args)


class Placement:
    """Which workers serve which engine (see module doc); shared by the engines of one run."""

    def __init__(self, session: Session):
        self.session = session
        self._lock = threading.Lock()
        self.active: dict[str, str | None] = {}  # engine key -> environment (None: main)
        self.assigned: dict[str, list[str]] = {}
        self.holders: dict[str, set[str]] = {}

    def open(self, key: str, env: str | None) -> None:
        with self._lock:
            self.active[key] = env

    def close(self, key: str) -> None:
        with self._lock:
            self.active.pop(key, None)
            self.assigned.pop(key, None)

    def held(self, key: str, worker: str) -> None:
        with self._lock:
            self.holders.setdefault(key, set()).add(worker)

    def group(self, key: str, env: str | None) -> tuple[list[str], bool]:
        """The workers for ``key`` now, and whether they are GPU workers."""
        workers = self.session.workers()
        with self._lock:
            self.active.setdefault(key, env)
            eligible = [a for a, w in sorted(workers.items()) if w["env"] == env]
            gpus = [a for a in eligible if workers[a]["gpu"]]
            if gpus:
                eligible = gpus
            if not eligible:
                return [], False
            peers = [k for k, e in self.active.items() if e == env]
            share = max(1, math.ceil(len(eligible) / max(1, len(peers))))
            mine = [a for a in self.assigned.get(key, []) if a in eligible][:share]
            load = {a: sum(a in self.assigned.get(k, []) for k in peers if k != key) for a in eligible}
            held = self.holders.get(key, set())
            for a in sorted(eligible, key=lambda a: (a not in held, load[a], a)):
                if len(mine) >= share:
                    break
                if a not in mine:
                    mine.append(a)
            self.assigned[key] = mine
            return list(mine), bool(gpus)


def _shares(jobs: list[Job], n: int) -> list[list[Job]]:
    """``jobs`` cut into at most ``n`` shares of about equal atoms (largest first)."""
    bins: list[list[Job]] = [[] for _ in range(max(1, min(n, len(jobs))))]
    atoms = [0] * len(bins)
    for job in sorted(jobs, key=lambda j: -j.n_atoms):
        i = atoms.index(min(atoms))
        bins[i].append(job)
        atoms[i] += job.n_atoms
    return [b for b in bins if b]


@dataclass
class _Chunk:
    jobs: list[Job]
    deaths: int = 0  # how many times a worker running this chunk died


class DaskEngine:
    """Runs Jobs on the session's workers; see the module doc.

    Give ``model`` (a resolved :class:`alloybench.models.Model`) for a model's Jobs,
    or ``factory`` (an :class:`EngineRecipe` or any picklable callable with ``key``)
    for another engine; ``env`` is the family environment its workers need (None:
    main).  ``batched``: the batched engine on CPU workers too (GPU workers always
    batch).  ``retries``: default the session's."""

    name = "dask"

    def __init__(self, session: Session, model=None, factory: Callable[[], Any] | None = None,
                 env: str | None = None, batched: bool = False, placement: Placement | None = None,
                 retries: int | None = None, label: str | None = None):
        if (model is None) == (factory is None):
            raise ValueError("DaskEngine needs exactly one of model, factory")
        self.session = session
        self.ref = ModelRef.of(model) if model is not None else None
        self.factory = factory
        self.env = self.ref.env_family if self.ref is not None else env
        self.batched = batched
        self.placement = placement or Placement(session)
        self.retries = session.options.retries if retries is None else retries
        self.key = self.ref.id if self.ref is not None else factory.key  # type: ignore[union-attr]
        self.label = (label or (self.ref.name if self.ref else self.key)).replace(" ", "_")[:40]
        self.placement.open(self.key, self.env)
        self.stats: dict[str, Any] = {"tasks": 0, "worker_deaths": 0, "loads": 0, "load_seconds": 0.0,
                                      "workers": set()}
        self._cancel = threading.Event()

    def _factory(self, gpu: bool) -> Callable[[], Any]:
        if self.ref is None:
            return self.factory  # type: ignore[return-value]
        return ModelEngine(self.ref, mode="batched" if (gpu or self.batched) else "serial")

    def _group(self) -> tuple[list[str], bool]:
        group, gpu = self.placement.group(self.key, self.env)
        if not group:  # all workers of this kind gone (a SLURM job ended): wait for new ones
            self.session.wait_for({self.env})
            group, gpu = self.placement.group(self.key, self.env)
        return group, gpu

    def cancel(self) -> None:
        self._cancel.set()

    def close(self) -> None:
        self.placement.close(self.key)

    def stream(self):
        """Jobs submitted while others run (``alloybench.engine.stream``): on CPU workers with
        the serial engine, one Dask task per Job, submitted as soon as it is handed over.
        GPU workers (or ``batched``) keep rounds: each round is cut into one share per
        worker, and a worker runs its share through the batched engine."""
        _, gpu = self._group()
        if gpu or self.batched:
            return RoundStream(self)
        return _Stream(self, gpu=False)

    def run(self, jobs: Iterable[Job]) -> Iterator[tuple[Job, Result]]:
        """One round: ``jobs`` submitted at once, ``(Job, Result)`` yielded as they finish."""
        jobs = list(jobs)
        if not jobs:
            return
        group, gpu = self._group()
        stream = _Stream(self, gpu=gpu)
        try:
            stream.submit(jobs, group=group)
            yield from stream
        finally:
            stream.close()

    def summary(self) -> dict[str, Any]:
        return {**{k: v for k, v in self.stats.items() if k != "workers"}, "workers": len(self.stats["workers"])}


class _Stream:
    """The Dask engine's stream: futures of ``run_chunk`` over a :class:`Completion`,
    retried on worker deaths and when stranded; see the module doc."""

    def __init__(self, engine: DaskEngine, gpu: bool):
        self.engine = engine
        self.client = engine.session.client
        self.gpu = gpu
        self.batched = gpu or engine.batched
        self.factory = engine._factory(gpu)
        self.resources: dict[str, float] = {}
        if engine.env:
            self.resources[f"{ENV_RESOURCE}{engine.env}"] = 1
        if gpu:
            self.resources[GPU_RESOURCE] = 1
        self.meta: dict[Any, _Chunk] = {}
        self.by_digest: dict[str, Job] = {}
        self.rounds = 0
        self.done = Completion(self.client, [])

    def _submit(self, chunk: _Chunk, workers: list[str]) -> Any:
        e = self.engine
        # the dearest ready Jobs first (alloybench.engine.stream.estimated_cost); equal ones in turn
        fut = self.client.submit(run_chunk, self.factory, chunk.jobs, workers=workers, allow_other_workers=True,
                                 resources=self.resources or None, pure=False,
                                 priority=sum(estimated_cost(j) for j in chunk.jobs),
                                 key=f"alloybench-{e.label}-{uuid.uuid4().hex[:12]}")
        self.meta[fut] = chunk
        e.stats["tasks"] += 1
        return fut

    def submit(self, jobs: Iterable[Job], group: list[str] | None = None) -> None:
        jobs = list(jobs)
        if not jobs:
            return
        if group is None:
            group, _ = self.engine._group()  # the model's workers now (models finish, workers come and go)
        self.rounds += 1
        self.engine.stats["submissions"] = self.engine.stats.get("submissions", 0) + 1
        for job in jobs:
            self.by_digest[job.digest] = job
        if self.batched:
            chunks = [(_Chunk(share), [w]) for share, w in zip(_shares(jobs, len(group)), group)]
        else:
            chunks = [(_Chunk([j]), group) for j in jobs]
        for chunk, workers in chunks:
            self.done.add(self._submit(chunk, workers))

    def close(self) -> None:
        self.done.cancel_pending()

    def __iter__(self) -> Iterator[tuple[Job, Result]]:
        e, done = self.engine, self.done
        for fut, stranded in done:
            if e._cancel.is_set():
                raise KeyboardInterrupt
            chunk = self.meta.pop(fut)
            try:
                outcome: ChunkOutcome | None = None if stranded else done.result(fut)
            except UserError:
                raise
            except Stranded:  # finished, but its result died with its worker and the recompute is stranded
                outcome = None
            except Exception as exc:  # noqa: BLE001 - sorted below: a death is retried
                if not _is_death(exc):
                    why = _why(exc)
                    for job in chunk.jobs:
                        yield job, Result.failure("worker", f"task failed on the worker: {why}"[:500])
                    continue
                e.stats["worker_deaths"] += 1
                chunk.deaths += 1
                if chunk.deaths > e.retries:
                    for job in chunk.jobs:
                        yield job, Result.failure(
                            "worker", f"crash: the worker died {chunk.deaths} times running this Job "
                                      f"(retries {e.retries}): {_why(exc)}"[:500])
                    continue
                group, _ = e._group()
                if len(chunk.jobs) > 1 and chunk.deaths > 1:  # isolate the Job that kills its worker
                    for job in chunk.jobs:
                        done.add(self._submit(_Chunk([job], deaths=chunk.deaths), group))
                else:
                    done.add(self._submit(chunk, group))
                continue
            if outcome is None:  # no worker it may run on is left: again on those alive
                e.stats["stranded"] = e.stats.get("stranded", 0) + 1
                group, _ = e._group()
                done.add(self._submit(chunk, group))
                continue
            e.placement.held(e.key, outcome.worker)
            e.stats["workers"].add(outcome.worker)
            if outcome.loaded:
                e.stats["loads"] += 1
                e.stats["load_seconds"] += outcome.load_seconds
            for digest, result in outcome.results:
                job = self.by_digest.pop(digest, None)
                if job is not None:
                    yield job, result


# ------------------------------------------------------------------------ generic map
@dataclass
class TaskFailure:
    """What ``map_jobs`` yields for an item that did not finish: stage "worker" (its
    workers died more than ``retries`` times) or "task" (the function raised)."""

    stage: str
    reason: str
    attempts: int = 1

    @property
    def ok(self) -> bool:
        return False


def map_jobs(session: Session | SchedulerOptions, fn: Callable[[Any], Any], items: Iterable[Any], *,
             env: str | None = None, gpu: bool = False, retries: int | None = None,
             resources: dict[str, float] | None = None, label: str = "map") -> Iterator[tuple[Any, Any]]:
    """Run ``fn(item)`` on the workers for each item; yield ``(item, value)`` as each
    finishes (value a :class:`TaskFailure` when it did not).  The caller stores the
    values: it is the only writer.  ``fn`` must be picklable (a module-level function,
    or a ``functools.partial`` of one).  ``env``: run on the workers of that family
    environment; ``gpu``: on GPU workers (one task per GPU at a time).  A
    :class:`UserError` raised by ``fn`` stops the map (raised here).

    ``session`` may be :class:`SchedulerOptions`: a session is opened for the map and
    closed after it."""
    if isinstance(session, SchedulerOptions):
        with open_session(session, {env}) as own:
            yield from map_jobs(own, fn, items, env=env, gpu=gpu, retries=retries, resources=resources, label=label)
        return

    limit = session.options.retries if retries is None else retries
    res = dict(resources or {})
    if env:
        res[f"{ENV_RESOURCE}{env}"] = 1
    if gpu:
        res[GPU_RESOURCE] = 1
    workers = [a for a, w in session.workers().items() if w["env"] == env and (w["gpu"] or not gpu)]
    client = session.client
    meta: dict[Any, tuple[Any, int]] = {}

    def submit(item: Any, deaths: int) -> Any:
        fut = client.submit(fn, item, workers=workers or None, allow_other_workers=True, resources=res or None,
                            pure=False, key=f"alloybench-{label}-{uuid.uuid4().hex[:12]}")
        meta[fut] = (item, deaths)
        return fut

    done = Completion(client, [submit(item, 0) for item in items])

    def again(item: Any, deaths: int) -> None:
        nonlocal workers
        workers = [a for a, w in session.workers().items() if w["env"] == env and (w["gpu"] or not gpu)]
        done.add(submit(item, deaths))

    try:
        for fut, stranded in done:
            item, deaths = meta.pop(fut)
            if stranded:  # its workers are gone and the scheduler will not move it
                again(item, deaths)
                continue
            try:
                value = done.result(fut)
            except UserError:
                raise
            except Stranded:  # finished, but its result died with its worker and the recompute is stranded
                again(item, deaths)
                continue
            except Exception as exc:  # noqa: BLE001
                if _is_death(exc) and deaths + 1 <= limit:
                    again(item, deaths + 1)
                    continue
                if _is_death(exc):
                    value = TaskFailure("worker", f"crash: the worker died {deaths + 1} times: {_why(exc)}",
                                        attempts=deaths + 1)
                else:
                    value = TaskFailure("task", _why(exc), attempts=deaths + 1)
            yield item, value
    finally:
        done.cancel_pending()


__all__ = ["DaskEngine", "EngineRecipe", "Placement", "SchedulerOptions", "Session", "TaskFailure", "map_jobs",
           "open_session"]
