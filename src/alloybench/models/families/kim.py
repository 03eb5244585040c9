"""OpenKIM models through kimpy and ASE's KIM calculator (``kim:MODEL_ID``)."""

from __future__ import annotations

import dataclasses
import os
import re
from pathlib import Path
from typing import Any

from ase.calculators.calculator import Calculator

from alloybench.errors import MissingExtra
from alloybench.models.families.base import Family, need
from alloybench.models.model import Model


def load_kim(weights: Path | None = None, device: str = "cpu", model_id: str = "", **_: Any) -> Calculator:
    need("kimpy", "OpenKIM", "kim", "kimpy")
    from ase.calculators.kim import KIM

    return KIM(model_id)


def kim_collection_dirs() -> list[Path]:
    dirs = [Path(p) for p in os.environ.get("KIM_API_PORTABLE_MODELS_DIR", "").split(":") if p]
    dirs += [Path("~/.kim-api").expanduser()]
    dirs += [Path(p) for p in ("/usr/lib/x86_64-linux-gnu/kim-api/portable-models", "/usr/local/lib/kim-api/portable-models",
                                "/usr/lib/kim-api/portable-models")]
    return dirs


def kim_elements(model_id: str) -> frozenset[str] | None:
    """Species from an OpenKIM model name (..._1994_Al__MO_...; AlCu -> Al, Cu)."""
    from ase.data import chemical_symbols

    m = re.search(r"_([A-Za-z]+)__M[OS]_\d+", model_id)
    if not m:
        return None
    found = re.findall(r"[A-Z][a-z]?", m.group(1))
    return frozenset(s for s in found if s in chemical_symbols) or None


def from_kim(model_id: str) -> Model:
    if not FAMILY.installed():
        raise MissingExtra(f"OpenKIM model {model_id}", "kim", "kimpy")
    installed = [d / model_id for d in kim_collection_dirs() if (d / model_id).exists()]
    digest = model_id.rsplit("_", 1)[-1] if "__MO_" in model_id or "__SM_" in model_id else "kim"
    info = {"family": "kim", "weights": str(installed[0]) if installed else f"KIM collection: {model_id}",
            "licence": "see https://openkim.org/id/" + model_id}
    model = Model(f"kim:{model_id}@{digest}", model_id, "kim", kim_elements(model_id),
                  lambda: load_kim(None, model_id=model_id), info, options={"model_id": model_id})
    # the spec a worker re-resolves it from: the bare ID is no model name (worker.py falls back to it)
    return dataclasses.replace(model, source=f"kim:{model_id}")


FAMILY = Family("kim", "OpenKIM (kimpy)", load_kim, "kimpy", "kim", ("kimpy",), torch=False,
                apt=("libkim-api-dev", "openkim-models", "pkg-config"), weights_hint="kim:MODEL_ID of an installed model",
                licence="per model (OpenKIM)", cpu_only=True, packages=("kimpy",), checkpoint="data")
