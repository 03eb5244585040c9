"""Checkpoints are data until proven otherwise: what each family's weights file can do when loaded.

A PyTorch checkpoint is a pickle; unpickling it (``torch.load(weights_only=False)``,
the default of most families' own loaders) runs whatever the file asks for, so a
crafted checkpoint runs its own code.  Per family:

- ``data``: text or numbers only (EAM, ACE, LAMMPS model files, KIM, EMT): nothing to run;
- ``weights-only``: alloybench makes the family's loader read the file with
  ``torch.load(weights_only=True)`` (PyTorch's restricted unpickler: tensors,
  containers, numbers, strings, and here numpy arrays), so a checkpoint that asks for
  anything else is refused unless ``--trust-checkpoint`` is given (SevenNet, CHGNet);
- ``code``: the family's loader needs full unpickling or runs code stored in the file
  (MACE ``.model``: a pickled ``torch.nn.Module``; TorchScript/AOTInductor exports;
  TensorFlow graphs; fairchem, MatterSim, ORB, matgl checkpoints).  Such a file is
  loaded only from a trusted place (the installed packages' folders, the family
  environments, the families' own download caches, ``$ALLOYBENCH_WEIGHTS``) or with
  ``--trust-checkpoint`` (environment: ``ALLOYBENCH_TRUST_CHECKPOINT=1``, which is how
  the flag reaches worker processes).
"""

from __future__ import annotations

import os
import site
import sys
import sysconfig
from pathlib import Path

from alloybench.errors import UserError

TRUST_ENV = "ALLOYBENCH_TRUST_CHECKPOINT"

CHECKPOINT_KIND: dict[str, str] = {
    "classical": "data", "eam": "data", "ace": "data", "lammps": "data", "kim": "data",
    "sevennet": "weights-only", "chgnet": "weights-only",
    "matgl": "code", "mace": "code", "grace": "code", "mattersim": "code", "orb": "code", "fairchem": "code",
    "deepmd": "code", "pet-mad": "code", "nequip": "code",
}

KIND_WORDS = {
    "data": "plain data (nothing runs)",
    "weights-only": "read with torch.load(weights_only=True)",
    "code": "full unpickling / code in the file: trusted folders or --trust-checkpoint",
}


def kind(family: str) -> str:
    return CHECKPOINT_KIND.get(family, "code")


def trusted_by_user() -> bool:
    return os.environ.get(TRUST_ENV, "").strip().lower() in ("1", "true", "yes")


def trusted_roots() -> list[Path]:
    """Folders whose files the user already trusts to run: installed packages, family
    environments, the families' own download caches, $ALLOYBENCH_WEIGHTS."""
    from alloybench.models import REGISTRY
    from alloybench.models.adapters import weight_dirs

    roots = [Path(sys.prefix), Path(sys.base_prefix), Path(sysconfig.get_paths()["purelib"]),
             Path("~/.alloybench/envs").expanduser()]
    try:
        roots += [Path(p) for p in site.getsitepackages() + [site.getusersitepackages()]]
    except AttributeError:  # virtualenv's old site module
        pass
    roots += weight_dirs()
    roots += {Path(d).expanduser() for spec in REGISTRY.values() for d in spec.cache_dirs}
    out = []
    for r in roots:
        try:
            out.append(r.resolve())
        except OSError:
            pass
    return out


def is_trusted_place(path: Path) -> bool:
    try:
        p = Path(path).expanduser().resolve()
    except OSError:
        return False
    return any(p == r or r in p.parents for r in trusted_roots())


def require_trust(family: str, path: Path | None, what: str) -> None:
    """Refuse (UserError) a ``code`` checkpoint outside the trusted folders unless the user trusts it."""
    if path is None or kind(family) != "code" or trusted_by_user() or is_trusted_place(path):
        return
    raise UserError(f"{what}: loading {path} runs code stored in the file ({family} checkpoints need full "
                    f"unpickling), and it is outside the installed packages and $ALLOYBENCH_WEIGHTS: pass "
                    f"--trust-checkpoint if you trust where it came from")


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


__all__ = ["CHECKPOINT_KIND", "TRUST_ENV", "kind", "require_trust", "safe_torch_load", "sevenn_weights_only",
           "trusted_by_user"]
