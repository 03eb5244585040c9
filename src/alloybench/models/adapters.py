"""Loaders: each returns an ASE calculator from packaged or local weights, offline."""

from __future__ import annotations

import importlib
import os
import warnings
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ase.calculators.calculator import Calculator

from alloybench.errors import MissingExtra, UserError

if TYPE_CHECKING:
    from alloybench.models import Model, ModelSpec


def _torch_threads() -> None:
    """Use every core we were given; torch defaults can oversubscribe small machines."""
    try:
        import torch

        n = int(os.environ.get("ALLOYBENCH_THREADS", "0")) or (os.cpu_count() or 1)
        torch.set_num_threads(n)
    except ImportError:
        pass


def device() -> str:
    want = os.environ.get("ALLOYBENCH_DEVICE", "auto")
    if want != "auto":
        return want
    try:
        import torch

        return "cuda" if torch.cuda.is_available() else "cpu"
    except ImportError:
        return "cpu"


def packaged_weights(spec: "ModelSpec") -> Path | None:
    """Where a registry model's weights are on disk, or None (never downloads)."""
    if spec.family == "sevennet":
        import sevenn._const as const

        table = {
            "7net-0": const.SEVENNET_0_11Jul2024,
            "7net-l3i5": const.SEVENNET_l3i5,
            "7net-mf-0": const.SEVENNET_MF_0,
        }
        p = Path(table[spec.options["checkpoint"]])
        return p if p.exists() else None
    if spec.family == "chgnet":
        import chgnet

        root = Path(chgnet.__file__).parent / "pretrained"
        hits = sorted(root.glob(f"{spec.options['version']}/*.pth.tar"))
        return hits[0] if hits else None
    return None


def load_emt(spec: "ModelSpec | None" = None, weights: Path | None = None) -> Calculator:
    from ase.calculators.emt import EMT

    return EMT()


def load_sevennet(spec: "ModelSpec | None", weights: Path, modal: str | None = None) -> Calculator:
    try:
        from sevenn.calculator import SevenNetCalculator
    except ImportError as exc:
        raise MissingExtra("SevenNet", "sevenn") from exc
    _torch_threads()
    modal = modal or (spec.options.get("modal") if spec else None)
    kwargs: dict[str, Any] = {"model": str(weights), "device": device()}
    if modal:
        kwargs["modal"] = modal
    with warnings.catch_warnings():
        # the tensor-product accelerators (cuEquivariance...) are GPU-only; on CPU the warning is noise
        warnings.filterwarnings("ignore", message="No tensor product accelerator")
        return SevenNetCalculator(**kwargs)


def load_chgnet(spec: "ModelSpec | None", weights: Path) -> Calculator:
    try:
        from chgnet.model import CHGNet
        from chgnet.model.dynamics import CHGNetCalculator
    except ImportError as exc:
        raise MissingExtra("CHGNet", "chgnet") from exc
    _torch_threads()
    model = CHGNet.from_file(str(weights), verbose=False)
    return CHGNetCalculator(model=model, use_device=device(), stress_weight=1 / 160.21766208)


def load_matgl(spec: "ModelSpec | None", weights: Path) -> Calculator:
    try:
        import matgl
        from matgl.ext.ase import PESCalculator
    except ImportError as exc:
        raise MissingExtra("M3GNet / TensorNet (matgl)", "matgl") from exc
    _torch_threads()
    return PESCalculator(matgl.load_model(str(weights)))


def load_eam(spec: "ModelSpec | None", weights: Path) -> Calculator:
    from ase.calculators.eam import EAM

    return EAM(potential=str(weights))


def eam_elements(path: Path) -> frozenset[str]:
    """Elements an EAM file declares (setfl: line 4; funcfl: first line's Z)."""
    from ase.data import chemical_symbols

    lines = path.read_text(errors="replace").splitlines()
    name = path.name.lower()
    if name.endswith((".alloy", ".fs", ".setfl")) and len(lines) > 3:
        return frozenset(lines[3].split()[1:])
    try:
        return frozenset({chemical_symbols[int(lines[1].split()[0])]})
    except (IndexError, ValueError) as exc:
        raise UserError(f"cannot read elements from EAM file {path}") from exc


def _is_matgl_folder(path: Path) -> bool:
    return path.is_dir() and (path / "model.json").exists()


def from_path(path: Path, digest: str) -> "Model":
    """Pick the family from what the path holds."""
    from alloybench.models import UNIVERSAL, Model

    name = path.name.lower()
    if name.endswith((".eam.alloy", ".eam.fs", ".eam", ".setfl")) or name.endswith(".alloy"):
        elements = eam_elements(path)
        return Model(f"eam:{path.name}@{digest}", path.name, "eam", elements, lambda: load_eam(None, path),
                     {"family": "eam", "weights": str(path)})
    if _is_matgl_folder(path):
        return Model(f"matgl:{path.name}@{digest}", path.name, "matgl", UNIVERSAL, lambda: load_matgl(None, path),
                     {"family": "matgl", "weights": str(path)})
    if name.endswith(".pth.tar"):
        return Model(f"chgnet:{path.name}@{digest}", path.name, "chgnet", UNIVERSAL, lambda: load_chgnet(None, path),
                     {"family": "chgnet", "weights": str(path)})
    if name.endswith(".pth"):
        return Model(f"sevennet:{path.name}@{digest}", path.name, "sevennet", UNIVERSAL,
                     lambda: load_sevennet(None, path), {"family": "sevennet", "weights": str(path)})
    raise UserError(f"cannot tell which kind of potential {path} is (EAM file, matgl folder, .pth, .pth.tar)")


def from_callable(target: str) -> "Model":
    """``package.module:function`` returning an ASE calculator; optional attribute
    ``elements`` on the function declares what it covers."""
    from alloybench.models import Model

    module_name, _, attr = target.partition(":")
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise UserError(f"cannot import module '{module_name}' for model {target}") from exc
    factory = getattr(module, attr, None)
    if not callable(factory):
        raise UserError(f"'{attr}' in module '{module_name}' is not a callable")
    elements = getattr(factory, "elements", None)
    return Model(f"callable:{target}", target, "custom", frozenset(elements) if elements else None, factory,
                 {"family": "custom", "weights": target})
