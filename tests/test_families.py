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


def test_deepmd_dpa3_checkpoint_from_the_matcalc_sdist():
    need("deepmd")
    spec = REGISTRY["dpa3-lam-2025.3.14-mptrj"]
    if spec.weights_path() is None:
        pytest.skip("DPA3-LAM checkpoint not in $ALLOYBENCH_WEIGHTS (scripts/test-family.sh deepmd puts it there)")
    m = resolve(spec.name)
    assert m.family == "deepmd"
    e = check_fcc_al(m.make_calculator(), rtol=0.1)
    assert -4.5 < e < -3.0


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
