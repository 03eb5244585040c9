"""alloybench command line: models | tasks | run | report | cost | finetune | env | dft."""

from __future__ import annotations

import sys
from enum import Enum
from pathlib import Path
from typing import Any, Optional

import typer
from rich.table import Table

from alloybench.cli_common import err, fail, one_line, out, trust_checkpoint_option
from alloybench.cli_dft import dft_app
from alloybench.cli_env import env_app
from alloybench.cli_finetune import finetune_cmd
from alloybench.errors import UserError
from alloybench.progress import ProgressCallback
from alloybench.selection import chosen_elements, select_tasks


class _App(typer.Typer):
    """A UserError that escapes a command is still one line and exit 2."""

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        try:
            return super().__call__(*args, **kwargs)
        except UserError as exc:
            err.print(f"alloybench: error: {one_line(exc)}", highlight=False, markup=False, soft_wrap=True)
            sys.exit(2)


app = _App(add_completion=False, no_args_is_help=False, help=__doc__, pretty_exceptions_enable=False,
           epilog="Exit status: 0 every Job ok; 1 the run finished but some Jobs failed or are missing "
                  "(report written); 2 a usage error (nothing written); 130 interrupted (resume by running again).")
app.add_typer(env_app, name="env")
app.add_typer(dft_app, name="dft")
app.command("finetune")(finetune_cmd)


class EngineChoice(str, Enum):
    serial = "serial"
    batched = "batched"


class TierChoice(str, Enum):
    quick = "quick"
    standard = "standard"
    full = "full"


@app.command("models")
def models_cmd() -> None:
    """Every known model: family, version, training data, elements, licence, and whether it runs here."""
    from alloybench.models import listing

    table = Table(title="alloybench models (also: a local weights path, FAMILY:PATH, a model file, kim:ID, "
                        "module:callable)")
    from alloybench.models.trust import kind

    for col in ("name", "family", "version", "training data", "elements", "licence", "checkpoint", "status"):
        table.add_column(col, no_wrap=col in ("name", "family"), ratio=3 if col == "status" else None)
    for r in listing():
        status = r["status"]
        table.add_row(r["name"], r["family"], r["version"], r["training_data"], r["elements"], r["licence"],
                      kind(r["family"]),
                      f"[green]{status}[/]" if status.startswith("ready") else f"[yellow]{status}[/]")
    out.print(table)
    out.print("checkpoint: data = nothing in the file runs; weights-only = read with torch.load(weights_only=True); "
              "code = loading needs full unpickling or runs code stored in the file: a file outside the installed "
              "packages, the families' caches and $ALLOYBENCH_WEIGHTS needs --trust-checkpoint", highlight=False)


@app.command("tasks")
def tasks_cmd() -> None:
    """Every task: what it computes, its reference source and its cost tier."""
    from alloybench.tasks import TASKS

    table = Table(title="alloybench tasks")
    for col in ("task", "tier", "computes", "reference"):
        table.add_column(col)
    for t in TASKS.values():
        table.add_row(t.name, t.tier, t.computes, t.reference_source)
    out.print(table)


# kept for callers of the old private names
_select_tasks = select_tasks
_elements = chosen_elements


class _Bar(ProgressCallback):
    """Rich progress with ETA over the Jobs of each round (weighted by atoms)."""

    def __init__(self, quiet: bool):
        super().__init__(err, quiet)
        self.task_id = None

    def __call__(self, event: str, payload: Any) -> None:
        if not self.progress:
            return
        if event == "round":
            if self.task_id is not None:
                self.progress.update(self.task_id, visible=False)
            self.task_id = self.progress.add_task(f"{len(payload)} jobs", total=len(payload))
        elif event == "job":
            job, result = payload
            self.progress.update(self.task_id, advance=1, description=f"{job.task}:{job.name}"[:40])


@app.command("run")
def run_cmd(
    model: str = typer.Option(None, "--model", "-m",
                              help="registry name (NAME or NAME=WEIGHTS), local weights path, FAMILY:PATH, "
                                   "model file (.yaml/.json, e.g. LAMMPS pair_style), kim:MODEL_ID, or module:callable"),
    weights: Optional[Path] = typer.Option(None, "--weights", help="local weights for a registry model (hub-only ones)"),
    tasks: Optional[list[str]] = typer.Option(None, "--tasks", "-t", help="task names (comma-separated or repeated)"),
    tier: TierChoice = typer.Option(TierChoice.quick, "--tier", help="quick | standard | full"),
    out_dir: Optional[Path] = typer.Option(None, "--out", "-o", help="output folder (default alloybench-results/MODEL)"),
    elements: Optional[str] = typer.Option(None, "--elements", help="restrict to a subsystem, e.g. Al,Cu"),
    engine_name: EngineChoice = typer.Option(EngineChoice.serial, "--engine",
                                             help="serial (ASE, one Job at a time) | batched (many Jobs per model call)"),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="no progress bar"),
    job_timeout: Optional[float] = typer.Option(None, "--job-timeout", min=0.001,
                                                help="wall-clock limit per Job in seconds (default: 600 s + 0.05 s "
                                                     "per atom per force call); a Job past it is stored as failed, "
                                                     "stage 'timeout'"),
    isolate: bool = typer.Option(False, "--isolate",
                                 help="run the model in a worker process that is killed when a Job hangs"),
    trust_checkpoint: bool = trust_checkpoint_option(),
    check_convergence: bool = typer.Option(False, "--check-convergence",
                                           help="recompute a sample of each task's relaxations with fmax halved and "
                                                "report the change per Job and per metric (OUT/convergence.json, "
                                                "OUT/convergence_metrics.json)"),
    dataset: Optional[Path] = typer.Option(None, "--dataset", help="score the 'dataset' task on this labelled extxyz "
                                           "(energy, forces, stress; info 'kind', 'split') instead of the packaged "
                                           "DFT test split; adds the task when --tasks/--tier leave it out"),
    models: Optional[list[str]] = typer.Option(None, "--models",
                                               help="several models, comma-separated: each to OUT/NAME (Dask options "
                                                    "spread them over workers; without, one after another)"),
    workers: Optional[int] = typer.Option(None, "--workers", help="Dask: a LocalCluster of N worker processes "
                                                                  "(per environment the models need)"),
    gpus: int = typer.Option(0, "--gpus", help="Dask: a LocalCluster of one worker per GPU (0..N-1), pinned, batched"),
    scheduler: Optional[str] = typer.Option(None, "--scheduler", help="Dask: join a running scheduler (tcp://host:8786)"),
    cluster: Optional[str] = typer.Option(None, "--cluster", help="Dask: 'slurm' (dask-jobqueue; needs --cluster-config)"),
    cluster_config: Optional[Path] = typer.Option(None, "--cluster-config", help="YAML: queue, account, walltime, "
                                                  "cores, memory, gpus_per_job, env_activation, families (README)"),
    dry_run: bool = typer.Option(False, "--dry-run", help="with --cluster slurm: print the job scripts, submit nothing"),
    retries: int = typer.Option(2, "--retries", help="Dask: times a Job whose worker died is run again elsewhere"),
) -> None:
    """Run the suite on one model (or several, --models); results go to OUT/results.sqlite, results.json and report.md.

    Exit status: 0 every Job ok; 1 some Jobs failed or are missing (the report says which);
    2 a usage error (nothing written); 130 interrupted."""
    if models or workers or gpus or scheduler or cluster or cluster_config or dry_run:
        if job_timeout is not None or isolate or check_convergence:
            # a per-Job alarm reaches only a process's main thread; Dask runs tasks in worker threads
            fail("--job-timeout, --isolate and --check-convergence apply to a single-model run, not to "
                 "--models/--workers/--gpus/--scheduler/--cluster: leave them out there")
        if dataset is not None:
            fail("--dataset applies to a single-model run, not to --models/--workers/--gpus/--scheduler/--cluster")
        from alloybench.engine.dask_cluster import SchedulerOptions
        from alloybench.engine.dask_run import run_command, split_models

        try:
            code = run_command(split_models((models or []) + ([model] if model else [])), weights=weights,
                               tasks=tasks, tier=tier.value, out_dir=out_dir, elements=elements,
                               batched=engine_name == EngineChoice.batched, quiet=quiet, dry_run=dry_run,
                               options=SchedulerOptions(workers=workers, gpus=gpus, scheduler=scheduler,
                                                        cluster=cluster, cluster_config=cluster_config,
                                                        retries=retries), out=out, err=err)
        except KeyboardInterrupt:
            err.print("interrupted: finished Jobs are stored; run again to resume")
            raise typer.Exit(130)
        except UserError as exc:
            fail(str(exc))
        raise typer.Exit(code)

    from alloybench.api import RunInterrupted, benchmark

    def cost_note() -> None:
        if not quiet:
            err.print("measuring cost (time per atom per call, MD steps/s, memory)...")

    try:
        with _Bar(quiet) as bar:
            results = benchmark(model, tier=tier.value, tasks=tasks, out=out_dir, engine=engine_name.value,
                                weights=weights, elements=elements, job_timeout=job_timeout, isolate=isolate,
                                trust_checkpoint=trust_checkpoint, check_convergence=check_convergence,
                                dataset=dataset, progress=bar, on_cost=cost_note)
    except RunInterrupted as exc:
        err.print(str(exc))
        raise typer.Exit(130)
    except UserError as exc:
        fail(str(exc))
    directory = results.directory
    checks = results.convergence
    for c in checks.jobs if checks is not None else []:
        de = "–" if c.energy_change_meV is None else f"{c.energy_change_meV:+.3f} meV"
        ds = "–" if c.stress_change_GPa is None else f"{c.stress_change_GPa:.3f} GPa"
        verdict = "converged" if c.converged else "NOT CONVERGED"
        out.print(f"{c.task}:{c.name} fmax {c.fmax:g} -> {c.fmax / 2:g}: dE {de}, dstress {ds}: {verdict} "
                  f"{c.note}", highlight=False, markup=False)
    for m in checks.metrics if checks is not None else []:
        where = f"{m.task}/{m.item}/{m.name}" + (f" (x {m.x:g})" if m.x is not None else "")
        if m.change is None:
            out.print(f"metric {where}: {m.note}: NOT CONVERGED", highlight=False, markup=False)
            continue
        verdict = "converged" if m.converged else "NOT CONVERGED"
        out.print(f"metric {where}: {m.value:.6g} -> {m.tightened:.6g} {m.unit} (change {m.change:+.3g}, "
                  f"tolerance {m.tolerance:.3g}): {verdict}", highlight=False, markup=False)
    s = results.score
    name = results.model.get("name", "")
    if not quiet:
        out.print(f"[bold]{name}[/]: overall score {s['overall']:.3f}" if s["overall"] is not None
                  else f"[bold]{name}[/]: no scored metric")
        out.print(f"{results.computed} Jobs computed, {results.reused} reused, {s['n_failed']} failed metrics, "
                  f"{results.wall_seconds:.1f} s; report: {directory / 'report.md'}")
    if not results.clean:  # finished, but not a clean run: scripts and CI can tell
        err.print(f"{len(results.failures)} Jobs failed, {len(results.missing)} missing (see {directory / 'report.md'})"
                  f": exit status 1", highlight=False, markup=False)
        raise typer.Exit(1)


@app.command("cost")
def cost_cmd(
    model: str = typer.Option(None, "--model", "-m", help="registry name, local weights path, or module:callable"),
    out_dir: Optional[Path] = typer.Option(None, "--out", "-o", help="write OUT/cost.json"),
    quick: bool = typer.Option(False, "--quick", help="fewer sizes and repeats"),
    device: Optional[str] = typer.Option(None, "--device", help="cpu | cuda (default: cuda when available)"),
    trust_checkpoint: bool = trust_checkpoint_option(),
) -> None:
    """Cost: load time, time per atom per call against cell size, MD steps/s, peak memory."""
    from alloybench.cost import cost_command
    from alloybench.models import DEFAULT_MODEL
    from alloybench.models.trust import trust_checkpoints
    from alloybench.validate import check_model_text, check_out_dir

    if trust_checkpoint:  # a family environment's process inherits it
        trust_checkpoints()
    try:
        if out_dir is not None:
            check_out_dir(out_dir)
        cost_command(DEFAULT_MODEL if model is None else check_model_text(model), out_dir, quick, device=device,
                     console=out)
    except UserError as exc:
        fail(str(exc))


@app.command("report")
def report_cmd(
    dirs: list[Path] = typer.Argument(..., help="result folders written by 'alloybench run'"),
    output: Optional[Path] = typer.Option(None, "--md", help="write Markdown here (default: print)"),
    html_dir: Optional[Path] = typer.Option(None, "--html", help="write a static HTML site (index.html, models/, figures/) here"),
) -> None:
    """Rebuild the report from one or more result folders, models side by side."""
    from alloybench.report import attach_cost, markdown, write_atomic
    from alloybench.validate import check_in_dir, check_out_dir, check_out_file

    docs = []
    try:
        if output is not None:
            check_out_file(output, "--md")
        if html_dir is not None:
            check_out_dir(html_dir, "--html")
        for d in dirs:
            docs.append(attach_cost(_rebuild(check_in_dir(d)), d))  # DIR/cost.json: the cost figure on one footing
        text = markdown(docs)
        if output:
            write_atomic(output, text)
        if html_dir is not None:
            from alloybench.report.html import write_html

            try:
                site = write_html(docs, html_dir)
            except OSError as exc:
                raise UserError(f"--html {html_dir}: cannot write ({exc.strerror or exc}); choose another folder"
                                ) from None
            err.print(f"HTML report: {site}", highlight=False, markup=False)
    except UserError as exc:
        fail(str(exc))
    if not output and html_dir is None:
        sys.stdout.write(text + "\n")  # plain: a console would wrap Markdown table rows


def _rebuild(directory: Path) -> dict[str, Any]:
    """Re-analyse a folder's store (never computing) with the current analysis code."""
    import json

    from alloybench.models import Model
    from alloybench.reference import load_reference
    from alloybench.report import results_document
    from alloybench.runner import run_tasks
    from alloybench.store import Store
    from alloybench.tasks import TASKS

    from alloybench.validate import check_results_doc, load_json_file

    db = directory / "results.sqlite"
    published = directory / "results.json"
    if not db.exists():
        if published.exists():  # a published result without its store: as written, once checked
            return check_results_doc(load_json_file(published, "results file"), published)
        raise UserError(f"no results.sqlite or results.json in {directory}")
    with Store(db, readonly=True) as store:  # a report never writes to the store
        runs = store.runs()
        if not runs:
            raise UserError(f"{db} holds no run")
        last = runs[-1]
        info = last["info"]
        if not (isinstance(info, dict) and isinstance(info.get("tasks"), list) and info.get("tier") in
                ("quick", "standard", "full")):
            raise UserError(f"{db}: the last run's record is damaged (no task list or tier); run "
                            f"'alloybench run' on {directory} again")
        tasks = [TASKS[t] for t in info["tasks"] if isinstance(t, str) and t in TASKS]
        if isinstance(info.get("dataset"), str):  # a run of the dataset task on the user's own file
            from alloybench.tasks.dataset import DatasetTask, check_file

            tasks = [DatasetTask(check_file(Path(info["dataset"]))) if t.name == "dataset" else t for t in tasks]
        old: dict[str, Any] = {}
        if published.exists():  # the model's metadata as the run wrote it; the store decides the rest
            try:
                prev = json.loads(published.read_text(encoding="utf-8"))
                old = prev.get("model", {}) if isinstance(prev, dict) and isinstance(prev.get("model"), dict) else {}
            except (OSError, ValueError):
                old = {}
        els = info.get("elements")
        elements = frozenset(str(e) for e in els) if isinstance(els, list) and els else None
        name = old.get("name") if isinstance(old.get("name"), str) else last["model"].split("@")[0]
        family = old.get("family") if isinstance(old.get("family"), str) else ""
        model = Model(id=last["model"], name=name, family=family, elements=elements, make_calculator=lambda: None,
                      info={})
        outcome = run_tasks(model, tasks, info["tier"], load_reference(), store, engine=None)
        timing = info.get("timing", {}) if isinstance(info.get("timing"), dict) else {}
        cost = store.latest_cost(model.id)
        status = last.get("status", "finished")
    return results_document({**old, "name": model.name, "id": model.id}, info, outcome.metrics, outcome.failures,
                            timing, cost, missing=outcome.missing, run_status=status, flagged=outcome.flagged)


if __name__ == "__main__":
    app()  # _App turns an escaping UserError into one line and exit 2
