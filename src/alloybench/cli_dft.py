"""``alloybench dft label|set``: PBE labels with GPAW, resumable through a SQLite store.

Mounted in cli.py with ``app.add_typer(dft_app, name="dft")``.  Exit status: 0 every
frame labelled; 1 finished but some SCF runs failed (recorded in the store with the
reason and listed; the output holds the others); 2 a usage error (nothing computed);
130 interrupted (finished labels are stored: run again to resume).
"""

from __future__ import annotations

import sys
from enum import Enum
from pathlib import Path
from typing import Optional

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

from alloybench.errors import UserError

dft_app = typer.Typer(help="PBE labels with GPAW (resumable): label a file or a task's structures, or "
                           "continue the packaged set.", no_args_is_help=True)
_out = Console(width=None if sys.stdout.isatty() else 160)
_err = Console(stderr=True)


class SettingsChoice(str, Enum):
    default = "default"
    low = "low"
    reference_k = "reference-k"


def settings_for(choice: str):
    from alloybench.dft.settings import DEFAULT, LOW, REFERENCE_K

    return {"default": DEFAULT, "low": LOW, "reference-k": REFERENCE_K}[choice]


def _fail(message: str) -> None:
    from alloybench.cli_common import fail

    fail(message)


class _Bar:
    """A progress bar over frames (label.label's progress callback)."""

    def __init__(self, quiet: bool):
        self.progress = None if quiet else Progress(TextColumn("{task.description}"), BarColumn(),
                                                    MofNCompleteColumn(), TimeElapsedColumn(), TextColumn("ETA"),
                                                    TimeRemainingColumn(), console=_err)
        self.task_id = None

    def __enter__(self) -> "_Bar":
        if self.progress:
            self.progress.start()
        return self

    def __exit__(self, *exc: object) -> None:
        if self.progress:
            self.progress.stop()

    def __call__(self, done: int, total: int, job, result) -> None:
        if not self.progress:
            return
        if self.task_id is None:
            self.task_id = self.progress.add_task("labelling", total=total)
        self.progress.update(self.task_id, completed=done, description=f"dft:{job.name}"[:40])


def _summary(items, computed: int, written: int, where: Path) -> int:
    failed = [(j, r) for _, j, r in items if not r.ok]
    _out.print(f"{len(items)} frames: {computed} computed now, {len(items) - computed} from the store; "
               f"{written} labels written to {where}; {len(failed)} SCF failures", highlight=False, markup=False)
    for job, r in failed:
        _out.print(f"  failed {job.name}: {r.stage}: {r.reason}", highlight=False, markup=False)
    return 1 if failed else 0


@dft_app.command("label")
def label_cmd(
    source: str = typer.Argument(..., help="an extxyz file (any periodic structures) or a task name (its Jobs' "
                                           "input structures)"),
    out: Path = typer.Option(..., "--out", "-o", help="labelled extxyz to write (energy eV, forces eV/Å, stress "
                                                      "eV/Å³, provenance per frame)"),
    settings: SettingsChoice = typer.Option(SettingsChoice.default, "--settings",
                                            help="default (PW 500 eV, k-density 18) | low (tests) | reference-k "
                                                 "(the reference's k-density 80)"),
    store_path: Optional[Path] = typer.Option(None, "--store", help="label store (default: OUT.sqlite beside "
                                                                    "the output)"),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="no progress bar"),
) -> None:
    """Label structures with PBE (GPAW); a re-run reuses every stored label (resume)."""
    from alloybench.dft.calculator import require_gpaw
    from alloybench.dft.inputs import resolve_input
    from alloybench.dft.label import label, write_labelled
    from alloybench.store import Store
    from alloybench.validate import check_out_file

    chosen = settings_for(settings.value)
    try:
        out = check_out_file(out, "--out")
        db = check_out_file(store_path if store_path is not None else out.with_name(out.name + ".sqlite"), "--store")
        frames = resolve_input(source)
        require_gpaw()
        out.parent.mkdir(parents=True, exist_ok=True)
        db.parent.mkdir(parents=True, exist_ok=True)
        store = Store(db)
    except UserError as exc:
        _fail(str(exc))
    with store:
        try:
            with _Bar(quiet) as bar:
                items, computed = label(frames, store, chosen, progress=bar)
        except KeyboardInterrupt:
            _err.print(f"interrupted: finished labels are stored in {db}; run again to resume")
            raise typer.Exit(130)
    try:
        written = write_labelled(out, items, chosen)
    except OSError as exc:
        _fail(f"--out {out}: cannot write ({exc.strerror or exc})")
    raise typer.Exit(_summary(items, computed, written, out))


@dft_app.command("set")
def set_cmd(
    limit: Optional[int] = typer.Option(None, "--limit", "-n", help="label at most N more candidates (default: all)"),
    show: bool = typer.Option(False, "--status", help="print what is labelled per kind; compute nothing"),
    folder: Optional[Path] = typer.Option(None, "--folder", help="a copy of the set's data folder (candidates, "
                                                                 "store, splits) to work on instead of the package's"),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="no progress bar"),
) -> None:
    """Continue labelling the packaged candidates (DEFAULT settings) into the packaged store, then
    rewrite train.extxyz.gz / test.extxyz.gz by the fixed split."""
    from alloybench.dft import packaged
    from alloybench.dft.calculator import require_gpaw
    from alloybench.store import Store

    where = packaged.DATA if folder is None else folder
    try:
        if not (Path(where) / packaged.CANDIDATES).exists():
            raise UserError(f"--folder {where}: no {packaged.CANDIDATES} there")
        if limit is not None and limit < 0:
            raise UserError("--limit must be >= 0")
        store = Store(Path(where) / packaged.STORE, readonly=show)
    except UserError as exc:
        _fail(str(exc))
    with store:
        if show:
            for kind, c in packaged.status(store, packaged.candidates(where)).items():
                _out.print(f"{kind:10s} {c['labelled']:4d} labelled {c['failed']:3d} failed {c['pending']:4d} pending "
                           f"of {c['candidates']}", highlight=False, markup=False)
            raise typer.Exit(0)
        try:
            require_gpaw()
        except UserError as exc:
            _fail(str(exc))
        try:
            with _Bar(quiet) as bar:
                items, computed, counts = packaged.continue_set(store, limit, folder=Path(where), progress=bar)
        except KeyboardInterrupt:
            _err.print("interrupted: finished labels are stored; run again to resume")
            raise typer.Exit(130)
        except OSError as exc:
            _fail(f"{where}: cannot write ({exc.strerror or exc}); copy the folder and pass --folder")
    code = _summary(items, computed, sum(counts.values()), Path(where))
    _out.print(f"train {counts['train']} / test {counts['test']} frames", highlight=False, markup=False)
    raise typer.Exit(code)
