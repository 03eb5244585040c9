"""SQLite store: every Job result keyed by digest(model, job), with provenance.

One row per (model, job) written in its own transaction, so an interrupted
run keeps everything finished before the interruption and a re-run skips it.
Failures are rows like successes (ok = 0, with stage and reason).

File format.  A store is a SQLite file that alloybench created: its header carries
``PRAGMA application_id = APPLICATION_ID`` and ``PRAGMA user_version = SCHEMA_VERSION``.
Opening one

- refuses a file alloybench did not create (another program's SQLite database, an
  empty file, anything that is not SQLite) with one line and never writes to it;
- refuses a store of a newer schema (written by a newer alloybench) instead of
  guessing at it;
- migrates an older one in place (schema 0: the stores of alloybench before the
  schema was versioned, recognised by their exact tables; read-only opens, such as
  ``alloybench report``, read them as they are and write nothing);
- runs ``PRAGMA integrity_check`` and reports a damaged file as such, with the fix.

A new store is built under a temporary name and linked into place only when its
schema is complete, so an interrupted creation never leaves a half-made store.

Journal mode: the default rollback journal (``DELETE``, ``synchronous = FULL``), not
WAL.  The engine's client is the only writer and writes one small transaction per
Job (milliseconds against seconds of compute), so WAL's concurrency buys nothing;
and WAL would cost what matters here: a WAL store is two or three files (a copy or
``gzip`` of ``results.sqlite`` alone can miss committed results still in
``-wal``), it needs shared memory, which network file systems on clusters (NFS,
Lustre) do not provide reliably, and even a read-only open must create ``-shm``,
so committed stores in a read-only checkout could not be reported.
"""

from __future__ import annotations

import hashlib
import json
import os
import sqlite3
import time
from pathlib import Path
from typing import Any

from alloybench.errors import UserError
from alloybench.jobs import Job, Result

# device-resource errors: the card's memory was exhausted (cuSOLVER/cuBLAS report it
# as a failed handle creation or allocation), usually by another process sharing it
TRANSIENT_MARKERS = ("out of memory", "outofmemoryerror", "cusolverdncreate", "cublas_status_alloc_failed")
# appended to a transient failure that recurred when computed again: then it is the
# Job's own (a cell too big for the card), kept like any failure, never retried again
RECURRED = " [recurred when computed again: kept]"

APPLICATION_ID = 0x41427374  # "ABst": marks a SQLite file as an alloybench store
SCHEMA_VERSION = 1
SQLITE_HEADER = b"SQLite format 3\x00"


class StoreError(UserError):
    """A store that cannot be used (foreign, newer, damaged, unwritable): one line, exit 2."""


def is_transient(result: Result) -> bool:
    """A failure that may say nothing about the model: the device ran out of resources,
    and it has not yet recurred on a second attempt.  The runner computes these again."""
    reason = (result.reason or "").lower()
    return not result.ok and RECURRED.lower() not in reason and any(m in reason for m in TRANSIENT_MARKERS)


SCHEMA = """
CREATE TABLE results (
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
CREATE INDEX results_model ON results(model);
CREATE TABLE costs (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    model TEXT NOT NULL,
    device TEXT,
    created REAL NOT NULL,
    doc TEXT NOT NULL
);
CREATE TABLE runs (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    model TEXT NOT NULL,
    started REAL NOT NULL,
    finished REAL,
    info TEXT NOT NULL,
    status TEXT NOT NULL DEFAULT 'running',
    pid INTEGER
);
"""
# the columns each table must have (schema 0 had the same ones, less runs.status/pid)
COLUMNS = {
    "results": {"key", "model", "job_digest", "task", "name", "n_atoms", "ok", "stage", "reason", "seconds", "result",
                "created"},
    "costs": {"id", "model", "device", "created", "doc"},
    "runs": {"id", "model", "started", "finished", "info"},
}
RESULT_COLUMNS = ("key", "model", "job_digest", "task", "name", "n_atoms", "ok", "stage", "reason", "seconds", "result",
                  "created")
FIX = "move it aside and run again to recompute (or restore it from a backup)"


def result_key(model_id: str, job: Job) -> str:
    return hashlib.sha256(f"{model_id}|{job.digest}".encode()).hexdigest()[:32]


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OSError):
        return True
    return True


def _remove_stale_temps(path: Path) -> None:
    """Leftovers of a store creation that was killed: ``.NAME.PID.tmp`` of dead processes."""
    try:
        for tmp in path.parent.glob(f".{path.name}.*.tmp"):
            pid = tmp.name[len(path.name) + 2:-4]
            if pid.isdigit() and not _pid_alive(int(pid)):
                tmp.unlink(missing_ok=True)
    except OSError:
        pass


def _create(path: Path) -> None:
    """Build a complete empty store under a temporary name, then link it into place."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise StoreError(f"cannot create folder {path.parent}: {exc.strerror or exc}") from None
    _remove_stale_temps(path)
    tmp = path.parent / f".{path.name}.{os.getpid()}.tmp"
    try:
        tmp.unlink(missing_ok=True)
        db = sqlite3.connect(tmp, isolation_level=None)
        try:
            db.executescript("BEGIN;" + SCHEMA + f"PRAGMA application_id = {APPLICATION_ID};"
                             f"PRAGMA user_version = {SCHEMA_VERSION}; COMMIT;")
        finally:
            db.close()
        try:
            os.link(tmp, path)  # never replaces a store another process just made
        except FileExistsError:
            pass
        except OSError:  # a file system without hard links
            if not path.exists():
                os.replace(tmp, path)
    except (OSError, sqlite3.Error) as exc:
        raise StoreError(f"cannot create the store {path}: {getattr(exc, 'strerror', None) or exc}") from None
    finally:
        tmp.unlink(missing_ok=True)


class Store:
    """``readonly``: open an existing store for reading only (reports); nothing is written,
    not even a migration."""

    def __init__(self, path: str | Path, readonly: bool = False):
        self.path = Path(path)
        self.readonly = readonly
        self.version = SCHEMA_VERSION
        if self.path.is_dir():
            raise StoreError(f"{self.path} is a folder, not a store: choose another --out")
        if not self.path.exists():
            if readonly:
                raise StoreError(f"no store at {self.path}")
            _create(self.path)
        self._check_header()
        try:
            if readonly:
                self._db = sqlite3.connect(f"{self.path.resolve().as_uri()}?mode=ro", uri=True, timeout=30)
            else:
                self._db = sqlite3.connect(self.path, timeout=30)
        except sqlite3.Error as exc:
            raise StoreError(f"cannot open the store {self.path}: {exc}") from None
        try:
            self._open()
        except StoreError:
            self._db.close()
            raise
        except (sqlite3.DatabaseError, UnicodeDecodeError) as exc:  # sqlite's own message may be undecodable
            self._db.close()
            raise self._damaged(_message(exc)) from None

    # ------------------------------------------------------------------ opening
    def _check_header(self) -> None:
        try:
            with open(self.path, "rb") as fh:
                head = fh.read(len(SQLITE_HEADER))
        except OSError as exc:
            raise StoreError(f"cannot read the store {self.path}: {exc.strerror or exc}") from None
        if not head:
            raise StoreError(f"{self.path} is an empty file, not an alloybench store: alloybench writes only to "
                             f"stores it created; remove it or choose another --out")
        if head != SQLITE_HEADER:
            raise StoreError(f"{self.path} is not an SQLite file (if it was an alloybench store it is damaged: "
                             f"{FIX}); alloybench writes only to stores it created")

    def _damaged(self, detail: str) -> StoreError:
        detail = " ".join(detail.split())[:200]
        return StoreError(f"the store {self.path} is damaged ({detail}): recover what it holds with "
                          f"`sqlite3 {self.path} .recover | sqlite3 recovered.sqlite`, or {FIX}")

    def _tables(self) -> dict[str, set[str]]:
        names = [r[0] for r in self._db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")]
        return {n: {r[1] for r in self._db.execute(f'PRAGMA table_info("{n}")')} for n in names}

    def _open(self) -> None:
        app = self._db.execute("PRAGMA application_id").fetchone()[0]
        version = self._db.execute("PRAGMA user_version").fetchone()[0]
        tables = self._tables()
        ours = {n: c for n, c in tables.items() if not n.startswith("sqlite_")}
        if app == 0 and version == 0:
            # schema 0 (before versioning): exactly alloybench's three tables with their columns
            if set(ours) != set(COLUMNS) or any(COLUMNS[n] != c for n, c in ours.items()):
                listed = ", ".join(sorted(ours)) or "none"
                raise StoreError(f"{self.path} is an SQLite database that alloybench did not create (tables: "
                                 f"{listed[:120]}); alloybench writes only to its own stores: choose another --out")
        elif app != APPLICATION_ID:
            raise StoreError(f"{self.path} is another program's SQLite database (application id {app:#x}); "
                             f"alloybench writes only to its own stores: choose another --out")
        elif version > SCHEMA_VERSION:
            raise StoreError(f"{self.path} was written by a newer alloybench (store schema {version}; this one "
                             f"reads up to {SCHEMA_VERSION}): upgrade alloybench (pip install -U alloybench)")
        missing = [f"{n}.{c}" for n, cols in COLUMNS.items() for c in sorted(cols - tables.get(n, set()))]
        if missing:
            raise self._damaged(f"missing column {missing[0]}")
        check = [r[0] for r in self._db.execute("PRAGMA integrity_check(5)")]
        if check != ["ok"]:
            raise self._damaged("integrity_check: " + "; ".join(check))
        self.version = version
        if self.readonly:
            return
        if version < SCHEMA_VERSION:
            self._migrate(version)
        try:  # writable now, not after the first Job ran: a read-only file or a locked store fails here
            self._db.execute("BEGIN IMMEDIATE")
            self._db.execute("ROLLBACK")
        except sqlite3.OperationalError as exc:
            raise self._write_error(exc) from None

    def _migrate(self, version: int) -> None:
        """Bring an older store up to SCHEMA_VERSION, in one transaction."""
        try:
            self._db.isolation_level = None
            self._db.execute("BEGIN IMMEDIATE")
            if version < 1:
                self._db.execute("ALTER TABLE runs ADD COLUMN status TEXT NOT NULL DEFAULT 'running'")
                self._db.execute("ALTER TABLE runs ADD COLUMN pid INTEGER")
                self._db.execute("UPDATE runs SET status = CASE WHEN finished IS NULL THEN 'interrupted' "
                                 "ELSE 'finished' END")
            self._db.execute(f"PRAGMA application_id = {APPLICATION_ID}")
            self._db.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
            self._db.execute("COMMIT")
        except sqlite3.OperationalError as exc:
            if self._db.in_transaction:
                self._db.execute("ROLLBACK")
            raise self._write_error(exc, f"cannot upgrade the store {self.path} from schema {version}") from None
        finally:
            self._db.isolation_level = ""
        self.version = SCHEMA_VERSION

    def _write_error(self, exc: sqlite3.Error, what: str | None = None) -> StoreError:
        text = str(exc)
        what = what or f"cannot write to the store {self.path}"
        if "locked" in text or "busy" in text:
            return StoreError(f"{what}: another process is using it (a run on the same --out?); wait for it or "
                              f"choose another --out")
        if "readonly" in text or "read-only" in text:
            return StoreError(f"{what}: the file or its folder is read-only; choose another --out")
        if "disk" in text and "full" in text:
            return StoreError(f"{what}: the disk is full; free space and run again (finished Jobs are kept)")
        return StoreError(f"{what}: {text}")

    def _write(self, sql: str, params: tuple = ()) -> sqlite3.Cursor:
        if self.readonly:
            raise StoreError(f"the store {self.path} was opened read-only")
        try:
            with self._db:
                return self._db.execute(sql, params)
        except sqlite3.OperationalError as exc:
            raise self._write_error(exc) from None
        except (sqlite3.DatabaseError, UnicodeDecodeError) as exc:
            raise self._damaged(_message(exc)) from None

    def _read(self, sql: str, params: tuple = ()) -> list[tuple]:
        try:
            return self._db.execute(sql, params).fetchall()
        except (sqlite3.DatabaseError, UnicodeDecodeError) as exc:
            raise self._damaged(_message(exc)) from None

    # ------------------------------------------------------------------ life cycle
    def close(self) -> None:
        self._db.close()

    def __enter__(self) -> "Store":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ------------------------------------------------------------------ results
    def get(self, model_id: str, job: Job) -> Result | None:
        rows = self._read("SELECT result FROM results WHERE key = ?", (result_key(model_id, job),))
        if not rows:
            return None
        try:
            return Result.from_dict(json.loads(rows[0][0]))
        except (ValueError, TypeError, KeyError) as exc:
            raise self._damaged(f"unreadable result row for {job.task}:{job.name}: {exc}") from None

    def put(self, model_id: str, job: Job, result: Result) -> None:
        """One transaction per result: atomic, resumable."""
        self._write(
            f"INSERT OR REPLACE INTO results ({', '.join(RESULT_COLUMNS)}) VALUES ({', '.join('?' * 12)})",
            (
                result_key(model_id, job), model_id, job.digest, job.task, job.name, job.n_atoms,
                int(result.ok), result.stage, result.reason, result.seconds,
                json.dumps(result.to_dict()), time.time(),
            ),
        )

    def count(self, model_id: str | None = None) -> int:
        if model_id is None:
            return self._read("SELECT COUNT(*) FROM results")[0][0]
        return self._read("SELECT COUNT(*) FROM results WHERE model = ?", (model_id,))[0][0]

    def failures(self, model_id: str) -> list[dict[str, Any]]:
        rows = self._read(
            "SELECT task, name, stage, reason FROM results WHERE model = ? AND ok = 0 ORDER BY task, name", (model_id,)
        )
        return [dict(zip(("task", "name", "stage", "reason"), r)) for r in rows]

    def time_by_task(self, model_id: str) -> dict[str, tuple[int, float]]:
        rows = self._read("SELECT task, COUNT(*), SUM(seconds) FROM results WHERE model = ? GROUP BY task", (model_id,))
        return {t: (n, s or 0.0) for t, n, s in rows}

    # ------------------------------------------------------------------ costs
    def put_cost(self, model_id: str, doc: dict[str, Any]) -> None:
        """A cost measurement (alloybench.cost.measure_cost) of a model, kept with its results."""
        self._write("INSERT INTO costs (model, device, created, doc) VALUES (?,?,?,?)",
                    (model_id, doc.get("device"), time.time(), json.dumps(doc)))

    def latest_cost(self, model_id: str | None = None) -> dict[str, Any] | None:
        sql = "SELECT doc FROM costs" + (" WHERE model = ?" if model_id else "") + " ORDER BY id DESC LIMIT 1"
        rows = self._read(sql, (model_id,) if model_id else ())
        return _json(rows[0][0], self) if rows else None

    # ------------------------------------------------------------------ runs
    def start_run(self, model_id: str, info: dict[str, Any]) -> int:
        """A new run; earlier runs left 'running' by a process that is gone become 'interrupted'."""
        for run_id, pid in self._read("SELECT id, pid FROM runs WHERE status = 'running'"):
            if pid is None or not _pid_alive(int(pid)) or int(pid) == os.getpid():
                self._write("UPDATE runs SET status = 'interrupted' WHERE id = ?", (run_id,))
        cur = self._write("INSERT INTO runs (model, started, info, status, pid) VALUES (?,?,?,?,?)",
                          (model_id, time.time(), json.dumps(info), "running", os.getpid()))
        return int(cur.lastrowid)

    def finish_run(self, run_id: int, info: dict[str, Any], status: str = "finished") -> None:
        """``status``: finished | interrupted."""
        self._write("UPDATE runs SET finished = ?, info = ?, status = ? WHERE id = ?",
                    (time.time() if status == "finished" else None, json.dumps(info), status, run_id))

    def runs(self) -> list[dict[str, Any]]:
        has_status = self.version >= 1
        cols = "id, model, started, finished, info" + (", status" if has_status else "")
        out = []
        for row in self._read(f"SELECT {cols} FROM runs ORDER BY id"):
            i, m, s, f, info = row[:5]
            status = row[5] if has_status else ("finished" if f is not None else "interrupted")
            out.append(dict(id=i, model=m, started=s, finished=f, info=_json(info, self), status=status))
        return out


def _message(exc: BaseException) -> str:
    if isinstance(exc, UnicodeDecodeError):  # sqlite's message quoting the damaged bytes
        return exc.object.decode("utf-8", "replace") if isinstance(exc.object, bytes) else "undecodable text"
    return str(exc)


def _json(text: str, store: Store) -> Any:
    try:
        return json.loads(text)
    except (ValueError, TypeError) as exc:
        raise store._damaged(f"unreadable JSON in a row: {exc}") from None
