"""Chemical element symbols as a user or a data file gives them: the one check that they are elements.

Imports nothing of alloybench but its errors, so that models, the registry, LAMMPS model files and
the ``--elements`` option can all use it without an import cycle."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from ase.data import chemical_symbols

from alloybench.errors import UserError

SYMBOLS = frozenset(chemical_symbols[1:])  # H..Og (ASE's table; index 0 is the dummy 'X')


def check_elements(symbols: Iterable[str], where: str | None = None, error: type[Exception] = UserError) -> None:
    """Raise ``error`` ("WHERE: not a chemical element: X") for the first X of ``symbols`` that is no
    element symbol; the registry's pydantic validator passes ValueError."""
    bad = next((e for e in symbols if e not in SYMBOLS), None)
    if bad is not None:
        raise error(f"{where + ': ' if where else ''}not a chemical element: {bad}")


def element_list(raw: Any, where: str) -> list[str] | None:
    """A model file's ``elements`` ("Al Cu", "Al,Cu" or a list) as a checked list; None when not given."""
    if raw is None:
        return None
    if isinstance(raw, str):
        raw = raw.replace(",", " ").split()
    check_elements(raw, where)
    return list(raw)


__all__ = ["SYMBOLS", "check_elements", "element_list"]
