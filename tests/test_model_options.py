"""A model's options (a registry entry's or a model file's) reach the serial and the batched
engine alike: both take them from the resolved Model (issue 19; before, the batched engine read
them from REGISTRY by name, so a model file's SevenNet ``modal`` was lost with --engine batched)."""

from __future__ import annotations

import importlib.util
from dataclasses import replace

import numpy as np
import pytest
from ase.build import bulk

from alloybench.engine.batched import BatchedEngine, make_backend
from alloybench.engine.serial import SerialEngine
from alloybench.jobs import Job, Structure
from alloybench.models import FAMILIES, REGISTRY, resolve

HAVE_SEVENN = importlib.util.find_spec("sevenn") is not None


def _model_file(tmp_path, text: str):
    path = tmp_path / "model.yaml"
    path.write_text(text)
    return resolve(str(path))


def test_model_file_options_reach_loader_and_batched_factory_alike(tmp_path, monkeypatch):
    """Through the EMT family with a recording loader and batched factory: the same options."""
    seen: dict[str, dict] = {}
    emt = FAMILIES["classical"]

    def loader(weights, device="cpu", **options):
        seen["serial"] = dict(options)
        return emt.loader(weights, device=device)

    def factory(model, request):
        from alloybench.engine.backends import CalculatorBackend

        seen["batched"] = dict(model.options)
        return CalculatorBackend(request.calculator)

    monkeypatch.setitem(FAMILIES, "classical", replace(emt, loader=loader, batched=factory))
    model = _model_file(tmp_path, "family: classical\nname: emt-opts\nelements: [Al, Cu]\n"
                                  "options: {cutoff_note: 7.5, mode: test}\n")
    assert model.options == {"cutoff_note": 7.5, "mode": "test"}
    model.make_calculator()
    make_backend(model, device="cpu")
    assert seen["serial"] == seen["batched"] == {"cutoff_note": 7.5, "mode": "test"}


def test_registry_options_are_the_models():
    spec = REGISTRY["sevennet-mf-0"]
    assert spec.options == {"modal": "PBE"}
    if spec.installed() and spec.weights_path() is not None:
        assert resolve("sevennet-mf-0").options == {"modal": "PBE"}


@pytest.mark.foundation
@pytest.mark.skipif(not HAVE_SEVENN, reason="sevenn not installed")
def test_sevennet_modal_from_a_model_file_reaches_both_engines(tmp_path):
    """SevenNet-MF-0 (multi-fidelity) named by a model file with modal PBE: the batched backend
    gets the modal and both engines give the same energies, forces and stress."""
    checkpoint = REGISTRY["sevennet-mf-0"].weights_path()
    if checkpoint is None:
        pytest.skip("SevenNet-MF-0 checkpoint not in the sevenn wheel")
    model = _model_file(tmp_path, f"family: sevennet\nname: mf0-pbe\nweights: {checkpoint}\n"
                                  "options: {modal: PBE}\nelements: [Al, Cu]\n")
    assert model.options == {"modal": "PBE"}
    backend = make_backend(model, device="cpu", prefer="native")
    assert backend.modal == "PBE"
    atoms = bulk("Al", "fcc", a=4.05, cubic=True)
    atoms.positions[0] += (0.05, -0.03, 0.02)
    atoms[1].symbol = "Cu"
    job = Job(task="options", name="alcu", structure=Structure.from_atoms(atoms), relax=None)
    [(_, serial)] = list(SerialEngine(model.make_calculator).run([job]))
    [(_, batched)] = list(BatchedEngine(backend).run([job]))
    assert serial.ok and batched.ok, (serial.reason, batched.reason)
    assert abs(batched.energy - serial.energy) < 1e-4
    np.testing.assert_allclose(batched.forces, serial.forces, atol=1e-4)
    np.testing.assert_allclose(batched.stress, serial.stress, atol=1e-6)
