"""SQLite store: every Job result keyed by digest(model, job), with provenance.

One row per (model, job) written in its own transaction, so an interrupted
run keeps everything finished before the interruption and a re-run skips it.
Failures are rows like successes (ok = 0, with stage and reason).
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
import time
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from alloybench.jobs import Job, Result

# device-resource errors: the card's memory was exhausted (cuSOLVER/cuBLAS report it
# as a failed handle creation or allocation), usually by another process sharing it
TRANSIENT_MARKERS = ("out of memory", "outofmemoryerror", "cusolverdncreate", "cublas_status_alloc_failed")
# appended to a transient failure that recurred when computed again: then it is the
# Job's own (a cell too big for the card), kept like any failure, never retried again
RECURRED = " [recurred when computed again: kept]"


def is_transient(result: Result) -> bool:
    """A failure that may say nothing about the model: the device ran out of resources,
    and it has not yet recurred on a second attempt.  The runner computes these again."""
    reason = (result.reason or "").lower()
    return not result.ok and RECURRED.lower() not in reason and any(m in reason for m in TRANSIENT_MARKERS)


SCHEMA = """
CREATE TABLE IF NOT EXISTS results (
    key TEXT PRIMARY KEY,
    model TEXT NOT NULL,
    job_digest TEXT NOT NULL,
    task TEXT NOT NULL,
    name TEXT NOT NULL,
    n_atoms INTEGER NOT NULL,
    ok INTEGER NOT NULL,
    stage TEXT,
    reason TEXT,
    seconds REAL,
    result TEXT NOT NULL,
    created REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS results_model ON results(model);
CREATE TABLE IF NOT EXISTS costs (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    model TEXT NOT NULL,
    device TEXT,
    created REAL NOT NULL,
    doc TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS runs (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    model TEXT NOT NULL,
    started REAL NOT NULL,
    finished REAL,
    info TEXT NOT NULL
);
"""


def result_key(model_id: str, job: Job) -> str:
    return hashlib.sha256(f"{model_id}|{job.digest}".encode()).hexdigest()[:32]


class Store:
    def __init__(self, path: str | Path):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(self.path)
        self._db.executescript(SCHEMA)
        self._db.commit()

    def close(self) -> None:
        self._db.close()

    def __enter__(self) -> "Store":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def get(self, model_id: str, job: Job) -> Result | None:
        row = self._db.execute("SELECT result FROM results WHERE key = ?", (result_key(model_id, job),)).fetchone()
        return Result.from_dict(json.loads(row[0])) if row else None

    def get_many(self, model_id: str, jobs: Iterable[Job]) -> dict[str, Result]:
        """job digest -> Result for the stored ones."""
        out: dict[str, Result] = {}
        for job in jobs:
            r = self.get(model_id, job)
            if r is not None:
                out[job.digest] = r
        return out

    def put(self, model_id: str, job: Job, result: Result) -> None:
        with self._db:  # one transaction per result: atomic, resumable
            self._db.execute(
                "INSERT OR REPLACE INTO results VALUES (?,?,?,?,?,?,?,?,?,?,?,?)",
                (
                    result_key(model_id, job), model_id, job.digest, job.task, job.name, job.n_atoms,
                    int(result.ok), result.stage, result.reason, result.seconds,
                    json.dumps(result.to_dict()), time.time(),
                ),
            )

    def count(self, model_id: str | None = None) -> int:
        if model_id is None:
            return self._db.execute("SELECT COUNT(*) FROM results").fetchone()[0]
        return self._db.execute("SELECT COUNT(*) FROM results WHERE model = ?", (model_id,)).fetchone()[0]

    def failures(self, model_id: str) -> list[dict[str, Any]]:
        rows = self._db.execute(
            "SELECT task, name, stage, reason FROM results WHERE model = ? AND ok = 0 ORDER BY task, name", (model_id,)
        ).fetchall()
        return [dict(zip(("task", "name", "stage", "reason"), r)) for r in rows]

    def time_by_task(self, model_id: str) -> dict[str, tuple[int, float]]:
        rows = self._db.execute(
            "SELECT task, COUNT(*), SUM(seconds) FROM results WHERE model = ? GROUP BY task", (model_id,)
        ).fetchall()
        return {t: (n, s or 0.0) for t, n, s in rows}

    def put_cost(self, model_id: str, doc: dict[str, Any]) -> None:
        """A cost measurement (alloybench.cost.measure_cost) of a model, kept with its results."""
        with self._db:
            self._db.execute("INSERT INTO costs (model, device, created, doc) VALUES (?,?,?,?)",
                             (model_id, doc.get("device"), time.time(), json.dumps(doc)))

    def latest_cost(self, model_id: str | None = None) -> dict[str, Any] | None:
        sql = "SELECT doc FROM costs" + (" WHERE model = ?" if model_id else "") + " ORDER BY id DESC LIMIT 1"
        row = self._db.execute(sql, (model_id,) if model_id else ()).fetchone()
        return json.loads(row[0]) if row else None

    def start_run(self, model_id: str, info: dict[str, Any]) -> int:
        with self._db:
            cur = self._db.execute("INSERT INTO runs (model, started, info) VALUES (?,?,?)",
                                   (model_id, time.time(), json.dumps(info)))
        return int(cur.lastrowid)

    def finish_run(self, run_id: int, info: dict[str, Any]) -> None:
        with self._db:
            self._db.execute("UPDATE runs SET finished = ?, info = ? WHERE id = ?", (time.time(), json.dumps(info), run_id))

    def runs(self) -> list[dict[str, Any]]:
        rows = self._db.execute("SELECT id, model, started, finished, info FROM runs ORDER BY id").fetchall()
        return [dict(id=i, model=m, started=s, finished=f, info=json.loads(info)) for i, m, s, f, info in rows]
