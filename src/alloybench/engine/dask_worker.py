"""What runs inside a Dask worker: engines built once per worker and kept, and the
task that executes a chunk of Jobs on them.

A worker keeps every engine it has built (a model loaded once, its calculator and,
for the batched mode, its batched engine) in :class:`EngineCache`, a worker plugin,
keyed by the engine factory's ``key`` (the model id and the mode).  The client
sends Jobs to the workers that already hold the model (``alloybench.engine.dask``),
so a model is loaded once per worker that serves it, not once per Job.

The client is the only writer of the store: :func:`run_chunk` returns Results, it
never touches a file.  A model that cannot load (missing package, weights that
differ from the client's) is a :class:`~alloybench.errors.UserError` raised to the
client, which stops the run with one line, as the serial engine does.

Also a Dask ``--preload`` module: ``dask worker ... --preload alloybench.engine.dask_worker``
pins a worker to one GPU when its name ends in ``-I`` (dask-jobqueue names the
processes of a job ``NAME-0``, ``NAME-1``...) and ``ALLOYBENCH_PIN_GPU=1``: the I-th
of the job's visible GPUs, set before torch initialises CUDA.  dask-cuda's
``dask cuda worker`` does the same pinning where it is installed.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

from alloybench.engine.serial import SerialEngine, load_calculator, single_threaded_blas
from alloybench.errors import UserError
from alloybench.jobs import Job, Result

PLUGIN = "alloybench-engines"

try:  # a worker plugin when distributed is installed; a plain cache without it (tests, serial use)
    from distributed import WorkerPlugin as _PluginBase
except ImportError:  # pragma: no cover
    _PluginBase = object  # type: ignore[misc,assignment]


class EngineFactory(Protocol):
    """Picklable recipe for an engine: built on the worker, once per ``key``."""

    key: str

    def __call__(self) -> Any:  # an object with .run(jobs) -> Iterator[(Job, Result)]
        ...


@dataclass(frozen=True)
class ModelRef:
    """A model as a worker re-resolves it: ``alloybench.models.resolve(source, weights)``.
    ``id`` is the client's store key for it; a worker that resolves another id (other
    weights on that node) refuses to compute."""

    id: str
    name: str
    source: str
    weights: str | None = None
    family: str = ""
    env_family: str | None = None  # the family environment it must run in (None: the main one)

    @classmethod
    def of(cls, model) -> "ModelRef":
        env_family = model.family if getattr(model, "env", None) else None
        return cls(id=model.id, name=model.name, source=model.source or model.name,
                   weights=str(model.weights) if model.weights else None, family=model.family,
                   env_family=env_family)


@dataclass(frozen=True)
class ModelEngine:
    """Engine factory for a model: ``mode`` "serial" (ASE, one Job after another) or
    "batched" (the batched engine: a whole round's share of Jobs per model call)."""

    model: ModelRef
    mode: str = "serial"
    device: str | None = None

    @property
    def key(self) -> str:
        return f"{self.model.id}|{self.mode}|{self.device or ''}"

    def load_model(self):
        from alloybench.models import resolve

        try:
            model = resolve(self.model.source, self.model.weights)
        except UserError as exc:  # MissingExtra & co. do not unpickle on the client: plain UserError
            raise UserError(f"on worker {_worker_name()}: {exc}") from None
        if model.id != self.model.id:
            raise UserError(f"model '{self.model.name}' resolves to {model.id} on worker {_worker_name()} but to "
                            f"{self.model.id} on the client (other weights or package version there)")
        return model

    def __call__(self):
        model = self.load_model()
        # load now: its time is the load time, not the first Job's (EngineCache.get makes a
        # UserError of any failure, plain enough to unpickle on the client)
        calc = load_calculator(model.make_calculator, f"the model on worker {_worker_name()}")
        if self.mode == "batched":
            from alloybench.engine.batched import batched_engine_for

            return batched_engine_for(model, device=self.device, calculator=calc)
        return SerialEngine(lambda: calc)


@dataclass
class _Entry:
    engine: Any
    load_seconds: float
    lock: threading.Lock = field(default_factory=threading.Lock)


class EngineCache(_PluginBase):
    """Worker plugin: engines by key, built on first use and kept for the worker's life.
    A worker runs one task at a time per engine (the engines are not thread-safe)."""

    name = PLUGIN

    def __init__(self) -> None:
        self.entries: dict[str, _Entry] = {}
        self._lock = threading.Lock()
        self.worker = None

    def __getstate__(self) -> dict:  # sent to the workers empty: engines are built there
        return {}

    def __setstate__(self, state: dict) -> None:
        self.__init__()

    def setup(self, worker) -> None:
        self.worker = worker
        single_threaded_blas()

    def teardown(self, worker) -> None:
        for entry in self.entries.values():
            getattr(entry.engine, "close", lambda: None)()
        self.entries.clear()

    def get(self, factory: Callable[[], Any]) -> tuple[_Entry, bool]:
        key = factory.key  # type: ignore[attr-defined]
        with self._lock:
            entry = self.entries.get(key)
            if entry is not None:
                return entry, False
            t0 = time.perf_counter()
            try:
                engine = factory()
            except UserError as exc:
                raise UserError(str(exc)) from None
            entry = _Entry(engine=engine, load_seconds=time.perf_counter() - t0)
            self.entries[key] = entry
            return entry, True


_LOCAL = EngineCache()  # outside a Dask worker (tests calling run_chunk directly)


def _worker():
    try:
        from distributed import get_worker

        return get_worker()
    except (ImportError, ValueError):
        return None


def _worker_name() -> str:
    w = _worker()
    return str(w.name) if w is not None else f"pid {os.getpid()}"


def _cache() -> EngineCache:
    w = _worker()
    if w is None:
        return _LOCAL
    plugin = w.plugins.get(PLUGIN)
    if plugin is None:  # the client registers it; a worker that joined later gets it here
        plugin = EngineCache()
        plugin.setup(w)
        w.plugins[PLUGIN] = plugin
    return plugin


@dataclass
class ChunkOutcome:
    """What a worker sends back for a chunk: Results by Job digest, who computed them,
    and the engine's load time when this chunk built it."""

    results: list[tuple[str, Result]]
    worker: str
    pid: int
    loaded: bool
    load_seconds: float
    seconds: float
    stats: dict[str, Any] = field(default_factory=dict)


def run_chunk(factory: Callable[[], Any], jobs: list[Job]) -> ChunkOutcome:
    """Dask task: run ``jobs`` on the worker's cached engine for ``factory``."""
    t0 = time.perf_counter()
    entry, loaded = _cache().get(factory)
    out: list[tuple[str, Result]] = []
    with entry.lock:
        for job, result in entry.engine.run(jobs):
            out.append((job.digest, result))
    stats = getattr(entry.engine, "stats", None)
    stats = {k: v for k, v in (stats or {}).items() if isinstance(v, (int, float, str, bool))}
    w = _worker()
    return ChunkOutcome(results=out, worker=str(w.address) if w is not None else "local", pid=os.getpid(),
                        loaded=loaded, load_seconds=entry.load_seconds, seconds=time.perf_counter() - t0,
                        stats=stats)


def held_engines() -> list[str]:
    """Dask task / client.run target: the engine keys this worker holds."""
    return sorted(_cache().entries)


# ------------------------------------------------------------------ preload: pin a GPU
def gpu_for_name(name: str, visible: str | None) -> str | None:
    """The GPU a worker named ``...-I`` takes among ``visible`` (CUDA_VISIBLE_DEVICES,
    comma-separated; None: 0..I).  None when the name carries no index."""
    head, sep, tail = str(name).rpartition("-")
    if not sep or not tail.isdigit():
        return None
    i = int(tail)
    devices = [d.strip() for d in visible.split(",") if d.strip()] if visible else None
    if devices is None:
        return str(i)
    return devices[i % len(devices)]


def dask_setup(worker) -> None:  # Dask preload hook
    if os.environ.get("ALLOYBENCH_PIN_GPU") == "1":
        gpu = gpu_for_name(worker.name, os.environ.get("CUDA_VISIBLE_DEVICES"))
        if gpu is not None:
            os.environ["CUDA_VISIBLE_DEVICES"] = gpu


__all__ = ["ChunkOutcome", "EngineCache", "ModelEngine", "ModelRef", "gpu_for_name", "held_engines", "run_chunk"]
