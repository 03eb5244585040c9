"""The packaged DFT set: its files, what is labelled so far, and continuing the labelling.

``data/candidates.extxyz.gz`` holds every candidate (generate.py's recipe, each frame with
its ``kind`` and fixed ``split``); ``data/labels_store.sqlite`` the labels computed so far
(label.py's store, model id ``gpaw-VERSION@DIGEST`` of settings.DEFAULT);
``data/train.extxyz.gz`` / ``data/test.extxyz.gz`` every successful label of that store,
split by the candidates' ``split``.  ``continue_set`` labels candidates not yet in the
store (in an order stratified by kind, so a partial run keeps every kind growing) and
rewrites the two split files.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from pathlib import Path

from ase import Atoms

from alloybench.dft.settings import DEFAULT, DFTSettings

DATA = Path(__file__).parent / "data"
CANDIDATES = "candidates.extxyz.gz"
STORE = "labels_store.sqlite"
SPLITS = ("train", "test")


def candidates(folder: Path = DATA) -> list[Atoms]:
    from ase.io import read

    return read(str(Path(folder) / CANDIDATES), index=":")


def split_path(split: str, folder: Path = DATA) -> Path:
    return Path(folder) / f"{split}.extxyz.gz"


def stratified(frames: list[Atoms]) -> list[Atoms]:
    """The frames in an order whose every prefix is stratified by kind (seed 0)."""
    from alloybench.finetune.data import stratified_order

    return [frames[i] for i in stratified_order([str(a.info["kind"]) for a in frames], seed=0)]


def status(store, frames: list[Atoms], settings: DFTSettings = DEFAULT) -> dict[str, dict[str, int]]:
    """Per kind: candidates, labelled (ok), failed, pending."""
    from alloybench.dft.label import frame_name, job_for, model_id

    mid = model_id(settings)
    out: dict[str, Counter] = {}
    for i, a in enumerate(frames):
        c = out.setdefault(str(a.info["kind"]), Counter())
        c["candidates"] += 1
        r = store.get(mid, job_for(a, frame_name(a, i)))
        c["pending" if r is None else ("labelled" if r.ok else "failed")] += 1
    return {k: {x: int(c[x]) for x in ("candidates", "labelled", "failed", "pending")} for k, c in sorted(out.items())}


def write_splits(items, settings: DFTSettings, folder: Path = DATA) -> dict[str, int]:
    """Write train/test extxyz.gz from (frame, job, result) items by each frame's ``split``."""
    from alloybench.dft.label import write_labelled

    counts = {}
    for split in SPLITS:
        counts[split] = write_labelled(split_path(split, folder), [x for x in items if x[0].info.get("split") == split],
                                       settings)
    return counts


def continue_set(store, limit: int | None = None, settings: DFTSettings = DEFAULT, folder: Path = DATA,
                 progress: Callable | None = None, calc_factory: Callable | None = None, workers: int = 1,
                 stop_after_s: float | None = None):
    """Label up to ``limit`` pending candidates (all when None), then rewrite the split files
    from every stored label.  Returns (items over all candidates with a stored result,
    computed now, counts written per split)."""
    from alloybench.dft.label import frame_name, job_for, label, model_id

    frames = candidates(folder)
    for i, a in enumerate(frames):  # the name the store was keyed with, before reordering
        a.info.setdefault("name", frame_name(a, i))
    mid = model_id(settings)
    order = stratified(frames)
    pending = [a for a in order if store.get(mid, job_for(a, a.info["name"])) is None]
    todo = pending if limit is None else pending[:max(0, limit)]
    _, computed = label(todo, store, settings, progress=progress, calc_factory=calc_factory, workers=workers,
                        stop_after_s=stop_after_s)
    items = []
    for a in frames:
        job = job_for(a, a.info["name"])
        r = store.get(mid, job)
        if r is not None:
            items.append((a, job, r))
    return items, computed, write_splits(items, settings, folder)
