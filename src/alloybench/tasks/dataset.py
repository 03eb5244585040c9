"""Errors against DFT labels: energy per atom, forces and stress, by structure kind.

Data: the packaged GPAW PBE set (``alloybench.dft``: ``train.extxyz.gz`` is the fitting
pool, ``test.extxyz.gz`` the scored split; docs/dft.md), or any labelled extxyz given as
``alloybench run --dataset FILE``: its frames with ``info['split'] == 'test'`` are
scored and those with ``'train'`` form the pool; a file without such splits is both
(every frame fits the offsets and is scored).  Frames with an element the model lacks
are left out of both.

Each frame is one single-point Job (protocol ``sp1``, the fine-tuning test errors' own
Jobs: a structure both use is computed once).  Energies are compared after removing
the model's per-element reference energies: μ_el (eV/atom) fitted by least squares on
the pool, E_DFT − E_model = Σ_el n_el μ_el (a common per-atom offset first, then
per-element corrections with a small ridge toward it: ``finetune.data.fit_element_offsets``),
so the DFT code's and the model's energy zeros do not count as error; forces and
stress need no such step.  The errors are ``finetune.evaluate.errors`` (one
implementation for the learning curve and this task).

Metrics, value = error and reference 0: per kind, energy MAE (meV/atom), force MAE
(meV/Å, over every Cartesian component) and stress MAE (GPa, over every Voigt entry;
frames without a stress label skip it), scored in the ``dataset`` category; the same
over all kinds and every RMSE are reported, not scored.  Per test structure, for parity plots
(weight 0): energy per atom (the model's shifted by the fitted offsets onto the DFT zero), the
largest per-atom force magnitude and the pressure, model as value and DFT as reference.  A structure the model failed
on is its own failed metric (it counts against the score), and the MAEs are over the rest.
"""

from __future__ import annotations

from collections.abc import Mapping
from functools import lru_cache
from pathlib import Path

from alloybench.errors import UserError
from alloybench.jobs import Job, Result
from alloybench.tasks.base import Context, Metric, Task

SOURCE = "alloybench.dft packaged set: GPAW PBE, PW 500 eV, k-density 18 (docs/dft.md)"
QUANTITIES = (  # summary key, metric name, group (scored per kind), unit
    ("energy_mae_meV_per_atom", "energy_mae", "dataset_energy", "meV/atom"),
    ("force_mae_meV_per_A", "force_mae", "dataset_force", "meV/Å"),
    ("stress_mae_GPa", "stress_mae", "dataset_stress", "GPa"),
    ("energy_rmse_meV_per_atom", "energy_rmse", "dataset_energy_info", "meV/atom"),
    ("force_rmse_meV_per_A", "force_rmse", "dataset_force_info", "meV/Å"),
    ("stress_rmse_GPa", "stress_rmse", "dataset_stress_info", "GPa"),
)
ERROR_GROUPS = frozenset(g for _, _, g, _ in QUANTITIES)
# per test structure, model against DFT, for the report's parity plots (weight 0: the MAEs are scored)
PARITY = (("energy_per_atom", "dataset_energy_parity", "eV/atom"),
          ("max_force", "dataset_max_force_parity", "eV/Å"),
          ("pressure", "dataset_pressure_parity", "GPa"))
INFO = {"dataset_energy": "dataset_energy_info", "dataset_force": "dataset_force_info",
        "dataset_stress": "dataset_stress_info"}


@lru_cache(maxsize=8)
def load(path: str | None) -> tuple[tuple, tuple]:
    """(pool, test) frames: the packaged splits (path None) or one labelled file split by info['split']."""
    from alloybench.finetune.data import read_pool

    if path is None:
        from alloybench.dft.packaged import split_path

        return tuple(read_pool(split_path("train"))), tuple(read_pool(split_path("test")))
    frames = read_pool(Path(path))
    split = [str(f.atoms.info.get("split", "")) for f in frames]
    test = [f for f, s in zip(frames, split) if s == "test"] or frames
    pool = [f for f, s in zip(frames, split) if s == "train"] or frames
    return tuple(pool), tuple(test)


def check_file(path: Path) -> Path:
    """A --dataset file read and checked now (UserError, one line), before anything runs."""
    load(str(Path(path).resolve()))
    return Path(path).resolve()


class DatasetTask(Task):
    name = "dataset"
    title = "DFT test set: energy, force and stress errors"
    computes = "energy/atom, force and stress MAE and RMSE on the packaged GPAW test split, by structure kind"
    reference_source = "alloybench.dft packaged set (GPAW PBE; or --dataset FILE)"
    tier = "standard"
    protocol = "dataset-1"

    def __init__(self, path: Path | str | None = None):
        self.path = None if path is None else str(Path(path).resolve())

    @property
    def source(self) -> str:
        return SOURCE if self.path is None else f"labelled file {self.path}"

    def _frames(self, ctx: Context):
        pool, test = load(self.path)
        keep = lambda fs: [f for f in fs if ctx.covers(set(f.atoms.get_chemical_symbols()))]  # noqa: E731
        return keep(pool), keep(test), test

    def _jobs(self, ctx: Context) -> tuple[list[Job], list[Job]]:
        from alloybench.finetune.evaluate import single_point_jobs

        pool, test, _ = self._frames(ctx)
        return single_point_jobs(pool, "train", task=self.name), single_point_jobs(test, "test", task=self.name)

    def build(self, ctx: Context, results: Mapping[str, Result]) -> list[Job]:
        pool, test = self._jobs(ctx)
        return pool + test

    def analyse(self, ctx: Context, results: Mapping[str, Result]) -> list[Metric]:
        from alloybench.finetune.evaluate import errors, prediction

        pool, test, every = self._frames(ctx)
        if not test:
            kinds = sorted({f.kind for f in every})
            missing = sorted({s for f in every for s in f.atoms.get_chemical_symbols()} - (ctx.elements or set()))
            return [Metric(self.name, k, q, g, u, None, 0.0, self.source, "not_applicable",
                           f"model lacks {', '.join(missing)}") for k in kinds for _, q, g, u in QUANTITIES[:3]]
        pool_jobs, test_jobs = self._jobs(ctx)
        pool_pred = [prediction(results.get(j.name)) for j in pool_jobs]
        test_pred = [prediction(results.get(j.name)) for j in test_jobs]
        doc = errors(pool, pool_pred, test, test_pred)
        metrics: list[Metric] = []
        for item, summary in [*doc["by_kind"].items(), ("all", doc["all"])]:
            for key, q, group, unit in QUANTITIES:
                group = INFO.get(group, group) if item == "all" else group
                value = summary[key]
                if value is None:
                    if q.startswith("stress"):  # no stress labels (or none predicted): nothing to compare
                        continue
                    metrics.append(Metric(self.name, item, q, group, unit, None, 0.0, self.source, "failed",
                                          f"every {item} structure failed"))
                    continue
                flag = f"{summary['n_failed']} of {summary['n']} structures failed" if summary["n_failed"] else ""
                metrics.append(Metric(self.name, item, q, group, unit, float(value), 0.0, self.source, flag=flag))
        metrics += parity_metrics(test, test_pred, doc, self.source)
        for f, job, p, rec in zip(test, test_jobs, test_pred, doc["records"]):
            if rec["failed"]:
                name = str(f.atoms.info.get("name", job.name))
                metrics.append(Metric(self.name, f"{f.kind}/{name}", "structure", "dataset_force", "meV/Å", None, 0.0,
                                      self.source, "failed", p["error"] or "non-finite energy"))
        return metrics


def parity_metrics(test, preds, doc, source: str) -> list[Metric]:
    """Model against DFT per structure that did not fail: energy/atom, max |F|, pressure."""
    import numpy as np

    from alloybench.finetune.evaluate import EV_PER_A3_TO_GPA

    offsets = doc["energy_offsets_eV_per_atom"]
    # a structure's item: its frame_id or name where those are unique in the file, else its index
    ids = [str(f.atoms.info.get("frame_id", f.atoms.info.get("name", ""))) for f in test]
    if "" in ids or len(set(ids)) < len(ids):
        ids = [str(i) for i in range(len(test))]
    out: list[Metric] = []
    for f, p, rec, ident in zip(test, preds, doc["records"], ids):
        if rec["failed"]:
            continue
        item = f"{f.kind}/{ident}"
        shift = sum(offsets[s] for s in f.atoms.get_chemical_symbols())
        pairs = [((p["energy"] + shift) / f.natoms, f.energy_eV / f.natoms),
                 (float(np.linalg.norm(p["forces"], axis=1).max()), float(np.linalg.norm(f.forces_eV_per_A, axis=1).max()))]
        if f.stress_eV_per_A3 is not None and p["stress"] is not None:
            pairs.append((-float(np.mean(p["stress"][:3])) * EV_PER_A3_TO_GPA,
                          -float(np.mean(f.stress_eV_per_A3[:3])) * EV_PER_A3_TO_GPA))
        for (name, group, unit), (value, ref) in zip(PARITY, pairs):
            out.append(Metric("dataset", item, name, group, unit, float(value), float(ref), source))
    return out


def for_path(path: Path | str | None) -> DatasetTask:
    if path is not None and not Path(path).exists():
        raise UserError(f"--dataset file not found: {path}")
    return DatasetTask(path)
