"""What a run covers: its tasks (a tier or a list of names) and its elements (the model's, or
a subsystem of them).  Shared by the Python API, the CLI, Dask runs and fine-tuning."""

from __future__ import annotations

from typing import Optional

from alloybench.errors import UserError


def select_tasks(names: Optional[list[str]], tier: str):
    """The Task classes of ``names`` (comma-separated or repeated), or of ``tier`` when None."""
    from alloybench.tasks import TASKS, tasks_for_tier
    from alloybench.validate import split_list

    wanted = split_list(names, "--tasks")
    if wanted is None:
        return tasks_for_tier(tier)
    unknown = [n for n in wanted if n not in TASKS]
    if unknown:
        raise UserError(f"unknown task '{unknown[0]}' (known: {', '.join(TASKS)})")
    return [TASKS[n] for n in wanted]


def chosen_elements(model, selection: Optional[str]) -> frozenset[str] | None:
    """The model's elements, or the subsystem ``selection`` ("Al,Cu") when it is within them."""
    from alloybench.elements import check_elements
    from alloybench.validate import split_list

    if selection is None:
        return model.elements
    chosen = set(split_list([selection], "--elements") or [])
    check_elements(sorted(chosen))
    if model.elements is not None and not chosen <= model.elements:
        lacking = sorted(chosen - model.elements)
        raise UserError(f"model '{model.name}' does not cover element(s) {', '.join(lacking)}")
    return frozenset(chosen)


__all__ = ["chosen_elements", "select_tasks"]
