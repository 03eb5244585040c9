"""``alloybench dft label|set``: PBE labels with GPAW, resumable through a SQLite store.

Mounted in cli.py with ``app.add_typer(dft_app, name="dft")``.  Exit status: 0 every
frame labelled; 1 finished but some SCF runs failed (recorded in the store with the
reason and listed; the output holds the others); 2 a usage error (nothing computed);
130 interrupted (finished labels are stored: run again to resume).
"""

from __future__ import annotations

import sys
from concurrent.futures.process import BrokenProcessPool
from enum import Enum
from pathlib import Path
from typing import Optional

import typer
from rich.console import Console

from alloybench.errors import UserError
from alloybench.progress import ProgressCallback

dft_app = typer.Typer(help="PBE labels with GPAW (resumable): label a file or a task's structures, or "
                           "continue the packaged set.", no_args_is_help=True)
_out = Console(width=None if sys.stdout.isatty() else 160)
_err = Console(stderr=True)


class SettingsChoice(str, Enum):
    default = "default"
    low = "low"
    reference_k = "reference-k"
    dense_k = "dense-k"


def settings_for(choice: str):
    from alloybench.dft.settings import DEFAULT, DENSE_K, LOW, REFERENCE_K

    return {"default": DEFAULT, "low": LOW, "reference-k": REFERENCE_K, "dense-k": DENSE_K}[choice]


def _fail(message: str) -> None:
    from alloybench.cli_common import fail

    fail(message)


# options both commands take (typer reads each default once per command)
_WORKERS = typer.Option(1, "--workers", "-j", help="label in N processes, one core each (GPAW's plane-wave mode "
                                                   "is single-threaded)")
_STOP_AFTER = typer.Option(None, "--stop-after", help="start no label after this many seconds (running ones "
                                                      "finish; the rest stay pending): a batch job's wall-time limit")
_QUIET = typer.Option(False, "--quiet", "-q", help="no progress bar")


class _Bar(ProgressCallback):
    """A progress bar over frames (label.label's progress callback)."""

    def __init__(self, quiet: bool):
        super().__init__(_err, quiet)
        self.task_id = None

    def __call__(self, done: int, total: int, job, result) -> None:
        if not self.progress:
            return
        if self.task_id is None:
            self.task_id = self.progress.add_task("labelling", total=total)
        self.progress.update(self.task_id, completed=done, description=f"dft:{job.name}"[:40])


def _check_parallel(workers: int, stop_after: float | None) -> None:
    if workers < 1:
        raise UserError("--workers must be >= 1")
    if stop_after is not None and not stop_after >= 0:
        raise UserError("--stop-after must be a number of seconds >= 0")


def _died(exc: BaseException, store: Path) -> None:
    """A labelling process died (killed, out of memory): not the user's mistake, exit 1."""
    _err.print(f"a labelling process died ({exc}); finished labels are stored in {store}: run again to resume",
               highlight=False, markup=False)
    raise typer.Exit(1)


def _summary(items, computed: int, written: int, where: Path, total: int | None = None) -> int:
    failed = [(j, r) for _, j, r in items if not r.ok]
    pending = 0 if total is None else total - len(items)
    _out.print(f"{len(items)} frames: {computed} computed now, {len(items) - computed} from the store; "
               f"{written} labels written to {where}; {len(failed)} SCF failures"
               + (f"; {pending} not started (--stop-after): run again to continue" if pending else ""),
               highlight=False, markup=False)
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
                                            help="default (PW 500 eV, k-density 18) | dense-k (k-density 45: "
                                                 "shear stresses converged) | low (tests) | reference-k (the "
                                                 "reference's k-density 80)"),
    store_path: Optional[Path] = typer.Option(None, "--store", help="label store (default: OUT.sqlite beside "
                                                                    "the output)"),
    workers: int = _WORKERS,
    stop_after: Optional[float] = _STOP_AFTER,
    quiet: bool = _QUIET,
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
        _check_parallel(workers, stop_after)
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
                items, computed = label(frames, store, chosen, progress=bar, workers=workers,
                                        stop_after_s=stop_after)
        except KeyboardInterrupt:
            _err.print(f"interrupted: finished labels are stored in {db}; run again to resume")
            raise typer.Exit(130)
        except BrokenProcessPool as exc:
            _died(exc, db)
    try:
        written = write_labelled(out, items, chosen)
    except OSError as exc:
        _fail(f"--out {out}: cannot write ({exc.strerror or exc})")
    raise typer.Exit(_summary(items, computed, written, out, len(frames)))


@dft_app.command("set")
def set_cmd(
    limit: Optional[int] = typer.Option(None, "--limit", "-n", help="label at most N more candidates (default: all)"),
    show: bool = typer.Option(False, "--status", help="print what is labelled per kind; compute nothing"),
    folder: Optional[Path] = typer.Option(None, "--folder", help="a copy of the set's data folder (candidates, "
                                                                 "store, splits) to work on instead of the package's"),
    workers: int = _WORKERS,
    stop_after: Optional[float] = _STOP_AFTER,
    quiet: bool = _QUIET,
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
        _check_parallel(workers, stop_after)
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
                items, computed, counts = packaged.continue_set(store, limit, folder=Path(where), progress=bar,
                                                                workers=workers, stop_after_s=stop_after)
        except KeyboardInterrupt:
            _err.print("interrupted: finished labels are stored; run again to resume")
            raise typer.Exit(130)
        except BrokenProcessPool as exc:
            _died(exc, Path(where) / packaged.STORE)
        except OSError as exc:
            _fail(f"{where}: cannot write ({exc.strerror or exc}); copy the folder and pass --folder")
    code = _summary(items, computed, sum(counts.values()), Path(where))
    _out.print(f"train {counts['train']} / test {counts['test']} frames", highlight=False, markup=False)
    raise typer.Exit(code)
