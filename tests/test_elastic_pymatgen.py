"""The elastic task's hand-written tensor algebra (``moduli``, ``rotate_stiffness``) agrees with
pymatgen's ``ElasticTensor`` (issue 19).  alloybench keeps its own ~25 lines rather than depend on
pymatgen (docs/developing.md says why); this test is the check a library would have given.  It
runs where pymatgen is installed (the test environment has it through chgnet) and skips elsewhere."""

from __future__ import annotations

import numpy as np
import pytest

from alloybench.reference import load_reference
from alloybench.tasks.elastic import REFERENCE_FRAMES, moduli, rotate_stiffness

elasticity = pytest.importorskip("pymatgen.analysis.elasticity")

REL = 1e-9


def cubic(c11=107.3, c12=61.0, c44=28.3) -> np.ndarray:
    c = np.zeros((6, 6))
    c[:3, :3] = c12
    np.fill_diagonal(c[:3, :3], c11)
    c[3, 3] = c[4, 4] = c[5, 5] = c44
    return c


def hexagonal(c11=59.7, c12=26.2, c13=21.7, c33=61.7, c44=16.4) -> np.ndarray:
    c = np.zeros((6, 6))
    c[0, 0] = c[1, 1] = c11
    c[0, 1] = c[1, 0] = c12
    c[0, 2] = c[2, 0] = c[1, 2] = c[2, 1] = c13
    c[2, 2] = c33
    c[3, 3] = c[4, 4] = c44
    c[5, 5] = (c11 - c12) / 2
    return c


def monoclinic(seed=0) -> np.ndarray:
    """A random symmetric positive-definite tensor with monoclinic zeros (unique axis y)."""
    a = np.random.default_rng(seed).normal(size=(6, 6))
    c = 20 * a @ a.T + 50 * np.eye(6)
    for i, j in [(0, 3), (0, 5), (1, 3), (1, 5), (2, 3), (2, 5), (3, 4), (4, 5)]:
        c[i, j] = c[j, i] = 0.0
    assert np.all(np.linalg.eigvalsh(c) > 0)
    return c


def reference_tensors() -> dict[str, np.ndarray]:
    """The packaged PBE tensors (the numbers the task compares against)."""
    ref = load_reference()
    out = {}
    for phase in ref.phases:
        entries = {(i, j): ref.phase_value(phase, f"C_{i + 1}{j + 1}") for i in range(6) for j in range(i + 1)}
        if any(rv is None for rv in entries.values()):
            continue
        c = np.zeros((6, 6))
        for (i, j), rv in entries.items():
            c[i, j] = c[j, i] = float(rv.value)
        out[phase] = c
    return out


def random_rotation(seed=1) -> np.ndarray:
    q, r = np.linalg.qr(np.random.default_rng(seed).normal(size=(3, 3)))
    q = q @ np.diag(np.sign(np.diag(r)))
    return q if np.linalg.det(q) > 0 else -q


TENSORS = {"cubic": cubic(), "hexagonal": hexagonal(), "monoclinic": monoclinic()}


@pytest.mark.parametrize("name", sorted(TENSORS) + ["reference"])
def test_voigt_reuss_hill_moduli_equal_pymatgens(name):
    tensors = reference_tensors() if name == "reference" else {name: TENSORS[name]}
    assert tensors
    for label, c in tensors.items():
        ours = moduli(c)
        e = elasticity.ElasticTensor.from_voigt(c)
        theirs = {"K_V": e.k_voigt, "G_V": e.g_voigt, "K_R": e.k_reuss, "G_R": e.g_reuss, "K_H": e.k_vrh,
                  "G_H": e.g_vrh}
        assert set(ours) == set(theirs), label
        for key, value in theirs.items():
            assert ours[key] == pytest.approx(float(value), rel=REL, abs=0), (label, key)


@pytest.mark.parametrize("name", sorted(TENSORS))
@pytest.mark.parametrize("frame", ["theta_dprime", "random"])
def test_rotated_stiffness_equals_pymatgens(name, frame):
    c = TENSORS[name]
    rotation = REFERENCE_FRAMES["theta_dprime"] if frame == "theta_dprime" else random_rotation()
    ours = rotate_stiffness(c, rotation)
    theirs = np.asarray(elasticity.ElasticTensor.from_voigt(c).rotate(rotation).voigt)
    np.testing.assert_allclose(ours, theirs, rtol=0, atol=REL * np.abs(c).max())
    # and the moduli are invariants of the rotation
    for key, value in moduli(c).items():
        assert moduli(ours)[key] == pytest.approx(value, rel=REL), key
