"""Reliability and security (issue 13): every bad input is one line and exit 2 with nothing
written; stores are versioned and never damaged; hung Jobs are bounded; checkpoints are data."""

from __future__ import annotations

import gzip
import json
import os
import pickle
import shutil
import sqlite3
import sys
import time
from pathlib import Path

import pytest

from reliability_helpers import assert_usage_error, cli, digest

REPO = Path(__file__).resolve().parents[1]
HELPERS = str(Path(__file__).parent / "helpers")
ROOT = os.geteuid() == 0
WORKER_PATH = os.pathsep.join([HELPERS, str(REPO / "src")])  # the worker imports this checkout's alloybench


@pytest.fixture(autouse=True)
def _helpers_importable(monkeypatch):
    monkeypatch.syspath_prepend(HELPERS)
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join([HELPERS, os.environ.get("PYTHONPATH", "")]))


def _emt_run(out: Path, *extra: str):
    return cli("run", "--model", "emt", "--elements", "Al", "--tasks", "bulk", "--out", out, "-q", *extra)


# ------------------------------------------------------------------------------------ store
def _sqlite(path: Path, sql: str) -> None:
    db = sqlite3.connect(path)
    db.executescript(sql)
    db.commit()
    db.close()


def test_a_foreign_sqlite_file_is_refused_and_never_written(tmp_path):
    from alloybench.store import Store, StoreError

    out = tmp_path / "o"
    out.mkdir()
    db = out / "results.sqlite"
    _sqlite(db, "CREATE TABLE inventory (item TEXT, n INTEGER); INSERT INTO inventory VALUES ('bolt', 3);")
    before = digest(db)
    with pytest.raises(StoreError, match="did not create"):
        Store(db)
    assert_usage_error(cli("report", out), "did not create")
    assert_usage_error(_emt_run(out), "did not create")
    assert digest(db) == before  # not one byte added: no alloybench tables in someone else's file
    assert sorted(p.name for p in out.iterdir()) == ["results.sqlite"]


def test_a_store_from_a_newer_alloybench_is_refused(tmp_path):
    from alloybench.store import APPLICATION_ID, SCHEMA_VERSION, Store, StoreError

    db = tmp_path / "results.sqlite"
    Store(db).close()
    _sqlite(db, f"PRAGMA user_version = {SCHEMA_VERSION + 5};")
    before = digest(db)
    with pytest.raises(StoreError, match="newer alloybench"):
        Store(db)
    assert digest(db) == before
    _sqlite(db, "PRAGMA application_id = 1234;")  # another program's application id
    with pytest.raises(StoreError, match="another program"):
        Store(db)
    assert APPLICATION_ID != 1234


def test_a_damaged_store_is_reported_with_the_fix(tmp_path):
    from alloybench.store import Store, StoreError

    out = tmp_path / "o"
    assert _emt_run(out).exit_code == 0
    db = out / "results.sqlite"
    raw = bytearray(db.read_bytes())
    page = 4096
    raw[2 * page + 8: 3 * page] = os.urandom(page - 8)  # garbage over a b-tree page
    db.write_bytes(bytes(raw))
    with pytest.raises(StoreError, match="damaged") as info:
        Store(db, readonly=True)
    assert ".recover" in str(info.value)
    assert_usage_error(cli("report", out), "damaged")
    (out / "results.sqlite").write_bytes(b"not a database at all" * 100)
    assert_usage_error(cli("report", out), "not an SQLite file")
    (out / "results.sqlite").write_bytes(b"")
    assert_usage_error(_emt_run(out), "empty file")


def test_schema_0_stores_still_report_read_only_and_migrate_when_written(tmp_path):
    """The committed stores (schema 0, before versioning) rebuild as they are, untouched;
    a run on one migrates it in place (application id, user_version, runs.status)."""
    from alloybench.store import APPLICATION_ID, SCHEMA_VERSION, Store

    committed = REPO / "docs/results/quick/chgnet-0.3.0/results.sqlite"
    before = digest(committed)
    r = cli("report", committed.parent)
    assert r.exit_code == 0, r.output
    assert "| chgnet-0.3.0 |" in r.stdout
    assert digest(committed) == before  # a report writes nothing, not even a migration
    old = tmp_path / "old.sqlite"
    with gzip.open(REPO / "docs/results/standard/tensornet-matpes-pbe/results.sqlite.gz") as f, open(old, "wb") as g:
        shutil.copyfileobj(f, g)
    db = sqlite3.connect(old)
    assert db.execute("PRAGMA user_version").fetchone()[0] == 0
    n = db.execute("SELECT COUNT(*) FROM results").fetchone()[0]
    db.close()
    with Store(old) as s:
        assert s.version == SCHEMA_VERSION and s.count() == n
        assert {r["status"] for r in s.runs()} <= {"finished", "interrupted"}
    db = sqlite3.connect(old)
    assert db.execute("PRAGMA application_id").fetchone()[0] == APPLICATION_ID
    assert db.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
    db.close()


def test_a_store_with_an_extra_column_keeps_every_result(tmp_path):
    from alloybench.jobs import Result
    from test_engine_store import _job
    from alloybench.store import Store

    db = tmp_path / "results.sqlite"
    Store(db).close()
    _sqlite(db, "ALTER TABLE results ADD COLUMN note TEXT;")
    with Store(db) as s:
        s.put("m", _job(), Result(ok=True, energy=1.0))
        assert s.get("m", _job()).energy == 1.0


def test_store_creation_is_atomic_and_cleans_stale_temporaries(tmp_path):
    from alloybench.store import Store

    stale = tmp_path / ".results.sqlite.999999999.tmp"  # left by a creation killed long ago
    stale.write_bytes(b"half")
    Store(tmp_path / "results.sqlite").close()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["results.sqlite"]


# ------------------------------------------------------------------------------------ the run command
@pytest.mark.parametrize("model, needle", [
    ("", "--model is empty"),
    ("   ", "--model is empty"),
    ("x" * 5000, "characters long"),
    ("emt=/tmp", "takes no weights"),
    ("os:getcwd", "not an ASE calculator"),
    ("misbehaving:broken_at_load", "failed to load"),
    ("no_such_module_xyz:f", "cannot import module"),
    ("emt\x00", "control characters"),
    ("sevennet:" + "/tmp", "is a folder"),
])
def test_bad_models_are_one_line_and_leave_nothing(tmp_path, model, needle):
    out = tmp_path / "out"
    assert_usage_error(cli("run", "--model", model, "--out", out, "-q"), needle)
    assert not out.exists()  # no store for a run that never started


@pytest.mark.parametrize("args, needle", [
    (["--tasks", ","], "names nothing"),
    (["--tasks", " , ,"], "names nothing"),
    (["--elements", ","], "names nothing"),
    (["--job-timeout", "nan"], None),
    (["--job-timeout", "-3"], None),
])
def test_bad_values_are_usage_errors(tmp_path, args, needle):
    out = tmp_path / "out"
    r = cli("run", "--model", "emt", "--out", out, "-q", *args)
    assert_usage_error(r, needle, one_line=needle is not None)
    assert not out.exists()


def test_unusable_out_folders(tmp_path):
    afile = tmp_path / "afile"
    afile.write_text("x")
    assert_usage_error(_emt_run(afile), "is a file")
    assert_usage_error(_emt_run(afile / "sub"), "is a file")
    assert_usage_error(_emt_run(tmp_path / ("n" * 300)), "bytes long")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["afile"]


@pytest.mark.skipif(ROOT, reason="permission bits do not bind root")
def test_read_only_and_unreadable_out_folders(tmp_path):
    ro = tmp_path / "ro"
    ro.mkdir(mode=0o555)
    assert_usage_error(_emt_run(ro), "not writable")
    assert_usage_error(_emt_run(ro / "new"), "not writable")
    hidden = tmp_path / "hidden"
    hidden.mkdir(mode=0o000)
    assert_usage_error(_emt_run(hidden), "not writable")


def test_the_dotted_callable_form_runs_and_its_identity_follows_its_source(tmp_path, monkeypatch):
    pkg = tmp_path / "mypkg"
    pkg.mkdir()
    (pkg / "__init__.py").write_text("")
    (pkg / "pots.py").write_text("from ase.calculators.emt import EMT\n\ndef make_calc():\n    return EMT()\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    from alloybench.models import resolve

    first = resolve("mypkg.pots:make_calc")
    assert first.id.startswith("callable:mypkg.pots:make_calc@")
    (pkg / "pots.py").write_text("from ase.calculators.emt import EMT\n\ndef make_calc():\n    return EMT()  # v2\n")
    assert resolve("mypkg.pots:make_calc").id != first.id  # changed code: old results are not reused
    out = tmp_path / "o"
    r = cli("run", "--model", "mypkg.pots:make_calc", "--elements", "Al", "--tasks", "bulk", "--out", out, "-q")
    assert r.exit_code == 0, r.output
    doc = json.loads((out / "results.json").read_text())
    assert doc["model"]["id"] == resolve("mypkg.pots:make_calc").id


def test_a_named_version_is_the_callable_identity(tmp_path, monkeypatch):
    (tmp_path / "named_pot.py").write_text("from ase.calculators.emt import EMT\n\ndef calc():\n    return EMT()\n"
                                           "calc.version = '2.1'\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    from alloybench.models import resolve

    assert resolve("named_pot:calc").id == "callable:named_pot:calc@v2.1"


# ------------------------------------------------------------------------------------ model files
@pytest.mark.parametrize("doc, needle", [
    ({"family": "eam", "weights": "pot.eam.alloy", "elements": 5}, "'elements' must be"),
    ({"family": "mace", "weights": "x.model", "options": "x"}, "'options' must be"),
    ({"family": "lammps", "pair_style": "eam/alloy", "pair_coeff": "* * a Al", "elements": ["Al"], "masses": True},
     "'masses' must be"),
    ({"family": "lammps", "pair_style": "eam/alloy", "pair_coeff": "* * a Al", "elements": ["Al"], "files": 123},
     "'files' must be"),
    ({"family": "sevennet", "weights": "adir"}, "is a folder"),
    ({"family": "lammps", "pair_style": "eam", "pair_coeff": ["* * 'unclosed Al"], "elements": ["Al"]},
     "No closing quotation"),
    ({"family": "lammps", "pair_style": "eam", "pair_coeff": ["* * a Al"], "elements": ["Al"],
      "commands": ["shell touch /tmp/owned"]}, "would run programs"),
    ({"family": 7}, "'family' must be"),
    ({"family": "nosuchfamily", "weights": "x"}, "unknown model family"),
])
def test_model_files_with_wrong_types_are_one_line(tmp_path, doc, needle):
    (tmp_path / "adir").mkdir()
    for f in ("x.model", "pot.eam.alloy"):
        (tmp_path / f).write_text("x")
    mf = tmp_path / "model.json"
    mf.write_text(json.dumps(doc))
    out = tmp_path / "out"
    assert_usage_error(cli("run", "--model", mf, "--out", out, "-q"), needle)
    assert not out.exists()


# ------------------------------------------------------------------------------------ report inputs
def test_report_on_garbage_results_and_unwritable_targets(tmp_path):
    d = tmp_path / "r"
    d.mkdir()
    (d / "results.json").write_text("{ this is not json")
    assert_usage_error(cli("report", d), "not valid JSON")
    (d / "results.json").write_text(json.dumps({"alloybench_results": 1, "model": {"name": 3}, "score": {}}))
    assert_usage_error(cli("report", d), "field 'model.name'")
    (d / "results.json").write_text(json.dumps([1, 2]))
    assert_usage_error(cli("report", d), "not an alloybench results file")
    good = tmp_path / "good"
    assert _emt_run(good).exit_code == 0
    afile = tmp_path / "afile"
    afile.write_text("x")
    assert_usage_error(cli("report", good, "--md", tmp_path), "is a folder")
    assert_usage_error(cli("report", good, "--md", afile / "r.md"), "is a file")
    assert_usage_error(cli("report", good, "--html", afile), "is a file")
    assert_usage_error(cli("report", afile), "is a file")
    assert not [p for p in tmp_path.rglob("*.tmp")]


def test_write_atomic_leaves_no_temporary_file_and_cleans_stale_ones(tmp_path):
    from alloybench.errors import UserError
    from alloybench.report import write_atomic

    (tmp_path / ".report.md.999999999.abcd.tmp").write_text("left by a killed write")
    write_atomic(tmp_path / "report.md", "ok")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["report.md"]
    (tmp_path / "adir").mkdir()
    with pytest.raises(UserError, match="cannot write"):
        write_atomic(tmp_path / "adir", "x")  # replacing a folder by a file fails
    assert sorted(p.name for p in tmp_path.iterdir()) == ["adir", "report.md"]


# ------------------------------------------------------------------------------------ wall-clock limits
def _jobs_with_sizes(*sizes: int):
    from ase.build import bulk

    from alloybench.jobs import Job, Structure

    return [Job("t", f"j{i}-{n}", Structure.from_atoms(bulk("Cu", "fcc", a=3.62).repeat((n, 1, 1))))
            for i, n in enumerate(sizes)]


def test_serial_engine_turns_a_hang_into_a_timeout_and_goes_on():
    from ase.calculators.emt import EMT

    from alloybench.engine.limits import JobLimits
    from alloybench.engine.serial import SerialEngine
    from test_engine_store import _job

    class Hang(EMT):
        def calculate(self, *a, **k):
            time.sleep(3600)

    t0 = time.monotonic()
    [(_, r)] = list(SerialEngine(Hang, limits=JobLimits(fixed_seconds=0.5)).run([_job()]))
    assert time.monotonic() - t0 < 30
    assert not r.ok and r.stage == "timeout" and "0.5 s" in r.reason
    [(_, r2)] = list(SerialEngine(EMT, limits=JobLimits(fixed_seconds=30)).run([_job()]))
    assert r2.ok  # the alarm is gone: the next Job is not interrupted


def test_the_default_limit_is_generous_and_scales_with_atoms_and_steps():
    from ase.build import bulk

    from alloybench.engine.limits import JobLimits
    from alloybench.jobs import Job, Relax, Structure

    small = Job(task="t", name="a", structure=Structure.from_atoms(bulk("Al", cubic=True)))
    big = Job(task="t", name="b", structure=Structure.from_atoms(bulk("Al", cubic=True) * (4, 4, 4)),
              relax=Relax(max_steps=500))
    lim = JobLimits()
    assert lim.seconds(small) >= 600
    assert lim.seconds(big) == pytest.approx(600 + 0.05 * 256 * 501)
    assert JobLimits(fixed_seconds=5).seconds(big) == 5


def test_worker_stops_a_hung_job_itself_and_keeps_the_model_loaded():
    from alloybench.engine.subprocess import SubprocessEngine

    jobs = _jobs_with_sizes(1, 3, 1)
    with SubprocessEngine("misbehaving:hang_on_three", environ={"PYTHONPATH": WORKER_PATH}, job_timeout=2) as eng:
        results = [r for _, r in eng.run(jobs)]
        assert eng.starts == 1  # the worker's own alarm: no kill, no reload
    assert [r.ok for r in results] == [True, False, True]
    assert results[1].stage == "timeout"


def test_worker_stuck_where_no_signal_reaches_is_killed_and_replaced():
    from alloybench.engine.subprocess import SubprocessEngine

    jobs = _jobs_with_sizes(3, 1)
    with SubprocessEngine("misbehaving:hang_blocking_alarm_on_three", environ={"PYTHONPATH": WORKER_PATH},
                          job_timeout=1) as eng:
        results = [r for _, r in eng.run(jobs)]
        assert eng.starts == 2
    assert results[0].stage == "timeout" and "killed" in results[0].reason and results[1].ok


def test_a_run_with_hung_jobs_finishes_stores_timeouts_and_exits_1(tmp_path):
    out = tmp_path / "o"
    # Al,Cu: the theta phases have 3+ atoms and hang; fcc Al (1 atom) finishes
    r = cli("run", "--model", "misbehaving:sleeps_on_big_cells", "--elements", "Al,Cu", "--tasks", "bulk",
            "--job-timeout", "1", "--out", out, "-q")
    assert r.exit_code == 1, r.output
    doc = json.loads((out / "results.json").read_text())
    assert doc["failures"] and all(f["stage"] == "timeout" for f in doc["failures"])
    assert doc["completeness"]["jobs_failed"] == len(doc["failures"])
    from alloybench.store import Store

    with Store(out / "results.sqlite", readonly=True) as s:
        assert any(f["stage"] == "timeout" for f in s.failures(doc["model"]["id"]))


def test_a_stored_timeout_is_computed_again_under_a_longer_limit(tmp_path):
    from ase.calculators.emt import EMT

    from alloybench.engine.limits import JobLimits
    from alloybench.engine.serial import SerialEngine
    from alloybench.jobs import Result
    from alloybench.models import EMT_ELEMENTS, Model
    from alloybench.reference import load_reference
    from alloybench.runner import run_tasks
    from alloybench.store import Store
    from alloybench.tasks import TASKS

    model = Model(id="emt@t", name="emt", family="classical", elements=frozenset({"Al"}), make_calculator=EMT)
    ref = load_reference()
    with Store(tmp_path / "s.sqlite") as store:
        first = run_tasks(model, [TASKS["bulk"]], "quick", ref, store, SerialEngine(EMT))
        key_job = None
        for task in [TASKS["bulk"]]:
            from alloybench.tasks.base import Context

            key_job = task.build(Context(reference=ref, tier="quick", elements=model.elements), {})[0]
        store.put(model.id, key_job, Result.failure("timeout", "no result", 1.0))
        again = run_tasks(model, [TASKS["bulk"]], "quick", ref, store, SerialEngine(EMT, limits=JobLimits(fixed_seconds=1.0)))
        assert again.computed == 0  # same limit: the timeout stands
        again = run_tasks(model, [TASKS["bulk"]], "quick", ref, store, SerialEngine(EMT, limits=JobLimits(fixed_seconds=60)))
        assert again.computed >= 1 and store.get(model.id, key_job).ok
    assert first.computed >= 1 and EMT_ELEMENTS


# ------------------------------------------------------------------------------------ exit codes, completeness
def test_clean_run_exits_0_and_says_complete(tmp_path):
    out = tmp_path / "o"
    r = _emt_run(out)
    assert r.exit_code == 0, r.output
    doc = json.loads((out / "results.json").read_text())
    assert doc["completeness"] == {"complete": True, "run_status": "finished", "jobs_missing": 0, "jobs_failed": 0,
                                   "missing": []}
    assert "Incomplete" not in (out / "report.md").read_text()


def test_report_says_a_killed_run_is_incomplete(tmp_path):
    out = tmp_path / "o"
    assert cli("run", "--model", "emt", "--elements", "Al", "--tasks", "bulk,elastic", "--out", out, "-q").exit_code == 0
    db = sqlite3.connect(out / "results.sqlite")  # what a kill -9 mid-run leaves: some rows, an open run
    db.execute("DELETE FROM results WHERE task = 'elastic' AND rowid % 2 = 0")
    db.execute("UPDATE runs SET finished = NULL, status = 'running'")
    db.commit()
    db.close()
    site = tmp_path / "site"
    md = tmp_path / "r.md"
    r = cli("report", out, "--md", md, "--html", site)
    assert r.exit_code == 0, r.output
    text = md.read_text()
    assert "Incomplete run" in text and "Jobs missing" in text
    page = next((site / "models").glob("*.html")).read_text()
    assert "Incomplete run" in page
    from alloybench.cli import _rebuild

    c = _rebuild(out)["completeness"]
    assert not c["complete"] and c["jobs_missing"] >= 1 and c["run_status"] == "running"
    assert all(m["task"] == "elastic" for m in c["missing"])


# ------------------------------------------------------------------------------------ checkpoints
class _Evil:
    def __init__(self, marker: str):
        self.marker = marker

    def __reduce__(self):
        return (exec, (f"open({self.marker!r}, 'w').write('pwned')",))


def _crafted_checkpoint(path: Path, marker: Path) -> Path:
    import torch

    torch.save({"model_state_dict": {"w": torch.zeros(2)}, "config": {"x": _Evil(str(marker))}}, path)
    return path


def test_the_crafted_checkpoint_really_runs_code_when_unpickled(tmp_path):
    """The control: full unpickling of this file writes the marker (so the tests below mean something)."""
    import torch

    marker = tmp_path / "marker"
    torch.load(_crafted_checkpoint(tmp_path / "evil.pth", marker), weights_only=False)
    assert marker.exists()


@pytest.mark.parametrize("spec", ["{p}", "sevennet:{p}", "sevennet-0={p}", "chgnet:{p}"])
def test_a_crafted_checkpoint_runs_nothing(tmp_path, spec):
    pytest.importorskip("sevenn")
    marker = tmp_path / "marker"
    ckpt = _crafted_checkpoint(tmp_path / "evil.pth", marker)
    out = tmp_path / "out"
    r = cli("run", "--model", spec.format(p=ckpt), "--out", out, "-q")
    assert_usage_error(r, "--trust-checkpoint")
    assert not marker.exists() and not out.exists()


def test_code_checkpoints_need_trust_outside_trusted_folders(tmp_path, monkeypatch):
    from alloybench.errors import UserError
    from alloybench.models.trust import require_trust

    f = tmp_path / "x.model"
    f.write_bytes(pickle.dumps(_Evil(str(tmp_path / "m"))))
    monkeypatch.delenv("ALLOYBENCH_TRUST_CHECKPOINT", raising=False)
    monkeypatch.setenv("ALLOYBENCH_WEIGHTS", str(tmp_path / "weights"))
    with pytest.raises(UserError, match="--trust-checkpoint"):
        require_trust("mace", f, "MACE model x.model")
    from alloybench import envs
    from alloybench.models.adapters import FAMILIES

    loadable = FAMILIES["mace"].installed() or envs.env_ready("mace")  # else: the missing package is the line
    assert_usage_error(cli("run", "--model", f"mace:{f}", "--out", tmp_path / "o", "-q"),
                       "--trust-checkpoint" if loadable else "alloybench[mace]")
    (tmp_path / "weights").mkdir()
    trusted = tmp_path / "weights" / "x.model"
    shutil.copy(f, trusted)
    require_trust("mace", trusted, "MACE model x.model")  # $ALLOYBENCH_WEIGHTS: the user's own folder
    require_trust("eam", f, "EAM")  # text formats run nothing
    monkeypatch.setenv("ALLOYBENCH_TRUST_CHECKPOINT", "1")
    require_trust("mace", f, "MACE model x.model")
    assert not (tmp_path / "m").exists()


def test_shipped_sevennet_checkpoints_load_weights_only():
    pytest.importorskip("sevenn")
    from alloybench.models import REGISTRY

    calc = REGISTRY["sevennet-0"].load(REGISTRY["sevennet-0"].weights_path())
    import sevenn.checkpoint as cp

    from alloybench.models.trust import safe_torch_load

    assert cp.torch_load is safe_torch_load and calc is not None


def test_models_listing_says_how_checkpoints_load():
    r = cli("models")
    assert r.exit_code == 0
    assert "weights-only" in r.stdout and "trust" in r.stdout


def test_every_command_that_loads_a_checkpoint_accepts_the_flag_its_refusal_names():
    """The untrusted-checkpoint refusal says "pass --trust-checkpoint": run, cost and finetune all
    load models, so each must accept it (cost did not, and told the user to pass a flag it refused)."""
    import re

    for command in ("run", "cost", "finetune"):
        r = cli(command, "--help")
        assert r.exit_code == 0 and "--trust-checkpoint" in re.sub(r"\x1b\[[0-9;]*m", "", r.stdout), command
