"""ORB (orb-models): local orb-*.ckpt checkpoints."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from ase.calculators.calculator import Calculator

from alloybench.errors import UserError
from alloybench.models.families.base import Family, Rule, need, require_weights, torch_threads


def orb_architecture(weights: Path) -> str:
    """orb-v3-conservative-inf-omat-20250404.ckpt -> orb_v3_conservative_inf_omat."""
    stem = re.sub(r"-\d{8}$", "", weights.name.split(".")[0])
    return stem.replace("-", "_")


def load_orb(weights: Path | None, device: str = "cpu", architecture: str | None = None,
             precision: str = "float32-highest", compile: bool = False, **_: Any) -> Calculator:
    """``architecture``: the orb_models.forcefield.pretrained function that builds the
    network (orb_v2, orb_v3_conservative_inf_omat...); default: from the file name.
    No torch.compile by default (it needs a C++ toolchain and minutes on CPU)."""
    weights = require_weights(weights, "ORB", "pass a local orb-*.ckpt checkpoint")
    need("orb_models", "ORB", "orb", "orb-models")
    from orb_models.forcefield import pretrained
    from orb_models.forcefield.calculator import ORBCalculator

    torch_threads()
    arch = (architecture or orb_architecture(weights)).replace("-", "_")
    table = {k.replace("-", "_"): v for k, v in getattr(pretrained, "ORB_PRETRAINED_MODELS", {}).items()}
    factory = table.get(arch) or getattr(pretrained, arch, None)
    if factory is None or arch.endswith("_architecture"):
        raise UserError(f"ORB: unknown architecture '{arch}' for {weights.name} "
                        f"(known: {', '.join(sorted(table))}); give options: {{architecture: ...}} in a model file")
    try:
        loaded = factory(weights_path=str(weights), device=device, precision=precision, compile=compile)
    except TypeError:  # older orb-models: no precision/compile arguments
        loaded = factory(weights_path=str(weights), device=device)
    if isinstance(loaded, tuple):  # orb-models >= 0.6: (model, atoms_adapter)
        model, adapter = loaded
        return ORBCalculator(model, atoms_adapter=adapter, device=device)
    return ORBCalculator(loaded, device=device)


FAMILY = Family("orb", "ORB", load_orb, "orb_models", "orb", ("orb-models",),
                weights_hint="pass a local orb-*.ckpt", licence="Apache-2.0",
                sniff=(Rule(162, lambda p: p.file_named(".ckpt")),),  # after NequIP's and PET-MAD's .ckpt
                packages=("torch", "orb-models"), checkpoint="code")
