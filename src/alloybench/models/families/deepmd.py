"""DeePMD-kit (DPA-2/3): local frozen models (.pth / .pb) or checkpoints; its own environment."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

from ase.calculators.calculator import Calculator

from alloybench.models.families.base import Family, Rule, need, require_weights, site_packages, torch_threads


def _fast_torchscript() -> None:
    """deepmd-kit's TorchScript models are re-optimised by the graph executor on
    each new input shape (minutes per call on CPU): turn the profiling executor and
    the executor's optimisation off (process-wide; measured 131 s -> 0.8 s for the
    first single point of DPA3-LAM, same energies)."""
    try:
        import torch

        torch._C._jit_set_profiling_executor(False)
        torch._C._set_graph_executor_optimize(False)
    except (ImportError, AttributeError):
        pass


def load_deepmd(weights: Path | None, device: str = "cpu", head: str | None = None, **_: Any) -> Calculator:
    """deepmd-kit picks its device itself (deepmd.pt.utils.env.DEVICE)."""
    weights = require_weights(weights, "DeePMD", "pass a local frozen model (.pth / .pb) or checkpoint (.pt)")
    need("deepmd", "DeePMD / DPA", "deepmd", "deepmd-kit")
    torch_threads()
    _fast_torchscript()
    from deepmd.calculator import DP

    kwargs: dict[str, Any] = {"model": str(weights)}
    if head:
        kwargs["head"] = head
    return DP(**kwargs)


CXX_OP_STUB = '''"""alloybench stub: deepmd-kit's compiled torch ops are built for another torch;
without them deepmd runs its pure-PyTorch code paths."""
import torch

ENABLE_CUSTOMIZED_OP = False
GLOBAL_CONFIG = {}
__all__ = ["ENABLE_CUSTOMIZED_OP", "GLOBAL_CONFIG"]
'''


def stub_cxx_op(env: Path, log, run) -> None:
    """deepmd-kit 3.1.3's custom-op library is built against another torch and
    fails to load; a stub ``deepmd.pt.cxx_op`` turns the ops off."""
    target = site_packages(env) / "deepmd" / "pt" / "cxx_op.py"
    if target.exists():
        shutil.copy(target, target.with_suffix(".py.orig"))
    target.write_text(CXX_OP_STUB)
    log(f"wrote stub {target}")


def batched_backend(model, request):
    """Frames in one ``DeepPot.eval`` per size group, on the serial engine's DP calculator."""
    if request.prefer not in ("auto", "native"):
        return None
    from alloybench.engine.backends import DeepMDBackend

    return DeepMDBackend(request.calculator())


FAMILY = Family("deepmd", "DeePMD-kit (DPA-2/3)", load_deepmd, "deepmd", "deepmd", ("deepmd-kit==3.1.3",),
                weights_hint="pass a local frozen model .pth", licence="LGPL-3.0",
                sniff=(Rule(170, lambda p: p.file_named(".pb")),
                       Rule(182, lambda p: p.torchscript and p.mentions(b"deepmd"))),
                env_fix=stub_cxx_op, batched=batched_backend, packages=("torch", "deepmd-kit"), checkpoint="code")
