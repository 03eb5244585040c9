"""What every model family module fills in (``Family``), and the helpers their loaders share.

A family is one code base that turns weights into an ASE calculator (SevenNet, MACE,
LAMMPS...).  Its module in this package says, and nothing else needs editing to add one:

- how its weights are recognised: ``sniff`` rules (asked in ``rank`` order over every family;
  the first that matches names the family) and whether the weights are a folder;
- how it loads: ``loader(weights, device, **options) -> Calculator`` (the device is an
  argument, never read from the environment by the loader);
- whether it only computes on the CPU (``cpu_only``);
- what loading its weights file can run (``checkpoint``: ``data``, ``weights-only`` or ``code``,
  see ``alloybench.models.trust``); required, so a new family cannot forget it;
- its environment recipe for ``alloybench env create`` (``pip``, ``swap``, ``torch``, ``apt``,
  ``env_fix``);
- its batched backend factory for ``--engine batched`` (``batched``; None: no batched path);
- the packages whose versions a run records (``packages``).

This module imports nothing of alloybench but its errors, so that every family module, the
engines and the environment builder can import it without an import cycle.
"""

from __future__ import annotations

import importlib
import importlib.util
import logging
import os
import zipfile
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

from ase import units
from ase.calculators.calculator import Calculator

from alloybench.errors import MissingExtra, UserError

EV_PER_A3_PER_GPA = units.GPa

# what loading a family's weights file can run (alloybench.models.trust says what each means)
CHECKPOINT_KINDS = ("data", "weights-only", "code")


# --------------------------------------------------------------------------- device and threads
def default_device() -> str:
    """ALLOYBENCH_DEVICE when set (cpu, cuda, cuda:1...), else cuda when torch sees a GPU, else cpu."""
    want = os.environ.get("ALLOYBENCH_DEVICE", "auto")
    if want != "auto":
        return want
    try:
        import torch

        return "cuda" if torch.cuda.is_available() else "cpu"
    except ImportError:
        return "cpu"


def cueq_requested() -> bool:
    """ALLOYBENCH_CUEQ=1: e3nn-based models (SevenNet) use NVIDIA cuEquivariance kernels.
    GPU only, and only where cuequivariance-torch and its ops package are installed."""
    return os.environ.get("ALLOYBENCH_CUEQ", "").strip().lower() in ("1", "true", "yes")


def threads() -> int:
    """Cores this process may use: ALLOYBENCH_THREADS if set, else its CPU affinity."""
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    return int(os.environ.get("ALLOYBENCH_THREADS", "0")) or cores


def torch_threads() -> None:
    """Use every core we were given; torch defaults can oversubscribe small machines."""
    try:
        import torch

        torch.set_num_threads(threads())
    except ImportError:
        pass


# --------------------------------------------------------------------------- loader helpers
def need(module: str, what: str, extra: str, package: str | None = None):
    """Import ``module`` or raise MissingExtra naming the alloybench extra."""
    try:
        return importlib.import_module(module)
    except ImportError as exc:
        raise MissingExtra(what, extra, package) from exc


def import_keeping_logging(module: str, what: str, extra: str, package: str | None = None):
    """Import a package that configures the root logger on import (pyace calls
    ``logging.basicConfig(level=INFO)``), then put the root logger back as it was."""
    root = logging.getLogger()
    level, handlers = root.level, root.handlers[:]
    try:
        return need(module, what, extra, package)
    finally:
        root.setLevel(level)
        root.handlers[:] = handlers


def require_weights(weights: Path | None, what: str, hint: str) -> Path:
    if weights is None:
        raise UserError(f"{what}: weights missing: {hint}")
    return Path(weights)


def site_packages(env: Path) -> Path:
    """The site-packages folder of the virtual environment ``env``."""
    hits = sorted(env.glob("lib/python3*/site-packages"))
    if not hits:
        raise UserError(f"no site-packages in {env}")
    return hits[0]


# --------------------------------------------------------------------------- recognising weights
class Probe:
    """What sniff rules look at: a path's name, kind and (for torch zip files) the pickled
    header and TorchScript code, read once and never unpickled."""

    def __init__(self, path: Path):
        self.path = path
        self.name = path.name.lower()
        self.is_dir = path.is_dir()

    def file_named(self, *suffixes: str) -> bool:
        """A file (not a folder) whose lower-case name ends with one of ``suffixes``."""
        return not self.is_dir and self.name.endswith(suffixes)

    def has(self, relative: str) -> bool:
        return self.is_dir and (self.path / relative).exists()

    @cached_property
    def zip_names(self) -> list[str]:
        try:
            with zipfile.ZipFile(self.path) as z:
                return z.namelist()
        except (zipfile.BadZipFile, OSError):
            return []

    @cached_property
    def zip_text(self) -> bytes:
        limit, out = 1 << 20, b""
        try:
            with zipfile.ZipFile(self.path) as z:
                for n in z.namelist():
                    if n.endswith(("data.pkl", ".py", "extra/metadata", "constants.pkl")) or "/extra/" in n:
                        with z.open(n) as fh:
                            out += fh.read(limit)
        except (zipfile.BadZipFile, OSError):
            pass
        return out

    def mentions(self, *words: bytes) -> bool:
        return any(w in self.zip_text for w in words)

    @property
    def torch_file(self) -> bool:
        return self.file_named(".pth", ".pt")

    @property
    def torchscript(self) -> bool:
        """A TorchScript archive (its code is stored in the file)."""
        return self.torch_file and any("/code/" in n for n in self.zip_names)

    @property
    def pickled_torch(self) -> bool:
        """A .pth/.pt that is no TorchScript archive: a pickled checkpoint."""
        return self.torch_file and not self.torchscript


@dataclass(frozen=True)
class Rule:
    """One way to recognise a family's weights: asked in ``rank`` order over all families."""

    rank: int
    matches: Callable[[Probe], bool]


# --------------------------------------------------------------------------- the family record
@dataclass(frozen=True)
class Family:
    """A code base that turns weights into a calculator (see the module docstring)."""

    name: str
    title: str
    loader: Callable[..., Calculator]
    package: str | None = None  # import name that must be importable
    extra: str | None = None  # alloybench extra
    pip: tuple[str, ...] = ()  # what 'alloybench env create' installs (after torch)
    # requirements swapped when 'env create' installs ``pip`` (their own dependencies resolved
    # without these): e.g. tensorpotential's linux requirement tensorflow[and-cuda] -> tensorflow-cpu
    swap: tuple[tuple[str, str], ...] = ()
    torch: bool = True  # install CPU torch first
    apt: tuple[str, ...] = ()  # Debian packages it needs (installed by 'env create' when root)
    weights_hint: str = "pass a local checkpoint path"
    licence: str = ""
    notes: str = ""
    sniff: tuple[Rule, ...] = ()
    folder_weights: bool | None = False  # its weights are a folder (True), a file (False), either (None)
    cpu_only: bool = False  # computes on the CPU whatever device is asked for
    # 'env create' fix-up after pip: env_fix(env_dir, log, run) (run(cmd) runs and logs a command)
    env_fix: Callable[[Path, Callable[[str], None], Callable[[list[str]], None]], None] | None = None
    # batched backend factory: batched(model, request) -> Backend (alloybench.engine.batched.BackendRequest)
    batched: Callable[..., Any] | None = None
    packages: tuple[str, ...] = ()  # distributions whose versions a run records
    file_elements: Callable[[Path], frozenset[str]] | None = None  # what a single-file potential covers
    # refuse a run before anything is computed: check_run(model, tasks, ctx, batched) raises UserError
    check_run: Callable[..., None] | None = None
    # what loading its weights can run: one of CHECKPOINT_KINDS (keyword, no default: every family says)
    checkpoint: str = field(kw_only=True)

    def __post_init__(self) -> None:
        if self.checkpoint not in CHECKPOINT_KINDS:
            raise ValueError(f"family {self.name}: checkpoint {self.checkpoint!r} is not one of {CHECKPOINT_KINDS}")

    def installed(self) -> bool:
        if self.package is None:
            return True
        try:
            return importlib.util.find_spec(self.package) is not None
        except (ImportError, ValueError):
            return False

    def load(self, weights: Path | None, options: dict[str, Any] | None = None,
             device: str | None = None) -> Calculator:
        """The family's calculator for ``weights`` with ``options``, on ``device`` (None: the default)."""
        return self.loader(weights, device=device or default_device(), **(options or {}))


__all__ = ["CHECKPOINT_KINDS", "EV_PER_A3_PER_GPA", "Family", "Probe", "Rule", "cueq_requested", "default_device",
           "need", "require_weights", "site_packages", "threads", "torch_threads"]
