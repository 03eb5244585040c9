"""An engine as a stream: Jobs submitted while others run, Results yielded as they finish.

``alloybench.runner.run_tasks`` lets each task advance on its own: when the Jobs a
task waits for are finished, its next Jobs are built and submitted at once, while
other tasks' Jobs still run.  An engine that can take Jobs while it runs offers
``stream()`` (:class:`alloybench.engine.dask.DaskEngine` on CPU workers), returning an
object with

- ``submit(jobs)``: hand it more Jobs (at any time, also between two Results);
- iteration: ``(Job, Result)`` as they finish, until every Job submitted is done
  (Jobs submitted while iterating are waited for too);
- ``close()``: give up what is still pending (an interrupted run).

Any other engine (``run(jobs)`` only: serial, batched, subprocess) is wrapped in
:class:`RoundStream`, which keeps rounds: the Jobs submitted while a round runs form
the next round, sorted by (task, name), so a batched engine still receives a whole
round of a model's ready Jobs at once, as before.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from typing import Any, Protocol

from alloybench.jobs import Job, Result


class JobStream(Protocol):
    rounds: int  # how many times the engine was handed Jobs (RoundStream: its rounds)

    def submit(self, jobs: Iterable[Job]) -> None: ...

    def __iter__(self) -> Iterator[tuple[Job, Result]]: ...

    def close(self) -> None: ...


def round_order(job: Job) -> tuple[str, str]:
    return job.task, job.name


#: force calls a relaxation costs, about (the stores here: 26 to 241 steps; a single point: 1)
RELAX_CALLS = 50


def estimated_cost(job: Job) -> int:
    """What a Job costs before it ran, in atom-force-calls: atoms x (RELAX_CALLS for a
    relaxation, else 1).  A streaming engine runs the dearest ready Jobs first (Dask
    task priority): first come first served leaves a long relaxation that became ready
    late behind a queue of single points, and the run's end waits for it alone
    (benchmarks/dask_scaling.py's bounds for EMT's standard tier at 16 workers, from two
    runs' Job times: first come first served 0.78 and 0.97, by this estimate 0.81 and 0.97,
    knowing every Job's time 0.98 and 0.97).  On the device's 16 cores (2026-12-06,
    docs/performance.md) the same bound from that run's own Job times came out the other way:
    0.63 by this estimate against 0.69 first come first served (EMT standard), 0.69 against
    0.70 (SevenNet-0, four quick tasks): the estimate is not yet the better order everywhere."""
    return job.n_atoms * (RELAX_CALLS if job.relax is not None else 1)


class RoundStream:
    """``engine.run(round)`` round after round; see the module doc."""

    def __init__(self, engine: Any, announce: Callable[[list[Job]], None] | None = None):
        self.engine = engine
        self.announce = announce  # called with each round as it starts (progress bars)
        self.rounds = 0
        self._queue: dict[str, Job] = {}
        self._current: Any = None

    def submit(self, jobs: Iterable[Job]) -> None:
        for job in jobs:
            self._queue.setdefault(job.digest, job)

    def __iter__(self) -> Iterator[tuple[Job, Result]]:
        while self._queue:
            batch = sorted(self._queue.values(), key=round_order)
            self._queue = {}
            self.rounds += 1
            if self.announce is not None:
                self.announce(batch)
            self._current = iter(self.engine.run(batch))
            try:
                yield from self._current
            finally:
                self._close_current()

    def _close_current(self) -> None:
        current, self._current = self._current, None
        close = getattr(current, "close", None)
        if close is not None:
            close()

    def close(self) -> None:
        self._queue = {}
        self._close_current()


def stream_for(engine: Any) -> JobStream:
    """The engine's own stream when it has one, else its rounds (:class:`RoundStream`)."""
    make = getattr(engine, "stream", None)
    return make() if make is not None else RoundStream(engine)


__all__ = ["RELAX_CALLS", "JobStream", "RoundStream", "estimated_cost", "round_order", "stream_for"]
