"""Families that live in their own environments: each test runs where the family's
package is importable (scripts/test-family.sh FAMILY) and skips elsewhere.  Hub-only
families load a tiny model that the test builds with the family's own library and
saves to a local path, so the real loading code runs offline."""

from __future__ import annotations

import importlib.util
import shutil
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent / "helpers"))
import tiny_models  # noqa: E402
from checks import assert_batch_equals_single, check_fcc_al, mixed_cells  # noqa: E402

from alloybench.models import REGISTRY, resolve  # noqa: E402
from alloybench.models.adapters import sniff_family  # noqa: E402

SHARED_MATGL = Path(__file__).resolve().parents[1].parent / "shared" / "models" / "matgl"


def need(module: str):
    if importlib.util.find_spec(module.split(".")[0]) is None:
        pytest.skip(f"{module} not installed here (scripts/test-family.sh ...)")


@pytest.fixture
def weights(tmp_path, monkeypatch):
    d = tmp_path / "weights"
    d.mkdir()
    monkeypatch.setenv("ALLOYBENCH_WEIGHTS", str(d))
    return d


def test_mace_local_model_and_registry_name(weights):
    need("mace")
    path = tiny_models.mace(weights / "tiny.model")
    assert sniff_family(path) == "mace"
    m = resolve(str(path))
    assert m.family == "mace" and m.id.startswith("mace:tiny.model@")
    check_fcc_al(m.make_calculator())
    # a registry name finds its file in the weights folder
    spec = REGISTRY["mace-mp-0-small"]
    assert spec.status().startswith("weights missing: pass a local .model path (mace-mp-0-small=PATH")
    path.rename(weights / spec.files[0])
    assert spec.status() == "ready"
    named = resolve("mace-mp-0-small")
    assert named.info["training_data"] == "MPtrj" and named.info["licence"] == "MIT"
    check_fcc_al(named.make_calculator())


def test_matgl_shared_models(monkeypatch):
    need("matgl")
    if not SHARED_MATGL.exists():
        pytest.skip("no shared matgl models")
    monkeypatch.setenv("ALLOYBENCH_WEIGHTS", str(SHARED_MATGL))
    for name in ("tensornet-matpes-pbe", "m3gnet-mp-2021.2.8"):
        m = resolve(name)
        assert m.family == "matgl" and Path(m.weights).is_dir()
        e = check_fcc_al(m.make_calculator())
        assert -4.5 < e < -3.0  # PBE-trained: fcc Al about -3.7 eV/atom


def test_matgl_batched_backend_equals_single_calls(monkeypatch):
    """One batched call (PyG Batch) of four cells of three elements = four ASE calls."""
    need("matgl")
    if not SHARED_MATGL.exists():
        pytest.skip("no shared matgl models")
    from alloybench.engine.batched import MatglBackend, make_backend

    monkeypatch.setenv("ALLOYBENCH_WEIGHTS", str(SHARED_MATGL))
    for name in ("tensornet-matpes-pbe", "m3gnet-mp-2021.2.8"):
        m = resolve(name)
        backend = make_backend(m, device="cpu")
        assert isinstance(backend, MatglBackend)
        assert_batch_equals_single(backend, m.make_calculator(), mixed_cells())
        assert backend.batch_sizes == [4]


def test_deepmd_dpa3_checkpoint_from_the_matcalc_sdist():
    need("deepmd")
    spec = REGISTRY["dpa3-lam-2025.3.14-mptrj"]
    if spec.weights_path() is None:
        pytest.skip("DPA3-LAM checkpoint not in $ALLOYBENCH_WEIGHTS (scripts/test-family.sh deepmd puts it there)")
    m = resolve(spec.name)
    assert m.family == "deepmd"
    e = check_fcc_al(m.make_calculator(), rtol=0.1)
    assert -4.5 < e < -3.0


def test_deepmd_batched_backend_equals_single_calls():
    """Frames grouped by size (smaller ones padded with virtual atoms), one mixed-type
    DeepPot.eval per group = single ASE calls."""
    need("deepmd")
    spec = REGISTRY["dpa3-lam-2025.3.14-openlam"]
    if spec.weights_path() is None:
        pytest.skip("DPA3-LAM checkpoint not in $ALLOYBENCH_WEIGHTS (scripts/test-family.sh deepmd puts it there)")
    from ase.build import bulk

    from alloybench.engine.batched import DeepMDBackend, make_backend

    m = resolve(spec.name)
    backend = make_backend(m, device="cpu")
    assert isinstance(backend, DeepMDBackend)
    cells = mixed_cells() + [bulk("Cu", "fcc", a=3.6, cubic=True)]
    cells[4][1].symbol = "Zn"  # same size as cells[0], other types: one mixed-type frame group
    vacancy = bulk("Al", "fcc", a=4.04, cubic=True).repeat((2, 1, 1))
    del vacancy[3]
    vacancy.rattle(0.03, seed=5)
    cells.append(vacancy)  # 7 atoms
    if not backend.device.startswith("cuda"):  # the CPU groups exact sizes only
        assert (backend.max_padding, backend.pad_atoms) == (0.0, 0)
    backend.max_padding, backend.pad_atoms = 0.0, 0
    assert [(w, len(idx)) for w, idx in backend._groups(cells)] == [(8, 2), (7, 1), (4, 2), (2, 1)]
    assert_batch_equals_single(backend, m.make_calculator(), cells)
    # padded as on a card (the 7-atom vacancy cell gets one virtual atom): the same answers
    backend.max_padding, backend.pad_atoms = 0.25, 0
    assert [(w, len(idx)) for w, idx in backend._groups(cells)] == [(8, 3), (4, 2), (2, 1)]
    assert_batch_equals_single(backend, m.make_calculator(), cells)


def test_orb_tiny_model(weights):
    need("orb_models")
    path, arch = tiny_models.orb(weights)
    m = resolve(f"orb:{path}")
    assert m.family == "orb"
    check_fcc_al(m.make_calculator())


def test_mattersim_tiny_model(weights):
    need("mattersim")
    path = tiny_models.mattersim(weights / "mattersim-tiny.pth")
    m = resolve(f"mattersim:{path}")
    check_fcc_al(m.make_calculator())


def test_nequip_tiny_model(weights):
    """A packaged NequIP (.nequip.zip, the form nequip.net serves), run eagerly."""
    need("nequip")
    path = tiny_models.nequip(weights)
    m = resolve(str(path))
    assert m.family == "nequip"
    check_fcc_al(m.make_calculator())


@pytest.mark.slow  # nequip-compile (AOTInductor, C++ build): 20-35 s on 2 cores
def test_nequip_allegro_compiled_tiny_model(weights):
    """A compiled Allegro (.nequip.pt2, nequip-compile --target ase): the registry's path."""
    need("allegro")
    if shutil.which("c++") is None and shutil.which("g++") is None:
        pytest.skip("nequip-compile --mode aotinductor needs a C++ compiler")
    path = tiny_models.nequip(weights, arch="allegro", compiled=True)
    m = resolve(str(path))
    assert m.family == "nequip"
    check_fcc_al(m.make_calculator())


def test_pet_mad_tiny_model(weights):
    need("metatomic.torch")
    path = tiny_models.metatomic(weights)
    m = resolve(f"pet-mad:{path}")
    check_fcc_al(m.make_calculator())


def test_fairchem_tiny_model(weights):
    need("fairchem.core")
    path = tiny_models.fairchem(weights)
    assert sniff_family(path) == "fairchem"
    m = resolve(f"fairchem:{path}")
    assert m.family == "fairchem"
    check_fcc_al(m.make_calculator())


def test_grace_tiny_model(weights):
    need("tensorpotential")
    path = tiny_models.grace(weights)
    m = resolve(str(path))
    assert m.family == "grace"
    check_fcc_al(m.make_calculator())


def check_forces_fd(calc, h: float = 1e-4) -> None:
    """Forces are minus the central-difference gradient of the energy (a rattled Al-Cu cell)."""
    import numpy as np
    from ase.build import bulk

    atoms = bulk("Al", "fcc", a=4.0, cubic=True)
    atoms[1].symbol = "Cu"
    atoms.rattle(0.08, seed=4)
    atoms.calc = calc
    forces = atoms.get_forces()
    assert np.abs(forces).max() > 1e-2  # not trivially zero
    fd = np.zeros_like(forces)
    for i in range(len(atoms)):
        for k in range(3):
            es = []
            for sign in (1, -1):
                x = atoms.copy()
                x.positions[i, k] += sign * h
                x.calc = calc
                es.append(x.get_potential_energy())
            fd[i, k] = -(es[0] - es[1]) / (2 * h)
    np.testing.assert_allclose(forces, fd, atol=1e-5, rtol=1e-4)


def test_ace_files_are_told_from_model_files(tmp_path):
    """By their top-level keys, without pyace: a .yace / pacemaker B-basis is ACE, a
    model file (which may also say 'elements') is not; elements come from the file."""
    from alloybench.models.adapters import ace_elements, ace_format

    (tmp_path / "p.yace").write_text("elements: [Al, Cu]\nE0: [0, 0]\ndeltaSplineBins: 0.001\nembeddings:\n"
                                     "  0: {ndensity: 1}\nbonds:\n  [0, 0]: {nradmax: 1}\nfunctions:\n  0: []\n")
    (tmp_path / "b.yaml").write_text("global:\n  DeltaSplineBins: 0.001\nspecies:\n  - speciesblock: Al\n"
                                     "    nbody: []\n  - speciesblock: Zn\n  - speciesblock: Al Zn\n")
    (tmp_path / "m.yaml").write_text("family: ace\nelements: [Al]\nweights: p.yace\n")
    (tmp_path / "p-as.yaml").write_text((tmp_path / "p.yace").read_text())
    assert [ace_format(tmp_path / f) for f in ("p.yace", "b.yaml", "m.yaml")] == ["ctilde", "bbasis", None]
    assert sniff_family(tmp_path / "p.yace") == sniff_family(tmp_path / "p-as.yaml") == "ace"
    assert sniff_family(tmp_path / "b.yaml") == "ace" and sniff_family(tmp_path / "m.yaml") == "modelfile"
    assert ace_elements(tmp_path / "p.yace") == {"Al", "Cu"} and ace_elements(tmp_path / "b.yaml") == {"Al", "Zn"}


@pytest.fixture
def ace_files(weights):
    need("pyace")
    return tiny_models.ace(weights)


def test_ace_bbasis_yaml(ace_files):
    """pacemaker's B-basis .yaml: told from its keys (not a model file), run by pyace."""
    path = ace_files[0]
    assert sniff_family(path) == "ace"
    m = resolve(str(path))
    assert m.family == "ace" and m.id.startswith("ace:ace-tiny.yaml@") and m.env is None
    assert m.elements == frozenset({"Al", "Cu", "Mg", "Zn"})
    calc = m.make_calculator()
    check_fcc_al(calc)
    check_forces_fd(calc)


def test_ace_yace_equals_its_bbasis(ace_files):
    """The .yace that LAMMPS pair_style pace reads, by path and as ace:PATH: same numbers as its B-basis."""
    import numpy as np
    from ase.build import bulk

    yaml_path, yace_path = ace_files
    assert sniff_family(yace_path) == "ace"
    m = resolve(f"ace:{yace_path}")
    assert m.family == "ace" and m.id.startswith("ace:ace-tiny.yace@")
    assert m.elements == frozenset({"Al", "Cu", "Mg", "Zn"})
    assert resolve(str(yace_path)).id == m.id
    calc = m.make_calculator()
    check_fcc_al(calc)
    check_forces_fd(calc)
    atoms = bulk("Al", "fcc", a=4.05, cubic=True).repeat((2, 1, 1))
    atoms.symbols[[1, 3, 6]] = ["Mg", "Zn", "Cu"]
    atoms.rattle(0.05, seed=5)
    results = []
    for c in (calc, resolve(str(yaml_path)).make_calculator()):
        x = atoms.copy()
        x.calc = c
        results.append((x.get_potential_energy(), x.get_forces(), x.get_stress()))
    (e1, f1, s1), (e2, f2, s2) = results
    assert abs(e1 - e2) < 1e-8 * len(atoms)
    np.testing.assert_allclose(f1, f2, atol=1e-8)
    np.testing.assert_allclose(s1, s2, atol=1e-9)


def test_ace_model_file_and_other_names(ace_files, tmp_path):
    """A model file naming a .yace; a B-basis saved as .yml and a .yace saved as .yaml
    (pyace reads by file name; the adapter reads by contents)."""
    import shutil

    yaml_path, yace_path = ace_files
    (tmp_path / "ace-model.yaml").write_text(f"family: ace\nname: tiny ACE\nweights: {yace_path}\n"
                                             "training_data: none (random coefficients)\n")
    m = resolve(str(tmp_path / "ace-model.yaml"))
    assert m.family == "ace" and m.name == "tiny ACE" and m.elements == frozenset({"Al", "Cu", "Mg", "Zn"})
    e = check_fcc_al(m.make_calculator())
    for src, dst in ((yaml_path, "b-basis.yml"), (yace_path, "ctilde.yaml")):
        shutil.copy(src, tmp_path / dst)
        assert sniff_family(tmp_path / dst) == "ace"
        assert abs(check_fcc_al(resolve(str(tmp_path / dst)).make_calculator()) - e) < 1e-8
