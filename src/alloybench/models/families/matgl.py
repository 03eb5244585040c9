"""matgl (M3GNet, TensorNet, CHGNet-matgl): model folders (model.json, model.pt, state.pt)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ase.calculators.calculator import Calculator

from alloybench.models.families.base import EV_PER_A3_PER_GPA, Family, Rule, need, require_weights, torch_threads


def load_matgl(weights: Path | None, device: str = "cpu", **_: Any) -> Calculator:
    weights = require_weights(weights, "matgl", "pass a matgl model folder (model.json, model.pt, state.pt)")
    matgl = need("matgl", "M3GNet / TensorNet (matgl)", "matgl")
    from matgl.ext.ase import PESCalculator

    torch_threads()
    # matgl builds the model on the CPU and PESCalculator never moves it: without .to() a
    # "cuda" run would silently compute on the CPU (graphs follow the model's device)
    potential = matgl.load_model(str(weights)).to(device)
    # PESCalculator reports GPa unless told otherwise; the engine wants ASE's eV/Å^3
    try:
        return PESCalculator(potential, stress_unit="eV/A3")
    except TypeError:  # matgl < 1.2
        return PESCalculator(potential, stress_weight=EV_PER_A3_PER_GPA)


def batched_backend(model, request):
    """The serial engine's PESCalculator's potential on a PyG ``Batch`` of graphs."""
    if request.prefer not in ("auto", "native"):
        return None
    from alloybench.engine.backends import MatglBackend

    return MatglBackend(request.calculator())


FAMILY = Family("matgl", "M3GNet / TensorNet (matgl)", load_matgl, "matgl", "matgl", ("matgl>=1.1",),
                weights_hint="pass a matgl model folder (model.json, model.pt, state.pt)", licence="BSD-3-Clause",
                sniff=(Rule(10, lambda p: p.has("model.json")),), folder_weights=True, batched=batched_backend,
                packages=("torch", "matgl"), checkpoint="code")
