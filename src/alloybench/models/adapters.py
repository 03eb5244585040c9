"""Loaders: each returns an ASE calculator from packaged or local weights, offline.

One ``Family`` per code base (SevenNet, MACE, GRACE, ...): the import name that
must be present, the alloybench extra and the pip packages that provide it (what
``alloybench env create FAMILY`` installs), and a loader
``loader(weights: Path | None, **options) -> Calculator``.  Every loader takes a
local checkpoint; nothing here downloads (hub-only families are given a local
file or folder).  ``from_path`` tells a family from what a path holds.
"""

from __future__ import annotations

import dataclasses

import importlib
import importlib.util
import json
import logging
import os
import re
import warnings
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ase.calculators.calculator import Calculator

from alloybench.errors import MissingExtra, UserError

if TYPE_CHECKING:
    from alloybench.models import Model, ModelSpec

EV_PER_A3_PER_GPA = 1 / 160.21766208


# --------------------------------------------------------------------------- helpers

def cueq_requested() -> bool:
    """ALLOYBENCH_CUEQ=1: e3nn-based models (SevenNet) use NVIDIA cuEquivariance kernels.
    GPU only, and only where cuequivariance-torch and its ops package are installed."""
    return os.environ.get("ALLOYBENCH_CUEQ", "").strip().lower() in ("1", "true", "yes")


def threads() -> int:
    """Cores this process may use: ALLOYBENCH_THREADS if set, else its CPU affinity."""
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    return int(os.environ.get("ALLOYBENCH_THREADS", "0")) or cores


def _torch_threads() -> None:
    """Use every core we were given; torch defaults can oversubscribe small machines."""
    try:
        import torch

        torch.set_num_threads(threads())
    except ImportError:
        pass


def device() -> str:
    want = os.environ.get("ALLOYBENCH_DEVICE", "auto")
    if want != "auto":
        return want
    try:
        import torch

        return "cuda" if torch.cuda.is_available() else "cpu"
    except ImportError:
        return "cpu"


def _need(module: str, what: str, extra: str, package: str | None = None):
    try:
        return importlib.import_module(module)
    except ImportError as exc:
        raise MissingExtra(what, extra, package) from exc


def _require(weights: Path | None, what: str, hint: str) -> Path:
    if weights is None:
        raise UserError(f"{what}: weights missing: {hint}")
    return Path(weights)


# --------------------------------------------------------------------------- loaders

def load_emt(weights: Path | None = None, **_: Any) -> Calculator:
    from ase.calculators.emt import EMT

    return EMT()


def load_sevennet(weights: Path | None, modal: str | None = None, **_: Any) -> Calculator:
    weights = _require(weights, "SevenNet", "pass a checkpoint .pth")
    try:
        from sevenn.calculator import SevenNetCalculator
    except ImportError as exc:
        raise MissingExtra("SevenNet", "sevenn") from exc
    from alloybench.models.trust import sevenn_weights_only

    sevenn_weights_only()  # sevenn's own torch.load(weights_only=False) -> weights_only=True
    _torch_threads()
    kwargs: dict[str, Any] = {"model": str(weights), "device": device()}
    if modal:
        kwargs["modal"] = modal
    if cueq_requested():
        kwargs["enable_cueq"] = True
    with warnings.catch_warnings():
        # the tensor-product accelerators (cuEquivariance...) are GPU-only; on CPU the warning is noise
        warnings.filterwarnings("ignore", message="No tensor product accelerator")
        return SevenNetCalculator(**kwargs)


def load_chgnet(weights: Path | None, **_: Any) -> Calculator:
    weights = _require(weights, "CHGNet", "pass a .pth.tar checkpoint")
    try:
        from chgnet.model.dynamics import CHGNetCalculator
    except ImportError as exc:
        raise MissingExtra("CHGNet", "chgnet") from exc
    _torch_threads()
    return CHGNetCalculator(model=chgnet_model(weights), use_device=device(), stress_weight=EV_PER_A3_PER_GPA)


def chgnet_model(weights: Path):
    """A CHGNet model from a checkpoint, read without arbitrary unpickling (CHGNet.from_file uses
    weights_only=False; its checkpoints are plain state).  Checkpoints written by CHGNet's own
    Trainer keep ``verbose`` in their model_args, which from_dict is also given: it is dropped."""
    from chgnet.model import CHGNet

    from alloybench.models.trust import safe_torch_load

    state = safe_torch_load(str(weights), map_location="cpu")["model"]
    state = {**state, "model_args": {k: v for k, v in (state.get("model_args") or {}).items() if k != "verbose"}}
    try:
        return CHGNet.from_dict(state, verbose=False)
    except RuntimeError as exc:
        if "mlp_out" not in str(exc):
            raise
        # CHGNet 0.2.0 checkpoints carry output-layer biases that later versions dropped
        return CHGNet.from_dict(state, verbose=False, mlp_out_bias=True, version="0.2.0")


def load_matgl(weights: Path | None, **_: Any) -> Calculator:
    weights = _require(weights, "matgl", "pass a matgl model folder (model.json, model.pt, state.pt)")
    matgl = _need("matgl", "M3GNet / TensorNet (matgl)", "matgl")
    from matgl.ext.ase import PESCalculator

    _torch_threads()
    # matgl builds the model on the CPU and PESCalculator never moves it: without .to() a
    # "cuda" run would silently compute on the CPU (graphs follow the model's device)
    potential = matgl.load_model(str(weights)).to(device())
    # PESCalculator reports GPa unless told otherwise; the engine wants ASE's eV/Å^3
    try:
        return PESCalculator(potential, stress_unit="eV/A3")
    except TypeError:  # matgl < 1.2
        return PESCalculator(potential, stress_weight=EV_PER_A3_PER_GPA)


def load_mace(weights: Path | None, default_dtype: str = "float64", head: str | None = None, **_: Any) -> Calculator:
    weights = _require(weights, "MACE", "pass a local .model file")
    _need("mace", "MACE", "mace", "mace-torch")
    from mace.calculators import MACECalculator

    _torch_threads()
    kwargs: dict[str, Any] = {"model_paths": str(weights), "device": device(), "default_dtype": default_dtype}
    if head:
        kwargs["head"] = head
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # torch.load / e3nn deprecation noise
        return MACECalculator(**kwargs)


def load_grace(weights: Path | None, **options: Any) -> Calculator:
    weights = _require(weights, "GRACE", "pass a local GRACE model folder (saved TensorFlow model)")
    _need("tensorpotential", "GRACE", "grace", "tensorpotential")
    from tensorpotential.calculator import TPCalculator

    return TPCalculator(model=str(weights), **options)


def load_mattersim(weights: Path | None, **_: Any) -> Calculator:
    weights = _require(weights, "MatterSim", "pass a local mattersim-*.pth checkpoint")
    _need("mattersim", "MatterSim", "mattersim")
    from mattersim.forcefield import MatterSimCalculator

    _torch_threads()
    return MatterSimCalculator(load_path=str(weights), device=device())


def _orb_architecture(weights: Path) -> str:
    """orb-v3-conservative-inf-omat-20250404.ckpt -> orb_v3_conservative_inf_omat."""
    stem = re.sub(r"-\d{8}$", "", weights.name.split(".")[0])
    return stem.replace("-", "_")


def load_orb(weights: Path | None, architecture: str | None = None, precision: str = "float32-highest",
             compile: bool = False, **_: Any) -> Calculator:
    """``architecture``: the orb_models.forcefield.pretrained function that builds the
    network (orb_v2, orb_v3_conservative_inf_omat...); default: from the file name.
    No torch.compile by default (it needs a C++ toolchain and minutes on CPU)."""
    weights = _require(weights, "ORB", "pass a local orb-*.ckpt checkpoint")
    _need("orb_models", "ORB", "orb", "orb-models")
    from orb_models.forcefield import pretrained
    from orb_models.forcefield.calculator import ORBCalculator

    _torch_threads()
    arch = (architecture or _orb_architecture(weights)).replace("-", "_")
    table = {k.replace("-", "_"): v for k, v in getattr(pretrained, "ORB_PRETRAINED_MODELS", {}).items()}
    factory = table.get(arch) or getattr(pretrained, arch, None)
    if factory is None or arch.endswith("_architecture"):
        raise UserError(f"ORB: unknown architecture '{arch}' for {weights.name} "
                        f"(known: {', '.join(sorted(table))}); give options: {{architecture: ...}} in a model file")
    dev = device()
    try:
        loaded = factory(weights_path=str(weights), device=dev, precision=precision, compile=compile)
    except TypeError:  # older orb-models: no precision/compile arguments
        loaded = factory(weights_path=str(weights), device=dev)
    if isinstance(loaded, tuple):  # orb-models >= 0.6: (model, atoms_adapter)
        model, adapter = loaded
        return ORBCalculator(model, atoms_adapter=adapter, device=dev)
    return ORBCalculator(loaded, device=dev)


def load_fairchem(weights: Path | None, task_name: str = "omat", **_: Any) -> Calculator:
    weights = _require(weights, "fairchem", "pass a local checkpoint (.pt)")
    core = _need("fairchem.core", "fairchem (UMA, eSEN, eqV2)", "fairchem", "fairchem-core")
    _torch_threads()
    if hasattr(core, "pretrained_mlip"):  # fairchem-core >= 2: UMA, eSEN
        from fairchem.core import FAIRChemCalculator, pretrained_mlip

        settings: Any = "default"
        if device() == "cpu":  # the "default" preset may torch.compile (needs a toolchain, minutes on CPU)
            try:
                from fairchem.core.units.mlip_unit.api.inference import InferenceSettings

                settings = InferenceSettings(tf32=False, merge_mole=False, compile=False)
            except ImportError:
                pass
        predictor = pretrained_mlip.load_predict_unit(str(weights), inference_settings=settings, device=device())
        return FAIRChemCalculator(predictor, task_name=task_name)
    from fairchem.core import OCPCalculator  # fairchem-core 1.x: eqV2

    return OCPCalculator(checkpoint_path=str(weights), cpu=device() == "cpu")


def _deepmd_fast_torchscript() -> None:
    """deepmd-kit's TorchScript models are re-optimised by the graph executor on
    each new input shape (minutes per call on CPU): turn the profiling executor and
    the executor's optimisation off (process-wide; measured 131 s -> 0.8 s for the
    first single point of DPA3-LAM, same energies)."""
    try:
        import torch

        torch._C._jit_set_profiling_executor(False)
        torch._C._set_graph_executor_optimize(False)
    except (ImportError, AttributeError):
        pass


def load_deepmd(weights: Path | None, head: str | None = None, **_: Any) -> Calculator:
    weights = _require(weights, "DeePMD", "pass a local frozen model (.pth / .pb) or checkpoint (.pt)")
    _need("deepmd", "DeePMD / DPA", "deepmd", "deepmd-kit")
    _torch_threads()
    _deepmd_fast_torchscript()
    from deepmd.calculator import DP

    kwargs: dict[str, Any] = {"model": str(weights)}
    if head:
        kwargs["head"] = head
    return DP(**kwargs)


def load_metatomic(weights: Path | None, **_: Any) -> Calculator:
    """PET-MAD / uPET and any metatomic-exported model (.pt); a metatrain
    checkpoint (.ckpt) is exported in memory first."""
    weights = _require(weights, "PET-MAD", "pass a local exported model (.pt) or checkpoint (.ckpt)")
    _need("metatomic.torch", "PET-MAD / metatomic", "pet-mad", "upet")
    try:
        from metatomic_ase import MetatomicCalculator  # metatomic >= 0.1.19
    except ImportError:
        from metatomic.torch.ase_calculator import MetatomicCalculator

    _torch_threads()
    if weights.suffix == ".ckpt":
        from metatrain.utils.io import load_model

        model = load_model(str(weights)).export()
        return MetatomicCalculator(model, device=device())
    return MetatomicCalculator(str(weights), device=device())


def load_nequip(weights: Path | None, **_: Any) -> Calculator:
    """NequIP and Allegro: compiled (.nequip.pt2 / .nequip.pth, nequip >= 0.7),
    packaged (.nequip.zip, as nequip.net serves them) or checkpoint (.ckpt) models,
    or deployed (.pth, nequip 0.5-0.6) ones."""
    weights = _require(weights, "NequIP/Allegro",
                       "pass a compiled (.nequip.pt2/.pth), packaged (.nequip.zip) or deployed (.pth) model")
    _need("nequip", "NequIP / Allegro", "nequip")
    try:
        from nequip.integrations.ase import NequIPCalculator  # nequip.ase is a deprecated alias of it
    except ImportError:
        from nequip.ase import NequIPCalculator

    _torch_threads()
    if weights.name.endswith((".nequip.zip", ".ckpt")) and hasattr(NequIPCalculator, "_from_saved_model"):
        # from_compiled_model refuses these (it reads .nequip.pth/.pt2 only); nequip-compile would need
        # a C++ toolchain and minutes, so run the model eagerly with nequip's own loader for saved models
        # (private, but what nequip's tests build their reference ASE calculator with)
        return NequIPCalculator._from_saved_model(str(weights), device=device())
    if hasattr(NequIPCalculator, "from_compiled_model") and (".nequip." in weights.name or weights.suffix == ".pt2"):
        return NequIPCalculator.from_compiled_model(str(weights), device=device())
    if hasattr(NequIPCalculator, "from_deployed_model"):
        return NequIPCalculator.from_deployed_model(str(weights), device=device())
    return NequIPCalculator.from_compiled_model(str(weights), device=device())


def _import_keeping_logging(module: str, what: str, extra: str, package: str | None = None):
    """Import a package that configures the root logger on import (pyace calls
    ``logging.basicConfig(level=INFO)``), then put the root logger back as it was."""
    root = logging.getLogger()
    level, handlers = root.level, root.handlers[:]
    try:
        return _need(module, what, extra, package)
    finally:
        root.setLevel(level)
        root.handlers[:] = handlers


def load_ace(weights: Path | None, **options: Any) -> Calculator:
    """Atomic Cluster Expansion (pacemaker / PACE) through python-ace's own evaluator:
    a B-basis ``.yaml`` as pacemaker writes it, or the ``.yace`` (C-tilde basis) that
    LAMMPS ``pair_style pace`` reads.  ``options`` go to
    ``pyace.PyACECalculator`` (e.g. ``recursive_evaluator: true`` for a .yace)."""
    weights = _require(weights, "ACE", "pass a pacemaker B-basis .yaml or a .yace file")
    _import_keeping_logging("pyace", "ACE (python-ace)", "ace", "python-ace")
    from pyace import ACEBBasisSet, ACECTildeBasisSet, PyACECalculator

    # PyACECalculator picks the reader from the file name (.yaml: B-basis, .yace/.ace: C-tilde);
    # a file named otherwise (.yml, a .yace saved as .yaml) gets the reader its contents need
    # (ACECTildeBasisSet(path) refuses any name but .yace/.ace; load_yaml reads any)
    kind, name = ace_format(weights), weights.name  # pyace's test is case-sensitive
    try:
        if kind == "bbasis" and not name.endswith(".yaml"):
            basis: Any = ACEBBasisSet(str(weights))
        elif kind == "ctilde" and not name.endswith(".yace"):
            basis = ACECTildeBasisSet()
            basis.load_yaml(str(weights))
        else:
            basis = str(weights)
        return PyACECalculator(basis_set=basis, **options)
    except (ValueError, RuntimeError) as exc:  # pyace's readers: unknown format, inconsistent basis...
        first = (str(exc).strip().splitlines() or [repr(exc)])[0]
        raise UserError(f"ACE: cannot load {weights}: {first}") from exc


def load_eam(weights: Path | None, **_: Any) -> Calculator:
    from ase.calculators.eam import EAM

    return EAM(potential=str(weights))


def load_gpaw(weights: Path | None = None, **options: Any) -> Calculator:
    """GPAW (PBE) through alloybench.dft: options ``settings`` ('default' | 'low' | 'reference-k'), ``max_atoms``."""
    from alloybench.dft.model import load_gpaw as _load

    return _load(weights, **options)


def load_kim(weights: Path | None = None, model_id: str = "", **_: Any) -> Calculator:
    _need("kimpy", "OpenKIM", "kim", "kimpy")
    from ase.calculators.kim import KIM

    return KIM(model_id)


def load_lammps(weights: Path | None = None, **options: Any) -> Calculator:
    from alloybench.models.lammps import lammps_calculator

    return lammps_calculator(**options)


# --------------------------------------------------------------------------- families

@dataclass(frozen=True)
class Family:
    """A code base that turns weights into a calculator."""

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

    def installed(self) -> bool:
        if self.package is None:
            return True
        try:
            return importlib.util.find_spec(self.package) is not None
        except (ImportError, ValueError):
            return False


FAMILIES: dict[str, Family] = {f.name: f for f in [
    Family("classical", "ASE EMT", load_emt, weights_hint="built into ASE"),
    Family("eam", "EAM (ASE)", load_eam, weights_hint="pass a .eam / .eam.alloy / .eam.fs file"),
    Family("sevennet", "SevenNet", load_sevennet, "sevenn", "sevenn", ("sevenn>=0.11",),
           weights_hint="pass a checkpoint .pth", licence="GPL-3.0"),
    Family("chgnet", "CHGNet", load_chgnet, "chgnet", "chgnet", ("chgnet>=0.3",),
           weights_hint="pass a .pth.tar checkpoint", licence="BSD-3-Clause"),
    Family("matgl", "M3GNet / TensorNet (matgl)", load_matgl, "matgl", "matgl", ("matgl>=1.1",),
           weights_hint="pass a matgl model folder (model.json, model.pt, state.pt)", licence="BSD-3-Clause"),
    Family("mace", "MACE", load_mace, "mace", "mace", ("mace-torch>=0.3.10",),
           weights_hint="pass a local .model path", licence="MIT (code)"),
    Family("grace", "GRACE (tensorpotential)", load_grace, "tensorpotential", "grace", ("tensorpotential",),
           torch=False, swap=(("tensorflow", "tensorflow-cpu<=2.20"),),
           weights_hint="pass a local GRACE model folder", licence="ASL (tensorpotential)"),
    Family("mattersim", "MatterSim", load_mattersim, "mattersim", "mattersim", ("mattersim",),
           weights_hint="pass a local mattersim-*.pth", licence="MIT"),
    Family("orb", "ORB", load_orb, "orb_models", "orb", ("orb-models",),
           weights_hint="pass a local orb-*.ckpt", licence="Apache-2.0"),
    Family("fairchem", "fairchem (UMA, eSEN, eqV2)", load_fairchem, "fairchem.core", "fairchem", ("fairchem-core",),
           weights_hint="pass a local checkpoint .pt", licence="see model card (Meta)"),
    Family("deepmd", "DeePMD-kit (DPA-2/3)", load_deepmd, "deepmd", "deepmd", ("deepmd-kit==3.1.3",),
           weights_hint="pass a local frozen model .pth", licence="LGPL-3.0"),
    Family("pet-mad", "PET-MAD / uPET (metatomic)", load_metatomic, "metatomic.torch", "pet-mad", ("upet",),
           weights_hint="pass a local exported .pt or .ckpt", licence="BSD-3-Clause (code), CC-BY-4.0 (weights)"),
    Family("nequip", "NequIP / Allegro", load_nequip, "nequip", "nequip", ("nequip", "nequip-allegro"),
           weights_hint="pass a packaged .nequip.zip (nequip-package), a compiled .nequip.pth/.pt2 "
                        "(nequip-compile) or a deployed .pth", licence="MIT"),
    Family("ace", "ACE (pacemaker / PACE, python-ace)", load_ace, "pyace", "ace", ("python-ace>=0.4.0rc1",),
           torch=False,
           weights_hint="pass a pacemaker B-basis .yaml or a .yace (what LAMMPS pair_style pace reads)",
           licence="ASL, academic non-commercial (python-ace); potentials: per file",
           notes="evaluates the same potential files as LAMMPS pair_style pace, with no ML-PACE LAMMPS build"),
    Family("lammps", "LAMMPS (pair_style ...)", load_lammps, "lammps", "lammps", ("lammps",), torch=False,
           apt=("libmpich12", "lammps-data"), weights_hint="pass a model file (family: lammps)",
           licence="GPL-2.0 (LAMMPS)"),
    Family("dft", "GPAW (PBE DFT)", load_gpaw, "gpaw", "dft", ("gpaw==26.7.0", "gpaw-data"), torch=False,
           apt=("libxc-dev", "libfftw3-dev", "libopenblas-dev"),
           weights_hint="no weights: a DFT code (settings: alloybench.dft.settings)", licence="GPL-3.0 (GPAW)",
           notes="serial engine only; Jobs of at most 40 atoms (alloybench.dft.model)"),
    Family("kim", "OpenKIM (kimpy)", load_kim, "kimpy", "kim", ("kimpy",), torch=False,
           apt=("libkim-api-dev", "openkim-models", "pkg-config"), weights_hint="kim:MODEL_ID of an installed model",
           licence="per model (OpenKIM)"),
]}


def family(name: str) -> Family:
    try:
        return FAMILIES[name]
    except KeyError:
        raise UserError(f"unknown model family '{name}' (known: {', '.join(FAMILIES)})") from None


# --------------------------------------------------------------------------- weights on disk

def weight_dirs() -> list[Path]:
    """Folders searched for named models' weights: $ALLOYBENCH_WEIGHTS (os.pathsep-
    separated), else ~/.alloybench/weights."""
    raw = os.environ.get("ALLOYBENCH_WEIGHTS")
    dirs = raw.split(os.pathsep) if raw else ["~/.alloybench/weights"]
    return [Path(d).expanduser() for d in dirs if d]


def _site_root(package: str) -> Path | None:
    """Folder of an importable package, without importing it."""
    try:
        found = importlib.util.find_spec(package)
    except (ImportError, ValueError):
        return None
    if found is None or not found.submodule_search_locations:
        return None
    return Path(list(found.submodule_search_locations)[0])


def packaged_weights(spec: "ModelSpec", site_packages: Path | None = None) -> Path | None:
    """Where a registry model's weights are on disk, or None (never downloads).

    Looks in the package's own folder (weights shipped in the wheel, or left by
    the package's own downloader), the family's cache folders, then the weight
    folders (``weight_dirs``), as ``DIR/FILE`` or ``DIR/FAMILY/FILE``.
    ``site_packages`` looks in another environment's packages instead of this one's.
    """
    fam = FAMILIES[spec.family]
    candidates: list[Path] = []
    root = None
    if spec.packaged and fam.package:
        top = fam.package.split(".")[0]
        root = (site_packages / top) if site_packages else _site_root(top)
    if root is not None:
        candidates += [root / p for p in spec.packaged]
    for d in spec.cache_dirs:
        candidates += [Path(d).expanduser() / f for f in spec.files]
    for d in weight_dirs():
        for f in spec.files:
            candidates += [d / f, d / spec.family / f]
    for c in candidates:
        if "*" in c.name:
            hits = sorted(c.parent.glob(c.name))
            if hits:
                return hits[0]
        elif c.exists():
            return c
    return None


# --------------------------------------------------------------------------- paths -> family

def eam_elements(path: Path) -> frozenset[str]:
    """Elements an EAM file declares (setfl: line 4; funcfl: first line's Z)."""
    from ase.data import chemical_symbols

    lines = path.read_text(errors="replace").splitlines()
    name = path.name.lower()
    if name.endswith((".alloy", ".fs", ".setfl", ".adp")) and len(lines) > 3:
        return frozenset(lines[3].split()[1:])
    try:
        return frozenset({chemical_symbols[int(lines[1].split()[0])]})
    except (IndexError, ValueError) as exc:
        raise UserError(f"cannot read elements from EAM file {path}") from exc


_TOP_KEY = re.compile(r"([A-Za-z_][\w-]*)\s*:")
BBASIS_KEYS = frozenset({"global", "species"})  # pacemaker's B-basis YAML (output_potential.yaml)
CTILDE_KEYS = frozenset({"elements", "embeddings", "bonds", "functions"})  # .yace (pace_yaml2yace)


def ace_format(path: Path) -> str | None:
    """``bbasis`` for pacemaker's B-basis YAML (top-level ``global``, ``species``),
    ``ctilde`` for the C-tilde YAML that LAMMPS ``pair_style pace`` reads (.yace:
    ``elements``, ``embeddings``, ``bonds``, ``functions``), else None.  Reads the
    top-level keys only (a B-basis file can be megabytes)."""
    keys: set[str] = set()
    try:
        with open(path, errors="replace") as fh:
            for line in fh:
                m = _TOP_KEY.match(line)  # column 0 only: nested keys are indented
                if m:
                    keys.add(m.group(1))
                    if BBASIS_KEYS <= keys:
                        return "bbasis"
                    if CTILDE_KEYS <= keys:
                        return "ctilde"
    except (OSError, UnicodeDecodeError):
        return None
    return None


def ace_elements(path: Path) -> frozenset[str]:
    """Elements an ACE potential file declares (.yace, and the legacy .ace text format:
    ``elements:``; B-basis: the species of its ``speciesblock``s)."""
    from ase.data import chemical_symbols

    found: set[str] = set()
    kind = ace_format(path)
    try:
        with open(path, errors="replace") as fh:
            for line in fh:
                if kind != "bbasis" and line.startswith("elements:"):
                    found = set(re.findall(r"[A-Z][a-z]?", line.partition(":")[2]))
                    break
                m = re.match(r"\s*-?\s*speciesblock:\s*(.+)", line) if kind == "bbasis" else None
                if m:
                    found.update(re.findall(r"[A-Z][a-z]?", m.group(1)))
    except OSError as exc:
        raise UserError(f"cannot read ACE file {path}: {exc}") from exc
    if not found and kind is not None:  # not in the layout pyace writes (e.g. a block-style list): parse it all
        import yaml

        try:
            doc = yaml.load(path.read_text(), Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))
            names = doc["elements"] if kind == "ctilde" else [b["speciesblock"] for b in doc["species"]]
            found = {el for n in names for el in str(n).split()}
        except Exception:  # noqa: BLE001 - reported below as unreadable
            found = set()
    if not found or not found <= set(chemical_symbols[1:]):
        raise UserError(f"cannot read elements from ACE file {path} (not a pacemaker .yaml / .yace?)")
    return frozenset(found)


def file_elements(family_name: str, path: Path) -> frozenset[str] | None:
    """What a single-file potential covers, from the file (EAM, ACE); None: not told by the file."""
    if family_name == "eam":
        return eam_elements(path)
    if family_name == "ace" and path.is_file():
        return ace_elements(path)
    return None


def _zip_names(path: Path) -> list[str]:
    try:
        with zipfile.ZipFile(path) as z:
            return z.namelist()
    except (zipfile.BadZipFile, OSError):
        return []


def _zip_text(path: Path, limit: int = 1 << 20) -> bytes:
    """The pickled header and any TorchScript code of a torch file, for sniffing (never unpickled)."""
    out = b""
    try:
        with zipfile.ZipFile(path) as z:
            for n in z.namelist():
                if n.endswith(("data.pkl", ".py", "extra/metadata", "constants.pkl")) or "/extra/" in n:
                    with z.open(n) as fh:
                        out += fh.read(limit)
    except (zipfile.BadZipFile, OSError):
        pass
    return out


def sniff_family(path: Path) -> str | None:
    """The family a weights file or folder belongs to, from its name and contents."""
    name = path.name.lower()
    if path.is_dir():
        if (path / "model.json").exists():
            return "matgl"
        if (path / "saved_model.pb").exists() or (path / "metadata.yaml").exists():
            return "grace"
        if (path / "model.yaml").is_file():  # a model folder (alloybench finetune writes these)
            return "modelfile"
        return None
    if name.endswith((".eam.alloy", ".eam.fs", ".eam", ".setfl")) or name.endswith(".alloy"):
        return "eam"
    if name.endswith(".yace"):
        return "ace"
    if name.endswith((".yaml", ".yml")) and ace_format(path) is not None:
        return "ace"
    if name.endswith((".yaml", ".yml", ".json")):
        return "modelfile"
    if name.endswith(".model"):
        return "mace"
    if name.endswith(".pth.tar"):
        return "chgnet"
    if ".nequip." in name or name.endswith(".pt2"):
        return "nequip"
    if name.endswith(".ckpt"):
        text = _zip_text(path)
        if b"nequip" in text:
            return "nequip"
        if b"metatrain" in text or b"pet" in name.encode():
            return "pet-mad"
        return "orb"
    if name.endswith(".pb"):
        return "deepmd"
    if name.endswith((".pth", ".pt")):
        names = _zip_names(path)
        text = _zip_text(path)
        if any("/code/" in n for n in names):  # TorchScript
            if b"metatomic" in text or b"metatensor" in text:
                return "pet-mad"
            if b"nequip" in text or b"allegro" in text:
                return "nequip"
            if b"deepmd" in text:
                return "deepmd"
            return None
        if b"mattersim" in text or ("mattersim" in name and b"model_args" in text):
            return "mattersim"
        # fairchem first: its inference checkpoints (MLIPInferenceCheckpoint) also hold
        # model_state_dict and model_config, which would read as SevenNet below
        if b"tasks_config" in text or b"fairchem" in text or b"predict_unit" in text:
            return "fairchem"
        if b"model_state_dict" in text and b"config" in text:
            return "sevennet"
        if b"model_args" in text:
            return "mattersim"
        return "sevennet" if name.endswith(".pth") else None
    return None


def _model(family_name: str, label: str, digest: str, elements, make, info: dict[str, Any]) -> "Model":
    from alloybench.models import Model

    return Model(f"{family_name}:{label}@{digest}", label, family_name, elements, make,
                 {"family": family_name, **info})


def from_path(path: Path, digest: str, family_name: str | None = None, options: dict[str, Any] | None = None,
              source: str | None = None) -> "Model":
    """A local weights file, folder or model file -> Model (the family from
    ``family_name`` or from what the path holds)."""
    from alloybench.models import UNIVERSAL

    fam = family_name or sniff_family(path)
    if fam == "modelfile":
        from alloybench.models import load_model_file

        return load_model_file(path)
    if fam is None:
        raise UserError(f"cannot tell which kind of potential {path} is; say it as FAMILY:PATH "
                        f"(families: {', '.join(k for k in FAMILIES if k != 'classical')})")
    if fam == "lammps":
        from alloybench.models import model_from_dict
        from alloybench.models.lammps import spec_for_file

        return model_from_dict(spec_for_file(path), path.parent, source=source or f"lammps:{path}")
    f = family(fam)
    from alloybench.models.trust import require_trust

    check_weights_kind(fam, path, f"{f.title} model {path.name}")
    if not f.installed():
        raise MissingExtra(f"{f.title} model {path.name}", f.extra or f.name, f.pip[0] if f.pip else None)
    require_trust(fam, path, f"{f.title} model {path.name}")  # before anything could load it
    options = dict(options or {})
    elements = file_elements(fam, path) or UNIVERSAL
    return _model(fam, path.name, digest, elements, lambda: f.loader(path, **options),
                  {"weights": str(path), "options": options} if options else {"weights": str(path)})


CALLABLE = re.compile(r"[A-Za-z_]\w*(\.[A-Za-z_]\w*)*:[A-Za-z_]\w*(\.[A-Za-z_]\w*)*")
FOLDER_FAMILIES = frozenset({"matgl", "grace"})  # whose weights are a folder; every other family's are a file


def check_weights_kind(family_name: str, path: Path, what: str) -> None:
    """A folder where the family needs a file (or the reverse) is the user's mistake, said before
    anything hashes or loads it."""
    if path.is_dir() and family_name not in FOLDER_FAMILIES and family_name != "lammps":
        raise UserError(f"{what}: {path} is a folder; {FAMILIES[family_name].title} weights are a file "
                        f"({FAMILIES[family_name].weights_hint})")
    if not path.is_dir() and family_name in FOLDER_FAMILIES:
        raise UserError(f"{what}: {path} is a file; {FAMILIES[family_name].title} weights are a folder "
                        f"({FAMILIES[family_name].weights_hint})")


def callable_version(module: Any, factory: Any) -> str:
    """What identifies a callable model's code: its ``version`` attribute when the user names
    one, else a digest of its module's source file (so editing it invalidates stored results)."""
    import hashlib
    import inspect

    named = getattr(factory, "version", None)
    if isinstance(named, (str, int, float)) and str(named).strip():
        return "v" + str(named).strip()
    try:
        source = inspect.getsourcefile(module) or getattr(module, "__file__", None)
    except TypeError:  # a built-in module
        source = None
    h = hashlib.sha256()
    if source and os.path.isfile(source):
        with open(source, "rb") as fh:
            h.update(fh.read())
    else:
        h.update(f"{module.__name__} {getattr(module, '__version__', '')}".encode())
    return h.hexdigest()[:12]


def from_callable(target: str) -> "Model":
    """``package.module:function`` (dotted names allowed on both sides) returning an ASE
    calculator; optional attributes on the function: ``elements`` (what it covers) and
    ``version`` (names the code; default: a digest of the module's source file)."""
    from alloybench.models import Model

    if not CALLABLE.fullmatch(target):
        raise UserError(f"model '{target[:80]}' is not of the form package.module:function")
    module_name, _, attr = target.partition(":")
    try:
        module = importlib.import_module(module_name)
    except Exception as exc:  # noqa: BLE001 - ImportError, or the module's own code failing on import
        raise UserError(f"cannot import module '{module_name}' for model {target} "
                        f"({type(exc).__name__}: {str(exc).strip().splitlines()[0][:120] if str(exc).strip() else ''})"
                        ) from exc
    factory: Any = module
    for part in attr.split("."):
        factory = getattr(factory, part, None)
    if not callable(factory):
        raise UserError(f"'{attr}' in module '{module_name}' is not a callable")
    elements = getattr(factory, "elements", None)
    try:
        elements = frozenset(str(e) for e in elements) if elements else None
    except TypeError:
        raise UserError(f"model {target}: its 'elements' attribute is not a list of element symbols") from None
    version = callable_version(module, factory)
    return Model(f"callable:{target}@{version}", target, "custom", elements, factory,
                 {"family": "custom", "weights": target, "version": version})


def kim_collection_dirs() -> list[Path]:
    dirs = [Path(p) for p in os.environ.get("KIM_API_PORTABLE_MODELS_DIR", "").split(":") if p]
    dirs += [Path("~/.kim-api").expanduser()]
    dirs += [Path(p) for p in ("/usr/lib/x86_64-linux-gnu/kim-api/portable-models", "/usr/local/lib/kim-api/portable-models",
                                "/usr/lib/kim-api/portable-models")]
    return dirs


def kim_elements(model_id: str) -> frozenset[str] | None:
    """Species from an OpenKIM model name (..._1994_Al__MO_...; AlCu -> Al, Cu)."""
    from ase.data import chemical_symbols

    m = re.search(r"_([A-Za-z]+)__M[OS]_\d+", model_id)
    if not m:
        return None
    found = re.findall(r"[A-Z][a-z]?", m.group(1))
    return frozenset(s for s in found if s in chemical_symbols) or None


def from_kim(model_id: str) -> "Model":
    f = FAMILIES["kim"]
    if not f.installed():
        raise MissingExtra(f"OpenKIM model {model_id}", "kim", "kimpy")
    installed = [d / model_id for d in kim_collection_dirs() if (d / model_id).exists()]
    digest = model_id.rsplit("_", 1)[-1] if "__MO_" in model_id or "__SM_" in model_id else "kim"
    model = _model("kim", model_id, digest, kim_elements(model_id), lambda: load_kim(None, model_id=model_id),
                   {"weights": str(installed[0]) if installed else f"KIM collection: {model_id}",
                    "licence": "see https://openkim.org/id/" + model_id})
    # the spec a worker re-resolves it from: the bare ID is no model name (worker.py falls back to it)
    return dataclasses.replace(model, source=f"kim:{model_id}")


def to_json(obj: Any) -> str:
    return json.dumps(obj, sort_keys=True, default=str)


__all__ = ["FAMILIES", "Family", "ace_format", "device", "from_callable", "from_kim", "from_path", "packaged_weights",
           "sniff_family", "weight_dirs"]
