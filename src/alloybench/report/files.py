"""The one way reports write files: atomically (temporary file + rename), readable per umask.

Temporary files are named ``.NAME.PID.XXXX.tmp`` so that those of a killed write (a dead PID)
can be removed by the next write into the same folder."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


_UMASK = _umask()


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:
        return True
    return True


def remove_stale_temps(folder: Path) -> None:
    """Temporary files of report writes that were killed (``.NAME.PID.XXXX.tmp`` of dead processes)."""
    try:
        for tmp in folder.glob(".*.tmp"):
            parts = tmp.name.split(".")
            pid = parts[-3] if len(parts) >= 4 else ""
            if pid.isdigit() and not _pid_alive(int(pid)):
                tmp.unlink(missing_ok=True)
    except OSError:
        pass


def _temp_for(path: Path, data: str | bytes) -> str:
    raw = data.encode("utf-8") if isinstance(data, str) else data
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.{os.getpid()}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(raw)
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, 0o666 & ~_UMASK)  # mkstemp makes 0600; a report is for reading
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return tmp


def write_all(files: list[tuple[Path, str | bytes]]) -> None:
    """Several files that belong together (results.json, report.md): every one is written in
    full to a temporary file first, then all are renamed into place one after the other, so an
    interruption leaves the old set or the new set (up to the instants between renames).
    An OSError (unwritable target, disk full) is a UserError naming the file; no temporary file stays."""
    from alloybench.errors import UserError

    temps: list[tuple[str, Path]] = []
    try:
        for path, data in files:
            path = Path(path)
            path.parent.mkdir(parents=True, exist_ok=True)
            remove_stale_temps(path.parent)
            temps.append((_temp_for(path, data), path))
        for tmp, path in temps:
            os.replace(tmp, path)
    except OSError as exc:
        target = next((p for t, p in temps if Path(t).exists()), files[len(temps)][0] if len(temps) < len(files)
                      else files[-1][0])
        raise UserError(f"cannot write {target}: {exc.strerror or exc}; choose another path") from None
    finally:
        for tmp, _ in temps:
            Path(tmp).unlink(missing_ok=True)


def write_atomic(path: Path, data: str | bytes) -> None:
    """Write ``data`` (text as UTF-8) to ``path``: a reader never sees a half-written file."""
    write_all([(path, data)])


__all__ = ["remove_stale_temps", "write_all", "write_atomic"]
