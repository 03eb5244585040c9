"""The Python API: run the suite on a model, read a result folder back.

    >>> import alloybench
    >>> results = alloybench.benchmark("emt", tasks=["bulk", "elastic"], out="results/emt")
    >>> results.score["overall"], len(results.metrics)
    >>> results.to_pandas()          # one row per metric (needs pandas)
    >>> alloybench.load_results("results/emt").metrics == results.metrics
    True

``benchmark`` is what ``alloybench run`` does for one model (``alloybench run`` calls it):
the same store (OUT/results.sqlite, resumable), the same results.json and report.md.  A
mistake the user can make (unknown model or task, an element the model lacks, a folder
that cannot be written) raises ``alloybench.errors.UserError`` before anything is written.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from alloybench.errors import UserError

ENGINES = ("serial", "batched")
TIERS = ("quick", "standard", "full")


@dataclass
class Results:
    """One model's results: the results.json document and, after ``benchmark``, how the run went.

    ``metrics`` are the results document's metric rows (task, item, name, group, unit, value,
    reference, error, status, score...); ``score`` its scorecard."""

    doc: dict[str, Any]
    directory: Path | None = None
    computed: int = 0  # Jobs computed by this run (0 for loaded results)
    reused: int = 0  # Jobs found in the store
    failures: list[dict] = field(default_factory=list)  # failed Jobs
    missing: list[dict] = field(default_factory=list)  # Jobs built but never computed
    wall_seconds: float | None = None
    convergence: Any = None  # check_convergence=True: alloybench.convergence.check_run (.jobs, .metrics)

    @property
    def metrics(self) -> list[dict[str, Any]]:
        return self.doc.get("metrics", [])

    @property
    def score(self) -> dict[str, Any]:
        return self.doc.get("score", {})

    @property
    def model(self) -> dict[str, Any]:
        return self.doc.get("model", {})

    @property
    def clean(self) -> bool:
        """Every Job computed and ok (``alloybench run`` exits 0)."""
        return not (self.failures or self.missing)

    def metric(self, task: str, item: str, name: str) -> dict[str, Any]:
        """The metric row ``task/item/name`` (KeyError when there is none)."""
        for m in self.metrics:
            if (m["task"], m["item"], m["name"]) == (task, item, name):
                return m
        raise KeyError(f"{task}/{item}/{name}")

    def to_pandas(self):
        """The metrics as a pandas DataFrame, one row per metric (pandas is not a dependency:
        install it to use this)."""
        try:
            import pandas as pd
        except ImportError as exc:
            raise ImportError("Results.to_pandas needs pandas (pip install pandas)") from exc
        return pd.DataFrame(self.metrics)


class RunInterrupted(KeyboardInterrupt):
    """Ctrl-C during ``benchmark``: the finished Jobs are stored; running again resumes."""

    def __init__(self, stored: int, directory: Path):
        super().__init__(f"interrupted: {stored} results are stored in {directory}; run again to resume")
        self.stored = stored
        self.directory = directory


def _check_choice(value: str, allowed: tuple[str, ...], what: str) -> str:
    value = getattr(value, "value", value)  # the CLI's Enum members
    if value not in allowed:
        raise UserError(f"{what} must be one of {', '.join(allowed)}, not '{value}'")
    return value


def _task_names(tasks: str | list[str] | None) -> list[str] | None:
    if tasks is None or isinstance(tasks, list):
        return tasks
    if isinstance(tasks, str):
        return [tasks]
    return list(tasks)


def benchmark(model: str | None = None, tier: str = "quick", tasks: str | list[str] | None = None,
              out: str | Path | None = None, engine: str = "serial", *, weights: str | Path | None = None,
              elements: str | None = None, job_timeout: float | None = None, isolate: bool = False,
              trust_checkpoint: bool = False, check_convergence: bool = False,
              dataset: str | Path | None = None,
              progress: Callable[[str, Any], None] | None = None,
              on_cost: Callable[[], None] | None = None) -> Results:
    """Run the suite on ``model`` and write OUT/results.sqlite, results.json and report.md.

    ``model``: a registry name (``NAME`` or ``NAME=WEIGHTS``), a local weights path,
    ``FAMILY:PATH``, a model file, ``kim:MODEL_ID`` or ``module:callable`` (None: the
    default model, SevenNet-0).  ``tier``: quick | standard | full (full also measures the
    model's cost, OUT/cost.json).  ``tasks``: task names (comma-separated or a list) instead
    of the tier's.  ``out``: the result folder (default alloybench-results/MODEL); a folder
    that holds a store resumes it.  ``engine``: serial | batched.  ``weights``: local weights
    of a registry model.  ``elements``: a subsystem, e.g. "Al,Cu".  ``job_timeout``: seconds
    per Job (default: 600 s + 0.05 s per atom per force call).  ``isolate``: run the model in
    a worker process that is killed when a Job hangs.  ``trust_checkpoint``: allow a
    checkpoint that needs full unpickling.  ``check_convergence``: recompute a sample of
    relaxations with fmax halved (OUT/convergence.json, per metric OUT/convergence_metrics.json).  ``dataset``: a labelled extxyz scored
    by the ``dataset`` task instead of the packaged DFT test split (the task is added when the
    tier or ``tasks`` leave it out).  ``progress(event, payload)``: called
    with ("round", jobs) and ("job", (job, result)).  ``on_cost()``: called before the full
    tier's cost measurement.

    Returns the Results (``.clean`` is False when some Jobs failed or are missing: the
    report says which).  Raises UserError for a user's mistake (nothing written) and
    RunInterrupted on Ctrl-C (finished Jobs stored)."""
    from dataclasses import asdict, replace

    from alloybench import provenance
    from alloybench.engine.limits import JobLimits
    from alloybench.engine.serial import single_threaded_blas
    from alloybench.engine.subprocess import engine_for
    from alloybench.models import DEFAULT_MODEL, resolve
    from alloybench.models.families import device_for
    from alloybench.models.trust import trust_checkpoints
    from alloybench.reference import load_reference
    from alloybench.report import write_atomic, write_results
    from alloybench.runner import run_tasks
    from alloybench.selection import chosen_elements, select_tasks
    from alloybench.store import Store
    from alloybench.validate import check_model_text, check_out_dir

    tier = _check_choice(tier, TIERS, "tier")
    engine_name = _check_choice(engine, ENGINES, "engine")
    out_dir = Path(out) if out is not None else None
    if trust_checkpoint:
        trust_checkpoints()  # workers inherit it
    runner = None
    try:
        spec = DEFAULT_MODEL if model is None else check_model_text(model)
        if out_dir is not None:
            check_out_dir(out_dir)
        limits = JobLimits.from_env(job_timeout)
        resolved = resolve(spec, weights)
        selected = select_tasks(_task_names(tasks), tier)
        if dataset is not None:  # the dataset task on the user's file, read and checked now
            from alloybench.tasks.dataset import DatasetTask, check_file

            selected = [t for t in selected if t.name != "dataset"] + [DatasetTask(check_file(Path(dataset)))]
        chosen = chosen_elements(resolved, elements)
        reference = load_reference()
        provenance.check_covers_reference(resolved.name, chosen, reference)
        directory = check_out_dir(out_dir or Path("alloybench-results") / resolved.name.replace("/", "_"))
        resolved = replace(resolved, elements=chosen)
        from alloybench.models.families import family_of
        from alloybench.tasks.base import Context

        # a family's own refusals (GPAW: serial only, no Job above its atom limit), before anything runs
        fam = family_of(resolved.family)
        if fam is not None and fam.check_run is not None:
            fam.check_run(resolved, selected, Context(reference, tier, chosen), engine_name == "batched")
        # the model loads before anything is written: a model that cannot load leaves no store behind
        runner = engine_for(resolved, batched=engine_name == "batched", limits=limits, isolate=isolate, load=True)
    except UserError:
        getattr(runner, "close", lambda: None)()
        raise
    run_info = provenance.run_info(resolved, spec, tier, selected, chosen, job_limits=limits.describe())
    if dataset is not None:
        run_info["dataset"] = str(Path(dataset).resolve())  # the report rebuilds the task on the same file
    single_threaded_blas()
    t0 = time.perf_counter()
    try:
        store = Store(directory / "results.sqlite")
    except UserError:
        runner.close()
        raise
    checks = None
    with store:
        run_id = store.start_run(resolved.id, run_info)
        run_info["engine"] = runner.name
        try:
            outcome = run_tasks(resolved, selected, tier, reference, store, runner, progress=progress)
            if check_convergence:
                from alloybench.convergence import check_run
                from alloybench.tasks.base import Context

                checks = check_run(outcome.jobs, outcome.raw, runner, selected,
                                   Context(reference, tier, resolved.elements), outcome.views)
        except KeyboardInterrupt:
            store.finish_run(run_id, run_info, status="interrupted")
            raise RunInterrupted(store.count(resolved.id), directory) from None
        except UserError:
            store.finish_run(run_id, run_info, status="interrupted")
            raise
        finally:
            runner.close()  # stops a worker process
        wall = time.perf_counter() - t0
        timing = {"wall_seconds": wall, "computed": outcome.computed, "reused": outcome.reused,
                  "device": device_for(resolved.family), "per_task": store.time_by_task(resolved.id)}
        run_info["timing"] = timing
        store.finish_run(run_id, run_info)
        if tier == "full":  # the full tier also measures what the model costs per call
            from alloybench.cost import measure_cost

            if on_cost is not None:
                on_cost()
            store.put_cost(resolved.id, measure_cost(resolved))
        cost = store.latest_cost(resolved.id)
    if tier == "full":
        write_atomic(directory / "cost.json", json.dumps(cost, indent=1))
    doc = write_results(directory, resolved, run_info, outcome, timing, cost)
    if check_convergence:
        write_atomic(directory / "convergence.json", json.dumps([asdict(c) for c in checks.jobs], indent=1))
        write_atomic(directory / "convergence_metrics.json", json.dumps([asdict(c) for c in checks.metrics], indent=1))
    return Results(doc, directory, computed=outcome.computed, reused=outcome.reused, failures=outcome.failures,
                   missing=outcome.missing, wall_seconds=wall, convergence=checks)


def load_results(directory: str | Path) -> Results:
    """A result folder's results.json (written by ``benchmark`` / ``alloybench run``), with the
    folder's cost.json as its cost figure when results.json has none."""
    from alloybench.report import load_results as _load
    from alloybench.validate import check_results_doc

    directory = Path(directory)
    path = directory / "results.json"
    if not path.is_file():
        raise UserError(f"no results.json in {directory}")
    try:
        doc = _load(directory)
    except ValueError as exc:
        raise UserError(f"{path}: not a results file ({exc})") from None
    return Results(check_results_doc(doc, path), directory, failures=list(doc.get("failures") or []))


__all__ = ["Results", "RunInterrupted", "benchmark", "load_results"]
