"""Compatibility names: the loaders and family records now live one module per family in
``alloybench.models.families`` (issue 19); import from there in new code."""

from __future__ import annotations

from alloybench.models.families import FAMILIES, FOLDER_FAMILIES, Family, check_weights_kind, family, file_elements, \
    sniff_family
from alloybench.models.families.ace import ace_elements, ace_format, load_ace
from alloybench.models.families.base import EV_PER_A3_PER_GPA, cueq_requested, threads
from alloybench.models.families.base import default_device as device
from alloybench.models.families.callable import CALLABLE, callable_version, from_callable
from alloybench.models.families.chgnet import chgnet_model, load_chgnet
from alloybench.models.families.deepmd import load_deepmd
from alloybench.models.families.eam import eam_elements, load_eam
from alloybench.models.families.emt import load_emt
from alloybench.models.families.fairchem import load_fairchem
from alloybench.models.families.grace import load_grace
from alloybench.models.families.kim import from_kim, kim_collection_dirs, kim_elements, load_kim
from alloybench.models.families.lammps import load_lammps
from alloybench.models.families.mace import load_mace
from alloybench.models.families.matgl import load_matgl
from alloybench.models.families.mattersim import load_mattersim
from alloybench.models.families.nequip import load_nequip
from alloybench.models.families.orb import load_orb
from alloybench.models.families.pet_mad import load_metatomic
from alloybench.models.families.sevennet import load_sevennet
from alloybench.models.weights import packaged_weights, weight_dirs

__all__ = ["CALLABLE", "EV_PER_A3_PER_GPA", "FAMILIES", "FOLDER_FAMILIES", "Family", "ace_elements", "ace_format",
           "callable_version", "check_weights_kind", "chgnet_model", "cueq_requested", "device", "eam_elements",
           "family", "file_elements", "from_callable", "from_kim", "kim_collection_dirs", "kim_elements", "load_ace",
           "load_chgnet", "load_deepmd", "load_eam", "load_emt", "load_fairchem", "load_grace", "load_kim",
           "load_lammps", "load_mace", "load_matgl", "load_mattersim", "load_metatomic", "load_nequip", "load_orb",
           "load_sevennet", "packaged_weights", "sniff_family", "threads", "weight_dirs"]
