"""Model families, one module each (see ``base.Family`` for what a module fills in).

``FAMILIES`` (name -> Family) lists them in the order ``alloybench models`` and
``alloybench env list`` show them; adding a family is one module here, one line in
``_MODULES``, its registry entries in ``models/registry.yaml`` and its pyproject extra.
A ``package.module:callable`` model (family ``custom``, ``callable.py``) is not a loadable
family: it has no weights and nothing to install.
"""

from __future__ import annotations

from pathlib import Path

from alloybench.errors import UserError
from alloybench.models.families import (ace, chgnet, deepmd, dft, eam, emt, fairchem, grace, kim, lammps, mace,
                                        matgl, mattersim, nequip, orb, pet_mad, sevennet)
from alloybench.models.families import callable as callable_family
from alloybench.models.families.base import Family, Probe, Rule

_MODULES = (emt, eam, sevennet, chgnet, matgl, mace, grace, mattersim, orb, fairchem, deepmd, pet_mad, nequip, ace,
            lammps, dft, kim)
FAMILIES: dict[str, Family] = {m.FAMILY.name: m.FAMILY for m in _MODULES}
FOLDER_FAMILIES = frozenset(name for name, f in FAMILIES.items() if f.folder_weights)

MODEL_FILE = "modelfile"  # what sniff_family says for a model file (or a folder holding model.yaml)
_MODEL_FILE_RULES = (Rule(30, lambda p: p.is_dir and (p.path / "model.yaml").is_file()),  # alloybench finetune's
                     Rule(120, lambda p: p.file_named(".yaml", ".yml", ".json")))  # after ACE's YAML


def _rules() -> list[tuple[int, str, Rule]]:
    rules = [(r.rank, name, r) for name, f in FAMILIES.items() for r in f.sniff]
    rules += [(r.rank, MODEL_FILE, r) for r in _MODEL_FILE_RULES]
    ranks = [rank for rank, _, _ in rules]
    assert len(ranks) == len(set(ranks)), "two sniff rules share a rank"
    return sorted(rules, key=lambda t: t[0])


SNIFF_RULES = _rules()


def sniff_family(path: Path) -> str | None:
    """The family a weights file or folder belongs to (``"modelfile"`` for a model file), from
    its name and contents: the first rule, in rank order over all families, that matches."""
    probe = Probe(path)
    for _, name, rule in SNIFF_RULES:
        if rule.matches(probe):
            return name
    return None


def family(name: str) -> Family:
    try:
        return FAMILIES[name]
    except KeyError:
        raise UserError(f"unknown model family '{name}' (known: {', '.join(FAMILIES)})") from None


def family_of(name: str) -> Family | None:
    """The Family of a resolved model's ``family`` field; None for ``custom`` (a callable) and
    families unknown here."""
    return FAMILIES.get(name)


def cpu_only(family_name: str) -> bool:
    """Whether a model of this family computes on the CPU whatever device is asked for."""
    f = FAMILIES.get(family_name)
    return f.cpu_only if f is not None else callable_family.CPU_ONLY


def checkpoint_kind(family_name: str) -> str:
    """What loading this family's weights file can run (``Family.checkpoint``); ``code`` for a
    callable (``custom``) and for families unknown here."""
    f = FAMILIES.get(family_name)
    return f.checkpoint if f is not None else callable_family.CHECKPOINT


def device_for(family_name: str, device: str | None = None) -> str:
    """The device a model of this family computes on when ``device`` is asked (None: the default)."""
    from alloybench.models.families.base import default_device

    return "cpu" if cpu_only(family_name) else (device or default_device())


def file_elements(family_name: str, path: Path) -> frozenset[str] | None:
    """What a single-file potential covers, from the file (EAM, ACE); None: not told by the file."""
    f = FAMILIES.get(family_name)
    return f.file_elements(path) if f is not None and f.file_elements is not None else None


def check_weights_kind(family_name: str, path: Path, what: str) -> None:
    """A folder where the family needs a file (or the reverse) is the user's mistake, said before
    anything hashes or loads it."""
    f = FAMILIES[family_name]
    if path.is_dir() and f.folder_weights is False:
        raise UserError(f"{what}: {path} is a folder; {f.title} weights are a file ({f.weights_hint})")
    if not path.is_dir() and f.folder_weights:
        raise UserError(f"{what}: {path} is a file; {f.title} weights are a folder ({f.weights_hint})")


def provenance_packages() -> tuple[str, ...]:
    """Every distribution a family names as able to change a result (a run records the installed ones)."""
    return tuple(dict.fromkeys(p for f in FAMILIES.values() for p in f.packages))


__all__ = ["FAMILIES", "FOLDER_FAMILIES", "MODEL_FILE", "Family", "check_weights_kind", "checkpoint_kind", "cpu_only",
           "device_for", "family", "family_of", "file_elements", "provenance_packages", "sniff_family"]
