"""Reading checkpoints without running them: ``torch.load(weights_only=True)`` for the families
whose checkpoints are plain state (SevenNet, CHGNet), unless the user trusts the file
(``--trust-checkpoint``, i.e. ``ALLOYBENCH_TRUST_CHECKPOINT=1``).  Where a file may be
loaded with full unpickling is ``alloybench.models.trust``'s business."""

from __future__ import annotations

import os
from pathlib import Path

from alloybench.errors import UserError

TRUST_ENV = "ALLOYBENCH_TRUST_CHECKPOINT"


def trusted_by_user() -> bool:
    return os.environ.get(TRUST_ENV, "").strip().lower() in ("1", "true", "yes")


def trust_checkpoints() -> None:
    """--trust-checkpoint: set for this process and every worker or family-environment process it starts."""
    os.environ[TRUST_ENV] = "1"


def untrusted_pickle(path: Path, exc: BaseException) -> UserError:
    """The one line for a checkpoint that torch.load(weights_only=True) refused."""
    detail = " ".join(str(exc).split())
    hint = ""
    marker = "Unsupported global: GLOBAL "
    if marker in detail:
        hint = f" (it asks for {detail.split(marker, 1)[1].split()[0]})"
    return UserError(f"checkpoint {path} holds more than weights{hint}: loading it would run code from the file; "
                     f"it was not loaded. Pass --trust-checkpoint if you trust where it came from")


def safe_torch_load(f, *args, **kwargs):
    """``torch.load`` with ``weights_only=True`` (plus the numpy arrays SevenNet checkpoints
    hold), whatever the caller asked for, unless the user trusts the checkpoint."""
    import pickle

    import torch

    if trusted_by_user():
        kwargs["weights_only"] = False
        return torch.load(f, *args, **kwargs)
    kwargs["weights_only"] = True
    try:
        with torch.serialization.safe_globals(_numpy_globals()):
            return torch.load(f, *args, **kwargs)
    except pickle.UnpicklingError as exc:
        raise untrusted_pickle(Path(str(f)), exc) from None


def _numpy_globals() -> list:
    import numpy as np

    try:
        from numpy.core.multiarray import _reconstruct
    except ImportError:  # numpy 2 moved it
        from numpy._core.multiarray import _reconstruct  # type: ignore[no-redef]
    # pickles written under numpy 1 name numpy.core.multiarray._reconstruct; numpy 2 keeps it in numpy._core
    found: list = [np.ndarray, np.dtype, _reconstruct, (_reconstruct, "numpy.core.multiarray._reconstruct")]
    dtypes = getattr(np, "dtypes", None)
    if dtypes is not None:
        found += [getattr(dtypes, n) for n in dir(dtypes) if n.endswith("DType")]
    return found


def sevenn_weights_only() -> None:
    """Make sevenn read checkpoints through ``safe_torch_load`` (process-wide, idempotent):
    its ``SevenNetCheckpoint`` calls ``torch.load(weights_only=False)``."""
    try:
        import sevenn.checkpoint as cp
    except ImportError:
        return
    if getattr(cp, "torch_load", None) is not safe_torch_load:
        cp.torch_load = safe_torch_load


__all__ = ["TRUST_ENV", "safe_torch_load", "sevenn_weights_only", "trust_checkpoints", "trusted_by_user",
           "untrusted_pickle"]
