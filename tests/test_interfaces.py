"""Interface task: every reference interface is carried, not covered, and the extraction formula."""

from __future__ import annotations

import pytest

from alloybench.tasks.base import Context
from alloybench.tasks.interfaces import InterfaceTask, interface_energy


def test_every_interface_key_is_carried_as_not_applicable(reference, emt_model):
    ctx = Context(reference=reference, tier="standard", elements=emt_model.elements)
    task = InterfaceTask()
    assert task.build(ctx, {}) == []
    metrics = task.analyse(ctx, {})
    text = " ".join(m.source for m in metrics)
    keys = [k for k in reference.values if k.startswith(("ThetaP_", "ThetaDP_", "Sphase_Interface"))]
    assert len(keys) == 15
    for k in keys:
        assert k in text, k
    assert len(metrics) == 5
    assert all(m.status == "not_applicable" and "structure not available" in m.reason for m in metrics)
    assert all(m.unit == "mJ/m^2" and m.group == "interface_energy" for m in metrics)


def test_extraction_reproduces_reference_s_phase(reference):
    """gamma = slope(E/N vs 1/N) * 16021.766 / (2 A): S phase, A = a*b of the DFT S cell (4.006 x 9.23 Å)."""
    inv_n = reference.value("Sphase_Interface_invNs").value
    eforms = reference.value("Sphase_Interface_Eforms").value
    gamma = interface_energy(inv_n, eforms, area=36.97)
    assert gamma == pytest.approx(reference.value("Sphase_Interface_Einterface").value, rel=2e-3)
