"""The learning curve: for each (mode, N, seed) draw, train with the family's trainer,
save a loadable model folder, run the suite and the test-split errors on it.

Resumable at every level: a point whose provenance names the same settings digest is
not retrained; its suite run resumes from its own store (results.sqlite); its test
errors are kept while the test file's digest is unchanged.

OUT/
  base/                       the base model's suite run and test errors (N = 0)
  ft-N-SEED/                  a fine-tuned model folder (model.yaml, checkpoint, provenance.json)
    train/                    the family trainer's inputs and logs
    suite/                    results.sqlite, results.json, report.md
    test_errors.json
  scratch-N-SEED/             the from-scratch twin, same layout
  learning_curve.json/.md/.png
"""

from __future__ import annotations

import datetime as dt
import json
import os
import platform
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from alloybench.engine.subprocess import engine_for
from alloybench.errors import UserError
from alloybench.finetune import checkpoint as ck
from alloybench.finetune.base import TrainJob
from alloybench.finetune.data import (Frame, draw, elements_of, fit_element_offsets, kind_counts, pool_digest,
                                      read_pool, split_valid)
from alloybench.finetune.settings import TrainSettings, settings_for
from alloybench.report.files import write_atomic

SUITE_ELEMENTS = ("Al", "Cu", "Mg", "Zn")


def trainer_for(family: str) -> Callable:
    """The family's trainer module's ``train``; a family without one is the user's mistake."""
    if family == "sevennet":
        from alloybench.finetune import sevennet

        return sevennet.train
    if family == "chgnet":
        from alloybench.finetune import chgnet

        return chgnet.train
    if family == "mace":
        from alloybench.finetune import mace

        return mace.train
    raise UserError(f"family '{family}' has no trainer in alloybench finetune (trainers: sevennet, chgnet, mace)")


@dataclass(frozen=True)
class Point:
    mode: str  # finetune | scratch | base
    n: int
    seed: int

    @property
    def name(self) -> str:
        if self.mode == "base":
            return "base"
        return f"{'ft' if self.mode == 'finetune' else 'scratch'}-{self.n}-{self.seed}"


def plan(sizes: list[int], seeds: list[int], modes: list[str], scratch_sizes: list[int] | None = None) -> list[Point]:
    """The base model (N = 0), then each N, mode and seed; the from-scratch twin only at
    ``scratch_sizes`` when given (an untrained-looking model at N = 5 makes every relaxation
    run to its step limit, so a sweep may keep the twin to the larger N)."""
    pts = [Point("base", 0, 0)] if 0 in sizes or "finetune" in modes else []
    for n in sorted(set(sizes) | set(scratch_sizes or [])):
        if n == 0:
            continue
        for mode in modes:
            if mode == "scratch" and scratch_sizes is not None and n not in scratch_sizes:
                continue
            if mode == "finetune" and n not in sizes:
                continue
            for seed in seeds:
                pts.append(Point(mode, n, seed))
    return pts


def device_name() -> str:
    from alloybench.models.families.base import default_device as device

    d = device()
    if d.startswith("cuda"):
        try:
            import torch

            return f"cuda ({torch.cuda.get_device_name(0)})"
        except Exception:  # noqa: BLE001
            return d
    return f"cpu ({os.cpu_count()} cores, {platform.processor() or platform.machine()})"


class Sweep:
    """One learning curve: base model, pool, test split, settings overrides, suite selection."""

    def __init__(self, base_spec: str, pool_path: Path, out: Path, tier: str, tasks: list, test_path: Path | None = None,
                 engine: str = "serial", overrides: dict[str, Any] | None = None, quiet: bool = False,
                 console=None):
        from alloybench.models import resolve

        self.base_spec = base_spec
        self.base = resolve(base_spec)
        trainer_for(self.base.family)  # a family without a trainer: fail before anything is written
        if not self.base.weights:
            raise UserError(f"model '{base_spec}' has no weights file to fine-tune")
        self.pool_path = Path(pool_path)
        self.pool = read_pool(self.pool_path)
        self.digest = pool_digest(self.pool)
        self.test_path = Path(test_path) if test_path else None
        self.test: list[Frame] | None = read_pool(self.test_path) if self.test_path else None
        self.test_digest = pool_digest(self.test) if self.test else None
        self.out = Path(out).resolve()
        self.tier = tier
        self.tasks = tasks
        self.engine = engine
        self.overrides = dict(overrides or {})
        self.quiet = quiet
        self.console = console
        self.elements = sorted(set(elements_of(self.pool)) | set(SUITE_ELEMENTS))

    # ------------------------------------------------------------------ helpers
    def log(self, msg: str) -> None:
        if self.console is not None and not self.quiet:
            self.console.print(msg, highlight=False, markup=False)

    def settings(self, p: Point) -> TrainSettings:
        return settings_for(self.base.family, p.mode, self.base.name, self.digest, p.n, p.seed, self.overrides)

    def check_sizes(self, sizes: list[int]) -> None:
        too_big = [n for n in sizes if n > len(self.pool)]
        if too_big:
            raise UserError(f"N={max(too_big)} is larger than the pool ({len(self.pool)} structures in "
                            f"{self.pool_path})")
        if any(n < 0 for n in sizes):
            raise UserError("sizes must be >= 0")

    def base_energies(self, frames: list[Frame]) -> list[float]:
        """The base model's energies (eV) of ``frames``, through its engine and OUT/base/suite's store."""
        from alloybench.finetune.evaluate import predict
        from alloybench.store import Store

        d = self.out / "base" / "suite"
        d.mkdir(parents=True, exist_ok=True)
        engine = engine_for(self.base)
        try:
            with Store(d / "results.sqlite") as store:
                preds = predict(stored_runner(self.base, engine, store), frames, "pool")
        finally:
            engine.close()
        bad = [i for i, p in enumerate(preds) if p["error"]]
        if bad:
            raise UserError(f"base model '{self.base.name}' failed on pool structure(s) {bad[:5]}: "
                            f"{preds[bad[0]]['error']}")
        return [p["energy"] for p in preds]

    # ------------------------------------------------------------------ one point
    def train_point(self, p: Point, progress=None) -> Path:
        folder = self.out / p.name
        s = self.settings(p)
        if ck.finished(folder, s.digest):
            return folder
        idx = draw(self.pool, p.n, p.seed)
        train_idx, valid_idx = split_valid(idx, s.n_valid, p.seed)
        train = [self.pool[i] for i in train_idx]
        valid = [self.pool[i] for i in valid_idx]
        offsets = None
        if p.mode == "finetune":  # move the DFT energies to the base model's zero (fitted on the N drawn)
            drawn = train + valid
            pred = self.base_energies(drawn)
            offsets = fit_element_offsets(drawn, pred, self.elements)
        job = TrainJob(settings=s, train=train, valid=valid, workdir=folder / "train",
                       base_weights=Path(self.base.weights), elements=tuple(self.elements), energy_offsets=offsets,
                       device=_train_device())
        t0 = time.perf_counter()
        result = trainer_for(self.base.family)(job, progress)
        wall = time.perf_counter() - t0
        ckpt = result.checkpoint  # every trainer writes it into the point's folder (workdir.parent)
        prov = {
            "alloybench_finetune": 1,
            "point": p.name,
            "base_model": {"spec": self.base_spec, "id": self.base.id, "name": self.base.name,
                           "family": self.base.family, "weights": self.base.weights},
            "data": {"pool": str(self.pool_path), "pool_digest": self.digest, "pool_size": len(self.pool),
                     "drawn_indices": idx, "train_indices": train_idx, "valid_indices": valid_idx,
                     "kinds_drawn": kind_counts(self.pool, idx)},
            "n_structures": p.n,
            "seed": p.seed,
            "settings": s.as_dict(),
            "settings_digest": s.digest,
            "energy_offsets_eV_per_atom": offsets,
            "checkpoint": ckpt.name,
            "trainer": result.trainer,
            "train_wall_seconds": wall,
            "device": device_name() if result.device.startswith("cuda") else f"cpu ({os.cpu_count()} cores)",
            "epochs_run": result.epochs_run,
            "best_epoch": result.best_epoch,
            "stopped_early": result.stopped_early,
            "history": result.history,
            "date": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
            "notes": result.notes,
        }
        name = f"{self.base.name}-{'ft' if p.mode == 'finetune' else 'scratch'}-N{p.n}-s{p.seed}"
        ck.write_model_folder(folder, self.base.family, ckpt, name, prov, list(self.elements))
        return folder

    def model_of(self, p: Point):
        from alloybench.models import resolve

        if p.mode == "base":
            return self.base
        return resolve(str(self.out / p.name))

    def suite_point(self, p: Point, bar=None) -> dict[str, Any]:
        """Run (or resume) the suite on a point's model; results.json in POINT/suite/."""
        from alloybench.reference import load_reference
        from alloybench.report import write_results
        from alloybench.runner import run_tasks
        from alloybench.store import Store

        model = self.model_of(p)
        d = self.out / p.name / "suite"
        d.mkdir(parents=True, exist_ok=True)
        run_info = {"date": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
                    "command": f"alloybench finetune (point {p.name})", "tier": self.tier,
                    "tasks": [t.name for t in self.tasks], "elements": None, "model_spec": str(self.out / p.name)}
        t0 = time.perf_counter()
        with Store(d / "results.sqlite") as store:
            run_id = store.start_run(model.id, run_info)
            engine = engine_for(model, batched=self.engine == "batched")
            try:
                outcome = run_tasks(model, self.tasks, self.tier, load_reference(), store, engine, progress=bar)
            finally:
                engine.close()
            wall = time.perf_counter() - t0
            timing = {"wall_seconds": wall, "computed": outcome.computed, "reused": outcome.reused,
                      "device": device_name()}
            run_info["timing"] = timing
            run_info["engine"] = getattr(engine, "name", self.engine)
            store.finish_run(run_id, run_info)
        return write_results(d, model, run_info, outcome, timing)

    def test_point(self, p: Point) -> dict[str, Any] | None:
        if not self.test:
            return None
        path = self.out / p.name / "test_errors.json"
        try:
            old = json.loads(path.read_text())
            if old.get("test_digest") == self.test_digest and old.get("pool_digest") == self.digest:
                return old
        except (OSError, ValueError):
            pass
        from alloybench.finetune.evaluate import test_errors

        model = self.model_of(p)
        trained = None
        if p.mode != "base":
            prov = ck.read_provenance(self.out / p.name) or {}
            trained = set((prov.get("data") or {}).get("kinds_drawn", {}))
        from alloybench.store import Store

        d = self.out / p.name / "suite"
        d.mkdir(parents=True, exist_ok=True)
        engine = engine_for(model)
        try:
            with Store(d / "results.sqlite") as store:
                doc = test_errors(stored_runner(model, engine, store), self.pool, self.test, trained)
        finally:
            engine.close()
        doc.update({"test": str(self.test_path), "test_digest": self.test_digest, "pool_digest": self.digest,
                    "model_id": model.id})
        write_atomic(path, json.dumps(doc, indent=1))
        return doc


def stored_runner(model, engine, store):
    """run_jobs(jobs) -> results, through ``store`` (resumable: stored results are reused)."""
    def run_jobs(jobs):
        known = {j.digest: store.get(model.id, j) for j in jobs}
        todo = [j for j in jobs if known[j.digest] is None]
        if todo:
            for job, result in engine.run(todo):
                store.put(model.id, job, result)
                known[job.digest] = result
        return [known[j.digest] for j in jobs]

    return run_jobs


def _train_device() -> str:
    from alloybench.models.families.base import default_device as device

    return "cuda" if device().startswith("cuda") else "cpu"
