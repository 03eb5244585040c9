"""MatterSim: local mattersim-*.pth checkpoints."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ase.calculators.calculator import Calculator

from alloybench.models.families.base import Family, Rule, need, require_weights, torch_threads


def load_mattersim(weights: Path | None, device: str = "cpu", **_: Any) -> Calculator:
    weights = require_weights(weights, "MatterSim", "pass a local mattersim-*.pth checkpoint")
    need("mattersim", "MatterSim", "mattersim")
    from mattersim.forcefield import MatterSimCalculator

    torch_threads()
    return MatterSimCalculator(load_path=str(weights), device=device)


def drop_cuda_vision(env: Path, log, run) -> None:
    """mattersim requires torchvision/torchaudio but never uses them; PyPI's torchvision
    is built against CUDA torch (libtorch_cuda.so) and, once present, torchmetrics
    imports it and fails on CPU torch.  Remove both."""
    run([str(env / "bin" / "python"), "-m", "pip", "uninstall", "-y", "-q", "torchvision", "torchaudio"])


FAMILY = Family("mattersim", "MatterSim", load_mattersim, "mattersim", "mattersim", ("mattersim",),
                weights_hint="pass a local mattersim-*.pth", licence="MIT",
                # before fairchem (191) when the file says mattersim; a checkpoint with model_args that
                # neither fairchem nor SevenNet (192) claims is MatterSim's too (193)
                sniff=(Rule(190, lambda p: p.pickled_torch and (p.mentions(b"mattersim") or (
                    "mattersim" in p.name and p.mentions(b"model_args")))),
                       Rule(193, lambda p: p.pickled_torch and p.mentions(b"model_args"))),
                env_fix=drop_cuda_vision, packages=("torch", "mattersim"), checkpoint="code")
