"""A trained point as a model folder alloybench loads: ``alloybench run --model DIR``.

DIR/
  model.yaml        family, weights (the checkpoint beside it), name, provenance in words
  <checkpoint>      the family's own checkpoint (SevenNet .pth, CHGNet .pth.tar, MACE .model)
  provenance.json   base model, data digest, N, seed, settings (+ digest), train wall time, device,
                    the draw (pool indices, kinds), energy offsets, loss history; written last
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import yaml

from alloybench.report.files import write_atomic

MODEL_FILE = "model.yaml"
PROVENANCE = "provenance.json"


def write_model_folder(folder: Path, family: str, checkpoint: Path, name: str, provenance: dict[str, Any],
                       elements: list[str]) -> None:
    """model.yaml then provenance.json (last: a folder without it is an unfinished point)."""
    s = provenance["settings"]
    doc = {
        "family": family,
        "name": name,
        "weights": checkpoint.name,
        "version": f"{s['mode']} of {s['base_model']}, N={s['n_structures']}, seed={s['seed']}",
        "training_data": f"{s['n_structures']} DFT structures (pool {s['data_digest']})",
        "notes": f"alloybench finetune; settings {provenance['settings_digest']}; see {PROVENANCE}",
        "elements": elements,
    }
    write_atomic(folder / MODEL_FILE, yaml.safe_dump(doc, sort_keys=False))
    write_atomic(folder / PROVENANCE, json.dumps(provenance, indent=1, default=str))


def read_provenance(folder: Path) -> dict[str, Any] | None:
    try:
        return json.loads((folder / PROVENANCE).read_text())
    except (OSError, ValueError):
        return None


def finished(folder: Path, settings_digest: str) -> bool:
    """A point is done when its provenance names these settings and its checkpoint exists."""
    p = read_provenance(folder)
    if not p or p.get("settings_digest") != settings_digest:
        return False
    return (folder / p.get("checkpoint", "")).is_file() and (folder / MODEL_FILE).is_file()


def trained_on(folder: Path, pool_digest: str) -> bool:
    """A point that finished training on this pool, whatever its settings and whether or not its
    checkpoint is still beside it: enough to draw it on a curve (its row names its settings digest)."""
    p = read_provenance(folder)
    return bool(p) and (p.get("data") or {}).get("pool_digest") == pool_digest
