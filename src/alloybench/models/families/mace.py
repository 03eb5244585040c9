"""MACE (mace-torch): local .model files; lives in its own environment (e3nn pins)."""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Any

from ase.calculators.calculator import Calculator

from alloybench.errors import MissingExtra
from alloybench.models.families.base import Family, Rule, need, require_weights, torch_threads


def load_mace(weights: Path | None, device: str = "cpu", default_dtype: str = "float64", head: str | None = None,
              **_: Any) -> Calculator:
    weights = require_weights(weights, "MACE", "pass a local .model file")
    need("mace", "MACE", "mace", "mace-torch")
    from mace.calculators import MACECalculator

    torch_threads()
    kwargs: dict[str, Any] = {"model_paths": str(weights), "device": device, "default_dtype": default_dtype}
    if head:
        kwargs["head"] = head
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # torch.load / e3nn deprecation noise
        return MACECalculator(**kwargs)


def batched_backend(model, request):
    """torch-sim's MaceModel (torch-sim >= 0.4)."""
    if request.prefer not in ("auto", "torch-sim"):
        return None
    from alloybench.engine.backends import TorchSimBackend, torch_sim_available

    if torch_sim_available() is not None:
        raise MissingExtra("batched MACE", "gpu", "torch-sim-atomistic")
    from torch_sim.models.mace import MaceModel  # type: ignore[import-not-found]

    return TorchSimBackend(MaceModel(model=model.info["weights"], device=request.device))


FAMILY = Family("mace", "MACE", load_mace, "mace", "mace", ("mace-torch>=0.3.10",),
                weights_hint="pass a local .model path", licence="MIT (code)",
                sniff=(Rule(130, lambda p: p.file_named(".model")),), batched=batched_backend,
                packages=("torch", "mace-torch"), checkpoint="code")
