"""``alloybench finetune``: the learning curve of a foundation model fine-tuned on N DFT structures.

Mounted in cli.py with ``app.command("finetune")(finetune_cmd)``.
"""

from __future__ import annotations

import datetime as dt
import json
import sys
from pathlib import Path
from typing import Optional

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

from alloybench.cli_common import trust_checkpoint_option
from alloybench.errors import UserError

_err = Console(stderr=True)
_out = Console(width=None if sys.stdout.isatty() else 160)


DEFAULT_SIZES = "0,5,10,20,50,100,200"


def default_sizes(pool_n: int) -> list[int]:
    """The default N values that the pool can give, then the whole pool: on a 138-structure pool
    0, 5, 10, 20, 50, 100, 138.  (An N the user asks for above the pool stays an error.)"""
    return sorted({n for n in _ints(DEFAULT_SIZES, "sizes") if n < pool_n} | {pool_n})


def _sizes(text: str, what: str, pool_n: int) -> list[int]:
    """--sizes / --scratch-sizes: integers, or 'pool' for the whole pool."""
    return [pool_n if x.strip() == "pool" else _ints(x, what)[0] for x in text.split(",") if x.strip()]


def _ints(text: str, what: str) -> list[int]:
    try:
        vals = [int(x) for x in text.replace(" ", "").split(",") if x]
    except ValueError:
        raise UserError(f"--{what}: expected comma-separated integers, got '{text}'") from None
    if not vals:
        raise UserError(f"--{what}: empty")
    return vals


def finetune_cmd(
    model: str = typer.Option("sevennet-0", "--model", "-m", help="the foundation model to fine-tune (registry name or path)"),
    data: Path = typer.Option(..., "--data", help="labelled training pool (extxyz: energy, forces, stress; info 'kind')"),
    test: Optional[Path] = typer.Option(None, "--test", help="labelled test split (extxyz) for energy/force/stress errors"),
    sizes: Optional[str] = typer.Option(None, "--sizes", help="N values, comma-separated ('pool' = the whole pool; "
                                        f"default {DEFAULT_SIZES} up to the pool's size, then the pool)"),
    seeds: int = typer.Option(3, "--seeds", help="draws per N (seeds 0..SEEDS-1, from --seed-start)"),
    seed_start: int = typer.Option(0, "--seed-start", help="first seed (to split a sweep over processes)"),
    modes: str = typer.Option("finetune,scratch", "--modes", help="finetune and/or scratch (the from-scratch twin)"),
    scratch_sizes: Optional[str] = typer.Option(None, "--scratch-sizes", help="N values of the from-scratch twin (default: --sizes)"),
    tier: str = typer.Option("quick", "--tier", help="quick | standard | full"),
    tasks: Optional[list[str]] = typer.Option(None, "--tasks", "-t", help="task names (default: the tier's)"),
    out_dir: Path = typer.Option(..., "--out", "-o", help="output folder (one model folder per point + the curve)"),
    engine: str = typer.Option("serial", "--engine", help="serial | batched (for the suite runs)"),
    compare: Optional[list[Path]] = typer.Option(None, "--compare", help="result folders drawn as lines (re-scored on the same tasks)"),
    lr: Optional[float] = typer.Option(None, "--lr", help="override the family's learning rate"),
    epochs: Optional[int] = typer.Option(None, "--epochs", help="override the maximum epochs"),
    patience: Optional[int] = typer.Option(None, "--patience", help="override early-stopping patience (epochs)"),
    batch_size: Optional[int] = typer.Option(None, "--batch-size", help="override structures per step"),
    no_suite: bool = typer.Option(False, "--no-suite", help="train (and test errors) only"),
    curve_only: bool = typer.Option(False, "--curve-only", help="write the curve from the finished points in OUT (any "
                                    "settings, checkpoints not needed); train and run nothing"),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="no progress bars"),
    trust_checkpoint: bool = trust_checkpoint_option(),
) -> None:
    """Fine-tune MODEL on N structures of the pool (stratified by kind, per seed), with its family's
    own trainer; save each as a model folder (alloybench run --model OUT/ft-N-SEED), run the suite and
    the test errors on it, train the from-scratch twin, and write OUT/learning_curve.json/.md/.png."""
    from alloybench.cli_common import fail
    from alloybench.selection import select_tasks
    from alloybench.finetune import checkpoint as ck, curve
    from alloybench.finetune.sweep import Sweep, device_name, plan
    from alloybench.report.files import write_atomic

    if trust_checkpoint:  # the suite's workers inherit it
        from alloybench.models.trust import trust_checkpoints

        trust_checkpoints()
    try:
        if tier not in ("quick", "standard", "full"):
            raise UserError(f"--tier must be quick, standard or full, not '{tier}'")
        if engine not in ("serial", "batched"):
            raise UserError(f"--engine must be serial or batched, not '{engine}'")
        mode_list = [m.strip() for m in modes.split(",") if m.strip()]
        bad = [m for m in mode_list if m not in ("finetune", "scratch")]
        if bad or not mode_list:
            raise UserError(f"--modes: unknown mode '{bad[0] if bad else modes}' (finetune, scratch)")
        if seeds < 1:
            raise UserError("--seeds must be >= 1")
        selected = select_tasks(tasks, tier)
        overrides = {"lr": lr, "max_epochs": epochs, "patience_epochs": patience, "batch_size": batch_size}
        sw = Sweep(model, data, out_dir, tier, selected, test_path=test, engine=engine, overrides=overrides,
                   quiet=quiet, console=_err)
        size_list = _sizes(sizes, "sizes", len(sw.pool)) if sizes else default_sizes(len(sw.pool))
        scratch_list = _sizes(scratch_sizes, "scratch-sizes", len(sw.pool)) if scratch_sizes else None
        sw.check_sizes(size_list + (scratch_list or []))
        compare_docs = curve.load_compare(list(compare or []), [t.name for t in selected])
    except UserError as exc:
        fail(str(exc))
    except (OSError, ValueError, KeyError) as exc:
        fail(str(exc).splitlines()[0] if str(exc) else type(exc).__name__)
    seed_list = list(range(seed_start, seed_start + seeds))
    points = plan(size_list, seed_list, mode_list, scratch_list)
    out_dir.mkdir(parents=True, exist_ok=True)

    progress = None if quiet else Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                                           TimeElapsedColumn(), TextColumn("ETA"), TimeRemainingColumn(),
                                           console=_err)
    rows = []
    base_test = None
    try:
        if progress:
            progress.start()
        outer = progress.add_task("learning curve", total=len(points)) if progress else None
        for p in points:
            if progress:
                progress.update(outer, description=f"point {p.name}")
            folder = out_dir / p.name
            if p.mode != "base":
                if curve_only:  # any finished point on this pool: sweeps run elsewhere come back without checkpoints
                    if not ck.trained_on(folder, sw.digest):
                        if progress:
                            progress.advance(outer)
                        continue
                else:
                    ep = progress.add_task(f"  train {p.name}", total=sw.settings(p).max_epochs + 1) if progress else None

                    def on_epoch(epoch, total, row, _ep=ep):
                        if progress:
                            progress.update(_ep, completed=epoch + 1,
                                            description=f"  train {p.name} loss {row['train_loss']:.4g}"
                                                        f"/{row['valid_loss']:.4g}")

                    sw.train_point(p, on_epoch)
                    if progress:
                        progress.update(ep, visible=False)
            row = {"mode": p.mode, "n": p.n, "seed": p.seed, "point": p.name}
            if not no_suite:
                sdir = folder / "suite"
                if curve_only and (sdir / "results.json").exists():
                    doc = json.loads((sdir / "results.json").read_text())
                elif curve_only:
                    doc = None
                else:
                    bar = _SuiteBar(progress, p.name)
                    doc = sw.suite_point(p, bar)
                    bar.close()
                if doc:
                    row["score"] = curve.rescore(doc, [t.name for t in selected])
                    row["suite_wall_seconds"] = doc["timing"].get("wall_seconds")
                    row["n_failed"] = doc["score"]["n_failed"]
            if not curve_only or (folder / "test_errors.json").exists():
                row["test"] = sw.test_point(p)
            if p.mode == "base":
                base_test = row.get("test")
                row["device"] = device_name()
            else:
                prov = ck.read_provenance(folder) or {}
                row.update({"train_wall_seconds": prov.get("train_wall_seconds"), "device": prov.get("device"),
                            "epochs_run": prov.get("epochs_run"), "best_epoch": prov.get("best_epoch"),
                            "kinds_drawn": (prov.get("data") or {}).get("kinds_drawn"),
                            "settings_digest": prov.get("settings_digest")})
                row["base_on_untrained"] = curve.base_on_subset(base_test, set(row.get("kinds_drawn") or {}))
            rows.append(row)
            if progress:
                progress.advance(outer)
    except KeyboardInterrupt:
        _err.print(f"interrupted: finished points are kept in {out_dir}; run again to resume")
        raise typer.Exit(130)
    except UserError as exc:
        fail(str(exc))
    finally:
        if progress:
            progress.stop()
    meta = {"base_model": sw.base.name, "base_model_id": sw.base.id, "family": sw.base.family, "tier": tier,
            "tasks": [t.name for t in selected], "pool": str(data), "pool_size": len(sw.pool),
            "pool_digest": sw.digest, "test": str(test) if test else None,
            "test_size": len(sw.test) if sw.test else 0, "sizes": size_list, "seeds": seed_list, "modes": mode_list,
            "date": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
            "command": " ".join(["alloybench"] + sys.argv[1:])}
    doc = curve.build(rows, meta, compare_docs)
    write_atomic(out_dir / "learning_curve.json", json.dumps(doc, indent=1, default=str))
    write_atomic(out_dir / "learning_curve.md", curve.markdown(doc))
    fig = curve.figure(doc, out_dir / "learning_curve.png")
    if not quiet:
        _out.print(f"learning curve: {out_dir / 'learning_curve.md'}" + (f", figure {fig}" if fig else ""))


class _SuiteBar:
    """The suite's Jobs as one sub-bar of the learning-curve progress."""

    def __init__(self, progress, name: str):
        self.progress = progress
        self.task = progress.add_task(f"  suite {name}", total=0) if progress else None
        self.name = name

    def __call__(self, event, payload) -> None:
        if not self.progress:
            return
        if event == "round":
            t = self.progress.tasks[[t.id for t in self.progress.tasks].index(self.task)]
            self.progress.update(self.task, total=(t.total or 0) + len(payload))
        elif event == "job":
            self.progress.advance(self.task)

    def close(self) -> None:
        if self.progress:
            self.progress.update(self.task, visible=False)
