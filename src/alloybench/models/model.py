"""``Model``: a resolved model, what the engines and the store see of it."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from ase.calculators.calculator import Calculator


@dataclass(frozen=True)
class Model:
    """A resolved model: stable id (store key), metadata and a calculator factory.

    ``source``/``weights`` re-resolve it (in a worker); ``env`` is the family
    environment it must run in when its package is not importable here.  ``options``
    are what its loader is given (a registry entry's or a model file's): the serial and
    the batched engine both take them from here.  ``load_on(device)``, where set, makes
    the calculator on a given device (``calculator``); ``make_calculator()`` makes it on
    the default one."""

    id: str
    name: str
    family: str
    elements: frozenset[str] | None
    make_calculator: Callable[[], Calculator]
    info: dict[str, Any] = field(default_factory=dict)
    source: str = ""
    weights: str | None = None
    env: str | None = None
    options: dict[str, Any] = field(default_factory=dict, compare=False)
    load_on: Callable[[str | None], Calculator] | None = field(default=None, compare=False, repr=False)

    def calculator(self, device: str | None = None) -> Calculator:
        """The model's calculator on ``device`` (None: the default device)."""
        if device is not None and self.load_on is not None:
            return self.load_on(device)
        return self.make_calculator()


__all__ = ["Model"]
