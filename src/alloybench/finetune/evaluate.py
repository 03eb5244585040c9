"""Test-split errors of a model against DFT labels: energy per atom, forces, stress.

The one implementation of these errors: the learning curve (``test_errors``, which runs
the Jobs) and the ``dataset`` task (``errors``, on predictions it is given) share it.
MAE and RMSE per quantity: energy over structures (per atom), forces over every Cartesian
component, stress over every Voigt entry.  Energies are compared after
removing the model's per-element reference energies fitted on the training pool
(``data.fit_element_offsets`` on the pool's structures), since DFT codes and models put
their energy zero in different places; forces and stress need no such step.
Forgetting: the same errors over the test structures whose kinds the training draw lacked.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
from ase import units

from alloybench.finetune.data import Frame, elements_of, fit_element_offsets

EV_PER_A3_TO_GPA = 1.0 / units.GPa


def single_point_jobs(frames: list[Frame], label: str, task: str = "finetune_data") -> list:
    """One single-point Job per frame (the engines' unit of work, so any model, in any
    environment or on any engine, is evaluated the same way and its results are stored)."""
    from alloybench.jobs import Job, Structure

    return [Job(task=task, name=f"{label}/{i}", structure=Structure.from_atoms(f.atoms), protocol="sp1")
            for i, f in enumerate(frames)]


def predict(run_jobs: Callable[[list], list], frames: list[Frame], label: str = "frame") -> list[dict[str, Any]]:
    """energy (eV), forces (eV/Å), stress (eV/Å³, Voigt) per frame; ``run_jobs(jobs) -> results``.
    A failed structure is recorded (error), not dropped."""
    return [prediction(r) for r in run_jobs(single_point_jobs(frames, label))]


def prediction(r) -> dict[str, Any]:
    """One Result as a prediction record: energy (eV), forces (eV/Å), stress (eV/Å³) or the error."""
    if r is not None and r.ok and r.energy is not None and r.forces is not None:
        return {"energy": float(r.energy), "forces": np.asarray(r.forces, dtype=float),
                "stress": np.asarray(r.stress, dtype=float) if r.stress is not None else None, "error": None}
    error = "not computed" if r is None else (f"{r.stage}: {r.reason}" if not r.ok else "no energy/forces")
    return {"energy": float("nan"), "forces": None, "stress": None, "error": error}


def frame_records(frames: list[Frame], preds: list[dict[str, Any]], offsets: dict[str, float]) -> list[dict[str, Any]]:
    """Per test structure: kind, |dE| per atom (eV/atom), sums of |dF| (eV/Å) and |dS| (GPa), their
    squares' sums and their counts."""
    recs = []
    for f, p in zip(frames, preds):
        r: dict[str, Any] = {"kind": f.kind, "natoms": f.natoms, "failed": p["error"] is not None
                             or not np.isfinite(p["energy"])}
        if not r["failed"]:
            ref = sum(offsets[s] for s in f.atoms.get_chemical_symbols())
            r["e_abs_eV_per_atom"] = abs(f.energy_eV - ref - p["energy"]) / f.natoms
            df = f.forces_eV_per_A - p["forces"]
            r["f_abs_sum_eV_per_A"] = float(np.abs(df).sum())
            r["f_sq_sum_eV2_per_A2"] = float((df ** 2).sum())
            r["f_n"] = int(f.forces_eV_per_A.size)
            if f.stress_eV_per_A3 is not None and p["stress"] is not None:
                ds = (f.stress_eV_per_A3 - p["stress"]) * EV_PER_A3_TO_GPA
                r["s_abs_sum_GPa"] = float(np.abs(ds).sum())
                r["s_sq_sum_GPa2"] = float((ds ** 2).sum())
                r["s_n"] = 6
        recs.append(r)
    return recs


def summarise(recs: list[dict[str, Any]]) -> dict[str, Any]:
    """MAEs and RMSEs over a set of per-structure records (forces over every component, stress over
    every Voigt entry)."""
    ok = [r for r in recs if not r["failed"]]
    fn = sum(r["f_n"] for r in ok)
    sn = sum(r.get("s_n", 0) for r in ok)
    e = np.array([r["e_abs_eV_per_atom"] for r in ok])
    return {
        "n": len(recs),
        "n_failed": len(recs) - len(ok),
        "energy_mae_meV_per_atom": 1000 * float(np.mean(e)) if ok else None,
        "force_mae_meV_per_A": 1000 * sum(r["f_abs_sum_eV_per_A"] for r in ok) / fn if fn else None,
        "stress_mae_GPa": sum(r.get("s_abs_sum_GPa", 0.0) for r in ok) / sn if sn else None,
        "energy_rmse_meV_per_atom": 1000 * float(np.sqrt(np.mean(e ** 2))) if ok else None,
        "force_rmse_meV_per_A": 1000 * float(np.sqrt(sum(r["f_sq_sum_eV2_per_A2"] for r in ok) / fn)) if fn else None,
        "stress_rmse_GPa": float(np.sqrt(sum(r.get("s_sq_sum_GPa2", 0.0) for r in ok) / sn)) if sn else None,
    }


def test_errors(run_jobs: Callable[[list], list], pool: list[Frame], test: list[Frame],
                trained_kinds: set[str] | None = None) -> dict[str, Any]:
    """Errors on the test split, overall, by kind, and over kinds outside ``trained_kinds``."""
    return errors(pool, predict(run_jobs, pool, "pool"), test, predict(run_jobs, test, "test"), trained_kinds)


def errors(pool: list[Frame], pool_pred: list[dict[str, Any]], test: list[Frame], preds: list[dict[str, Any]],
           trained_kinds: set[str] | None = None) -> dict[str, Any]:
    """``test_errors`` on predictions already made (``predict``'s records, one per frame)."""
    elements = sorted(set(elements_of(pool)) | set(elements_of(test)))
    ok = [(f, p["energy"]) for f, p in zip(pool, pool_pred) if p["error"] is None and np.isfinite(p["energy"])]
    offsets = fit_element_offsets([f for f, _ in ok], [e for _, e in ok], elements) if ok else {e: 0.0 for e in elements}
    recs = frame_records(test, preds, offsets)
    doc: dict[str, Any] = {"all": summarise(recs), "by_kind": {}, "records": recs,
                           "energy_offsets_eV_per_atom": offsets,
                           "method": "energies less per-element offsets fitted (least squares) on the training "
                                     "pool's DFT minus model energies"}
    for k in sorted({f.kind for f in test}):
        doc["by_kind"][k] = summarise([r for r in recs if r["kind"] == k])
    if trained_kinds is not None:
        doc["trained_kinds"] = sorted(trained_kinds)
        doc["on_trained_kinds"] = summarise([r for r in recs if r["kind"] in trained_kinds])
        doc["on_untrained_kinds"] = summarise([r for r in recs if r["kind"] not in trained_kinds])
    return doc
