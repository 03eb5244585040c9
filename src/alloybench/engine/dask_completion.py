"""Waiting on Dask futures without waiting forever on a task the scheduler stranded.

distributed (seen in 2026.8) does not reschedule a ``no-worker`` task whose worker
restrictions name only workers that have gone, even when the restrictions are loose:
when a new worker joins, ``bulk_schedule_unrunnable_after_adding_worker`` asks
whether the newcomer is among the restricted workers, never whether the restriction
is loose.  So when every worker of a group dies at once (a Job that kills its worker
on each retry, a SLURM job ending) and the nannies or the job queue bring up workers
with new addresses, the tasks restricted to the old ones wait forever: the finished
ones whose results died with their worker too, since they are recomputed under the
same restrictions.  :class:`Completion` iterates like ``as_completed`` but asks the
scheduler every few seconds which of its pending tasks are stranded that way, and
hands those back so the caller submits them again on the workers alive.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from typing import Any

#: how often (s) the scheduler is asked for stranded tasks while futures are pending
CHECK_EVERY_S = 5.0
#: how long the loop waits at most when nothing finished (s); a future finishing ends the wait
POLL_S = 0.05


class Stranded(Exception):
    """The future will never finish by itself: submit its work again."""


def _make_probe():
    """The scheduler-side check, built as a closure so that cloudpickle sends it by
    value: a scheduler started elsewhere (``--scheduler ADDRESS``) need not import
    alloybench."""

    def stranded(keys, dask_scheduler=None):
        s = dask_scheduler
        out = []
        for key in keys:
            ts = s.tasks.get(key)
            if ts is None or ts.state != "no-worker" or not ts.worker_restrictions:
                continue
            if any(addr in s.workers for addr in ts.worker_restrictions):
                continue  # a restricted worker is still there: the scheduler will place it
            need = dict(ts.resource_restrictions or {})
            if any(all(ws.resources.get(r, 0) >= n for r, n in need.items()) for ws in s.running):
                out.append(key)  # a worker could run it; the restriction is what holds it
        return out

    return stranded


_PROBE = _make_probe()


class Completion:
    """``as_completed`` over ``futures`` that also yields the stranded ones.

    Iterating yields ``(future, stranded)``; a stranded future has been cancelled and
    its work must be submitted again.  :meth:`result` gets a finished future's value,
    raising :class:`Stranded` when its result died with its worker and the recompute
    is stranded."""

    def __init__(self, client: Any, futures: list[Any], check_every: float | None = None):
        from distributed import as_completed

        self.client = client
        self.check_every = CHECK_EVERY_S if check_every is None else check_every
        self.ac = as_completed(futures)
        self.pending: set[Any] = set(futures)  # what the probe asks about (as_completed keeps its set private)
        self._abandoned: set[Any] = set()
        self._last = time.monotonic()
        self._probe_ok = True

    def add(self, future: Any) -> None:
        self.pending.add(future)
        self.ac.add(future)

    def __iter__(self) -> Iterator[tuple[Any, bool]]:
        while not self.ac.is_empty():
            batch = self.ac.next_batch(block=False)
            for fut in batch:
                if fut in self._abandoned:
                    self._abandoned.discard(fut)
                    continue
                self.pending.discard(fut)
                yield fut, False
            for fut in self._due_check():
                yield fut, True
            if not batch:
                self._wait(POLL_S)

    def _wait(self, seconds: float) -> None:
        """Until a future finishes or ``seconds`` pass: as_completed notifies its thread
        condition after queueing a finished future, so a Result is handed on at once
        (a task's next Jobs depend on it), not at the next poll."""
        cond = getattr(self.ac, "thread_condition", None)
        ready = getattr(self.ac, "has_ready", None)
        if cond is None or ready is None:
            time.sleep(seconds)
            return
        with cond:
            if not ready():
                cond.wait(timeout=seconds)

    def result(self, fut: Any) -> Any:
        while True:
            try:
                return fut.result(timeout=self.check_every)
            except (TimeoutError, asyncio.TimeoutError):
                if fut.key in self._stranded_keys([fut.key]):
                    self.client.cancel([fut])  # already yielded: as_completed holds it no more
                    raise Stranded(fut.key) from None

    def cancel_pending(self) -> None:
        if self.pending:
            self.client.cancel(list(self.pending))

    # -------------------------------------------------------------------------------
    def _due_check(self) -> list[Any]:
        if time.monotonic() - self._last < self.check_every or not self.pending:
            return []
        self._last = time.monotonic()
        by_key = {f.key: f for f in self.pending}
        out = [by_key[k] for k in self._stranded_keys(list(by_key)) if k in by_key]
        for fut in out:
            self._abandon(fut)
        return out

    def _abandon(self, fut: Any) -> None:
        self.pending.discard(fut)
        self._abandoned.add(fut)  # as_completed still yields it, cancelled: skipped then
        self.client.cancel([fut])

    def _stranded_keys(self, keys: list[str]) -> set[str]:
        if not self._probe_ok:
            return set()
        try:
            return set(self.client.run_on_scheduler(_PROBE, keys))
        except Exception:  # noqa: BLE001 - a scheduler that cannot run it: no watchdog, as before
            self._probe_ok = False
            return set()


__all__ = ["CHECK_EVERY_S", "Completion", "Stranded"]
