"""Drives tasks, an engine and the store: build -> execute what is not stored -> analyse.

Each task advances on its own.  A task's ``build`` sees the results of the Jobs it
built so far and may return new Jobs that depend on them (strains of a relaxed
cell); once every Job a task waits for is finished, it is built again and its new
Jobs go to the engine at once, while other tasks' Jobs still run: no task waits
for another's, only for its own Jobs.  Jobs are deduplicated by digest across
tasks: a relaxation several tasks need runs once, and each of them waits for it.
The engine is driven as a stream (``alloybench.engine.stream``): the Dask engine
takes new Jobs while it runs; the others (serial, batched) keep rounds, the Jobs
that became ready during a round forming the next one, so a batched engine still
receives a whole round at once.  What is stored does not depend on the order: a
task's builds see the same results either way (all of its own Jobs finished).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace

from alloybench import policy
from alloybench.jobs import Job, Result
from alloybench.models import Model
from alloybench.reference import Reference
from alloybench.engine.limits import should_retry
from alloybench.engine.stream import RoundStream, round_order, stream_for
from alloybench.store import RECURRED, Store, is_transient
from alloybench.tasks.base import Context, Metric, Task, Tier

MAX_ROUNDS = 12  # builds a task may wait on (its depth); what it asks for beyond is missing

# progress(event, payload): "round" (a list of Jobs handed to the engine: a task's new
# Jobs, or several tasks') and "job" ((job, result)) per Job finished
Progress = Callable[[str, object], None]


@dataclass
class RunOutcome:
    metrics: list[Metric]
    computed: int = 0
    reused: int = 0
    rounds: int = 0
    failures: list[dict] = field(default_factory=list)
    flagged: list[dict] = field(default_factory=list)  # unconverged relaxations accepted (alloybench.policy)
    jobs: list[Job] = field(default_factory=list)  # every Job built, once
    raw: dict[str, Result] = field(default_factory=dict)  # digest -> result as stored (before the policy)
    # Jobs built but never computed (an analysis of an interrupted run's store): at least these
    # are missing; Jobs that would depend on them are not even built yet
    missing: list[dict] = field(default_factory=list)
    views: dict[str, dict[str, Result]] = field(default_factory=dict)  # task -> job name -> result, as analysed

    @property
    def complete(self) -> bool:
        return not self.missing


def _views(tasks: list[Task], ctx: Context, known: dict[str, Result],
           built: dict[str, list[Job]]) -> dict[str, dict[str, Result]]:
    return {t.name: {j.name: known[j.digest] for j in built.get(t.name, []) if j.digest in known} for t in tasks}


def _flag_dependents(task: Task, ctx: Context, view: dict[str, Result], raw: dict[str, Result],
                     metrics: list[Metric]) -> list[Metric]:
    """Flag every ok metric that depends on an accepted unconverged relaxation: the metrics
    that analysing without that Job (its raw, failed result) no longer gives as ok."""
    accepted = sorted(n for n, r in view.items() if policy.is_accepted(r))
    if not accepted:
        return metrics
    ident = lambda m: (m.key, m.series, m.x)  # noqa: E731
    notes: dict[tuple, list[str]] = {}
    for name in accepted:
        alt = dict(view)
        alt[name] = raw[name]
        still = {ident(m): m.status for m in task.analyse(ctx, alt)}
        for m in metrics:
            if m.status == "ok" and still.get(ident(m)) != "ok":
                left = policy.residual_force_text(view[name])
                notes.setdefault(ident(m), []).append(f"{name}{left}")
    out = []
    for m in metrics:
        if ident(m) in notes:
            text = "unconverged relaxation accepted: " + ", ".join(notes[ident(m)])
            m = replace(m, flag=f"{m.flag}; {text}" if m.flag else text)
        out.append(m)
    return out


def run_tasks(model: Model, tasks: list[Task], tier: Tier, reference: Reference, store: Store, engine,
              progress: Progress | None = None, accept_unconverged: bool = True) -> RunOutcome:
    """``accept_unconverged`` False: every relaxation that stopped above its fmax is a failure
    (the rule before alloybench.policy; kept to show what the policy changes).  ``engine``
    None: analyse the stored results only.  ``out.rounds``: the deepest task's number of
    builds that waited on Jobs (with a round-keeping engine, the rounds run)."""
    ctx = Context(reference=reference, tier=tier, elements=model.elements)
    known: dict[str, Result] = {}
    raw: dict[str, Result] = {}  # as stored, before the policy
    from_store: set[str] = set()  # digests known from the store (not computed in this run)

    def usable(job: Job, result: Result) -> Result:
        raw[job.digest] = result
        return policy.apply(job, result) if accept_unconverged else result

    built: dict[str, list[Job]] = {}
    out = RunOutcome(metrics=[])
    retry: set[str] = set()
    limits = getattr(engine, "limits", None) if engine is not None else None
    beyond: dict[str, Job] = {}
    by_name = {t.name: t for t in tasks}
    depth = {t.name: 0 for t in tasks}
    waits: dict[str, set[str]] = {t.name: set() for t in tasks}  # task -> digests it waits for
    waiters: dict[str, set[str]] = {}  # digest -> tasks waiting for it
    submitted: dict[str, Job] = {}  # handed to the engine, not finished yet
    # the Job a digest is stored under (its task and name columns): the one built at the
    # lowest step, then by the first task in order, whenever the tasks got there, so the
    # store is what the rounds of a global barrier wrote (see the end)
    order = {t.name: i for i, t in enumerate(tasks)}
    owner: dict[str, tuple[int, int, Job]] = {}
    stored_as: dict[str, tuple[Job, Result]] = {}

    def advance(task: Task) -> list[Job]:
        """Build ``task`` until it waits for Jobs not finished (returned: those to submit)
        or is complete.  Like a resumed run's rounds: build again while the store adds
        results, so every Job that is ready goes to the engine at once."""
        tried: set[frozenset[str]] = set()  # views built from in this call (a task that oscillates stops)
        while True:
            before = built.get(task.name, [])
            in_view = {j.digest for j in before if j.digest in known}
            tried.add(frozenset(in_view))
            jobs = task.build(ctx, {j.name: known[j.digest] for j in before if j.digest in known})
            built[task.name] = jobs
            rank = (depth[task.name] + 1, order[task.name])
            for job in jobs:
                if job.digest not in owner or rank < owner[job.digest][:2]:
                    owner[job.digest] = (*rank, job)
            new: dict[str, Job] = {}
            wait: set[str] = set()
            found = False
            for job in jobs:
                d = job.digest
                if d in known or d in new:
                    continue
                if d in submitted:
                    wait.add(d)
                    continue
                stored = store.get(model.id, job)
                if stored is not None and engine is not None and is_transient(stored):
                    retry.add(d)  # out of device memory last time: compute again, once
                    new[d] = job
                elif stored is not None and limits is not None and should_retry(stored, limits.seconds(job)):
                    new[d] = job  # timed out under a shorter limit than it has now
                elif stored is not None:
                    known[d] = usable(job, stored)
                    from_store.add(d)
                    out.reused += 1
                    found = True
                else:
                    new[d] = job
            nxt = {j.digest for j in jobs if j.digest in known}
            stale = nxt - in_view if frozenset(nxt) not in tried else set()
            if found or stale & from_store:
                continue  # the store (here, or found for another task) gave results: build again
            if not new and not wait:
                if stale:
                    continue  # all it asked for is finished (computed for another task): build again
                return []  # complete
            if engine is None:
                return []  # analyse only: what is not stored stays missing
            if depth[task.name] >= MAX_ROUNDS:  # used up: what it still asks for is missing, not dropped
                beyond.update(new)
                return []
            depth[task.name] += 1
            out.rounds = max(out.rounds, depth[task.name])
            wait |= set(new)
            waits[task.name] = wait
            for d in wait:
                waiters.setdefault(d, set()).add(task.name)
            submitted.update(new)
            return sorted(new.values(), key=round_order)

    first = [job for task in tasks for job in advance(task)]
    if first and engine is not None:
        stream = stream_for(engine)
        by_round = isinstance(stream, RoundStream)
        if by_round and progress:
            stream.announce = lambda jobs: progress("round", jobs)  # a round as it starts, as before

        def hand(stream, jobs: list[Job]) -> None:
            if jobs:
                if progress and not by_round:
                    progress("round", jobs)
                stream.submit(jobs)

        try:
            hand(stream, sorted(first, key=round_order))
            for job, result in stream:
                d = job.digest
                if d not in submitted:
                    continue  # not asked for (an engine's stray answer)
                del submitted[d]
                if d in retry and is_transient(result):
                    result = replace(result, reason=result.reason + RECURRED)
                store.put(model.id, job, result)
                stored_as[d] = (job, result)
                known[d] = usable(job, result)
                out.computed += 1
                if progress:
                    progress("job", (job, result))
                ready: list[Job] = []
                for name in sorted(waiters.pop(d, ())):
                    waits[name].discard(d)
                    if not waits[name]:
                        ready.extend(advance(by_name[name]))
                hand(stream, ready)
        finally:
            stream.close()
    for d, (job, result) in stored_as.items():  # a shared Job stored under another task's name first
        canon = owner[d][2]
        if (canon.task, canon.name) != (job.task, job.name):
            store.put(model.id, canon, result)
    if beyond:  # MAX_ROUNDS used up: whatever those tasks still ask for is missing
        beyond = {d: j for d, j in beyond.items() if d not in known and store.get(model.id, j) is None}
    views = _views(tasks, ctx, known, built)
    out.views = views
    for task in tasks:
        metrics = task.analyse(ctx, views[task.name])
        raw_view = {j.name: raw[j.digest] for j in built.get(task.name, []) if j.digest in raw}
        out.metrics.extend(_flag_dependents(task, ctx, views[task.name], raw_view, metrics))
    jobs_known = {j.digest: j for jobs in built.values() for j in jobs if j.digest in known}
    out.jobs = list({j.digest: j for jobs in built.values() for j in jobs}.values())
    out.raw = raw
    out.failures = [
        {"task": j.task, "name": j.name, "stage": known[d].stage, "reason": known[d].reason}
        for d, j in jobs_known.items() if not known[d].ok
    ]
    out.flagged = [
        {"task": j.task, "name": j.name, "stage": "relax", "reason": known[d].reason}
        for d, j in jobs_known.items() if policy.is_accepted(known[d])
    ]
    absent = {j.digest: j for jobs in built.values() for j in jobs if j.digest not in known} | beyond
    out.missing = [{"task": j.task, "name": j.name} for j in sorted(absent.values(), key=lambda j: (j.task, j.name))]
    return out
