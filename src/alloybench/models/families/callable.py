"""Any ``package.module:function`` that returns an ASE calculator (family ``custom``).

Not a loadable family of its own (no weights, nothing to install): ``resolve`` tells a
callable from its text; the function is the calculator factory."""

from __future__ import annotations

import importlib
import os
import re
from typing import Any

from alloybench.errors import UserError
from alloybench.models.model import Model

FAMILY_NAME = "custom"
CPU_ONLY = False  # the user's code decides where it computes
CHECKPOINT = "code"  # the user's Python code runs (alloybench.models.trust)
CALLABLE = re.compile(r"[A-Za-z_]\w*(\.[A-Za-z_]\w*)*:[A-Za-z_]\w*(\.[A-Za-z_]\w*)*")


def callable_version(module: Any, factory: Any) -> str:
    """What identifies a callable model's code: its ``version`` attribute when the user names
    one, else a digest of its module's source file (so editing it invalidates stored results)."""
    import hashlib
    import inspect

    named = getattr(factory, "version", None)
    if isinstance(named, (str, int, float)) and str(named).strip():
        return "v" + str(named).strip()
    try:
        source = inspect.getsourcefile(module) or getattr(module, "__file__", None)
    except TypeError:  # a built-in module
        source = None
    h = hashlib.sha256()
    if source and os.path.isfile(source):
        with open(source, "rb") as fh:
            h.update(fh.read())
    else:
        h.update(f"{module.__name__} {getattr(module, '__version__', '')}".encode())
    return h.hexdigest()[:12]


def from_callable(target: str) -> Model:
    """``package.module:function`` (dotted names allowed on both sides) returning an ASE
    calculator; optional attributes on the function: ``elements`` (what it covers) and
    ``version`` (names the code; default: a digest of the module's source file)."""
    if not CALLABLE.fullmatch(target):
        raise UserError(f"model '{target[:80]}' is not of the form package.module:function")
    module_name, _, attr = target.partition(":")
    try:
        module = importlib.import_module(module_name)
    except Exception as exc:  # noqa: BLE001 - ImportError, or the module's own code failing on import
        raise UserError(f"cannot import module '{module_name}' for model {target} "
                        f"({type(exc).__name__}: {str(exc).strip().splitlines()[0][:120] if str(exc).strip() else ''})"
                        ) from exc
    factory: Any = module
    for part in attr.split("."):
        factory = getattr(factory, part, None)
    if not callable(factory):
        raise UserError(f"'{attr}' in module '{module_name}' is not a callable")
    elements = getattr(factory, "elements", None)
    try:
        elements = frozenset(str(e) for e in elements) if elements else None
    except TypeError:
        raise UserError(f"model {target}: its 'elements' attribute is not a list of element symbols") from None
    version = callable_version(module, factory)
    return Model(f"callable:{target}@{version}", target, "custom", elements, factory,
                 {"family": "custom", "weights": target, "version": version})


