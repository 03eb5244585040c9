"""CHGNet: checkpoints ship in the chgnet wheel (pretrained/VERSION/*.pth.tar)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ase.calculators.calculator import Calculator

from alloybench.models.families.base import EV_PER_A3_PER_GPA, Family, Rule, need, require_weights, torch_threads


def load_chgnet(weights: Path | None, device: str = "cpu", **_: Any) -> Calculator:
    weights = require_weights(weights, "CHGNet", "pass a .pth.tar checkpoint")
    dynamics = need("chgnet.model.dynamics", "CHGNet", "chgnet")
    torch_threads()
    return dynamics.CHGNetCalculator(model=chgnet_model(weights), use_device=device, stress_weight=EV_PER_A3_PER_GPA)


def chgnet_model(weights: Path):
    """A CHGNet model from a checkpoint, read without arbitrary unpickling (CHGNet.from_file uses
    weights_only=False; its checkpoints are plain state).  Checkpoints written by CHGNet's own
    Trainer keep ``verbose`` in their model_args, which from_dict is also given: it is dropped."""
    from chgnet.model import CHGNet

    from alloybench.models.checkpoints import safe_torch_load

    state = safe_torch_load(str(weights), map_location="cpu")["model"]
    state = {**state, "model_args": {k: v for k, v in (state.get("model_args") or {}).items() if k != "verbose"}}
    try:
        return CHGNet.from_dict(state, verbose=False)
    except RuntimeError as exc:
        if "mlp_out" not in str(exc):
            raise
        # CHGNet 0.2.0 checkpoints carry output-layer biases that later versions dropped
        return CHGNet.from_dict(state, verbose=False, mlp_out_bias=True, version="0.2.0")


def batched_backend(model, request):
    """CHGNet's own batched ``predict_graph`` on the serial engine's calculator."""
    if request.prefer not in ("auto", "native"):
        return None
    from alloybench.engine.backends import CHGNetBackend

    return CHGNetBackend(request.calculator())


FAMILY = Family("chgnet", "CHGNet", load_chgnet, "chgnet", "chgnet", ("chgnet>=0.3",),
                weights_hint="pass a .pth.tar checkpoint", licence="BSD-3-Clause",
                sniff=(Rule(140, lambda p: p.file_named(".pth.tar")),), batched=batched_backend,
                packages=("torch", "chgnet"), checkpoint="weights-only")
