"""A model's worker process: runs Jobs for ``SubprocessEngine`` inside a family environment.

    python -m alloybench.worker describe SOURCE [--weights PATH]
        one JSON line: the resolved model (id, family, elements, info), nothing loaded
    python -m alloybench.worker serve SOURCE [--weights PATH]
        loads the model once, then answers JSON lines on stdin/stdout:
        <- {"type": "ready", "model": {...}, "load_seconds": s}   (or {"type": "error", ...})
        -> {"type": "job", "job": {...}}      <- {"type": "result", "digest": ..., "result": {...}}
        -> {"type": "stop"} (or end of input)

Only protocol lines go to the real stdout: anything a library prints goes to stderr.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from dataclasses import asdict
from typing import Any

from alloybench.jobs import Job, Relax, Structure
# the description protocol lives with the models (the parent builds Models from it)
from alloybench.models.remote import (PROTOCOL, base_command, describe, describe_command,
                                     model_from_description)


# ------------------------------------------------------------------------ (de)serialisation
def job_to_dict(job: Job) -> dict[str, Any]:
    return {"task": job.task, "name": job.name, "structure": job.structure.to_dict(),
            "relax": asdict(job.relax) if job.relax else None, "protocol": job.protocol}


def job_from_dict(d: dict[str, Any]) -> Job:
    relax = None
    if d.get("relax"):
        r = dict(d["relax"])
        if r.get("cell_mask") is not None:
            r["cell_mask"] = tuple(bool(x) for x in r["cell_mask"])
        r["fixed_atoms"] = tuple(int(i) for i in r.get("fixed_atoms", ()))
        r["free_directions"] = tuple(bool(x) for x in r.get("free_directions", (True, True, True)))
        relax = Relax(**r)
    return Job(task=d["task"], name=d["name"], structure=Structure.from_dict(d["structure"]), relax=relax,
               protocol=d.get("protocol", "1"))


# ------------------------------------------------------------------------ the process side
class _Channel:
    """The protocol stream: the original stdout; fd 1 then points at stderr."""

    def __init__(self) -> None:
        sys.stdout.flush()
        fd = os.dup(1)
        os.dup2(2, 1)
        sys.stdout = sys.stderr
        self.out = os.fdopen(fd, "w", buffering=1)

    def send(self, doc: dict[str, Any]) -> None:
        self.out.write(json.dumps(doc, allow_nan=True) + "\n")
        self.out.flush()


def _error(exc: BaseException) -> dict[str, Any]:
    from alloybench.errors import UserError

    msg = str(exc).strip() or type(exc).__name__
    if not isinstance(exc, UserError):
        msg = f"{type(exc).__name__}: {msg}"
    return {"type": "error", "message": msg.splitlines()[0][:1000], "user_error": isinstance(exc, UserError)}


def serve(source: str, weights: str | None) -> int:
    os.environ["ALLOYBENCH_IN_WORKER"] = "1"
    chan = _Channel()
    t0 = time.perf_counter()
    try:
        from alloybench.engine.serial import run_job
        from alloybench.models import resolve

        from alloybench.engine.serial import load_calculator

        model = resolve(source, weights)
        calc = load_calculator(model.make_calculator, f"model '{model.name}'")
    except BaseException as exc:  # noqa: BLE001 - reported to the parent, which decides
        chan.send(_error(exc))
        return 3
    chan.send({"type": "ready", "protocol": PROTOCOL, "model": describe(model),
               "load_seconds": time.perf_counter() - t0, "pid": os.getpid()})
    engines: dict[str, Any] = {}  # batched engines, built on the first batch
    for line in sys.stdin:
        line = line.strip()
        if not line:
            continue
        msg = json.loads(line)
        if msg.get("type") == "stop":
            break
        if msg.get("type") == "ping":
            chan.send({"type": "pong"})
            continue
        if msg.get("type") == "batch":
            # many Jobs at once through the batched engine (the family's batched backend in
            # this environment; the serial path where it has none); results stream back as
            # they finish, then batch_done
            from alloybench.engine.batched import batched_engine_for

            prefer = msg.get("prefer", "auto")
            if engines.get(prefer) is None:
                engines[prefer] = batched_engine_for(model, prefer=prefer, calculator=calc)
            for job, result in engines[prefer].run([job_from_dict(d) for d in msg["jobs"]]):
                chan.send({"type": "result", "digest": job.digest, "result": result.to_dict()})
            chan.send({"type": "batch_done", "stats": _jsonable(engines[prefer].stats)})
            continue
        job = job_from_dict(msg["job"])
        result = run_job(job, calc, msg.get("timeout"))  # the limit is applied here (SIGALRM) first
        chan.send({"type": "result", "digest": job.digest, "result": result.to_dict()})
    for engine in engines.values():
        engine.close()  # CHGNet's graph workers
    return 0


def _jsonable(stats: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in stats.items() if isinstance(v, (int, float, str, bool)) or v is None}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m alloybench.worker")
    p.add_argument("verb", choices=["describe", "serve"])
    p.add_argument("source")
    p.add_argument("--weights")
    a = p.parse_args(argv)
    if a.verb == "serve":
        return serve(a.source, a.weights)
    os.environ["ALLOYBENCH_IN_WORKER"] = "1"
    chan = _Channel()
    try:
        from alloybench.models import resolve

        chan.send(describe(resolve(a.source, a.weights)))
        return 0
    except BaseException as exc:  # noqa: BLE001
        chan.send(_error(exc))
        return 3


if __name__ == "__main__":
    sys.exit(main())


__all__ = ["base_command", "describe", "describe_command", "job_from_dict", "job_to_dict", "model_from_description"]
