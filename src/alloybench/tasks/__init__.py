"""Task registry: name -> Task instance, in report order."""

from __future__ import annotations

from alloybench.tasks.base import TIERS, Context, Metric, Task, Tier
from alloybench.tasks.antisites import AntisiteTask
from alloybench.tasks.bulk import BulkTask
from alloybench.tasks.dataset import DatasetTask
from alloybench.tasks.elastic import ElasticTask
from alloybench.tasks.interfaces import InterfaceTask
from alloybench.tasks.misfit import MisfitVolumeTask
from alloybench.tasks.point_defects import CohesiveTask, VacancyTask
from alloybench.tasks.precipitate_gsf import PrecipitateGSFTask
from alloybench.tasks.solute_fault import SoluteFaultTask
from alloybench.tasks.stacking_faults import StackingFaultTask
from alloybench.tasks.surfaces import SurfaceTask
from alloybench.tasks.solutes import SoluteBindingTask
from alloybench.tasks.solution import SolutionEnergyTask

_TASKS: list[Task] = [BulkTask(), ElasticTask(), SolutionEnergyTask(), SurfaceTask(), StackingFaultTask(),
                     SoluteBindingTask(), MisfitVolumeTask(), SoluteFaultTask(),
                     PrecipitateGSFTask(), AntisiteTask(), InterfaceTask(), VacancyTask(), CohesiveTask(), DatasetTask()]
TASKS: dict[str, Task] = {t.name: t for t in _TASKS}


def tasks_for_tier(tier: Tier) -> list[Task]:
    """Every task whose cheapest tier is at or below ``tier``."""
    rank = TIERS.index(tier)
    return [t for t in TASKS.values() if TIERS.index(t.tier) <= rank]


__all__ = ["TASKS", "TIERS", "Context", "Metric", "Task", "Tier", "tasks_for_tier"]
