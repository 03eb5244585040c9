"""What ``alloybench dft label`` labels: a user's extxyz, or a task's Job input structures.

Every frame is checked before anything is computed, so a bad file costs no DFT time:
a missing or unreadable file, an empty one, and a frame that is not periodic in all
three directions (a label carries the stress, eV/Å³, which needs a 3-D cell; a slab or
molecule is given as a vacuum-padded cell with ``pbc=True``) are ``UserError``s.
"""

from __future__ import annotations

from pathlib import Path

from ase import Atoms

from alloybench.errors import UserError

# the elements of the suite: what a task's inputs are built for when labelled with DFT
DFT_ELEMENTS = frozenset({"Al", "Cu", "Mg", "Zn", "Si"})
MIN_VOLUME_A3 = 1e-3


def read_frames(path: Path) -> list[Atoms]:
    """Every frame of an (ext)xyz file, checked; UserError (one line) if it cannot be labelled."""
    from ase.io import read

    path = Path(path)
    if not path.exists():
        raise UserError(f"input file not found: {path}")
    if path.is_dir():
        raise UserError(f"input {path} is a folder; give an extxyz file or a task name")
    try:
        frames = read(str(path), index=":")
    except Exception as exc:  # noqa: BLE001 - any parse error is the user's file
        detail = str(exc).splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise UserError(f"cannot read {path} as extxyz: {detail}") from None
    if not frames:
        raise UserError(f"{path}: no structures (an empty file)")
    check_frames(frames, str(path))
    return frames


def check_frames(frames: list[Atoms], where: str) -> None:
    for i, a in enumerate(frames):
        name = a.info.get("name", f"frame{i}")
        if len(a) == 0:
            raise UserError(f"{where}: structure {i} ({name}) has no atoms")
        if not all(a.pbc) or a.cell.rank < 3 or abs(a.cell.volume) < MIN_VOLUME_A3:
            raise UserError(f"{where}: structure {i} ({name}) is not periodic in x, y and z (pbc={list(map(bool, a.pbc))}"
                            f"): its stress label needs a 3-D cell; pad a slab or cluster with vacuum and set pbc=True")


def task_frames(task_name: str) -> list[Atoms]:
    """The input structures of a task's first-round Jobs (what it builds before any result is
    known: relaxations' starting cells, single points), for the suite's elements."""
    from alloybench.reference import load_reference
    from alloybench.tasks import TASKS
    from alloybench.tasks.base import Context

    task = TASKS[task_name]
    ctx = Context(reference=load_reference(), tier="full", elements=DFT_ELEMENTS)
    frames = []
    seen = set()
    for job in task.build(ctx, {}):
        if job.structure in seen:
            continue
        seen.add(job.structure)
        a = job.structure.to_atoms()
        a.info = {"name": job.name, "kind": task_name}
        frames.append(a)
    if not frames:
        raise UserError(f"task '{task_name}' builds no Job before results are known: nothing to label")
    check_frames(frames, f"task '{task_name}'")
    return frames


def resolve_input(source: str) -> list[Atoms]:
    """A file path if one exists there, else a task name; neither is a UserError."""
    from alloybench.tasks import TASKS

    path = Path(source).expanduser()
    if path.exists():
        return read_frames(path)
    if source in TASKS:
        return task_frames(source)
    if any(ch in source for ch in "/\\.") or path.suffix:
        raise UserError(f"input file not found: {source}")
    raise UserError(f"'{source}' is neither a file nor a task (tasks: {', '.join(TASKS)})")
