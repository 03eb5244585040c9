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
from checks import check_fcc_al  # noqa: E402

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
    import numpy as np
    from ase.build import bulk

    from alloybench.engine.batched import MatglBackend, make_backend

    monkeypatch.setenv("ALLOYBENCH_WEIGHTS", str(SHARED_MATGL))
    for name in ("tensornet-matpes-pbe", "m3gnet-mp-2021.2.8"):
        m = resolve(name)
        backend = make_backend(m, device="cpu")
        assert isinstance(backend, MatglBackend)
        calc = m.make_calculator()
        cells = [bulk("Al", "fcc", a=4.04, cubic=True), bulk("Cu", "fcc", a=3.63).repeat(2),
                 bulk("Al", "fcc", a=4.0, cubic=True).repeat((2, 1, 1)), bulk("Mg", "hcp", a=3.2, c=5.2)]
        cells[2].rattle(0.05, seed=3)
        cells[2][0].symbol = "Cu"
        out = backend.evaluate(cells)
        assert backend.batch_sizes == [4]
        for atoms, ev in zip(cells, out):
            atoms.calc = calc
            assert abs(ev.energy - atoms.get_potential_energy()) / len(atoms) < 1e-6, (name, atoms)
            np.testing.assert_allclose(ev.forces, atoms.get_forces(), atol=1e-5)
            np.testing.assert_allclose(ev.stress, atoms.get_stress(), atol=1e-6)  # eV/Å^3, ASE sign


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
    """Frames grouped by size, one mixed-type DeepPot.eval each = single ASE calls."""
    need("deepmd")
    spec = REGISTRY["dpa3-lam-2025.3.14-openlam"]
    if spec.weights_path() is None:
        pytest.skip("DPA3-LAM checkpoint not in $ALLOYBENCH_WEIGHTS (scripts/test-family.sh deepmd puts it there)")
    import numpy as np
    from ase.build import bulk

    from alloybench.engine.batched import DeepMDBackend, make_backend

    m = resolve(spec.name)
    backend = make_backend(m, device="cpu")
    assert isinstance(backend, DeepMDBackend)
    calc = m.make_calculator()
    cells = [bulk("Al", "fcc", a=4.04, cubic=True), bulk("Cu", "fcc", a=3.63).repeat(2),
             bulk("Al", "fcc", a=4.0, cubic=True).repeat((2, 1, 1)), bulk("Mg", "hcp", a=3.2, c=5.2),
             bulk("Cu", "fcc", a=3.6, cubic=True)]
    cells[2].rattle(0.05, seed=3)
    cells[2][0].symbol = "Cu"
    cells[4][1].symbol = "Zn"  # same size as cells[0], other types: one mixed-type frame group
    out = backend.evaluate(cells)
    for atoms, ev in zip(cells, out):
        atoms.calc = calc
        assert abs(ev.energy - atoms.get_potential_energy()) / len(atoms) < 1e-6, atoms
        np.testing.assert_allclose(ev.forces, atoms.get_forces(), atol=1e-5)
        np.testing.assert_allclose(ev.stress, atoms.get_stress(), atol=1e-6)  # eV/Å^3, ASE sign


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
