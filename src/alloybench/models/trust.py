"""Checkpoints are data until proven otherwise: what each family's weights file can do when loaded.

Each family's module declares its kind (``Family.checkpoint`` in ``models/families/<family>.py``).
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

import site
import sys
import sysconfig
from pathlib import Path

from alloybench.errors import UserError

# reading checkpoints without running them (the family loaders use these directly)
from alloybench.models.checkpoints import (TRUST_ENV, safe_torch_load, sevenn_weights_only, trust_checkpoints,  # noqa: F401
                                           trusted_by_user, untrusted_pickle)
from alloybench.models.families import checkpoint_kind

KIND_WORDS = {
    "data": "plain data (nothing runs)",
    "weights-only": "read with torch.load(weights_only=True)",
    "code": "full unpickling / code in the file: trusted folders or --trust-checkpoint",
}


def kind(family: str) -> str:
    """The checkpoint kind the family's module declares (``Family.checkpoint``); ``code`` for a
    callable and for an unknown family."""
    return checkpoint_kind(family)


def trusted_roots() -> list[Path]:
    """Folders whose files the user already trusts to run: installed packages, family
    environments, the families' own download caches, $ALLOYBENCH_WEIGHTS."""
    from alloybench.models.registry import REGISTRY
    from alloybench.models.weights import weight_dirs

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


__all__ = ["KIND_WORDS", "TRUST_ENV", "kind", "require_trust", "safe_torch_load", "sevenn_weights_only",
           "trust_checkpoints",
           "trusted_by_user", "untrusted_pickle"]
