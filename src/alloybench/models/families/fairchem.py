"""fairchem (UMA, eSEN with fairchem-core >= 2; eqV2 with 1.x): local .pt checkpoints (gated)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ase.calculators.calculator import Calculator

from alloybench.models.families.base import Family, Rule, need, require_weights, torch_threads


def load_fairchem(weights: Path | None, device: str = "cpu", task_name: str = "omat", **_: Any) -> Calculator:
    weights = require_weights(weights, "fairchem", "pass a local checkpoint (.pt)")
    core = need("fairchem.core", "fairchem (UMA, eSEN, eqV2)", "fairchem", "fairchem-core")
    torch_threads()
    if hasattr(core, "pretrained_mlip"):  # fairchem-core >= 2: UMA, eSEN
        from fairchem.core import FAIRChemCalculator, pretrained_mlip

        settings: Any = "default"
        if device == "cpu":  # the "default" preset may torch.compile (needs a toolchain, minutes on CPU)
            try:
                from fairchem.core.units.mlip_unit.api.inference import InferenceSettings

                settings = InferenceSettings(tf32=False, merge_mole=False, compile=False)
            except ImportError:
                pass
        predictor = pretrained_mlip.load_predict_unit(str(weights), inference_settings=settings, device=device)
        return FAIRChemCalculator(predictor, task_name=task_name)
    from fairchem.core import OCPCalculator  # fairchem-core 1.x: eqV2

    return OCPCalculator(checkpoint_path=str(weights), cpu=device == "cpu")


FAMILY = Family("fairchem", "fairchem (UMA, eSEN, eqV2)", load_fairchem, "fairchem.core", "fairchem",
                ("fairchem-core",), weights_hint="pass a local checkpoint .pt", licence="see model card (Meta)",
                # before SevenNet (192): its inference checkpoints also hold model_state_dict and model_config
                sniff=(Rule(191, lambda p: p.pickled_torch and p.mentions(b"tasks_config", b"fairchem",
                                                                          b"predict_unit")),),
                packages=("torch", "fairchem-core"), checkpoint="code")
