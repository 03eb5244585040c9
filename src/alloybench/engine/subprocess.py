"""Subprocess engine: a model's Jobs run in a worker process (``alloybench.worker``),
usually inside the model family's own environment (``alloybench.envs``).

Jobs and Results travel as JSON lines over the worker's stdin/stdout; the model
is loaded once per worker.  A worker that dies (segfault, out of memory) or
exceeds ``job_timeout`` turns the Job it was running into a failed Result with
the reason (and the tail of its stderr), and a fresh worker takes the next Job:
nothing hangs, nothing is dropped.  A worker that cannot even load the model is
a UserError (one line), not a pile of failed Jobs.
"""

from __future__ import annotations

import json
import os
import selectors
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterable, Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

from alloybench.engine.limits import JobLimits, timeout_result
from alloybench.errors import UserError
from alloybench.jobs import Job, Result
from alloybench.worker import base_command, job_to_dict

START_TIMEOUT = float(os.environ.get("ALLOYBENCH_WORKER_START_TIMEOUT", "900"))


class WorkerDied(Exception):
    pass


class SubprocessEngine:
    """Runs Jobs one by one in a worker process that loaded the model once."""

    name = "subprocess"

    def __init__(self, source: str, python: str | os.PathLike | None = None, weights: str | None = None,
                 job_timeout: float | None = None, start_timeout: float = START_TIMEOUT,
                 environ: dict[str, str] | None = None, cwd: str | os.PathLike | None = None,
                 batched: bool = False, prefer: str = "auto", limits: JobLimits | None = None):
        self.source = source
        # batched: all Jobs of a round go to the worker at once and run there through the
        # batched engine (the family's batched backend inside its own environment)
        self.batched = batched
        self.prefer = prefer
        if batched:
            self.name = "subprocess-batched"
        self.batch_stats: dict[str, Any] = {}
        self.python = str(python or sys.executable)
        self.weights = weights
        # per-Job wall-clock limits (alloybench.engine.limits): the worker stops a Job at its limit
        # itself; past the limit plus grace the whole worker is killed.  job_timeout: one fixed limit.
        if limits is None:
            limits = JobLimits.from_env(job_timeout)
            if job_timeout is not None:
                limits = replace(limits, grace_seconds=max(1.0, min(60.0, job_timeout)))
        self.limits = limits
        self.start_timeout = start_timeout
        self.environ = environ
        self.cwd = cwd
        self.proc: subprocess.Popen | None = None
        self._stderr = None
        self._buf = b""
        self._sel: selectors.BaseSelector | None = None
        self.model: dict[str, Any] | None = None  # the worker's description of its model
        self.load_seconds: float | None = None
        self.starts = 0

    @classmethod
    def for_model(cls, model, **kwargs: Any) -> "SubprocessEngine":
        python = Path(model.env) / "bin" / "python" if model.env else None
        return cls(model.source or model.name, python=python, weights=model.weights, **kwargs)

    # -------------------------------------------------------------------- process
    def start(self) -> None:
        from alloybench.envs import worker_environ

        self.close()
        self._stderr = tempfile.TemporaryFile()
        self._buf = b""
        self.proc = subprocess.Popen(base_command(self.python, "serve", self.source, self.weights),
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=self._stderr,
                                     env=worker_environ(self.environ), cwd=self.cwd, bufsize=0,
                                     start_new_session=True)
        self.starts += 1
        self._sel = selectors.DefaultSelector()
        self._sel.register(self.proc.stdout, selectors.EVENT_READ)
        try:
            msg = self._read(self.start_timeout)
        except WorkerDied as exc:
            self.close()
            raise UserError(f"model '{self.source}': the worker ({self.python}) did not start: {exc}") from None
        except TimeoutError:
            self.close()
            raise UserError(f"model '{self.source}': the worker did not load the model in "
                            f"{self.start_timeout:.0f} s") from None
        if msg.get("type") == "error":
            self.close()
            raise UserError(msg["message"])
        self.model = msg.get("model")
        self.load_seconds = msg.get("load_seconds")

    def _stderr_tail(self, n: int = 400) -> str:
        if self._stderr is None:
            return ""
        try:
            self._stderr.seek(0, os.SEEK_END)
            size = self._stderr.tell()
            self._stderr.seek(max(0, size - 4000))
            lines = [ln for ln in self._stderr.read().decode(errors="replace").splitlines() if ln.strip()]
        except (OSError, ValueError):
            return ""
        return " | ".join(lines[-3:])[-n:]

    def _death(self) -> str:
        assert self.proc is not None
        try:
            code = self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            code = None
        if code is None:
            what = "stopped answering"
        elif code < 0:
            try:
                what = f"was killed by {signal.Signals(-code).name}"
            except ValueError:
                what = f"was killed by signal {-code}"
        else:
            what = f"exited with status {code}"
        tail = self._stderr_tail()
        return f"worker process {what}" + (f": {tail}" if tail else "")

    def _read(self, timeout: float | None) -> dict[str, Any]:
        """The next protocol line; WorkerDied at end of output, TimeoutError past ``timeout``."""
        assert self.proc is not None and self._sel is not None
        deadline = None if timeout is None else time.monotonic() + timeout
        while b"\n" not in self._buf:
            left = None if deadline is None else deadline - time.monotonic()
            if left is not None and left <= 0:
                raise TimeoutError
            if not self._sel.select(left):
                continue
            chunk = os.read(self.proc.stdout.fileno(), 1 << 20)
            if not chunk:
                raise WorkerDied(self._death())
            self._buf += chunk
        line, _, self._buf = self._buf.partition(b"\n")
        try:
            return json.loads(line)
        except ValueError:
            return {"type": "noise", "line": line[:200].decode(errors="replace")}

    def _send(self, doc: dict[str, Any]) -> None:
        assert self.proc is not None and self.proc.stdin is not None
        try:
            self.proc.stdin.write((json.dumps(doc) + "\n").encode())
            self.proc.stdin.flush()
        except (BrokenPipeError, OSError):
            raise WorkerDied(self._death()) from None

    def _kill(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            try:
                os.killpg(self.proc.pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                self.proc.kill()
            self.proc.wait()

    def close(self) -> None:
        if self.proc is not None:
            if self.proc.poll() is None:
                try:
                    self._send({"type": "stop"})
                    self.proc.stdin.close()
                    self.proc.wait(timeout=10)
                except (WorkerDied, OSError, subprocess.TimeoutExpired):
                    pass
            self._kill()
            for s in (self.proc.stdout, self.proc.stdin):
                try:
                    if s:
                        s.close()
                except OSError:
                    pass
            self.proc = None
        if self._sel is not None:
            self._sel.close()
            self._sel = None
        if self._stderr is not None:
            self._stderr.close()
            self._stderr = None

    def __enter__(self) -> "SubprocessEngine":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __del__(self) -> None:
        try:
            self.close()
        except Exception:  # noqa: BLE001
            pass

    # -------------------------------------------------------------------- jobs
    def run_one(self, job: Job) -> Result:
        if self.proc is None or self.proc.poll() is not None:
            self.start()
        t0 = time.perf_counter()
        limit = self.limits.seconds(job)
        try:
            self._send({"type": "job", "job": job_to_dict(job), "timeout": limit})
            while True:
                msg = self._read(limit + self.limits.grace_seconds)
                if msg.get("type") == "result":
                    return Result.from_dict(msg["result"])
        except WorkerDied as exc:
            self.close()
            return Result.failure("worker", f"crash: {exc}"[:500], time.perf_counter() - t0)
        except TimeoutError:  # the worker's own alarm did not stop it (stuck in native code): kill it
            self._kill()
            tail = self._stderr_tail()
            self.close()
            r = timeout_result(limit, time.perf_counter() - t0, "; the worker process did not stop and was killed")
            return replace(r, reason=(r.reason + (f": {tail}" if tail else ""))[:500])

    def run(self, jobs: Iterable[Job]) -> Iterator[tuple[Job, Result]]:
        if self.batched:
            yield from self.run_batch(list(jobs))
            return
        for job in jobs:
            yield job, self.run_one(job)

    def run_batch(self, jobs: list[Job]) -> Iterator[tuple[Job, Result]]:
        """All Jobs in one message; Results stream back as the worker's batched engine
        finishes them.  If the worker dies, falls silent, or ends the batch early, the Jobs
        still without a Result are run again one by one (``run_one``, fresh worker), so
        only a Job that fails on its own is recorded as failed."""
        if not jobs:
            return
        if self.proc is None or self.proc.poll() is not None:
            self.start()
        pending: dict[str, list[Job]] = {}
        for job in jobs:  # Jobs with equal content share a digest and get the same Result
            pending.setdefault(job.digest, []).append(job)
        # lock-step batching: the first Result comes only after the whole batch has taken
        # most of its steps, so a per-Job limit scales with the Jobs in flight
        limit = sum(self.limits.seconds(same[0]) for same in pending.values()) + self.limits.grace_seconds
        finished = False
        try:
            try:
                self._send({"type": "batch", "prefer": self.prefer, "jobs": [job_to_dict(j) for j in jobs]})
                while True:
                    msg = self._read(limit)
                    if msg.get("type") == "result" and msg.get("digest") in pending:
                        result = Result.from_dict(msg["result"])
                        for job in pending.pop(msg["digest"]):
                            yield job, result
                    elif msg.get("type") == "batch_done":
                        self.batch_stats = msg.get("stats") or {}
                        finished = True
                        break
            except WorkerDied:
                self.close()
            except TimeoutError:
                self._kill()
                self.close()
            for same in list(pending.values()):
                for job in same:
                    yield job, self.run_one(job)
            finished = True
        finally:
            if not finished and self.proc is not None:
                # a batch left unfinished (error, or the caller stopped reading): its
                # leftover messages must not leak into the next batch
                self._kill()
                self.close()


def engine_for(model, batched: bool = False, limits=None, isolate: bool = False, load: bool = False):
    """The one place that chooses the engine for a resolved Model: a worker process when the model
    lives in a family environment (or ``isolate``), the batched engine when asked, else the serial
    ASE engine.  ``load``: load the model now, so a model that cannot load is a UserError before
    anything is written."""
    if getattr(model, "env", None) or isolate:
        engine = SubprocessEngine.for_model(model, batched=batched, limits=limits)
        if load:
            engine.start()  # loads the model there; UserError when it cannot
        return engine
    from alloybench.engine.serial import SerialEngine, load_calculator

    calc = load_calculator(model.make_calculator, f"model '{model.name}'") if load else None
    if batched:
        from alloybench.engine.batched import batched_engine_for

        return batched_engine_for(model, calculator=calc)
    return SerialEngine((lambda: calc) if load else model.make_calculator, limits=limits)