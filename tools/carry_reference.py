"""Carry the PBE reference figures from ../shared into alloybench's own typed file.

Run from the repository root:  python tools/carry_reference.py [SHARED_DATA_DIR]

The shared folder is the published data of D. Marchand's suite (ml-peg,
commit bb98fd7e).  We never ship that file: we write our own JSON with the
figures we use, each with its unit and the key it came from, plus the input
structures (OQMD / AiiDA cells) as plain lists.  Families are selected by key
pattern (FAMILIES); extend FAMILIES to carry more.
"""

from __future__ import annotations

import json
import math
import re
import sys
from pathlib import Path

from ase.io import read

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "src" / "alloybench" / "reference" / "data" / "alcumgzn_pbe.json"
DEFAULT_SHARED = ROOT.parent / "shared" / "data" / "alcumgzn_pbe"

# phase label -> (DFT.json id, structure file under structures/, human label)
PHASES = {
    "Al": ("8100", "OQMD-Dumps/OQMD_8100", "Al (fcc)"),
    "Cu": ("635950", "OQMD-Dumps/OQMD_635950", "Cu (fcc)"),
    "Mg": ("9226", "OQMD-Dumps/OQMD_9226", "Mg (hcp)"),
    "Zn": ("122929", "OQMD-Dumps/OQMD_122929", "Zn (hcp)"),
    "theta_prime": ("695020", "OQMD-Dumps/OQMD_695020", "theta-prime Al2Cu (OQMD 695020, fluorite)"),
    "S": ("10434", "OQMD-Dumps/OQMD_10434", "S-phase Al2CuMg (OQMD 10434)"),
    "theta": ("NOTINOQMD_00001", "OQMD-Dumps/NOTINOQMD_00001", "theta Al2Cu (I4/mcm)"),
    "theta_dprime": ("NOTINOQMD_00002", "OQMD-Dumps/NOTINOQMD_00002", "theta-double-prime Al3Cu (P4/mmm)"),
}
SPECIAL = {
    # AIIDA_481617 is the theta (Al2Cu) cell, AIIDA_339739 theta-double-prime (Al3Cu):
    # the reference's GSF _dispcart values are f1*a1 + f2*a2 of exactly these cells.
    "theta_gsf_cell": "special/AIIDA_481617",
    "theta_dprime_gsf_cell": "special/AIIDA_339739",
}

CIJ = [f"C_{i}{j}" for i in range(1, 7) for j in range(1, i + 1)]

# (regex on the key after the "<id>-" prefix, unit).  First match wins.
FAMILIES: list[tuple[str, str]] = [
    (r"volume_peratom", "Å^3/atom"),
    (r"lattice_[abc]", "Å"),
    (r"angle_(alph|beta|gamm)", "deg"),
    (r"(sol)?formation_energy", "eV/atom"),
    (r"C_\d\d", "GPa"),
    (r"[kg]_voigt", "GPa"),
    (r"symmnumber", "-"),
    (r"Surface(Energy|HCP)_\w+|(Un)?StableSF", "mJ/m^2"),
    (r"GSF_\w+_normE", "eV/Å^2"),
    (r"GSF_\w+_dispcryst", "-"),
    (r"GSF_\w+_dispcart", "Å"),
    (r"SolSol_\w+_BindingEnergy", "meV"),
    (r"SolSol_\w+_Distances", "Å"),
    (r"(Triplet|ClusterE)_[\w,]+", "eV"),
    (r"(Pressure)?MisfitVol_\w+", "Å^3"),
    (r"SolSF_\w+", "eV"),
    (r"AntiSite_(formation_energies|deltaformation_energies|partition_energies)", "eV"),
    (r"AntiSite_(structureindices|originalelements|wyckoffsymbols|new_elements|chem_formulas|num_atoms)", "-"),
    (r"(ThetaP|ThetaDP)_\w+_(Eforms)|Sphase_Interface_Eforms", "eV"),
    (r"(ThetaP|ThetaDP)_\w+_(Einterface)|Sphase_Interface_Einterface", "mJ/m^2"),
    (r"(ThetaP|ThetaDP)_\w+_(invNs)|Sphase_Interface_invNs", "-"),
    (r"(TPhaseAnti|EtaPIVAnti)_[\w|]+?(?<!_uuid)", "eV"),
    (r"Ediff_cusol_cubulk", "eV"),
]

# Extra key prefixes beyond the 8 phases: the S-phase cell used for S GSF and
# antisites, and un-prefixed precipitate keys (interfaces, T and eta' antisites).
EXTRA_PREFIXES = {"Sphase", "NOTINOQMD_Sphase"}
UNPREFIXED = re.compile(r"(ThetaP|ThetaDP|Sphase_Interface|TPhaseAnti|EtaPIVAnti|Ediff_cusol_cubulk)")

SOURCE = "alcumgzn_pbe/DFT.json"


def _unit_for(suffix: str) -> str | None:
    for pattern, unit in FAMILIES:
        if re.fullmatch(pattern, suffix):
            return unit
    return None


def _structure(path: Path) -> dict:
    atoms = read(path, format="vasp")
    return {
        "symbols": atoms.get_chemical_symbols(),
        "positions": [[float(x) for x in p] for p in atoms.positions],
        "cell": [[float(x) for x in v] for v in atoms.cell.array],
        "pbc": [True, True, True],
    }


def carry(shared: Path) -> dict:
    dft = json.loads((shared / "DFT.json").read_text())
    ids = {v[0]: k for k, v in PHASES.items()}
    values: dict[str, dict] = {}
    for key, entry in dft.items():
        if not isinstance(entry, list) or len(entry) != 2:
            continue
        value = entry[0]
        if "-" in key:
            prefix, suffix = key.split("-", 1)
            if prefix not in ids and prefix not in EXTRA_PREFIXES:
                continue
        elif UNPREFIXED.match(key):
            suffix = key
        else:
            continue
        unit = _unit_for(suffix)
        if unit is None:
            continue
        if isinstance(value, float) and math.isnan(value):
            continue
        values[key] = {"value": value, "unit": unit, "source": f"{SOURCE}:{key}"}

    phases = {}
    for label, (pid, sfile, human) in PHASES.items():
        phases[label] = {
            "id": pid,
            "label": human,
            "structure": _structure(shared / "structures" / sfile),
            "structure_source": f"alcumgzn_pbe/structures/{sfile}"
            + (" (OQMD, CC-BY 4.0: Saal et al. JOM 65, 1501 (2013))" if sfile.split("/")[1].startswith("OQMD") else ""),
        }
    special = {
        name: {"structure": _structure(shared / "structures" / f), "structure_source": f"alcumgzn_pbe/structures/{f}"}
        for name, f in SPECIAL.items()
    }
    return {
        "name": "alcumgzn_pbe",
        "title": "Al-Cu-Mg-Zn PBE reference of the evalpot / ml-peg AlZnCuMg_regression suite",
        "citation": "D. Marchand, 'Foundation models for metallurgy?', MRS Bulletin 50, 805-818 (2025); "
        "data as published in ddmms/ml-peg (commit bb98fd7e), "
        "ml_peg/calcs/alloy_metallurgy/alzncumg_regression/data/DFT.json",
        "method": "Quantum ESPRESSO 6.3, PBE, SSSP efficiency 1.1 (Zn PAW), k-mesh ceil(80|b_i|)",
        "phases": phases,
        "special_structures": special,
        "values": dict(sorted(values.items())),
    }


def main() -> None:
    shared = Path(sys.argv[1]) if len(sys.argv) > 1 else DEFAULT_SHARED
    data = carry(shared)
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(json.dumps(data, indent=1, ensure_ascii=False) + "\n")
    print(f"wrote {OUT} with {len(data['values'])} values, {len(data['phases'])} phases")


if __name__ == "__main__":
    main()
