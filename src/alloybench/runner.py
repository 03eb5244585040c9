"""Drives tasks, an engine and the store: build -> execute what is not stored -> analyse.

Rounds: each task's ``build`` sees the results known so far and may return
new Jobs that depend on them (strains of a relaxed cell).  All pending Jobs of
all tasks in a round go to the engine together, deduplicated by digest, so a
relaxation several tasks need runs once and an engine may batch a round.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace

from alloybench import policy
from alloybench.jobs import Job, Result
from alloybench.models import Model
from alloybench.reference import Reference
from alloybench.engine.limits import should_retry
from alloybench.store import RECURRED, Store, is_transient
from alloybench.tasks.base import Context, Metric, Task, Tier

MAX_ROUNDS = 12

# progress(event, payload): "round" (jobs list) then "job" (job, result) per Job
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
    (the rule before alloybench.policy; kept to show what the policy changes)."""
    ctx = Context(reference=reference, tier=tier, elements=model.elements)
    known: dict[str, Result] = {}
    raw: dict[str, Result] = {}  # as stored, before the policy

    def usable(job: Job, result: Result) -> Result:
        raw[job.digest] = result
        return policy.apply(job, result) if accept_unconverged else result

    built: dict[str, list[Job]] = {}
    out = RunOutcome(metrics=[])
    retry: set[str] = set()
    limits = getattr(engine, "limits", None) if engine is not None else None
    beyond: dict[str, Job] = {}
    for round_no in range(1, MAX_ROUNDS + 1):
        # build until the store adds nothing new: a resumed run then hands the engine every
        # Job that is ready at once, instead of a round of the first stage's leftovers first
        while True:
            views = _views(tasks, ctx, known, built)
            pending: dict[str, Job] = {}
            found = 0
            for task in tasks:
                jobs = task.build(ctx, views[task.name])
                built[task.name] = jobs
                for job in jobs:
                    if job.digest in known or job.digest in pending:
                        continue
                    stored = store.get(model.id, job)
                    if stored is not None and engine is not None and is_transient(stored):
                        retry.add(job.digest)  # out of device memory last time: compute again, once
                        pending[job.digest] = job
                    elif stored is not None and limits is not None and should_retry(stored, limits.seconds(job)):
                        pending[job.digest] = job  # timed out under a shorter limit than it has now
                    elif stored is not None:
                        known[job.digest] = usable(job, stored)
                        out.reused += 1
                        found += 1
                    else:
                        pending[job.digest] = job
            if not found:
                break
        if not pending or engine is None:  # engine None: analyse stored results only
            break
        out.rounds = round_no
        todo = sorted(pending.values(), key=lambda j: (j.task, j.name))
        if progress:
            progress("round", todo)
        for job, result in engine.run(todo):
            if job.digest in retry and is_transient(result):
                result = replace(result, reason=result.reason + RECURRED)
            store.put(model.id, job, result)
            known[job.digest] = usable(job, result)
            out.computed += 1
            if progress:
                progress("job", (job, result))
    else:  # MAX_ROUNDS used up: whatever the tasks still ask for is missing, not silently dropped
        views = _views(tasks, ctx, known, built)
        for task in tasks:
            for job in task.build(ctx, views[task.name]):
                if job.digest not in known and store.get(model.id, job) is None:
                    beyond[job.digest] = job
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
