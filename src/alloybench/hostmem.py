"""Host memory figures for this process (Linux /proc and cgroups): what it holds, what the
host or its container can still give it, and a peak mark that can be restarted.

The batched engine sizes CPU batches with these, because on the CPU running out of memory
is not an exception but a process killed by the kernel.  Where /proc is missing (not
Linux) the readings are None and callers keep their plain limits."""

from __future__ import annotations

import os
import resource
import sys
from pathlib import Path

_lifetime_peak = 0  # the highest peak seen before any restart of the mark
_libc = None  # glibc, once loaded; False where there is none


def rss_bytes() -> int | None:
    """Resident bytes of this process now."""
    try:
        with open("/proc/self/statm") as fh:
            return int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, IndexError):
        return None


def _status_kib(key: str) -> int | None:
    try:
        with open("/proc/self/status") as fh:
            for line in fh:
                if line.startswith(key + ":"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    return None


def peak_bytes() -> int | None:
    """Peak resident bytes since the process started or the mark was last restarted."""
    return _status_kib("VmHWM")


def release_free_heap() -> None:
    """Hand the C heap's free pages back to the system (glibc ``malloc_trim``), so that what
    runs next shows in the resident size instead of silently reusing pages already held."""
    global _libc
    if _libc is None:
        try:
            import ctypes

            _libc = ctypes.CDLL("libc.so.6")
            _libc.malloc_trim.argtypes = [ctypes.c_size_t]
        except (OSError, AttributeError):
            _libc = False
    if _libc:
        _libc.malloc_trim(0)


def restart_peak() -> bool:
    """Restart the peak mark, so that the next ``peak_bytes`` is the peak of what runs in
    between; True if the kernel did (it also restarts ``getrusage``'s ru_maxrss, hence
    ``lifetime_peak_bytes``)."""
    global _lifetime_peak
    before = peak_bytes()
    if before is None:
        return False
    _lifetime_peak = max(_lifetime_peak, before)
    try:
        with open("/proc/self/clear_refs", "w") as fh:
            fh.write("5")
    except OSError:
        return False
    after, now = peak_bytes(), rss_bytes()
    return after is not None and now is not None and after <= now + (64 << 20)


def lifetime_peak_bytes() -> int:
    """Peak resident bytes over the whole process, restarts of the mark included."""
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    peak = peak if sys.platform == "darwin" else peak * 1024  # bytes on macOS, KiB elsewhere
    return max(peak, _lifetime_peak)


def _cgroup_available(proc: Path = Path("/proc/self/cgroup"), sys_root: Path = Path("/sys/fs/cgroup")) -> int | None:
    """What this process's memory cgroup still allows (limit - usage + reclaimable page cache),
    cgroup v2 or v1; None without a limit."""
    try:
        lines = proc.read_text().splitlines()
    except OSError:
        return None
    for line in lines:
        hierarchy, controllers, path = (line.split(":", 2) + ["", ""])[:3]
        if hierarchy == "0" and controllers == "":  # v2
            files, root = ("memory.max", "memory.current", "inactive_file"), sys_root
        elif "memory" in controllers.split(","):  # v1
            files = ("memory.limit_in_bytes", "memory.usage_in_bytes", "total_inactive_file")
            root = sys_root / "memory"
        else:
            continue
        base = root / path.lstrip("/")
        if not (base / files[0]).exists():
            base = root  # inside a container's namespace its own cgroup is the root
        try:
            limit = (base / files[0]).read_text().strip()
            if limit == "max" or int(limit) >= 1 << 60:  # v1 writes "no limit" as a huge number
                return None
            usage = int((base / files[1]).read_text())
            stat = dict(ln.split() for ln in (base / "memory.stat").read_text().splitlines() if ln.count(" ") == 1)
            return max(0, int(limit) - usage + int(stat.get(files[2], 0)))
        except (OSError, ValueError):
            return None
    return None


def available_bytes() -> int | None:
    """Bytes the host (and this process's container, if it sets a limit) can still give."""
    try:
        with open("/proc/meminfo") as fh:
            available = next(int(line.split()[1]) * 1024 for line in fh if line.startswith("MemAvailable:"))
    except (OSError, ValueError, IndexError, StopIteration):
        return None
    limit = _cgroup_available()
    return available if limit is None else min(available, limit)
