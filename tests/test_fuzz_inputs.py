"""Property-based tests (hypothesis) on every parser of user input: generated malformed CLI
values, model files, potential files, stores and results files.  Oracle for each: exit
status 2, no traceback, nothing written.  In-process (typer's CliRunner), so >1000 inputs
take about a minute; ALLOYBENCH_FUZZ_SCALE=10 (the nightly job) tries ten times as many."""

from __future__ import annotations

import json
import os
import random
import shutil
import sqlite3
import string
import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from reliability_helpers import assert_usage_error, cli

SCALE = float(os.environ.get("ALLOYBENCH_FUZZ_SCALE", "1"))
REPO = Path(__file__).resolve().parents[1]


def fuzz(n: int):
    return settings(max_examples=max(1, int(n * SCALE)), deadline=None, database=None,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture,
                                           HealthCheck.filter_too_much])


COUNT = {"n": 0}


def _check(result, one_line: bool = True):
    COUNT["n"] += 1
    assert_usage_error(result, one_line=one_line)


@pytest.fixture(scope="module")
def work():
    d = Path(tempfile.mkdtemp(prefix="ab-fuzz-"))
    yield d
    shutil.rmtree(d, ignore_errors=True)


def _registry_like(text: str) -> bool:
    from alloybench.models import REGISTRY

    head = text.strip().split("=", 1)[0].lower()
    return head in REGISTRY


def _nothing_written(out: Path) -> None:
    assert not out.exists(), sorted(p.name for p in out.rglob("*"))


# --------------------------------------------------------------------------------- CLI values
junk_text = st.text(min_size=0, max_size=300)
pathish = st.lists(st.sampled_from(["/", ".", "..", "~", ":", "=", "a", "emt", "x.pth", "y.model", "z.yaml",
                                    "mace", "sevennet", "kim", "lammps", "\x00", " ", "é", "%s", "*", "n" * 300]),
                   min_size=1, max_size=8).map("".join)


@fuzz(300)
@given(model=st.one_of(junk_text, pathish))
def test_any_bad_model_text(work, model):
    assume(not _registry_like(model))
    out = work / "m-out"
    _check(cli("run", f"--model={model}", "--out", out, "-q"))
    _nothing_written(out)


@fuzz(150)
@given(tasks=st.lists(st.text(alphabet=string.ascii_lowercase + ", _-", max_size=30), min_size=1, max_size=3))
def test_any_bad_task_list(work, tasks):
    from alloybench.tasks import TASKS

    names = [n.strip() for raw in tasks for n in raw.split(",") if n.strip()]
    assume(not names or any(n not in TASKS for n in names))
    out = work / "t-out"
    args = ["run", "--model", "emt", "--out", out, "-q"]
    for t in tasks:
        args += ["--tasks", t]
    _check(cli(*args))
    _nothing_written(out)


@fuzz(100)
@given(elements=st.text(alphabet=string.ascii_letters + ", 0", max_size=20))
def test_any_bad_element_list(work, elements):
    from ase.data import chemical_symbols

    from alloybench.models import EMT_ELEMENTS

    chosen = {e.strip() for e in elements.split(",") if e.strip()}
    assume(not (chosen and chosen <= set(chemical_symbols[1:]) and chosen <= EMT_ELEMENTS
                and chosen & {"Al", "Cu"}))
    out = work / "e-out"
    _check(cli("run", "--model", "emt", "--elements", elements, "--out", out, "-q"))
    _nothing_written(out)


@fuzz(100)
@given(flag=st.sampled_from(["--tier", "--job-timeout", "--engine"]), value=junk_text)
def test_any_bad_option_value(work, flag, value):
    if flag == "--tier":
        assume(value not in ("quick", "standard", "full"))
    if flag == "--engine":
        assume(value not in ("serial", "batched"))
    if flag == "--job-timeout":
        try:
            assume(not float(value) > 0 or float(value) != float(value))
        except ValueError:
            pass
    out = work / "o-out"
    _check(cli("run", "--model", "emt", f"{flag}={value}", "--out", out, "-q"), one_line=False)
    _nothing_written(out)


@fuzz(100)
@given(kind=st.sampled_from(["under-file", "long", "file"]), name=st.text(alphabet=string.ascii_letters + "._-",
                                                                         min_size=1, max_size=40))
def test_any_unusable_out(work, kind, name):
    afile = work / "plain-file"
    afile.write_text("x")
    target = {"under-file": afile / name, "long": work / (name * (256 // len(name) + 1)), "file": afile}[kind]
    _check(cli("run", "--model", "emt", "--elements", "Al", "--tasks", "bulk", "--out", target, "-q"))
    assert afile.read_text() == "x"


# --------------------------------------------------------------------------------- model files
KEYS = ["family", "name", "version", "training_data", "licence", "notes", "elements", "weights", "model",
        "options", "pair_style", "pair_coeff", "files", "masses", "commands", "units"]
scalars = st.one_of(st.none(), st.booleans(), st.integers(), st.floats(allow_nan=True), st.text(max_size=30),
                    st.sampled_from(["mace", "eam", "sevennet", "lammps", "Al", "Cu", "* * pot Al", "adir", "x.model"]))
values = st.recursive(scalars, lambda inner: st.one_of(st.lists(inner, max_size=4),
                                                       st.dictionaries(st.text(max_size=8), inner, max_size=4)),
                      max_leaves=10)
docs = st.dictionaries(st.one_of(st.sampled_from(KEYS), st.text(max_size=10)), values, min_size=0, max_size=6)


def _could_be_valid(doc) -> bool:
    from alloybench.models import REGISTRY

    if not isinstance(doc, dict):
        return False
    if doc.get("family") == "classical" or (isinstance(doc.get("model"), str) and doc["model"].lower() in REGISTRY):
        return True
    return doc.get("family") == "lammps" or bool(doc.get("pair_style"))  and not doc.get("family")


@fuzz(250)
@given(doc=docs, suffix=st.sampled_from([".json", ".yaml"]))
def test_any_malformed_model_file(work, doc, suffix):
    assume(not _could_be_valid(doc))
    (work / "adir").mkdir(exist_ok=True)
    (work / "x.model").write_text("not a model")
    mf = work / f"model{suffix}"
    if suffix == ".json":
        mf.write_text(json.dumps(doc, default=str))
    else:
        import yaml

        mf.write_text(yaml.safe_dump(doc))
    out = work / "mf-out"
    _check(cli("run", "--model", mf, "--out", out, "-q"))
    _nothing_written(out)


@fuzz(100)
@given(raw=st.binary(max_size=400), suffix=st.sampled_from([".json", ".yaml", ".yml"]))
def test_any_garbage_model_file(work, raw, suffix):
    mf = work / f"garbage{suffix}"
    mf.write_bytes(raw)
    try:
        import yaml

        doc = json.loads(raw) if suffix == ".json" else yaml.safe_load(raw)
    except Exception:  # noqa: BLE001
        doc = None
    assume(not _could_be_valid(doc))
    out = work / "g-out"
    _check(cli("run", "--model", mf, "--out", out, "-q"))
    _nothing_written(out)


# --------------------------------------------------------------------------------- potential files (text)
@fuzz(100)
@given(lines=st.lists(st.text(alphabet=string.printable, max_size=40), max_size=8),
       suffix=st.sampled_from([".eam.alloy", ".eam.fs", ".eam", ".yace", ".adp"]))
def test_any_garbage_potential_file(work, lines, suffix):
    pot = work / f"pot{suffix}"
    pot.write_text("\n".join(lines))
    out = work / "p-out"
    _check(cli("run", "--model", pot, "--out", out, "-q"))
    _nothing_written(out)


# --------------------------------------------------------------------------------- stores and results files
@fuzz(100)
@given(raw=st.one_of(st.binary(max_size=2000), st.binary(max_size=200).map(lambda b: b"SQLite format 3\x00" + b)))
def test_any_garbage_store(work, raw):
    d = work / "store-garbage"
    d.mkdir(exist_ok=True)
    (d / "results.sqlite").write_bytes(raw)
    _check(cli("report", d))
    assert (d / "results.sqlite").read_bytes() == raw  # never written


@pytest.fixture(scope="module")
def real_store(work):
    out = work / "real"
    r = cli("run", "--model", "emt", "--elements", "Al", "--tasks", "bulk", "--out", out, "-q")
    assert r.exit_code == 0, r.output
    return out


@fuzz(40)
@given(seed=st.integers(0, 2**32 - 1), n=st.integers(1, 64))
def test_any_damaged_real_store_is_reported_not_crashed(work, real_store, seed, n):
    d = work / "store-mutated"
    d.mkdir(exist_ok=True)
    raw = bytearray((real_store / "results.sqlite").read_bytes())
    rng = random.Random(seed)
    for _ in range(n):
        raw[rng.randrange(len(raw))] = rng.randrange(256)
    (d / "results.sqlite").write_bytes(bytes(raw))
    r = cli("report", d)
    COUNT["n"] += 1
    assert r.exception is None or isinstance(r.exception, SystemExit), repr(r.exception)
    assert r.exit_code in (0, 2) and "Traceback" not in r.output  # a flip in unused space may leave it valid
    assert (d / "results.sqlite").read_bytes() == bytes(raw)


@fuzz(80)
@given(table=st.sampled_from(["runs", "results", "costs"]), column=st.sampled_from(["info", "result", "doc", "tasks"]),
       value=st.one_of(st.text(max_size=40), st.integers(-2**63, 2**63 - 1), st.just("{}"), st.just('{"tasks": 3, "tier": "x"}'),
                       st.just("[1, 2]"), st.just('{"tasks": ["bulk"], "tier": "quick"}')))
def test_any_odd_row_in_a_store(work, real_store, table, column, value):
    d = work / "store-rows"
    shutil.rmtree(d, ignore_errors=True)
    shutil.copytree(real_store, d)
    (d / "results.json").unlink()
    db = sqlite3.connect(d / "results.sqlite")
    cols = {r[1] for r in db.execute(f"PRAGMA table_info({table})")}
    assume(column in cols)
    db.execute(f"UPDATE {table} SET {column} = ?", (value,))
    db.commit()
    db.close()
    r = cli("report", d)
    COUNT["n"] += 1
    assert r.exception is None or isinstance(r.exception, SystemExit), repr(r.exception)
    assert r.exit_code in (0, 2) and "Traceback" not in r.output


results_values = st.recursive(scalars, lambda inner: st.one_of(st.lists(inner, max_size=3),
                                                               st.dictionaries(st.text(max_size=6), inner,
                                                                               max_size=3)), max_leaves=12)


@fuzz(150)
@given(doc=st.one_of(results_values,
                     st.fixed_dictionaries({"alloybench_results": st.integers(), "model": results_values,
                                            "score": results_values, "metrics": results_values})))
def test_any_malformed_results_file(work, doc):
    d = work / "results-only"
    d.mkdir(exist_ok=True)
    (d / "results.json").write_text(json.dumps(doc, default=str))
    _check(cli("report", d))


@fuzz(60)
@given(seed=st.integers(0, 2**32 - 1))
def test_any_mutated_real_results_file(work, real_store, seed):
    doc = json.loads((real_store / "results.json").read_text())
    rng = random.Random(seed)
    paths = []

    def walk(node, trail):
        if isinstance(node, dict):
            for k, v in node.items():
                paths.append(trail + [k])
                walk(v, trail + [k])
        elif isinstance(node, list):
            for i, v in enumerate(node[:5]):
                paths.append(trail + [i])
                walk(v, trail + [i])

    walk(doc, [])
    for _ in range(rng.randint(1, 3)):
        p = rng.choice(paths)
        node = doc
        try:
            for k in p[:-1]:
                node = node[k]
            node[p[-1]] = rng.choice([None, 3, -1.5, "x", [], {}, True, [None], {"a": 1}])
        except (KeyError, IndexError, TypeError):
            pass
    d = work / "results-mutated"
    d.mkdir(exist_ok=True)
    (d / "results.json").write_text(json.dumps(doc))
    r = cli("report", d)
    COUNT["n"] += 1
    assert r.exception is None or isinstance(r.exception, SystemExit), repr(r.exception)
    assert r.exit_code in (0, 2) and "Traceback" not in r.output


def test_zz_count_of_generated_inputs():
    """Runs last in this module: how many inputs the properties above tried (>= 1000 in CI)."""
    if COUNT["n"] == 0:
        pytest.skip("run with the whole module")
    print(f"\ngenerated inputs tried: {COUNT['n']}")
    assert COUNT["n"] >= 1000 * min(SCALE, 1) * 0.9
