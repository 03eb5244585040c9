"""Fine-tuning settings: frozen, digested, one default set per family.

A checkpoint's provenance carries ``TrainSettings.as_dict()`` and its digest, so
a changed learning rate, epoch count, loss weight, data set or seed is a different
point of the learning curve, never silently mixed with an old one.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, field, replace
from typing import Any

MODES = ("finetune", "scratch")


@dataclass(frozen=True)
class TrainSettings:
    """One training run: what is trained, on which draw of which data, and how.

    ``n_structures`` is N, the number of labelled structures drawn from the pool;
    the validation split (early stopping) is drawn from those N, not added to them."""

    family: str  # sevennet | chgnet | mace
    mode: str  # finetune (from base_model's weights) | scratch (base_model's architecture, fresh weights)
    base_model: str  # registry name or path of the foundation model
    data_digest: str  # digest of the labelled pool (finetune.data.pool_digest)
    n_structures: int  # N drawn (training + validation)
    seed: int  # draw, split and weight initialisation
    lr: float  # peak learning rate
    max_epochs: int  # upper bound on epochs
    patience_epochs: int  # early stopping: epochs without a better validation loss
    batch_size: int  # structures per optimiser step
    energy_weight: float  # loss weight on energy per atom (eV/atom)
    force_weight: float  # loss weight on forces (eV/Å)
    stress_weight: float  # loss weight on stress (family's unit: SevenNet kbar, CHGNet GPa, MACE eV/Å³)
    valid_fraction: float = 0.1  # share of N held out for early stopping (at least 1 when N >= 5)
    scheduler: str = "exponential"  # the family trainer's scheduler name
    scheduler_gamma: float = 0.99  # per-epoch decay of the learning rate
    loss: str = "huber"  # the family trainer's loss
    huber_delta: float = 0.01
    extra: tuple[tuple[str, Any], ...] = field(default_factory=tuple)  # family-specific, sorted (key, value)

    def __post_init__(self) -> None:
        if self.mode not in MODES:
            raise ValueError(f"mode must be one of {MODES}, not {self.mode!r}")
        if self.n_structures < 1:
            raise ValueError("n_structures must be >= 1")

    def as_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["extra"] = dict(self.extra)
        return d

    @property
    def digest(self) -> str:
        return hashlib.sha256(json.dumps(self.as_dict(), sort_keys=True, default=str).encode()).hexdigest()[:16]

    @property
    def n_valid(self) -> int:
        return n_valid(self.n_structures, self.valid_fraction)

    def option(self, key: str, default: Any = None) -> Any:
        return dict(self.extra).get(key, default)


def n_valid(n: int, fraction: float) -> int:
    """Validation structures held out of N: none below 5 (nothing to spare), else at least one."""
    if n < 5:
        return 0
    return max(1, int(round(fraction * n)))


# Defaults per (family, mode).
# SevenNet fine-tuning: sevenn's own preset (sevenn/presets/fine_tune.yaml: Huber delta 0.01, Adam
#   decaying 0.99 per epoch, force weight 1, stress weight 0.01 on kbar), fewer epochs and early
#   stopping because N is small, and lr 1e-3 instead of the preset's 4e-3: at 4e-3 with N <= 50 the
#   training loss rises after the first epoch and the model is damaged (N = 20 test force MAE 66.7
#   meV/Å, energetics 0.977 -> 0.371); on the N = 20 validation split 1e-3 was best of 4e-3, 1e-3,
#   3e-4 (docs/finetune.md, "Learning rate"). From scratch: SevenNet-0's preset peak lr 0.01
#   (presets/sevennet-0.yaml), more epochs.
# CHGNet: chgnet.trainer.Trainer's defaults (Huber delta 0.1, Adam, cosine decay; energy 1, force 1,
#   stress 0.1 on GPa), lr 3e-4 on pretrained weights (chgnet's fine-tuning example uses 1e-2 for a
#   frozen-backbone head; we train every layer, so lower), 1e-3 from scratch.
# MACE: mace_run_train's Huber loss with energy 1, forces 10, stress 1, lr 1e-3 on a foundation model
#   (its fine-tuning documentation), 1e-2 from scratch (its default).
# What a family's loss and schedule are, whichever the mode; then what the mode changes.
_FAMILY: dict[str, dict[str, Any]] = {
    "sevennet": dict(batch_size=4, energy_weight=1.0, force_weight=1.0, stress_weight=0.01, scheduler="exponential",
                     scheduler_gamma=0.99, loss="huber", huber_delta=0.01),
    "chgnet": dict(batch_size=4, energy_weight=1.0, force_weight=1.0, stress_weight=0.1, scheduler="cosine",
                   scheduler_gamma=1.0, loss="huber", huber_delta=0.1),
    "mace": dict(batch_size=4, energy_weight=1.0, force_weight=10.0, stress_weight=1.0, scheduler="plateau",
                 scheduler_gamma=0.8, loss="huber", huber_delta=0.01),
}
_LR: dict[tuple[str, str], float] = {("sevennet", "finetune"): 1e-3, ("sevennet", "scratch"): 0.01,
                                     ("chgnet", "finetune"): 3e-4, ("chgnet", "scratch"): 1e-3,
                                     ("mace", "finetune"): 1e-3, ("mace", "scratch"): 1e-2}
# from scratch needs more epochs and more patience; SevenNet's fine-tuning preset trains longer than the others'
_EPOCHS: dict[tuple[str, str], tuple[int, int]] = {("sevennet", "finetune"): (60, 10), ("chgnet", "finetune"): (40, 8),
                                                   ("mace", "finetune"): (40, 8)}
_SCRATCH_EPOCHS = (150, 25)
_DEFAULTS: dict[tuple[str, str], dict[str, Any]] = {
    (family, mode): dict(lr=_LR[(family, mode)],
                         max_epochs=_EPOCHS.get((family, mode), _SCRATCH_EPOCHS)[0],
                         patience_epochs=_EPOCHS.get((family, mode), _SCRATCH_EPOCHS)[1], **common)
    for family, common in _FAMILY.items() for mode in ("finetune", "scratch")
}


def defaults(family: str, mode: str) -> dict[str, Any]:
    try:
        return dict(_DEFAULTS[(family, mode)])
    except KeyError:
        raise KeyError(f"no training defaults for family {family!r} ({mode})") from None


def settings_for(family: str, mode: str, base_model: str, data_digest: str, n: int, seed: int,
                 overrides: dict[str, Any] | None = None) -> TrainSettings:
    values = defaults(family, mode)
    extra = {}
    for k, v in (overrides or {}).items():
        if v is None:
            continue
        if k in values or k in ("valid_fraction",):
            values[k] = v
        else:
            extra[k] = v
    s = TrainSettings(family=family, mode=mode, base_model=base_model, data_digest=data_digest, n_structures=n,
                      seed=seed, **values)
    return replace(s, extra=tuple(sorted(extra.items()))) if extra else s
