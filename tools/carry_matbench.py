"""Carry Matbench Discovery metrics from ../shared into alloybench's own JSON file.

Run from the repository root:  python tools/carry_matbench.py [SHARED_MATBENCH_DIR]

The shared folder holds the per-model metric files of Matbench Discovery
(janosh/matbench-discovery, ``models/``, commit 2c7f9fc).  We never ship those
files: we write ``src/alloybench/models/matbench.json`` with the few figures the
correlation analysis uses, each with the file and YAML path it came from.

Choices (one set, applied to every model):
- discovery metrics (F1, energy MAE) from ``metrics.discovery.unique_prototypes``,
  the subset Matbench Discovery ranks models on (structures whose prototype is
  not in the training set of Materials Project);
- RMSD from ``metrics.geo_opt["symprec=1e-5"].rmsd`` (RMSD does not depend on
  symprec; both keys carry the same value);
- kappa_SRME from ``metrics.phonons.kappa_103["κ_SRME"]``.
A metric a model was not evaluated on is carried as null, with the reason.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "src" / "alloybench" / "models" / "matbench.json"
DEFAULT_SHARED = ROOT.parent / "shared" / "data" / "matbench_discovery"
CITATION = "Matbench Discovery, Riebesell et al., Nat. Mach. Intell. 2025, commit 2c7f9fc"
SUBSET = "unique_prototypes"

# carried name -> (YAML path as a tuple of keys, unit, description)
FIELDS: dict[str, tuple[tuple[str, ...], str, str]] = {
    "F1": (("metrics", "discovery", SUBSET, "F1"), "",
           "F1 score of stable/unstable classification (higher is better)"),
    "kappa_SRME": (("metrics", "phonons", "kappa_103", "κ_SRME"), "",
                   "symmetric relative mean error of the lattice thermal conductivity (lower is better, 0..2)"),
    "RMSD": (("metrics", "geo_opt", "symprec=1e-5", "rmsd"), "Å",
             "RMSD of relaxed structures vs DFT-relaxed structures (lower is better)"),
    "energy_MAE": (("metrics", "discovery", SUBSET, "MAE"), "eV/atom",
                   "MAE of the energy above the convex hull (lower is better)"),
}


def yaml_path(keys: tuple[str, ...]) -> str:
    """metrics.geo_opt["symprec=1e-5"].rmsd: keys with '=' or '.' in brackets."""
    out = ""
    for k in keys:
        out += f'["{k}"]' if any(c in k for c in "=.") else (f".{k}" if out else k)
    return out


def dig(doc: Any, keys: tuple[str, ...]) -> tuple[Any, str]:
    """The value at ``keys`` or (None, why it is missing)."""
    node = doc
    for i, k in enumerate(keys):
        if not isinstance(node, dict) or node.get(k) is None:
            return None, f"{yaml_path(keys[: i + 1])} not reported"
        node = node[k]
    return node, ""


def carry_one(path: Path) -> tuple[str, dict[str, Any]]:
    doc = yaml.safe_load(path.read_text())
    key = doc["model_key"]
    entry: dict[str, Any] = {
        "model_name": doc.get("model_name"),
        "model_version": None if doc.get("model_version") is None else str(doc["model_version"]),
        "training_sets": list(doc.get("training_sets") or []),
        "model_params": doc.get("model_params"),
        "source": f"{path.name}: model_name, model_version, training_sets, model_params; {CITATION}",
        "metrics": {},
    }
    for name, (keys, unit, _) in FIELDS.items():
        value, why = dig(doc, keys)
        if value is not None and not isinstance(value, (int, float)):
            value, why = None, f"{yaml_path(keys)} is not a number: {value!r}"
        entry["metrics"][name] = {
            "value": None if value is None else float(value),
            "unit": unit,
            "source": f"{path.name}: {yaml_path(keys)}; {CITATION}" if value is not None
            else f"{path.name}: {why}; {CITATION}",
        }
    return key, entry


def carry(shared: Path) -> dict[str, Any]:
    files = sorted(shared.glob("*.yml"))
    if not files:
        raise SystemExit(f"no *.yml in {shared}")
    models: dict[str, Any] = {}
    for f in files:
        key, entry = carry_one(f)
        if key in models:
            raise SystemExit(f"duplicate model_key {key} in {f.name}")
        models[key] = entry
    return {
        "source": CITATION,
        "discovery_subset": SUBSET,
        "fields": {name: {"yaml_path": yaml_path(keys), "unit": unit, "description": desc}
                   for name, (keys, unit, desc) in FIELDS.items()},
        "models": dict(sorted(models.items())),
    }


def main(argv: list[str]) -> None:
    shared = Path(argv[1]) if len(argv) > 1 else DEFAULT_SHARED
    data = carry(shared)
    OUT.write_text(json.dumps(data, indent=1, ensure_ascii=False) + "\n")
    print(f"wrote {OUT} ({len(data['models'])} models)")


if __name__ == "__main__":
    main(sys.argv)
