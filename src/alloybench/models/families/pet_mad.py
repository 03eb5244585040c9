"""PET-MAD / uPET and any metatomic-exported model (family ``pet-mad``)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ase.calculators.calculator import Calculator

from alloybench.models.families.base import Family, Rule, need, require_weights, torch_threads


def load_metatomic(weights: Path | None, device: str = "cpu", **_: Any) -> Calculator:
    """An exported model (.pt); a metatrain checkpoint (.ckpt) is exported in memory first."""
    weights = require_weights(weights, "PET-MAD", "pass a local exported model (.pt) or checkpoint (.ckpt)")
    need("metatomic.torch", "PET-MAD / metatomic", "pet-mad", "upet")
    try:
        from metatomic_ase import MetatomicCalculator  # metatomic >= 0.1.19
    except ImportError:
        from metatomic.torch.ase_calculator import MetatomicCalculator

    torch_threads()
    if weights.suffix == ".ckpt":
        from metatrain.utils.io import load_model

        model = load_model(str(weights)).export()
        return MetatomicCalculator(model, device=device)
    return MetatomicCalculator(str(weights), device=device)


FAMILY = Family("pet-mad", "PET-MAD / uPET (metatomic)", load_metatomic, "metatomic.torch", "pet-mad", ("upet",),
                weights_hint="pass a local exported .pt or .ckpt", licence="BSD-3-Clause (code), CC-BY-4.0 (weights)",
                sniff=(Rule(161, lambda p: p.file_named(".ckpt") and (p.mentions(b"metatrain") or "pet" in p.name)),
                       Rule(180, lambda p: p.torchscript and p.mentions(b"metatomic", b"metatensor"))),
                packages=("torch", "upet", "metatomic-torch"), checkpoint="code")
