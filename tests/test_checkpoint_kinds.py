"""Each family's module declares what loading its weights can run (``Family.checkpoint``, issue 19):
no central table in ``models/trust.py``, and a family that forgets it does not import."""

from __future__ import annotations

import pytest

from alloybench.models.families import FAMILIES, _MODULES
from alloybench.models.families.base import CHECKPOINT_KINDS, Family
from alloybench.models.trust import KIND_WORDS, kind

# the kinds trust.CHECKPOINT_KIND held before it moved into the family modules (unknown names: code)
BEFORE = {
    "classical": "data", "eam": "data", "ace": "data", "lammps": "data", "kim": "data",
    "sevennet": "weights-only", "chgnet": "weights-only",
    "matgl": "code", "mace": "code", "grace": "code", "mattersim": "code", "orb": "code", "fairchem": "code",
    "deepmd": "code", "pet-mad": "code", "nequip": "code",
}


def test_every_family_module_declares_its_checkpoint_kind():
    for module in _MODULES:
        source = open(module.__file__, encoding="utf-8").read()
        assert "checkpoint=" in source, f"{module.__name__} does not say its checkpoint kind"
        assert module.FAMILY.checkpoint in CHECKPOINT_KINDS, module.__name__
        assert kind(module.FAMILY.name) == module.FAMILY.checkpoint
    assert set(KIND_WORDS) == set(CHECKPOINT_KINDS)


def test_kinds_are_those_of_the_old_table():
    assert {name: kind(name) for name in FAMILIES} == {name: BEFORE.get(name, "code") for name in FAMILIES}
    assert kind("custom") == "code" and kind("no-such-family") == "code"


def test_a_family_without_a_kind_or_with_an_unknown_one_is_refused():
    with pytest.raises(TypeError, match="checkpoint"):
        Family("x", "X", lambda *a, **k: None)
    with pytest.raises(ValueError, match="checkpoint"):
        Family("x", "X", lambda *a, **k: None, checkpoint="pickle")
