"""Per-Job wall-clock limits: a calculation that hangs becomes a failed Result (stage "timeout").

The limit scales with the work a Job asks for: ``base_seconds`` (model warm-up, a first
call that compiles) plus ``seconds_per_atom_call`` for each atom of each force call the
Job may take (one for a single point, up to ``max_steps + 1`` for a relaxation).  The
defaults are generous: 0.05 s per atom per call is ten times what the slowest foundation
model measured here takes on 2 CPU cores (docs/performance.md), so only a calculation
that has stopped making progress reaches it.  ``fixed_seconds`` (``--job-timeout``,
``$ALLOYBENCH_JOB_TIMEOUT``) replaces the scaled limit with one figure.

How a hung Job is stopped:

- serial engine (in this process): ``SIGALRM`` (``setitimer``) in the main thread raises
  ``JobTimeout`` (a ``BaseException``, so a library's ``except Exception`` cannot swallow
  it) at the next Python bytecode; ``time.sleep`` and most blocking calls are interrupted.
  Native code that never returns to Python (a deadlock inside a C++ kernel) cannot be
  interrupted this way: run such a model with ``--isolate`` (a worker process);
- worker processes (``SubprocessEngine``, family environments, ``--isolate``): the worker
  applies the same alarm, so the model stays loaded; the parent kills the worker's whole
  process group if no answer comes ``grace_seconds`` after the limit, and a fresh worker
  takes the next Job.

Limits do not enter the store key (they do not change an answer).  A Job stored as a
timeout is computed again when the limit it would get now is longer than the time it had.
"""

from __future__ import annotations

import os
import signal
import threading
import time
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Iterator

from alloybench.jobs import Job, Result

TIMEOUT_STAGE = "timeout"


class JobTimeout(BaseException):
    """Raised inside a Job that ran past its wall-clock limit."""


@dataclass(frozen=True)
class JobLimits:
    base_seconds: float = 600.0
    seconds_per_atom_call: float = 0.05
    fixed_seconds: float | None = None
    grace_seconds: float = 60.0  # a worker's own alarm first; the parent kills it this much later

    def seconds(self, job: Job) -> float:
        if self.fixed_seconds is not None:
            return float(self.fixed_seconds)
        calls = 1 + (job.relax.max_steps if job.relax is not None else 0)
        return self.base_seconds + self.seconds_per_atom_call * job.n_atoms * calls

    def describe(self) -> str:
        if self.fixed_seconds is not None:
            return f"{self.fixed_seconds:g} s per Job"
        return f"{self.base_seconds:g} s + {self.seconds_per_atom_call:g} s per atom per force call"

    @classmethod
    def from_env(cls, fixed: float | None = None) -> "JobLimits":
        """``fixed`` (the CLI's --job-timeout) or $ALLOYBENCH_JOB_TIMEOUT, else the scaled default."""
        if fixed is None:
            raw = os.environ.get("ALLOYBENCH_JOB_TIMEOUT", "").strip()
            if raw:
                try:
                    fixed = float(raw)
                except ValueError:
                    from alloybench.errors import UserError

                    raise UserError(f"ALLOYBENCH_JOB_TIMEOUT={raw!r} is not a number of seconds") from None
        if fixed is not None and not (fixed > 0 and fixed < float("inf")):
            from alloybench.errors import UserError

            raise UserError(f"a job timeout must be a positive number of seconds, not {fixed!r}")
        return cls(fixed_seconds=fixed)


def timeout_result(limit: float, seconds: float, how: str = "") -> Result:
    return Result.failure(TIMEOUT_STAGE, f"no result within the wall-clock limit of {limit:g} s{how} "
                                         f"(raise it with --job-timeout SECONDS)", seconds)


def should_retry(result: Result, limit: float) -> bool:
    """A stored timeout that the current, longer limit might finish."""
    return (not result.ok and result.stage == TIMEOUT_STAGE and result.seconds is not None
            and limit > 1.01 * float(result.seconds))


@contextmanager
def wall_clock_limit(seconds: float | None) -> Iterator[None]:
    """Raise ``JobTimeout`` in the block after ``seconds`` (main thread, POSIX); elsewhere no limit.
    An alarm already set by someone else (pytest-timeout...) is kept: it fires as before."""
    if (seconds is None or not hasattr(signal, "setitimer")
            or threading.current_thread() is not threading.main_thread()):
        yield
        return
    outer_delay, outer_interval = signal.getitimer(signal.ITIMER_REAL)
    if outer_delay and outer_delay <= seconds:  # the outer alarm comes first: leave it alone
        yield
        return
    active = [True]

    def on_alarm(signum, frame):  # noqa: ARG001
        if active[0]:
            active[0] = False
            raise JobTimeout()

    t0 = time.monotonic()
    previous = signal.signal(signal.SIGALRM, on_alarm)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        active[0] = False
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
        if outer_delay:
            left = outer_delay - (time.monotonic() - t0)
            signal.setitimer(signal.ITIMER_REAL, max(left, 1e-3), outer_interval)


__all__ = ["JobLimits", "JobTimeout", "TIMEOUT_STAGE", "should_retry", "timeout_result", "wall_clock_limit"]
