"""What every family's trainer takes and returns."""

from __future__ import annotations

from collections.abc import Callable
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from alloybench.finetune.data import Frame
from alloybench.finetune.settings import TrainSettings

# progress(epoch, max_epochs, info): called after every epoch (info: train/valid loss...)
EpochProgress = Callable[[int, int, dict[str, Any]], None]


@dataclass
class TrainResult:
    """A finished training: the checkpoint file (inside the point's folder) and its history."""

    checkpoint: Path
    epochs_run: int
    best_epoch: int
    history: list[dict[str, float]] = field(default_factory=list)  # per epoch: train_loss, valid_loss, lr...
    device: str = "cpu"
    trainer: str = ""  # the family code that trained it, with version
    stopped_early: bool = False
    notes: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class TrainJob:
    """Inputs of one training: settings, the labelled train/valid frames (energies already
    moved to the base model's zero for fine-tuning), where to work, the base weights."""

    settings: TrainSettings
    train: list[Frame]
    valid: list[Frame]
    workdir: Path
    base_weights: Path | None  # the foundation model's checkpoint (finetune) or architecture source (scratch)
    elements: tuple[str, ...]  # every element the model must know (the pool's and the suite's)
    energy_offsets: dict[str, float] | None = None  # eV per atom of each element subtracted from DFT energies
    device: str = "cpu"

    @property
    def has_stress(self) -> bool:
        """Every frame (train and validation) has a stress label: only then is stress trained."""
        return all(f.stress_eV_per_A3 is not None for f in self.train + self.valid)


@dataclass
class EarlyStopping:
    """Best-epoch bookkeeping for the trainers whose epoch loop is ours (SevenNet, CHGNet).
    ``update(epoch, loss)`` is True on a new best; ``stopped`` once ``patience`` epochs pass
    without one, and only when there is a validation split to select on (``can_stop``)."""

    patience: int
    can_stop: bool
    best: float = math.inf
    best_epoch: int = 0
    since: int = 0
    stopped: bool = False

    def update(self, epoch: int, loss: float) -> bool:
        if loss < self.best:
            self.best, self.best_epoch, self.since = loss, epoch, 0
            return True
        self.since += 1
        self.stopped = self.can_stop and self.since >= self.patience
        return False
