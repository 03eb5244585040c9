"""Model resolution and the adapters that run in the main environment (SevenNet, CHGNet,
EAM), the registry's statuses, missing packages and weights; families in their own
environments are in test_families.py (scripts/test-family.sh FAMILY)."""

from __future__ import annotations

import importlib.util
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent / "helpers"))
from checks import check_fcc_al  # noqa: E402

from alloybench import envs  # noqa: E402
from alloybench.errors import MissingExtra, UserError  # noqa: E402
from alloybench.models import REGISTRY, listing, resolve  # noqa: E402
from alloybench.models.adapters import FAMILIES, kim_elements, sniff_family  # noqa: E402

HAVE = {f: FAMILIES[f].installed() for f in FAMILIES}
SHARED_MATGL = Path(__file__).resolve().parents[1].parent / "shared" / "models" / "matgl"
POT = Path("/usr/share/lammps/potentials")
sevenn = pytest.mark.skipif(not HAVE["sevennet"], reason="sevenn not installed")
chgnet = pytest.mark.skipif(not HAVE["chgnet"], reason="chgnet not installed")


@pytest.fixture
def no_envs(tmp_path, monkeypatch):
    """No family environments and an empty weights folder."""
    monkeypatch.setenv("ALLOYBENCH_ENVS", str(tmp_path / "envs"))
    monkeypatch.setenv("ALLOYBENCH_WEIGHTS", str(tmp_path / "weights"))
    (tmp_path / "weights").mkdir()
    return tmp_path / "weights"


# ------------------------------------------------------------------ packaged foundation models
@pytest.mark.foundation
@sevenn
@pytest.mark.parametrize("name", ["sevennet-0", pytest.param("sevennet-mf-0", marks=pytest.mark.slow)])
def test_sevennet_packaged_checkpoints(name):
    m = resolve(name)
    assert m.family == "sevennet" and m.id.startswith(name + "@") and m.env is None
    assert Path(m.weights).exists() and m.info["training_data"].startswith("MPtrj")
    check_fcc_al(m.make_calculator())


@pytest.mark.foundation
@chgnet
def test_chgnet_packaged_checkpoint():
    m = resolve("chgnet-0.3.0")
    assert m.weights.endswith(".pth.tar")
    check_fcc_al(m.make_calculator())


@sevenn
def test_name_with_local_weights_and_family_prefix_and_sniffing(tmp_path):
    ckpt = Path(resolve("sevennet-0").weights)
    copy = tmp_path / ckpt.name  # the key hashes the file's name and content, not its folder
    shutil.copy(ckpt, copy)
    a = resolve("sevennet-0")
    b = resolve(f"sevennet-0={copy}")  # same weights elsewhere: same key
    assert a.id == b.id and b.weights == str(copy)
    c = resolve(f"sevennet:{copy}")
    assert c.family == "sevennet" and c.id.startswith(f"sevennet:{ckpt.name}@")
    assert sniff_family(copy) == "sevennet" and resolve(str(copy)).family == "sevennet"


@chgnet
def test_chgnet_file_is_sniffed():
    path = Path(resolve("chgnet-0.3.0").weights)
    assert sniff_family(path) == "chgnet"


# ------------------------------------------------------------------ statuses and what is missing
@sevenn
def test_hub_only_checkpoint_found_in_the_weights_folder(no_envs):
    spec = REGISTRY["sevennet-omat"]
    if spec.weights_path() is not None and not str(spec.weights_path()).startswith(str(no_envs)):
        pytest.skip("7net-omat is installed in sevenn's own folder here")
    assert spec.status().startswith("weights missing: pass a checkpoint .pth (sevennet-omat=PATH")
    with pytest.raises(UserError, match="weights missing.*checkpoint_sevennet_omat.pth"):
        resolve("sevennet-omat")
    (no_envs / "sevennet").mkdir()
    os.symlink(resolve("sevennet-0").weights, no_envs / "sevennet" / "checkpoint_sevennet_omat.pth")
    assert spec.status() == "ready"
    assert resolve("sevennet-omat").weights.startswith(str(no_envs))


def test_missing_package_names_the_extra_and_the_env(no_envs, tmp_path):
    missing = [f for f in ("mace", "orb", "grace", "mattersim", "fairchem") if not HAVE[f]]
    if not missing:
        pytest.skip("every hub-only family is installed here")
    fam = missing[0]
    name = next(s.name for s in REGISTRY.values() if s.family == fam)
    with pytest.raises(MissingExtra, match=rf"alloybench\[{fam}\].*alloybench env create {fam}"):
        resolve(name)
    assert REGISTRY[name.lower()].status().startswith(f"missing package: pip install 'alloybench[{fam}]'")
    f = tmp_path / "x.bin"
    f.write_text("x")
    with pytest.raises(MissingExtra, match=rf"alloybench\[{fam}\]"):
        resolve(f"{fam}:{f}")


def test_every_registry_model_has_metadata_and_a_status(no_envs):
    rows = listing()
    families = {r["family"] for r in rows}
    assert {"sevennet", "chgnet", "matgl", "mace", "grace", "mattersim", "orb", "fairchem", "deepmd", "pet-mad",
            "nequip"} <= families
    for r in rows:
        assert r["version"] and r["training_data"] and r["licence"], r
        assert r["status"] == "ready" or r["status"].startswith(("missing package", "weights missing")), r
    by = {r["name"]: r for r in rows}
    assert by["emt"]["status"] == "ready"
    for name in ("mace-mp-0-small", "mace-mp-0-medium", "mace-mpa-0-medium", "mace-omat-0-medium", "grace-2l-oam",
                 "orb-v2", "orb-v3-conservative-inf-omat", "uma-s-1p1", "esen-30m-oam", "eqv2-m-omat-mp-salex",
                 "mattersim-v1.0.0-1m", "m3gnet-mp-2021.2.8", "tensornet-matpes-pbe", "pet-mad-v1.0.2",
                 "dpa3-lam-2025.3.14-mptrj", "nequip-oam-l-0.1", "allegro-oam-l-0.1"):
        assert name in by, name
    if HAVE["sevennet"]:
        assert by["sevennet-0"]["status"] == "ready"
    if not HAVE["mace"]:
        assert "alloybench env create mace" in by["mace-mp-0-small"]["status"]
        assert "weights missing: 2023-12-10-mace-128-L0_energy_epoch-249.model" in by["mace-mp-0-small"]["status"]


def test_models_command_reports_ready_missing_package_and_missing_weights(no_envs):
    env = dict(os.environ, COLUMNS="250")
    p = subprocess.run([sys.executable, "-m", "alloybench.cli", "models"], capture_output=True, text=True, env=env,
                       timeout=300)
    assert p.returncode == 0, p.stderr
    text = " ".join(p.stdout.split())
    assert "ready" in text and "mace-omat-0-medium" in text
    if not all(HAVE[f] for f in ("mace", "orb")):
        assert "missing package" in text
    if HAVE["sevennet"]:
        assert "weights missing" in text  # sevennet-omat: sevenn here, its checkpoint not


def test_matgl_names_resolve_from_the_weights_folder_or_a_path(monkeypatch, tmp_path):
    if not SHARED_MATGL.exists():
        pytest.skip("no shared matgl models")
    monkeypatch.setenv("ALLOYBENCH_WEIGHTS", str(SHARED_MATGL.parent))  # DIR/matgl/FOLDER
    spec = REGISTRY["m3gnet-mp-2021.2.8"]
    assert spec.weights_path() == SHARED_MATGL / "M3GNet-MP-2021.2.8-PES"
    monkeypatch.setenv("ALLOYBENCH_WEIGHTS", str(SHARED_MATGL))  # DIR/FOLDER
    assert REGISTRY["tensornet-matpes-pbe"].weights_path() == SHARED_MATGL / "TensorNet-MatPES-PBE-v2025.1-PES"
    assert sniff_family(SHARED_MATGL / "TensorNet-MatPES-PBE-v2025.1-PES") == "matgl"
    if not HAVE["matgl"]:
        monkeypatch.setenv("ALLOYBENCH_ENVS", str(tmp_path / "none"))
        with pytest.raises(MissingExtra, match=r"alloybench\[matgl\]"):
            resolve("m3gnet-mp-2021.2.8")


@pytest.mark.slow
@pytest.mark.skipif(HAVE["matgl"] or not envs.env_ready("matgl") or not SHARED_MATGL.exists(),
                    reason="needs the matgl env (alloybench env create matgl), matgl not here, shared models")
def test_matgl_runs_in_its_env_from_here(monkeypatch):
    from alloybench.engine.subprocess import SubprocessEngine, engine_for
    from alloybench.jobs import Job, Structure
    from ase.build import bulk

    monkeypatch.setenv("ALLOYBENCH_WEIGHTS", str(SHARED_MATGL))
    m = resolve("tensornet-matpes-pbe")
    assert m.env and m.id.startswith("tensornet-matpes-pbe@")
    eng = engine_for(m)
    assert isinstance(eng, SubprocessEngine)
    with eng:
        r = eng.run_one(Job("t", "al", Structure.from_atoms(bulk("Al", "fcc", a=4.04))))
    assert r.ok and -4.5 < r.energy < -3.0 and max(abs(x) for x in r.stress) < 0.01


# ------------------------------------------------------------------ paths, model files, KIM
def test_sniffing_by_name_and_content(tmp_path):
    (tmp_path / "a.model").write_text("x")
    assert sniff_family(tmp_path / "a.model") == "mace"
    d = tmp_path / "grace-model"
    d.mkdir()
    (d / "saved_model.pb").write_text("x")
    assert sniff_family(d) == "grace"
    assert sniff_family(tmp_path / "m.yaml") == "modelfile"
    assert sniff_family(tmp_path / "orb-v3-direct-20-omat-20250404.ckpt") == "orb"
    assert sniff_family(tmp_path / "x.nequip.pt2") == "nequip"
    (tmp_path / "what.bin").write_text("x")
    with pytest.raises(UserError, match="cannot tell which kind.*FAMILY:PATH"):
        resolve(str(tmp_path / "what.bin"))


@pytest.mark.skipif(not (POT / "AlCu.eam.alloy").exists(), reason="Debian lammps-data not installed")
def test_model_file_for_a_non_lammps_family(tmp_path):
    shutil.copy(POT / "AlCu.eam.alloy", tmp_path / "AlCu.eam.alloy")
    (tmp_path / "alcu.yaml").write_text("family: eam\nname: AlCu-Mishin\nweights: AlCu.eam.alloy\n"
                                        "training_data: fitted to experiment + DFT\nlicence: public\n")
    m = resolve(str(tmp_path / "alcu.yaml"))
    assert m.family == "eam" and m.name == "AlCu-Mishin" and m.elements == frozenset({"Al", "Cu"})
    assert m.info["training_data"].startswith("fitted")
    check_fcc_al(m.make_calculator(), a=4.05, rtol=0.1)


def test_registry_model_file_with_local_weights(tmp_path):
    if not HAVE["sevennet"]:
        pytest.skip("sevenn not installed")
    w = Path(resolve("sevennet-0").weights)
    shutil.copy(w, tmp_path / w.name)
    (tmp_path / "m.json").write_text(f'{{"model": "sevennet-0", "weights": "{w.name}"}}')
    assert resolve(str(tmp_path / "m.json")).id == resolve("sevennet-0").id


def test_kim_model_names_give_elements():
    assert kim_elements("EAM_Dynamo_LiuLiuBorucki_1999_AlCu__MO_020851069572_000") == frozenset({"Al", "Cu"})
    assert kim_elements("EAM_Dynamo_MendelevKramerBecker_2008_Al__MO_106969701023_005") == frozenset({"Al"})


@pytest.mark.skipif(importlib.util.find_spec("kimpy") is None, reason="kimpy not installed")
def test_openkim_model_through_kimpy():
    m = resolve("kim:EAM_Dynamo_MendelevKramerBecker_2008_Al__MO_106969701023_005")
    assert m.elements == frozenset({"Al"})
    check_fcc_al(m.make_calculator(), a=4.05, rtol=0.1)


def test_cueq_switch_reads_the_environment(monkeypatch):
    from alloybench.models.adapters import cueq_requested

    monkeypatch.delenv("ALLOYBENCH_CUEQ", raising=False)
    assert not cueq_requested()
    for on in ("1", "true", "YES"):
        monkeypatch.setenv("ALLOYBENCH_CUEQ", on)
        assert cueq_requested()
    monkeypatch.setenv("ALLOYBENCH_CUEQ", "0")
    assert not cueq_requested()


def test_kim_model_from_the_main_environment_reaches_its_worker(monkeypatch, tmp_path):
    """The main environment has no kimpy: the model is described by a worker in the kim
    environment and then served by another worker, which re-resolves the spec it is given.
    That spec must be 'kim:ID' (the bare ID is no model name); kimpy itself is never imported
    here (load_kim runs only when a calculator is made)."""
    from alloybench.engine.subprocess import SubprocessEngine
    from alloybench.models import adapters
    from alloybench.worker import describe, model_from_description

    model_id = "EAM_Dynamo_MendelevKramerBecker_2008_Al__MO_106969701023_005"
    monkeypatch.setattr(adapters.Family, "installed", lambda self: True)  # as inside the kim environment
    monkeypatch.setenv("ALLOYBENCH_IN_WORKER", "1")
    doc = describe(resolve(f"kim:{model_id}"))  # what 'worker describe kim:ID' sends back
    assert doc["source"] == f"kim:{model_id}"
    assert describe(adapters.from_kim(model_id))["source"] == f"kim:{model_id}"
    remote = model_from_description(doc, env=str(tmp_path))
    engine = SubprocessEngine.for_model(remote)
    assert engine.source == f"kim:{model_id}"
    served = resolve(engine.source, engine.weights)  # what 'worker serve SOURCE' does
    assert served.id == doc["id"] and served.elements == frozenset({"Al"})
