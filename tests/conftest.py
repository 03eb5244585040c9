from __future__ import annotations

from pathlib import Path

import pytest
from ase.calculators.emt import EMT

from alloybench.engine.serial import SerialEngine
from alloybench.models import Model, EMT_ELEMENTS
from alloybench.reference import load_reference
from alloybench.store import Store

try:  # small-cell optimisers: BLAS threads only compete with each other on 2 cores
    from threadpoolctl import threadpool_limits

    threadpool_limits(limits=1, user_api="blas")
except ImportError:
    pass

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared" / "data"


@pytest.fixture(scope="session")
def reference():
    return load_reference()


@pytest.fixture
def emt_model() -> Model:
    return Model(id="emt@test", name="emt", family="classical", elements=EMT_ELEMENTS, make_calculator=EMT)


@pytest.fixture
def emt_engine() -> SerialEngine:
    return SerialEngine(EMT)


@pytest.fixture
def store(tmp_path):
    with Store(tmp_path / "results.sqlite") as s:
        yield s
