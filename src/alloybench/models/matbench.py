"""Matbench Discovery metrics of universal models, carried by tools/carry_matbench.py.

``matbench_metrics(name)`` maps an alloybench model name to its Matbench
Discovery entry.  Only exact matches are mapped: a registry name that is a
Matbench model key, or one of ALIASES (other names of the *same* weights).  A
related but different model (sevennet-mf-0 vs Matbench's sevennet-mf-ompa, the
matgl port of M3GNet vs the original TensorFlow m3gnet) returns None.
"""

from __future__ import annotations

import json
from functools import lru_cache
from importlib import resources
from typing import Any

# Metric names, in report order, and whether higher is better.
METRICS: dict[str, bool] = {"F1": True, "kappa_SRME": False, "RMSD": False, "energy_MAE": False}

# alloybench name (lower case) -> Matbench Discovery model key, where the names differ.
ALIASES: dict[str, str] = {
    "7net-0": "sevennet-0",
    "7net-l3i5": "sevennet-l3i5",
    # the DPA3-LAM 2025.3.14 checkpoints (matcalc sdist) are the ones Matbench added on 2025-03-14
    "dpa3-lam-2025.3.14-mptrj": "dpa3-v2-mptrj",
    "dpa3-lam-2025.3.14-openlam": "dpa3-v2-openlam",
}


@lru_cache(maxsize=1)
def load_matbench() -> dict[str, Any]:
    """The whole carried file: {source, discovery_subset, fields, models}."""
    return json.loads(resources.files("alloybench.models").joinpath("matbench.json").read_text(encoding="utf-8"))


def matbench_key(name: str | None) -> str | None:
    if not name:
        return None
    low = str(name).strip().lower()
    key = ALIASES.get(low, low)
    return key if key in load_matbench()["models"] else None


def matbench_metrics(name: str | None) -> dict[str, Any] | None:
    """Flat record for a model name, or None when no exact Matbench entry exists.

    Keys: key, model_name, model_version, training_sets, model_params, F1,
    kappa_SRME, RMSD, energy_MAE (floats or None), units, sources (per value),
    subset (the discovery test subset the discovery metrics come from).
    """
    key = matbench_key(name)
    if key is None:
        return None
    data = load_matbench()
    entry = data["models"][key]
    out: dict[str, Any] = {
        "key": key,
        "model_name": entry["model_name"],
        "model_version": entry["model_version"],
        "training_sets": list(entry["training_sets"]),
        "model_params": entry["model_params"],
        "subset": data["discovery_subset"],
        "units": {},
        "sources": {"metadata": entry["source"]},
    }
    for metric in METRICS:
        m = entry["metrics"][metric]
        out[metric] = m["value"]
        out["units"][metric] = m["unit"]
        out["sources"][metric] = m["source"]
    return out


def metrics_for_doc(doc: dict[str, Any]) -> dict[str, Any] | None:
    """Matbench record for a results.json document: an explicit ``model.matbench``
    key wins, then the model name, then the registry spec it was run with."""
    model = doc.get("model") or {}
    run = doc.get("run") or {}
    for candidate in (model.get("matbench"), model.get("name"), run.get("model_spec")):
        hit = matbench_metrics(candidate) if isinstance(candidate, str) else None
        if hit is not None:
            return hit
    return None


__all__ = ["ALIASES", "METRICS", "load_matbench", "matbench_key", "matbench_metrics", "metrics_for_doc"]
