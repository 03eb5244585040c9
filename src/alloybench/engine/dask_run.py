"""``alloybench run --models A,B,C [--workers N | --scheduler ADDRESS | --cluster slurm ...]``.

Every model's suite runs through ``alloybench.runner.run_tasks`` (rounds of ready
Jobs) in a client thread of its own, on a shared Dask session: the rounds of all
models are in flight together and the workers are shared out between them
(``alloybench.engine.dask.Placement``).  Each model keeps its own folder
(``OUT/NAME``: results.sqlite, results.json, report.md, as ``alloybench run``
writes them), and each store is written only by its model's client thread: the
client is the only writer, the workers only compute.

Without a Dask option, ``--models`` runs the models one after another here, with
the engine ``--engine`` names (serial, batched; a family-environment model through
its worker process), exactly as ``alloybench run --model`` does for each.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from alloybench.engine.dask_cluster import SchedulerOptions
from alloybench.engine.serial import single_threaded_blas
from alloybench.engine.subprocess import engine_for
from alloybench.progress import ProgressCallback
from alloybench.provenance import check_covers_reference
from alloybench.errors import UserError


@dataclass
class ModelRun:
    """One model of the command: what to run, where it goes, what came out."""

    model: Any
    spec: str
    directory: Path
    tasks: list
    elements: frozenset[str] | None
    outcome: Any = None
    error: str | None = None
    wall_s: float = 0.0
    engine_summary: dict[str, Any] = field(default_factory=dict)
    score: float | None = None


def split_models(specs: list[str]) -> list[str]:
    """``--models A,B --models C`` -> [A, B, C] (order kept, duplicates dropped)."""
    out: list[str] = []
    for raw in specs:
        for s in raw.split(","):
            s = s.strip()
            if s and s not in out:
                out.append(s)
    return out


def show_slurm_scripts(options: SchedulerOptions, families: set[str] | None, write) -> None:
    from alloybench.engine.dask_cluster import load_slurm_config, slurm_job_scripts

    cfg = load_slurm_config(options.cluster_config)
    for group, script in slurm_job_scripts(cfg, families).items():
        what = "main environment" if group == "main" else f"family environment '{group}'"
        n = cfg.jobs if group == "main" else cfg.families[group].jobs
        write(f"# --- {n} job(s) for the {what} (dask-jobqueue SLURMJob.job_script()) ---\n{script}\n")


def prepare(model_specs: list[str], weights: Path | None, tasks: list[str] | None, tier: str,
            out_dir: Path | None, elements: str | None) -> list[ModelRun]:
    """Resolve every model and its tasks; any user mistake raises UserError before anything runs."""
    from alloybench.selection import chosen_elements, select_tasks
    from alloybench.models import resolve
    from alloybench.reference import load_reference

    if weights is not None and len(model_specs) > 1:
        raise UserError("--weights names the weights of one model: with several, write NAME=PATH in --models")
    reference = load_reference()
    selected = select_tasks(tasks, tier)
    runs: list[ModelRun] = []
    seen: dict[Path, str] = {}
    for spec in model_specs:
        model = resolve(spec, weights)
        chosen = chosen_elements(model, elements)
        check_covers_reference(model.name, chosen, reference)
        folder = model.name.replace("/", "_")
        directory = (out_dir if len(model_specs) == 1 else (out_dir or Path("alloybench-results")) / folder) \
            if out_dir is not None else Path("alloybench-results") / folder
        if directory in seen:
            raise UserError(f"models '{seen[directory]}' and '{spec}' would both write {directory}: "
                            f"run them with separate --out")
        seen[directory] = spec
        runs.append(ModelRun(model=replace(model, elements=chosen), spec=spec, directory=directory,
                             tasks=selected, elements=chosen))
    return runs


def _run_info(run: ModelRun, tier: str, engine: str, extra: dict[str, Any]) -> dict[str, Any]:
    from alloybench.provenance import run_info

    return run_info(run.model, run.spec, tier, run.tasks, run.elements, engine=engine, **extra)


def run_one(run: ModelRun, tier: str, engine, engine_label: str, extra_info: dict[str, Any], progress=None) -> None:
    """One model's suite on ``engine``; writes its folder.  The store is opened in the
    calling thread and written only there."""
    from alloybench.reference import load_reference
    from alloybench.report import write_results
    from alloybench.runner import run_tasks
    from alloybench.store import Store

    t0 = time.perf_counter()
    info = _run_info(run, tier, engine_label, extra_info)
    with Store(run.directory / "results.sqlite") as store:
        run_id = store.start_run(run.model.id, info)
        run.outcome = run_tasks(run.model, run.tasks, tier, load_reference(), store, engine, progress=progress)
        run.wall_s = time.perf_counter() - t0
        summary = getattr(engine, "summary", None)
        run.engine_summary = summary() if summary else {}
        timing = {"wall_seconds": run.wall_s, "computed": run.outcome.computed, "reused": run.outcome.reused,
                  "device": "dask workers" if engine_label == "dask" else "cpu",
                  "per_task": store.time_by_task(run.model.id), "engine": run.engine_summary}
        info["timing"] = timing
        store.finish_run(run_id, info)
        cost = store.latest_cost(run.model.id)
    doc = write_results(run.directory, run.model, info, run.outcome, timing, cost)
    run.score = doc["score"]["overall"]


class Bars(ProgressCallback):
    """One progress bar per model (rich, with ETA over the Jobs known so far); thread-safe."""

    def for_model(self, name: str):
        if self.progress is None:
            return None
        tid = self.progress.add_task(f"{name[:28]:28s}", total=0)
        label = f"{name[:28]:28s}"

        def progress(event: str, payload: Any) -> None:
            if event == "round":
                task = self.progress.tasks[[t.id for t in self.progress.tasks].index(tid)]
                self.progress.update(tid, total=(task.total or 0) + len(payload))
            elif event == "job":
                job, _ = payload
                self.progress.update(tid, advance=1, description=f"{label} {job.task}"[:48])
        return progress


def run_command(model_specs: list[str], *, weights: Path | None, tasks: list[str] | None, tier: str,
                out_dir: Path | None, elements: str | None, batched: bool, quiet: bool,
                options: SchedulerOptions, dry_run: bool, out, err) -> int:
    """The whole command; UserError for a user's mistake (the CLI prints one line, exits 2)."""
    options.validate()
    if dry_run:
        if options.cluster != "slurm":
            raise UserError("--dry-run shows the SLURM job scripts: use it with --cluster slurm --cluster-config FILE")
        families = None
        if model_specs:
            runs = prepare(model_specs, weights, tasks, tier, out_dir, elements)
            families = {r.model.family for r in runs if r.model.env}
        show_slurm_scripts(options, families, lambda text: out.print(text, markup=False, highlight=False,
                                                                     soft_wrap=True))
        return 0
    if not model_specs:
        raise UserError("no model: give --model NAME or --models A,B,C")
    runs = prepare(model_specs, weights, tasks, tier, out_dir, elements)
    single_threaded_blas()
    if tier == "full" and not quiet:
        err.print("note: the cost measurement of the full tier is not part of a multi-model/distributed run: "
                  "alloybench cost -m MODEL measures it")
    if options.distributed:
        _run_distributed(runs, tier, batched, quiet, options, err)
    else:
        with Bars(err, quiet) as bars:
            for run in runs:
                engine = engine_for(run.model, batched=batched)
                try:
                    run_one(run, tier, engine, getattr(engine, "name", "serial"), {}, bars.for_model(run.model.name))
                except UserError as exc:
                    run.error = str(exc)
                finally:
                    getattr(engine, "close", lambda: None)()
    return _summarise(runs, quiet, out, err)


def _run_distributed(runs: list[ModelRun], tier: str, batched: bool, quiet: bool, options: SchedulerOptions,
                     err) -> None:
    from alloybench.engine.dask import DaskEngine, Placement
    from alloybench.engine.dask_cluster import open_session

    envs_needed = {r.model.family if r.model.env else None for r in runs}
    if not quiet:
        err.print("starting Dask workers..." if not options.scheduler else f"joining {options.scheduler}...")
    with open_session(options, envs_needed) as session:
        link = session.dashboard_link
        workers = session.workers()
        if not quiet:
            err.print(f"Dask dashboard: {link or 'not available (pip install bokeh)'}; {len(workers)} workers",
                      highlight=False, markup=False)
        placement = Placement(session)
        engines = [DaskEngine(session, model=r.model, batched=batched, placement=placement) for r in runs]
        where = options.scheduler or ("slurm" if options.cluster else "local")
        extra = {"dask": {"scheduler": session.client.scheduler.address, "cluster": where,
                          "workers_at_start": len(workers), "retries": options.retries}}
        with Bars(err, quiet) as bars:
            threads = []

            def work(run: ModelRun, engine: DaskEngine) -> None:
                try:
                    run_one(run, tier, engine, "dask", extra, bars.for_model(run.model.name))
                except UserError as exc:
                    run.error = str(exc)
                except Exception as exc:  # noqa: BLE001 - a model's run broke: say so, keep the others
                    run.error = f"{type(exc).__name__}: {str(exc).splitlines()[0][:300] if str(exc) else ''}"
                finally:
                    engine.close()

            for run, engine in zip(runs, engines):
                t = threading.Thread(target=work, args=(run, engine), daemon=True, name=f"ab-{run.model.name}")
                t.start()
                threads.append(t)
            try:
                while any(t.is_alive() for t in threads):
                    for t in threads:
                        t.join(timeout=0.2)
            except KeyboardInterrupt:
                for e in engines:
                    e.cancel()
                raise


def _summarise(runs: list[ModelRun], quiet: bool, out, err) -> int:
    for run in runs:
        if run.error:
            err.print(f"alloybench: error: model '{run.model.name}': {run.error}", highlight=False, markup=False,
                      soft_wrap=True)
    if not quiet:
        from rich.table import Table

        table = Table(title="alloybench run")
        for col in ("model", "score", "computed", "reused", "failed Jobs", "wall s", "folder"):
            table.add_column(col)
        for r in runs:
            o = r.outcome
            table.add_row(r.model.name, "-" if r.score is None else f"{r.score:.3f}",
                          str(o.computed) if o else "-", str(o.reused) if o else "-",
                          str(len(o.failures)) if o else "-", f"{r.wall_s:.1f}",
                          str(r.directory) if not r.error else "error")
        out.print(table)
    return 2 if any(r.error for r in runs) else 0


__all__ = ["ModelRun", "prepare", "run_command", "run_one", "show_slurm_scripts", "split_models"]
