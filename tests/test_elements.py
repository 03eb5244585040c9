"""One element check (alloybench.elements) for the registry, model files, LAMMPS model files and
--elements (issue 19: four copies merged); each keeps its message and its exception type."""

from __future__ import annotations

import pytest

from alloybench.elements import check_elements, element_list
from alloybench.errors import UserError


def test_check_elements_names_the_first_bad_symbol_where_it_was_found():
    check_elements(["Al", "Cu", "Og", "H"])
    with pytest.raises(UserError, match=r"^model file x: not a chemical element: Qq$"):
        check_elements(["Al", "Qq", "Xx"], "model file x")
    with pytest.raises(UserError, match=r"^not a chemical element: X$"):  # ASE's dummy symbol is no element
        check_elements(["X"])
    with pytest.raises(ValueError, match=r"^not a chemical element: al$") as info:
        check_elements(["al"], error=ValueError)
    assert not isinstance(info.value, UserError)


@pytest.mark.parametrize("raw, expected", [(None, None), ("Al Cu", ["Al", "Cu"]), ("Al, Cu", ["Al", "Cu"]),
                                           ("Al,Cu", ["Al", "Cu"]), (["Mg"], ["Mg"]), ("", []), ([], [])])
def test_element_list_reads_text_or_lists(raw, expected):
    assert element_list(raw, "f") == expected


def test_chosen_elements_keeps_its_message(emt_model):
    from alloybench.selection import chosen_elements

    with pytest.raises(UserError, match=r"^not a chemical element: Qq$"):
        chosen_elements(emt_model, "Zz,Qq,Al")  # sorted: the first bad one in alphabetical order, as before
