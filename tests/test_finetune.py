"""alloybench finetune: draws, energy zero, trainers (SevenNet, CHGNet, MACE), model folders, CLI errors."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from ase.build import bulk
from ase.calculators.emt import EMT
from ase.io import write
from typer.testing import CliRunner

from alloybench.errors import UserError
from alloybench.finetune import data as D


def _pool(path: Path, n: int = 8, seed: int = 0) -> Path:
    """EMT-labelled Al/Cu cells of 4 atoms (fast), three kinds."""
    rng = np.random.default_rng(seed)
    images = []
    for i in range(n):
        el = ("Al", "Cu")[i % 2]
        a = bulk(el, "fcc", a={"Al": 4.05, "Cu": 3.61}[el], cubic=True)
        if i % 3 == 0:
            a[0].symbol = "Cu" if el == "Al" else "Al"
        a.set_cell(a.cell * (1 + 0.02 * rng.standard_normal()), scale_atoms=True)
        a.rattle(0.05, seed=seed * 100 + i)
        a.calc = EMT()
        a.get_potential_energy(), a.get_forces(), a.get_stress()
        a.info["kind"] = ("rattled", "strained", "solute")[i % 3]
        images.append(a)
    write(str(path), images)
    return path


# ------------------------------------------------------------------ data
def test_draws_are_stratified_nested_and_reproducible():
    kinds = ["a"] * 60 + ["b"] * 30 + ["c"] * 10
    o1 = D.stratified_order(kinds, seed=3)
    assert o1 == D.stratified_order(kinds, seed=3)
    assert o1 != D.stratified_order(kinds, seed=4)
    assert sorted(o1) == list(range(100))
    for n in (10, 20, 50):  # every prefix holds each kind in proportion (+-1)
        got = [kinds[i] for i in o1[:n]]
        for k, share in (("a", 0.6), ("b", 0.3), ("c", 0.1)):
            assert abs(got.count(k) - share * n) <= 1, (n, k, got.count(k))


def test_validation_split_comes_from_the_n():
    idx = list(range(20, 40))
    tr, va = D.split_valid(idx, 2, seed=1)
    assert len(va) == 2 and len(tr) == 18 and sorted(tr + va) == idx
    assert D.split_valid(idx, 2, seed=1) == (tr, va)


def test_element_offsets_recover_a_per_element_shift(tmp_path):
    frames = D.read_pool(_pool(tmp_path / "p.extxyz"))
    shift = {"Al": -3.2, "Cu": 1.7}
    model = [f.energy_eV - sum(shift[s] for s in f.atoms.get_chemical_symbols()) + 0.001 * i
             for i, f in enumerate(frames)]
    got = D.fit_element_offsets(frames, model, ["Al", "Cu"])
    assert got["Al"] == pytest.approx(-3.2, abs=5e-3) and got["Cu"] == pytest.approx(1.7, abs=5e-3)


def test_bad_pools_are_user_errors(tmp_path):
    (tmp_path / "empty.extxyz").write_text("")
    with pytest.raises(UserError):
        D.read_pool(tmp_path / "empty.extxyz")
    a = bulk("Al", "fcc", a=4.05)
    write(str(tmp_path / "bare.extxyz"), [a])
    with pytest.raises(UserError, match="no energy"):
        D.read_pool(tmp_path / "bare.extxyz")
    frames = D.read_pool(_pool(tmp_path / "p.extxyz", n=4))
    with pytest.raises(UserError, match="larger than the pool"):
        D.draw(frames, 5, 0)


# ------------------------------------------------------------------ trainers
def _sweep(tmp_path, model, **over):
    from alloybench.finetune.sweep import Sweep
    from alloybench.tasks import TASKS

    pool = _pool(tmp_path / "pool.extxyz")
    return Sweep(model, pool, tmp_path / "out", "quick", [TASKS["bulk"]], overrides=over)


def _check_point(sw, folder: Path, n: int, seed: int):
    from alloybench.models import resolve

    prov = json.loads((folder / "provenance.json").read_text())
    assert prov["base_model"]["name"] == sw.base.name
    assert prov["n_structures"] == n and prov["seed"] == seed
    assert prov["data"]["pool_digest"] == sw.digest == prov["settings"]["data_digest"]
    assert len(prov["data"]["drawn_indices"]) == n
    assert prov["settings_digest"] == sw.settings(__import__("alloybench.finetune.sweep", fromlist=["Point"])
                                                  .Point("finetune", n, seed)).digest
    assert prov["train_wall_seconds"] > 0 and prov["device"]
    model = resolve(str(folder))  # the folder is a model alloybench loads
    assert model.family == sw.base.family and model.id != sw.base.id
    a = sw.pool[0].atoms.copy()
    a.calc = model.make_calculator()
    e_ft = a.get_potential_energy()
    a.calc = sw.base.make_calculator()
    assert abs(e_ft - a.get_potential_energy()) > 1e-6  # the weights changed
    return prov


def _train_4_epochs(tmp_path, base: str):
    """Fine-tune ``base`` for 4 epochs on 4 structures; the point's folder checked as a model."""
    from alloybench.finetune.sweep import Point

    sw = _sweep(tmp_path, base, max_epochs=4, lr=1e-3)
    folder = sw.train_point(Point("finetune", 4, 0))
    return sw, folder, _check_point(sw, folder, 4, 0)


def test_sevennet_finetune_lowers_the_loss_and_loads(tmp_path):
    pytest.importorskip("sevenn")
    from alloybench.finetune.sweep import Point

    sw, folder, prov = _train_4_epochs(tmp_path, "sevennet-0")
    h = prov["history"]
    assert h[0]["epoch"] == 0  # the base model's loss on the (shifted) training labels
    assert min(r["valid_loss"] for r in h[1:]) < h[0]["valid_loss"]
    assert prov["best_epoch"] > 0
    assert set(prov["energy_offsets_eV_per_atom"]) >= {"Al", "Cu"}
    # resumable: the finished point is not retrained
    mtime = (folder / "checkpoint.pth").stat().st_mtime
    sw.train_point(Point("finetune", 4, 0))
    assert (folder / "checkpoint.pth").stat().st_mtime == mtime


def test_chgnet_finetune_lowers_the_loss_and_loads(tmp_path):
    pytest.importorskip("chgnet")
    _, _, prov = _train_4_epochs(tmp_path, "chgnet-0.3.0")
    h = prov["history"]
    assert min(r["valid_loss"] for r in h) < h[0]["valid_loss"] or h[-1]["train_loss"] < h[0]["train_loss"]
    assert prov["trainer"].startswith("chgnet")


@pytest.mark.slow
def test_mace_finetune_of_a_tiny_mace(tmp_path):
    """A tiny MACE is built here with mace_run_train, then fine-tuned through alloybench."""
    import subprocess

    from alloybench.finetune import mace as M
    from alloybench.finetune.base import TrainJob
    from alloybench.finetune.settings import settings_for

    try:
        python, script = M._python()
    except UserError as exc:
        pytest.skip(str(exc))
    from ase.io import read

    pool = _pool(tmp_path / "pool.extxyz", n=10)
    ims = read(str(pool), ":")
    for a in ims:
        a.info["REF_energy"] = a.get_potential_energy()
        a.arrays["REF_forces"] = a.get_forces()
        a.calc = None
    write(str(tmp_path / "tiny_train.extxyz"), ims)
    subprocess.run([str(python), str(script), "--name", "tiny", "--work_dir", str(tmp_path / "tiny"),
                    "--train_file", str(tmp_path / "tiny_train.extxyz"), "--valid_fraction", "0.2",
                    "--energy_key", "REF_energy", "--forces_key", "REF_forces", "--model", "MACE",
                    "--hidden_irreps", "8x0e", "--num_interactions", "1", "--r_max", "4.0", "--max_L", "0",
                    "--E0s", "average", "--max_num_epochs", "1", "--batch_size", "4", "--device", "cpu",
                    "--default_dtype", "float64", "--seed", "1"], check=True, capture_output=True)
    base = tmp_path / "tiny" / "tiny.model"
    frames = D.read_pool(pool)
    s = settings_for("mace", "finetune", str(base), D.pool_digest(frames), 8, 0, {"max_epochs": 4, "lr": 1e-2})
    tr, va = D.split_valid(D.draw(frames, 8, 0), s.n_valid, 0)
    job = TrainJob(s, [frames[i] for i in tr], [frames[i] for i in va], tmp_path / "pt" / "train", base,
                   ("Al", "Cu"), None)
    r = M.train(job)
    assert r.checkpoint.is_file() and r.trainer.startswith("mace-torch")
    assert min(h["valid_loss"] for h in r.history[1:]) < r.history[0]["valid_loss"]


# ------------------------------------------------------------------ CLI
@pytest.mark.parametrize("case", ["empty", "unlabelled", "too_big", "no_trainer"])
def test_cli_bad_input_is_one_line_exit_2(tmp_path, case):
    from alloybench.cli import app

    pool = tmp_path / "pool.extxyz"
    model = "sevennet-0"
    sizes = "0,2"
    if case == "empty":
        pool.write_text("")
    elif case == "unlabelled":
        write(str(pool), [bulk("Al", "fcc", a=4.05)])
    else:
        _pool(pool, n=4)
    if case == "too_big":
        sizes = "0,5"
    if case == "no_trainer":
        model = "emt"
    r = CliRunner().invoke(app, ["finetune", "--model", model, "--data", str(pool), "--sizes", sizes,
                                 "--out", str(tmp_path / "out"), "-q"])
    assert r.exit_code == 2, r.output
    lines = [ln for ln in r.output.splitlines() if ln.strip()]
    assert len(lines) == 1 and lines[0].startswith("alloybench: error:"), r.output
    if case == "no_trainer":  # the trainer check itself, not a later one that emt also fails
        assert "has no trainer" in lines[0], lines[0]
    assert not (tmp_path / "out").exists()


def test_curve_only_draws_points_trained_elsewhere_without_their_checkpoints(tmp_path):
    """A sweep run on another machine comes back without checkpoints (and maybe other settings):
    --curve-only still draws every point with a provenance on this pool, and none without."""
    pytest.importorskip("sevenn")
    from alloybench.cli import app
    from alloybench.finetune.data import pool_digest, read_pool

    pool = _pool(tmp_path / "pool.extxyz")
    out = tmp_path / "out"
    digest = pool_digest(read_pool(pool))
    for name, pool_d in (("ft-4-0", digest), ("ft-6-0", "another pool")):
        (out / name).mkdir(parents=True)
        (out / name / "provenance.json").write_text(json.dumps(
            {"data": {"pool_digest": pool_d, "kinds_drawn": {"rattled": 2}}, "settings_digest": "elsewhere",
             "train_wall_seconds": 12.0, "device": "cuda (test)"}))
    (out / "ft-8-0").mkdir()  # unfinished: no provenance
    res = CliRunner().invoke(app, ["finetune", "--model", "sevennet-0", "--data", str(pool), "--sizes", "4,6,8",
                                   "--seeds", "1", "--modes", "finetune", "--no-suite", "--curve-only", "-q",
                                   "--out", str(out)])
    assert res.exit_code == 0, res.output
    points = {r["point"]: r for r in json.loads((out / "learning_curve.json").read_text())["points"]}
    assert "ft-4-0" in points and points["ft-4-0"]["settings_digest"] == "elsewhere"
    assert "ft-6-0" not in points and "ft-8-0" not in points


def test_a_comparison_model_missing_a_task_is_no_target():
    """DPA3's quick store has no vacancy task: over the curve's six tasks its score is over
    fewer tasks, so the curve says so and does not use it for finding (a)."""
    from alloybench.finetune import curve

    pts = [{"mode": "base", "n": 0, "seed": 0, "point": "base", "score": {"overall": 0.6, "categories": {}}},
           {"mode": "finetune", "n": 5, "seed": 0, "point": "ft-5-0", "score": {"overall": 0.7, "categories": {}}}]
    meta = {"base_model": "m", "tier": "quick", "tasks": ["bulk", "vacancy"], "pool": "p.extxyz", "pool_size": 9,
            "pool_digest": "d", "test": None, "test_size": 0}
    partial = {"name": "partial", "overall": 0.65, "categories": {}, "source": "p", "missing_tasks": ["vacancy"]}
    full = {"name": "full", "overall": 0.9, "categories": {}, "source": "f", "missing_tasks": []}
    doc = curve.build(pts, meta, [partial])
    assert doc["findings"]["best_compare"] is None  # 0.7 > 0.65 would otherwise read "reaches it at N = 5"
    assert "without vacancy" in curve.markdown(doc)
    doc = curve.build(pts, meta, [partial, full])
    assert doc["findings"]["best_compare"]["name"] == "full" and doc["findings"]["n_reaching_best_compare"] is None


def test_a_scratch_only_curve_claims_nothing_about_fine_tuning():
    """A from-scratch-only sweep (one of several run in parallel) once read "the fine-tuned model
    does not reach it at any N measured" although it held no fine-tuned point."""
    from alloybench.finetune import curve

    pts = [{"mode": "scratch", "n": 9, "seed": 0, "point": "scratch-9-0", "score": {"overall": 0.6, "categories": {}}}]
    meta = {"base_model": "m", "tier": "quick", "tasks": ["bulk"], "pool": "p.extxyz", "pool_size": 9,
            "pool_digest": "d", "test": None, "test_size": 0}
    text = curve.markdown(curve.build(pts, meta, []))
    assert "No fine-tuned point" in text and "does not reach" not in text and "reaches that" not in text
    pts.append({"mode": "finetune", "n": 5, "seed": 0, "point": "ft-5-0", "score": {"overall": 0.7, "categories": {}}})
    assert "reaches that at N = 5" in curve.markdown(curve.build(pts, meta, []))


def test_curve_header_names_a_task_choice_as_tasks_not_as_the_tier():
    """A curve run with --tasks (the quick tier plus solute binding) was headed "quick tier: ...",
    although solute binding is a standard-tier task."""
    from alloybench.finetune.curve import _suite_label
    from alloybench.tasks import tasks_for_tier

    quick = [t.name for t in tasks_for_tier("quick")]
    assert _suite_label("quick", quick).startswith("quick tier: bulk")
    assert _suite_label("quick", quick + ["solute_binding"]).startswith("tasks: bulk")
    assert _suite_label("old-tier", ["bulk"]) == "tasks: bulk"


def test_default_sizes_stop_at_the_pool(tmp_path):
    """The default --sizes (up to 200) failed on the packaged 138-structure pool ("N=200 is larger
    than the pool"); by default the sizes the pool can give are drawn, then the whole pool."""
    from alloybench.cli_finetune import default_sizes

    assert default_sizes(138) == [0, 5, 10, 20, 50, 100, 138]
    assert default_sizes(9) == [0, 5, 9] and default_sizes(200) == [0, 5, 10, 20, 50, 100, 200]
    from typer.testing import CliRunner

    from alloybench.cli import app

    pool = Path(__file__).resolve().parents[1] / "src/alloybench/dft/data/train.extxyz.gz"
    res = CliRunner().invoke(app, ["finetune", "--model", "sevennet-0", "--data", str(pool), "--seeds", "1",
                                   "--modes", "finetune", "--no-suite", "--curve-only", "-q", "--out", str(tmp_path)])
    assert res.exit_code == 0, res.output  # nothing trained: an empty curve over 0, 5, ..., 100, 138
    assert json.loads((tmp_path / "learning_curve.json").read_text())["sizes"] == [0, 5, 10, 20, 50, 100, 138]
