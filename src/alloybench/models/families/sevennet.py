"""SevenNet (sevenn): checkpoints ship in the wheel or are downloaded by sevenn into its folder."""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Any

from ase.calculators.calculator import Calculator

from alloybench.errors import MissingExtra, UserError
from alloybench.models.families.base import Family, Rule, cueq_requested, require_weights, torch_threads


def load_sevennet(weights: Path | None, device: str = "cpu", modal: str | None = None, **_: Any) -> Calculator:
    weights = require_weights(weights, "SevenNet", "pass a checkpoint .pth")
    try:
        from sevenn.calculator import SevenNetCalculator
    except ImportError as exc:
        raise MissingExtra("SevenNet", "sevenn") from exc
    from alloybench.models.checkpoints import sevenn_weights_only

    sevenn_weights_only()  # sevenn's own torch.load(weights_only=False) -> weights_only=True
    torch_threads()
    kwargs: dict[str, Any] = {"model": str(weights), "device": device}
    if modal:
        kwargs["modal"] = modal
    if cueq_requested():
        kwargs["enable_cueq"] = True
    with warnings.catch_warnings():
        # the tensor-product accelerators (cuEquivariance...) are GPU-only; on CPU the warning is noise
        warnings.filterwarnings("ignore", message="No tensor product accelerator")
        return SevenNetCalculator(**kwargs)


def batched_backend(model, request):
    """torch-sim's SevenNetModel where torch-sim >= 0.4 imports (or is asked for), else sevenn's own
    graph batching; the checkpoint and ``modal`` are the resolved model's."""
    from alloybench.engine.backends import SevenNetBackend, TorchSimBackend, torch_sim_available
    from alloybench.models.checkpoints import sevenn_weights_only

    sevenn_weights_only()  # checkpoints read with torch.load(weights_only=True)
    weights = model.info.get("weights")
    if not weights:
        raise UserError(f"model '{model.name}': no weights path for the batched engine")
    modal = model.options.get("modal")
    why = torch_sim_available()
    if request.prefer in ("auto", "torch-sim") and why is None:
        from sevenn.torchsim import SevenNetModel

        return TorchSimBackend(SevenNetModel(weights, modal=modal, device=request.device,
                                             enable_cueq=request.enable_cueq))
    if request.prefer == "torch-sim":
        raise MissingExtra(f"batched SevenNet through torch-sim ({why})", "gpu", "torch-sim-atomistic")
    return SevenNetBackend(weights, device=request.device, modal=modal, enable_cueq=request.enable_cueq)


FAMILY = Family("sevennet", "SevenNet", load_sevennet, "sevenn", "sevenn", ("sevenn>=0.11",),
                weights_hint="pass a checkpoint .pth", licence="GPL-3.0",
                # after fairchem (192): fairchem's inference checkpoints also hold model_state_dict and
                # model_config; a plain .pth nobody else claims is taken for SevenNet (194)
                sniff=(Rule(192, lambda p: p.pickled_torch and p.mentions(b"model_state_dict")
                            and p.mentions(b"config")),
                       Rule(194, lambda p: p.pickled_torch and p.name.endswith(".pth"))),
                batched=batched_backend, packages=("torch", "sevenn"), checkpoint="weights-only")
