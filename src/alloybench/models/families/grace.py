"""GRACE (tensorpotential): saved TensorFlow model folders; its own environment (TensorFlow)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ase.calculators.calculator import Calculator

from alloybench.models.families.base import Family, Rule, need, require_weights


def load_grace(weights: Path | None, device: str = "cpu", **options: Any) -> Calculator:
    weights = require_weights(weights, "GRACE", "pass a local GRACE model folder (saved TensorFlow model)")
    need("tensorpotential", "GRACE", "grace", "tensorpotential")
    from tensorpotential.calculator import TPCalculator

    return TPCalculator(model=str(weights), **options)


FAMILY = Family("grace", "GRACE (tensorpotential)", load_grace, "tensorpotential", "grace", ("tensorpotential",),
                torch=False, swap=(("tensorflow", "tensorflow-cpu<=2.20"),),
                weights_hint="pass a local GRACE model folder", licence="ASL (tensorpotential)",
                sniff=(Rule(20, lambda p: p.has("saved_model.pb") or p.has("metadata.yaml")),), folder_weights=True,
                packages=("tensorpotential",), checkpoint="code")
