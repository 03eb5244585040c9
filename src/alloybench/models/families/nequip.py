"""NequIP and Allegro: compiled, packaged, checkpoint or deployed models."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ase.calculators.calculator import Calculator

from alloybench.models.families.base import Family, Rule, need, require_weights, torch_threads


def load_nequip(weights: Path | None, device: str = "cpu", **_: Any) -> Calculator:
    """Compiled (.nequip.pt2 / .nequip.pth, nequip >= 0.7), packaged (.nequip.zip, as
    nequip.net serves them) or checkpoint (.ckpt) models, or deployed (.pth, nequip 0.5-0.6) ones."""
    weights = require_weights(weights, "NequIP/Allegro",
                              "pass a compiled (.nequip.pt2/.pth), packaged (.nequip.zip) or deployed (.pth) model")
    need("nequip", "NequIP / Allegro", "nequip")
    try:
        from nequip.integrations.ase import NequIPCalculator  # nequip.ase is a deprecated alias of it
    except ImportError:
        from nequip.ase import NequIPCalculator

    torch_threads()
    if weights.name.endswith((".nequip.zip", ".ckpt")) and hasattr(NequIPCalculator, "_from_saved_model"):
        # from_compiled_model refuses these (it reads .nequip.pth/.pt2 only); nequip-compile would need
        # a C++ toolchain and minutes, so run the model eagerly with nequip's own loader for saved models
        # (private, but what nequip's tests build their reference ASE calculator with)
        return NequIPCalculator._from_saved_model(str(weights), device=device)
    if hasattr(NequIPCalculator, "from_compiled_model") and (".nequip." in weights.name or weights.suffix == ".pt2"):
        return NequIPCalculator.from_compiled_model(str(weights), device=device)
    if hasattr(NequIPCalculator, "from_deployed_model"):
        return NequIPCalculator.from_deployed_model(str(weights), device=device)
    return NequIPCalculator.from_compiled_model(str(weights), device=device)


FAMILY = Family("nequip", "NequIP / Allegro", load_nequip, "nequip", "nequip", ("nequip", "nequip-allegro"),
                weights_hint="pass a packaged .nequip.zip (nequip-package), a compiled .nequip.pth/.pt2 "
                             "(nequip-compile) or a deployed .pth", licence="MIT",
                sniff=(Rule(150, lambda p: not p.is_dir and (".nequip." in p.name or p.name.endswith(".pt2"))),
                       Rule(160, lambda p: p.file_named(".ckpt") and p.mentions(b"nequip")),
                       Rule(181, lambda p: p.torchscript and p.mentions(b"nequip", b"allegro"))),
                packages=("torch", "nequip", "nequip-allegro"), checkpoint="code")
