"""run_tasks lets each task advance on its own (issue 16): a task's next Jobs go to the
engine as soon as the Jobs it waits for are finished, not when every task's round is;
Jobs shared by tasks run once; engines without a stream keep rounds.

A fake streaming engine with as many workers as Jobs: each Job finishes its
``duration`` after it was submitted (simulated time), so the order in which Results
come back, and the time a run takes, follow from when the runner submitted them."""

from __future__ import annotations

import heapq
from collections.abc import Mapping

from ase.build import bulk

from alloybench.engine.stream import RoundStream
from alloybench.jobs import Job, Result, Structure
from alloybench.models import Model
from alloybench.runner import MAX_ROUNDS, run_tasks
from alloybench.tasks.base import Context, Metric, Task


def job(task: str, name: str, a: float) -> Job:
    return Job(task=task, name=name, structure=Structure.from_atoms(bulk("Al", "fcc", a=a)))


class Chain(Task):
    """Step k+1 is built from step k's results: Jobs (name, lattice, duration) per step."""

    def __init__(self, name: str, steps: list[list[tuple[str, float]]]):
        self.name = name
        self.steps = steps

    def build(self, ctx: Context, results: Mapping[str, Result]) -> list[Job]:
        out: list[Job] = []
        for step in self.steps:
            jobs = [job(self.name, n, a) for n, a in step]
            out.extend(jobs)
            if not all(j.name in results for j in jobs):
                break
        return out

    def analyse(self, ctx: Context, results: Mapping[str, Result]) -> list[Metric]:
        return [Metric(task=self.name, item="all", name="done", group="g", unit="", value=float(len(results)),
                       reference=None)]


class Endless(Task):
    """Asks for one more Job after every result: stopped by MAX_ROUNDS."""

    name = "endless"

    def build(self, ctx: Context, results: Mapping[str, Result]) -> list[Job]:
        return [job(self.name, f"j{i}", 4.0 + 0.01 * i) for i in range(len(results) + 1)]

    def analyse(self, ctx, results):
        return []


DURATION: dict[float, float] = {}  # lattice constant -> seconds (the fake engine's clock)


class SimStream:
    """Unlimited workers: a Job submitted at t finishes at t + its duration."""

    def __init__(self):
        self.now = 0.0
        self.heap: list[tuple[float, int, Job]] = []
        self.submissions: list[tuple[float, list[str]]] = []
        self.rounds = 0
        self._n = 0

    def submit(self, jobs):
        jobs = list(jobs)
        self.submissions.append((self.now, [j.name for j in jobs]))
        for j in jobs:
            a = round(j.structure.to_atoms().cell.lengths()[0] * 2 ** 0.5, 6)
            self._n += 1
            heapq.heappush(self.heap, (self.now + DURATION[a], self._n, j))

    def __iter__(self):
        while self.heap:
            self.now, _, j = heapq.heappop(self.heap)
            yield j, Result(ok=True, energy=-1.0, seconds=0.0)

    def close(self):
        pass


class SimEngine:
    name = "sim"

    def __init__(self):
        self.streams: list[SimStream] = []
        self.rounds: list[list[str]] = []

    def stream(self):
        s = SimStream()
        self.streams.append(s)
        return s

    def run(self, jobs):  # what RoundStream calls: one round, every Job at once
        self.rounds.append([j.name for j in jobs])
        for j in jobs:
            yield j, Result(ok=True, energy=-1.0, seconds=0.0)


class RoundsOnly:
    """The same engine without a stream: the runner keeps rounds."""

    name = "rounds"

    def __init__(self):
        self.inner = SimEngine()

    def run(self, jobs):
        return self.inner.run(jobs)


MODEL = Model(id="sim@test", name="sim", family="classical", elements=frozenset({"Al"}), make_calculator=None)


def tasks() -> list[Task]:
    # A: a slow relaxation, then its strains; B: a quick one, then its strains, then a third
    # step; both share the relaxation "shared" of their second step (same structure)
    DURATION.update({4.00: 10.0, 4.01: 1.0, 4.02: 1.0, 4.03: 1.0, 4.04: 1.0, 4.05: 1.0, 4.06: 2.0})
    a = Chain("A", [[("slow", 4.00)], [("a-strain", 4.01), ("shared", 4.05)]])
    b = Chain("B", [[("quick", 4.02)], [("b-strain", 4.03), ("shared", 4.05)], [("b-last", 4.04)]])
    c = Chain("C", [[("alone", 4.06)]])
    return [a, b, c]


def test_a_task_advances_without_waiting_for_the_others(store, reference):
    engine = SimEngine()
    out = run_tasks(MODEL, tasks(), "quick", reference, store, engine)
    (s,) = engine.streams
    # B's second step goes in at t = 1 (its quick Job done), its third at t = 2, while A's
    # slow relaxation (10 s) still runs; A's second step at t = 10
    assert s.submissions == [(0.0, ["slow", "quick", "alone"]), (1.0, ["b-strain", "shared"]),
                             (2.0, ["b-last"]), (10.0, ["a-strain"])]
    assert s.now == 11.0  # the critical path (slow 10 + a-strain 1), not the sum of round maxima
    assert out.computed == 7 and out.reused == 0  # "shared" ran once, for A and B
    assert out.rounds == 3 and not out.missing and not out.failures
    assert {m.task: m.value for m in out.metrics} == {"A": 3.0, "B": 4.0, "C": 1.0}
    assert store.count() == 7
    # "shared" went in as B's (B got there first) but is stored as A's, the first task building
    # it at that step: the row a global barrier's round 2 wrote
    assert rows(store.path)["shared"] == "A"


def rows(path) -> dict[str, str]:
    import sqlite3

    db = sqlite3.connect(path)
    try:
        return {name: task for task, name in db.execute("SELECT task, name FROM results")}
    finally:
        db.close()


def test_an_engine_without_a_stream_keeps_rounds_with_the_same_results(tmp_path, reference):
    from alloybench.store import Store

    with Store(tmp_path / "a.sqlite") as st:
        streamed = run_tasks(MODEL, tasks(), "quick", reference, st, SimEngine())
    engine = RoundsOnly()
    with Store(tmp_path / "b.sqlite") as st:
        rounds = run_tasks(MODEL, tasks(), "quick", reference, st, engine)
    # the rounds of a global barrier, each sorted by (task, name), as before
    assert engine.inner.rounds == [["slow", "quick", "alone"], ["a-strain", "shared", "b-strain"], ["b-last"]]
    assert rounds.rounds == 3 and rounds.computed == streamed.computed == 7
    assert [m.to_dict() for m in rounds.metrics] == [m.to_dict() for m in streamed.metrics]
    assert rows(tmp_path / "a.sqlite") == rows(tmp_path / "b.sqlite")
    events = []
    with Store(tmp_path / "c.sqlite") as st:
        run_tasks(MODEL, tasks(), "quick", reference, st, RoundsOnly(),
                  progress=lambda ev, p: events.append((ev, len(p) if ev == "round" else None)))
    assert [e for e in events if e[0] == "round"] == [("round", 3), ("round", 3), ("round", 1)]  # one per round


def test_a_resumed_run_reuses_and_hands_every_ready_job_at_once(store, reference):
    first = SimEngine()
    run_tasks(MODEL, tasks()[:1], "quick", reference, store, first)  # A alone, finished
    engine = SimEngine()
    out = run_tasks(MODEL, tasks(), "quick", reference, store, engine)
    assert out.reused == 3 and out.computed == 4  # slow, a-strain, shared stored; B's and C's Jobs computed
    (s,) = engine.streams
    # "shared" is stored, so B's second step waits for "quick" and "b-strain" only
    assert s.submissions[0] == (0.0, ["quick", "alone"])
    assert s.submissions[1] == (1.0, ["b-strain"])


def test_a_task_past_max_rounds_leaves_the_rest_missing(store, reference):
    DURATION.update({round(4.0 + 0.01 * i, 6): 1.0 for i in range(MAX_ROUNDS + 2)})
    out = run_tasks(MODEL, [Endless()], "quick", reference, store, SimEngine())
    assert out.computed == MAX_ROUNDS and out.rounds == MAX_ROUNDS
    assert out.missing == [{"task": "endless", "name": f"j{MAX_ROUNDS}"}]


def test_round_stream_runs_what_is_submitted_during_a_round_as_the_next():
    engine = SimEngine()
    s = RoundStream(engine)
    s.submit([job("t", "x", 4.0)])
    seen = []
    for j, _ in s:
        seen.append(j.name)
        if j.name == "x":
            s.submit([job("t", "z", 4.2), job("t", "y", 4.1)])
    assert seen == ["x", "y", "z"] and engine.rounds == [["x"], ["y", "z"]] and s.rounds == 2
