"""Spearman correlation with Matbench Discovery metrics, and the carried Matbench figures."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
import yaml
from scipy.stats import spearmanr

from alloybench.models.matbench import load_matbench, matbench_metrics, metrics_for_doc
from alloybench.report.correlation import (_rowwise_spearman, bootstrap_ci, correlate, markdown_table,
                                           permutation_p, spearman)

MATBENCH = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "matbench_discovery"
needs_shared = pytest.mark.skipif(not MATBENCH.is_dir(), reason="../shared/data/matbench_discovery not present")


# ------------------------------------------------------------------- Spearman
def test_monotone_is_one_and_reversed_is_minus_one():
    x = [0.1, 0.5, 0.7, 2.0, 9.0]
    assert spearman(x, np.exp(x)) == pytest.approx(1.0)  # any increasing map
    assert spearman(x, [-v ** 3 for v in x]) == pytest.approx(-1.0)


def test_hand_computed_values():
    # ranks differ by d = (-1, 1, -1, 1, 0): rho = 1 - 6*4 / (5*(25-1)) = 0.8
    assert spearman([1, 2, 3, 4, 5], [2, 1, 4, 3, 5]) == pytest.approx(0.8)
    # ties take average ranks: rx = (1, 2.5, 2.5, 4), ry = (1, 3, 2, 4) -> rho = 4.5 / sqrt(4.5 * 5) = 3/sqrt(10)
    assert spearman([1, 2, 2, 3], [1, 3, 2, 4]) == pytest.approx(3 / math.sqrt(10))


def test_undefined_cases():
    assert spearman([1, 1, 1], [1, 2, 3]) is None
    assert spearman([1], [2]) is None
    assert bootstrap_ci([1], [2]) is None
    with pytest.raises(ValueError):
        spearman([1, 2], [1, 2, 3])


def test_rowwise_matches_scipy():
    rng = np.random.default_rng(3)
    x = rng.integers(0, 4, (300, 7)).astype(float)  # many ties and some constant rows
    y = rng.normal(size=(300, 7))
    ours = _rowwise_spearman(x, y)
    ref = np.array([spearmanr(a, b).statistic for a, b in zip(x, y)])
    assert np.array_equal(np.isnan(ours), np.isnan(ref))
    assert np.allclose(ours[~np.isnan(ref)], ref[~np.isnan(ref)])


def test_bootstrap_interval_contains_the_estimate():
    rng = np.random.default_rng(0)
    x = rng.normal(size=15)
    y = x + rng.normal(scale=0.8, size=15)
    rho = spearman(x, y)
    lo, hi = bootstrap_ci(x, y, n_boot=2000, seed=1)
    assert -1 <= lo <= rho <= hi <= 1
    assert hi - lo > 0.05  # a real spread, not a degenerate interval
    assert bootstrap_ci(x, y, seed=1) == bootstrap_ci(x, y, seed=1)  # reproducible
    assert bootstrap_ci([1, 2, 3, 4], [2, 4, 6, 8]) == (1.0, 1.0)


def test_exact_permutation_p():
    assert permutation_p([1, 2, 3], [3, 5, 9]) == pytest.approx(2 / 6)  # 2 of 3! orderings are as extreme
    assert permutation_p([1, 2, 3, 4], [4, 3, 2, 1]) == pytest.approx(2 / 24)
    assert permutation_p([1, 2, 3], [1, 1, 1]) is None


# ----------------------------------------------------------------- documents
def _doc(name: str, overall: float | None, **model) -> dict:
    return {"model": {"name": name, **model}, "run": {}, "score": {"overall": overall}}


def test_correlate_maps_models_and_recovers_known_ranking():
    keys = ["sevennet-0", "chgnet-0.3.0", "grace-2l-oam", "mace-mp-0", "m3gnet"]
    docs = [_doc(k, 1 - matbench_metrics(k)["kappa_SRME"] / 2) for k in keys]
    docs += [_doc("emt", 0.3), _doc("sevennet-mf-0", 0.9), _doc("sevennet-l3i5", None),
             _doc("my-finetune", 0.95, matbench="7net-0")]  # explicit key in model metadata
    rows = {c.metric: c for c in correlate(docs, n_boot=500)}
    k = rows["kappa_SRME"]
    assert k.n == 6 and "emt" not in k.models and "sevennet-mf-0" not in k.models
    assert "my-finetune" in k.models and k.matbench_keys[k.models.index("my-finetune")] == "sevennet-0"
    # my-finetune shares sevennet-0's kappa (a tie in x) but scores best: rho drops from -1
    assert k.rho == pytest.approx(spearmanr(k.x, k.y).statistic)
    assert -1 < k.rho < -0.7 and k.agreement == pytest.approx(-k.rho)
    assert k.ci95[0] <= k.rho <= k.ci95[1]
    only5 = {c.metric: c for c in correlate(docs[:5], n_boot=200)}
    assert only5["kappa_SRME"].rho == pytest.approx(-1.0) and only5["kappa_SRME"].agreement == pytest.approx(1.0)
    assert only5["kappa_SRME"].p_value == pytest.approx(2 / 120)
    assert set(rows) == {"F1", "kappa_SRME", "RMSD", "energy_MAE"}
    assert "κ_SRME" in markdown_table(list(rows.values()))
    d = k.to_dict()
    assert d["n"] == 6 and d["agreement"] == pytest.approx(-d["rho"])


def test_only_exact_matches_are_mapped():
    assert matbench_metrics("sevennet-0")["key"] == "sevennet-0"
    assert matbench_metrics("7net-0")["key"] == "sevennet-0"
    assert matbench_metrics("SevenNet-L3i5")["key"] == "sevennet-l3i5"
    assert matbench_metrics("chgnet-0.3.0")["kappa_SRME"] == pytest.approx(1.7167)
    for other in ("sevennet-mf-0", "chgnet-0.2.0", "emt", "", None, "m3gnet-mp-2021.2.8-pes"):
        assert matbench_metrics(other) is None
    assert metrics_for_doc({"model": {"name": "x"}, "run": {"model_spec": "7net-l3i5"}})["key"] == "sevennet-l3i5"
    rec = matbench_metrics("megnet")
    assert rec["kappa_SRME"] is None and "not reported" in rec["sources"]["kappa_SRME"]


# ---------------------------------------------------- carried Matbench values
def _dig(doc, keys):
    for k in keys:
        if not isinstance(doc, dict) or doc.get(k) is None:
            return None
        doc = doc[k]
    return doc


@needs_shared
def test_every_carried_value_matches_the_shared_yml():
    data = load_matbench()
    files = sorted(MATBENCH.glob("*.yml"))
    assert len(files) == len(data["models"])
    assert data["discovery_subset"] == "unique_prototypes"
    paths = {"F1": ("metrics", "discovery", "unique_prototypes", "F1"),
             "kappa_SRME": ("metrics", "phonons", "kappa_103", "κ_SRME"),
             "RMSD": ("metrics", "geo_opt", "symprec=1e-5", "rmsd"),
             "energy_MAE": ("metrics", "discovery", "unique_prototypes", "MAE")}
    n_values = 0
    for f in files:
        y = yaml.safe_load(f.read_text())
        entry = data["models"][y["model_key"]]
        assert entry["model_name"] == y["model_name"]
        assert entry["model_params"] == y.get("model_params")
        assert entry["training_sets"] == list(y.get("training_sets") or [])
        assert entry["model_version"] == (None if y.get("model_version") is None else str(y["model_version"]))
        for name, keys in paths.items():
            carried = entry["metrics"][name]
            expected = _dig(y, keys)
            src = carried["source"]
            assert f.name in src and "commit 2c7f9fc" in src and "Riebesell" in src
            if expected is None:
                assert carried["value"] is None and "not reported" in src
            else:
                assert carried["value"] == pytest.approx(float(expected), abs=0), (f.name, name)
                n_values += 1
    assert n_values > 150
