"""Host memory figures: the container limit is read as the kernel writes it (v1 and v2)."""

from __future__ import annotations

import pytest

from alloybench import hostmem


def _tree(tmp_path, proc_line, files):
    (tmp_path / "proc").write_text(proc_line + "\n")
    for rel, text in files.items():
        f = tmp_path / "sys" / rel
        f.parent.mkdir(parents=True, exist_ok=True)
        f.write_text(text)
    return tmp_path / "proc", tmp_path / "sys"


GiB = 1 << 30


def test_cgroup_v2_limit_counts_reclaimable_cache(tmp_path):
    proc, root = _tree(tmp_path, "0::/job", {
        "job/memory.max": f"{8 * GiB}\n", "job/memory.current": f"{7 * GiB}\n",
        "job/memory.stat": f"anon {5 * GiB}\ninactive_file {2 * GiB}\n"})
    assert hostmem._cgroup_available(proc, root) == 3 * GiB  # 8 - 7 + 2 reclaimable


def test_cgroup_v1_limit_and_no_limit(tmp_path):
    proc, root = _tree(tmp_path, "4:memory:/pa/x\n0::/", {
        "memory/pa/x/memory.limit_in_bytes": f"{4 * GiB}\n", "memory/pa/x/memory.usage_in_bytes": f"{GiB}\n",
        "memory/pa/x/memory.stat": "total_inactive_file 0\n"})
    assert hostmem._cgroup_available(proc, root) == 3 * GiB
    (root / "memory/pa/x/memory.limit_in_bytes").write_text("9223372036854771712\n")  # v1's "no limit"
    assert hostmem._cgroup_available(proc, root) is None


def test_cgroup_namespace_root_is_used_when_the_path_is_not_visible(tmp_path):
    proc, root = _tree(tmp_path, "0::/not/here", {
        "memory.max": f"{2 * GiB}\n", "memory.current": f"{GiB}\n", "memory.stat": "inactive_file 0\n"})
    assert hostmem._cgroup_available(proc, root) == GiB
    (root / "memory.max").write_text("max\n")
    assert hostmem._cgroup_available(proc, root) is None


def test_restarted_peak_follows_what_runs_after_it():
    """After a restart the mark is what the process holds now (not what it once held), it
    then rises with what is allocated, and the process's own peak is kept for cost reports.
    (Freed memory need not return to the system, so nothing here relies on freeing.)"""
    if hostmem.peak_bytes() is None or not hostmem.restart_peak():
        pytest.skip("no restartable peak mark here")
    import mmap

    assert hostmem.peak_bytes() <= hostmem.rss_bytes() + 2**20
    base = hostmem.rss_bytes()
    held = mmap.mmap(-1, 200 * 2**20)  # fresh pages (a heap may reuse resident ones), touched:
    held.write(b"\1" * len(held))
    assert hostmem.peak_bytes() >= base + 150 * 2**20
    peak = hostmem.peak_bytes()
    assert hostmem.restart_peak()
    assert hostmem.peak_bytes() <= hostmem.rss_bytes() + 2**20
    # VmHWM is updated lazily: a few pages of slack
    assert hostmem.lifetime_peak_bytes() >= peak - 2**20
    held.close()
