"""ACE (pacemaker / PACE) through python-ace's own evaluator: B-basis .yaml or .yace files."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from ase.calculators.calculator import Calculator

from alloybench.errors import UserError
from alloybench.models.families.base import Family, Rule, import_keeping_logging, require_weights


def load_ace(weights: Path | None, device: str = "cpu", **options: Any) -> Calculator:
    """A B-basis ``.yaml`` as pacemaker writes it, or the ``.yace`` (C-tilde basis) that
    LAMMPS ``pair_style pace`` reads.  ``options`` go to
    ``pyace.PyACECalculator`` (e.g. ``recursive_evaluator: true`` for a .yace)."""
    weights = require_weights(weights, "ACE", "pass a pacemaker B-basis .yaml or a .yace file")
    import_keeping_logging("pyace", "ACE (python-ace)", "ace", "python-ace")
    from pyace import ACEBBasisSet, ACECTildeBasisSet, PyACECalculator

    # PyACECalculator picks the reader from the file name (.yaml: B-basis, .yace/.ace: C-tilde);
    # a file named otherwise (.yml, a .yace saved as .yaml) gets the reader its contents need
    # (ACECTildeBasisSet(path) refuses any name but .yace/.ace; load_yaml reads any)
    kind, name = ace_format(weights), weights.name  # pyace's test is case-sensitive
    try:
        if kind == "bbasis" and not name.endswith(".yaml"):
            basis: Any = ACEBBasisSet(str(weights))
        elif kind == "ctilde" and not name.endswith(".yace"):
            basis = ACECTildeBasisSet()
            basis.load_yaml(str(weights))
        else:
            basis = str(weights)
        return PyACECalculator(basis_set=basis, **options)
    except (ValueError, RuntimeError) as exc:  # pyace's readers: unknown format, inconsistent basis...
        first = (str(exc).strip().splitlines() or [repr(exc)])[0]
        raise UserError(f"ACE: cannot load {weights}: {first}") from exc



_TOP_KEY = re.compile(r"([A-Za-z_][\w-]*)\s*:")
BBASIS_KEYS = frozenset({"global", "species"})  # pacemaker's B-basis YAML (output_potential.yaml)
CTILDE_KEYS = frozenset({"elements", "embeddings", "bonds", "functions"})  # .yace (pace_yaml2yace)


def ace_format(path: Path) -> str | None:
    """``bbasis`` for pacemaker's B-basis YAML (top-level ``global``, ``species``),
    ``ctilde`` for the C-tilde YAML that LAMMPS ``pair_style pace`` reads (.yace:
    ``elements``, ``embeddings``, ``bonds``, ``functions``), else None.  Reads the
    top-level keys only (a B-basis file can be megabytes)."""
    keys: set[str] = set()
    try:
        with open(path, errors="replace") as fh:
            for line in fh:
                m = _TOP_KEY.match(line)  # column 0 only: nested keys are indented
                if m:
                    keys.add(m.group(1))
                    if BBASIS_KEYS <= keys:
                        return "bbasis"
                    if CTILDE_KEYS <= keys:
                        return "ctilde"
    except (OSError, UnicodeDecodeError):
        return None
    return None


def ace_elements(path: Path) -> frozenset[str]:
    """Elements an ACE potential file declares (.yace, and the legacy .ace text format:
    ``elements:``; B-basis: the species of its ``speciesblock``s)."""
    from ase.data import chemical_symbols

    found: set[str] = set()
    kind = ace_format(path)
    try:
        with open(path, errors="replace") as fh:
            for line in fh:
                if kind != "bbasis" and line.startswith("elements:"):
                    found = set(re.findall(r"[A-Z][a-z]?", line.partition(":")[2]))
                    break
                m = re.match(r"\s*-?\s*speciesblock:\s*(.+)", line) if kind == "bbasis" else None
                if m:
                    found.update(re.findall(r"[A-Z][a-z]?", m.group(1)))
    except OSError as exc:
        raise UserError(f"cannot read ACE file {path}: {exc}") from exc
    if not found and kind is not None:  # not in the layout pyace writes (e.g. a block-style list): parse it all
        import yaml

        try:
            doc = yaml.load(path.read_text(), Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))
            names = doc["elements"] if kind == "ctilde" else [b["speciesblock"] for b in doc["species"]]
            found = {el for n in names for el in str(n).split()}
        except Exception:  # noqa: BLE001 - reported below as unreadable
            found = set()
    if not found or not found <= set(chemical_symbols[1:]):
        raise UserError(f"cannot read elements from ACE file {path} (not a pacemaker .yaml / .yace?)")
    return frozenset(found)



def _ace_file(p) -> bool:
    return p.file_named(".yaml", ".yml") and ace_format(p.path) is not None


def _ace_elements(path: Path) -> frozenset[str] | None:
    return ace_elements(path) if path.is_file() else None


FAMILY = Family("ace", "ACE (pacemaker / PACE, python-ace)", load_ace, "pyace", "ace", ("python-ace>=0.4.0rc1",),
                torch=False,
                weights_hint="pass a pacemaker B-basis .yaml or a .yace (what LAMMPS pair_style pace reads)",
                licence="ASL, academic non-commercial (python-ace); potentials: per file",
                notes="evaluates the same potential files as LAMMPS pair_style pace, with no ML-PACE LAMMPS build",
                sniff=(Rule(110, lambda p: p.file_named(".yace")), Rule(111, _ace_file)), cpu_only=True,
                file_elements=_ace_elements, packages=("python-ace",), checkpoint="data")
