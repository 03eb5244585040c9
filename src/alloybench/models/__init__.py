"""Models: a name or a path -> ASE calculator factory plus metadata.

Nothing here downloads: named models resolve to weights that a package ships
or to a local path, and a missing package or file is a one-line UserError.

What ``resolve`` accepts:

- a registry name (``alloybench models``), e.g. ``sevennet-0``, ``mace-mpa-0-medium``;
  hub-only models find their weights in ``$ALLOYBENCH_WEIGHTS`` (folders, os.pathsep-
  separated; default ``~/.alloybench/weights``) as ``DIR/FILE`` or ``DIR/FAMILY/FILE``,
  or are given them: ``NAME=PATH`` (or ``resolve(name, weights=PATH)``);
- a local weights path (the family is told from the file: ``.model`` MACE,
  ``.pth.tar`` CHGNet, matgl folder, EAM file, ACE ``.yace``/pacemaker ``.yaml``...),
  or ``FAMILY:PATH`` to say it;
- a model file (``.yaml``/``.json``) with ``family:`` and the rest, e.g. a LAMMPS
  pair_style/pair_coeff (see ``docs``/``model_from_dict``);
- ``kim:MODEL_ID`` for an installed OpenKIM model; ``package.module:callable``.

When the family's package is not importable here but ``alloybench env create FAMILY``
made its environment, the Model is described by a worker in that environment and
carries ``env``: ``alloybench.engine.subprocess.engine_for(model)`` runs it there.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ase.calculators.calculator import Calculator
from ase.data import chemical_symbols

from alloybench.errors import MissingExtra, UserError
from alloybench.models import adapters
from alloybench.models.adapters import FAMILIES

# Elements of MPtrj / Alexandria / OMat-trained universal models (Z = 1..89 at least).
UNIVERSAL = frozenset(chemical_symbols[1:90])
EMT_ELEMENTS = frozenset({"H", "C", "N", "O", "Al", "Ni", "Cu", "Pd", "Ag", "Pt", "Au"})
IN_WORKER = "ALLOYBENCH_IN_WORKER"  # set in workers: resolve in-process, never dispatch again


@dataclass(frozen=True)
class ModelSpec:
    """A known model: what it is and where its weights are."""

    name: str
    family: str
    version: str
    training_data: str
    elements: frozenset[str]
    loader: Callable[..., Calculator] | None = None  # default: the family's loader
    package: str | None = None  # default: the family's import name
    extra: str | None = None  # default: the family's extra
    licence: str = ""
    weights: str = ""  # where the weights come from, in words
    options: dict[str, Any] = field(default_factory=dict)  # passed to the loader
    notes: str = ""
    files: tuple[str, ...] = ()  # file/folder names searched in weight folders and caches
    packaged: tuple[str, ...] = ()  # paths inside the package folder (shipped or downloaded there)
    cache_dirs: tuple[str, ...] = ()  # the family's own download caches
    url: str = ""  # where a user downloads the weights by hand

    @property
    def fam(self) -> adapters.Family:
        return FAMILIES[self.family]

    def load(self, weights: Path | None) -> Calculator:
        return (self.loader or self.fam.loader)(weights, **self.options)

    @property
    def import_name(self) -> str | None:
        return self.package if self.package is not None else self.fam.package

    @property
    def extra_name(self) -> str:
        return self.extra or self.fam.extra or self.family

    def installed(self) -> bool:
        if self.import_name is None:
            return True
        return adapters.FAMILIES[self.family].installed() if self.package is None else _importable(self.package)

    def needs_weights(self) -> bool:
        return bool(self.files or self.packaged)

    def weights_path(self, site_packages: Path | None = None) -> Path | None:
        if not self.needs_weights():
            return None
        return adapters.packaged_weights(self, site_packages)

    def env_dir(self) -> Path | None:
        from alloybench import envs

        return envs.env_dir(self.family) if envs.env_ready(self.family) else None

    def weights_hint(self) -> str:
        where = f"put {self.files[0]} in $ALLOYBENCH_WEIGHTS" if self.files else ""
        hint = f"{self.fam.weights_hint} ({self.name}=PATH{', or ' + where if where else ''})"
        return hint + (f"; download: {self.url}" if self.url else "")

    def status(self) -> str:
        """``ready``, ``ready (env ...)``, or what is missing and how to get it."""
        here = self.installed()
        env = None if here else self.env_dir()
        where = "" if here else f" (env {env})"
        if not here and env is None:
            msg = f"missing package: pip install 'alloybench[{self.extra_name}]' or alloybench env create {self.family}"
            if self.files and self.weights_path() is None:
                msg += f"; weights missing: {self.files[0]}"
            return msg
        if self.needs_weights():
            site = None if here else _site_packages(env)
            if self.weights_path(site) is None:
                return f"weights missing: {self.weights_hint()}"
        return "ready" + where


def _importable(module: str) -> bool:
    import importlib.util

    try:
        return importlib.util.find_spec(module) is not None
    except (ImportError, ValueError):
        return False


def _site_packages(env: Path | None) -> Path | None:
    if env is None:
        return None
    hits = sorted(env.glob("lib/python3*/site-packages"))
    return hits[0] if hits else None


@dataclass(frozen=True)
class Model:
    """A resolved model: stable id (store key), metadata and a calculator factory.

    ``source``/``weights`` re-resolve it (in a worker); ``env`` is the family
    environment it must run in when its package is not importable here."""

    id: str
    name: str
    family: str
    elements: frozenset[str] | None
    make_calculator: Callable[[], Calculator]
    info: dict[str, Any] = field(default_factory=dict)
    source: str = ""
    weights: str | None = None
    env: str | None = None


REGISTRY: dict[str, ModelSpec] = {}


def _register(spec: ModelSpec, *aliases: str) -> None:
    for key in (spec.name, *aliases):
        REGISTRY[key.lower()] = spec


# ----------------------------------------------------------------------------------- registry
_register(ModelSpec("emt", "classical", "ase", "fitted to experiment (Jacobsen 1996)", EMT_ELEMENTS,
                    adapters.load_emt, licence="LGPL (ASE)", weights="built into ASE",
                    notes="ASE's effective-medium theory: fast, for protocol tests; no Mg, Zn"))

# SevenNet: three checkpoints ship in the wheel; the others are downloaded by sevenn into its own folder
for name, folder, fname, data, opts, aliases, shipped in [
    ("sevennet-0", "SevenNet_0__11Jul2024", "checkpoint_sevennet_0.pth", "MPtrj", {}, ("7net-0",), True),
    ("sevennet-0-22may2024", "SevenNet_0__22May2024", "checkpoint_sevennet_0.pth", "MPtrj", {},
     ("7net-0_22may2024",), True),
    ("sevennet-l3i5", "SevenNet_l3i5", "checkpoint_l3i5.pth", "MPtrj", {}, ("7net-l3i5",), True),
    ("sevennet-mf-0", "SevenNet_MF_0", "checkpoint_sevennet_mf_0.pth", "MPtrj + sAlex (multi-fidelity; PBE modality)",
     {"modal": "PBE"}, ("7net-mf-0",), True),
    ("sevennet-mf-ompa", "SevenNet_MF_ompa", "checkpoint_sevennet_mf_ompa.pth",
     "MPtrj + sAlex + OMat24 (multi-fidelity; mpa modality)", {"modal": "mpa"}, ("7net-mf-ompa",), False),
    ("sevennet-omat", "SevenNet_omat", "checkpoint_sevennet_omat.pth", "OMat24", {}, ("7net-omat",), False),
    ("sevennet-omni", "SevenNet_omni", "checkpoint_sevennet_omni.pth", "OMat24 + MPtrj + sAlex + more (omni)",
     {}, ("7net-omni",), False),
]:
    _register(ModelSpec(name, "sevennet", folder, data, UNIVERSAL, licence="GPL-3.0",
                        weights="shipped in the sevenn wheel" if shipped else "downloaded by sevenn (not shipped)",
                        options=opts, files=(fname,) if not shipped else (),
                        packaged=(f"pretrained_potentials/{folder}/{fname}",)), *aliases)

for version in ("0.3.0", "0.2.0"):
    _register(ModelSpec(f"chgnet-{version}", "chgnet", version, "MPtrj", UNIVERSAL, licence="BSD-3-Clause",
                        weights="shipped in the chgnet wheel", packaged=(f"pretrained/{version}/*.pth.tar",)))

# matgl: folders (model.json, model.pt, state.pt); matgl's own cache is ~/.cache/matgl
for name, folder, data in [
    ("m3gnet-mp-2021.2.8", "M3GNet-MP-2021.2.8-PES", "MPF (Materials Project relaxations, 2021.2.8)"),
    ("m3gnet-matpes-pbe", "M3GNet-MatPES-PBE-v2025.1-PES", "MatPES-PBE"),
    ("m3gnet-matpes-r2scan", "M3GNet-MatPES-r2SCAN-v2025.1-PES", "MatPES-r2SCAN"),
    ("tensornet-matpes-pbe", "TensorNet-MatPES-PBE-v2025.1-PES", "MatPES-PBE"),
    ("tensornet-matpes-r2scan", "TensorNet-MatPES-r2SCAN-v2025.1-PES", "MatPES-r2SCAN"),
    ("chgnet-matpes-pbe", "CHGNet-MatPES-PBE-2025.2.10-2.7M-PES", "MatPES-PBE"),
]:
    _register(ModelSpec(name, "matgl", folder, data, UNIVERSAL, licence="BSD-3-Clause",
                        weights="matgl model folder (local path or $ALLOYBENCH_WEIGHTS)", files=(folder,),
                        cache_dirs=("~/.cache/matgl",), url="https://github.com/materialsvirtuallab/matgl"), folder.lower())

# MACE foundation models: hub-only, a local .model file (mace's cache is ~/.cache/mace)
_MP0 = "https://github.com/ACEsuit/mace-mp/releases/download/mace_mp_0/"
_MF = "https://github.com/ACEsuit/mace-foundations/releases/download/"
for name, fname, url, data, lic, aliases in [
    ("mace-mp-0-small", "2023-12-10-mace-128-L0_energy_epoch-249.model", _MP0, "MPtrj", "MIT", ()),
    ("mace-mp-0-medium", "2023-12-03-mace-128-L1_epoch-199.model", _MP0, "MPtrj", "MIT", ("mace-mp-0",)),
    ("mace-mp-0-large", "2024-01-07-mace-128-L2_epoch-199.model", _MP0, "MPtrj", "MIT", ()),
    ("mace-mp-0b3-medium", "mace-mp-0b3-medium.model", _MF + "mace_mp_0b3/", "MPtrj", "MIT", ()),
    ("mace-mpa-0-medium", "mace-mpa-0-medium.model", _MF + "mace_mpa_0/", "MPtrj + sAlex", "MIT", ("mace-mpa-0",)),
    ("mace-omat-0-medium", "mace-omat-0-medium.model", _MF + "mace_omat_0/", "OMat24", "ASL (academic)",
     ("mace-omat-0",)),
    ("mace-matpes-pbe-0", "MACE-matpes-pbe-omat-ft.model", _MF + "mace_matpes_0/", "MatPES-PBE (OMat24 fine-tuned)",
     "ASL (academic)", ()),
]:
    _register(ModelSpec(name, "mace", fname.removesuffix(".model"), data, UNIVERSAL, licence=lic,
                        weights="hub-only: local .model file", files=(fname, name + ".model"),
                        cache_dirs=("~/.cache/mace",), url=url + fname), *aliases)

# GRACE (tensorpotential): saved-model folders; tensorpotential's cache is ~/.cache/grace
for name, data in [
    ("GRACE-2L-OAM", "OMat24, fine-tuned on sAlex + MPtrj"),
    ("GRACE-1L-OAM", "OMat24, fine-tuned on sAlex + MPtrj"),
    ("GRACE-2L-OMAT", "OMat24"),
    ("GRACE-1L-OMAT", "OMat24"),
    ("GRACE-2L-MP-r6", "MPtrj"),
    ("GRACE-1L-MP-r6", "MPtrj"),
    ("GRACE-FS-OAM", "OMat24, fine-tuned on sAlex + MPtrj"),
]:
    _register(ModelSpec(name.lower(), "grace", name, data, UNIVERSAL, licence="ASL (academic; see model card)",
                        weights="hub-only: local model folder", files=(name,), cache_dirs=("~/.cache/grace",),
                        url="https://gracemaker.readthedocs.io/en/latest/gracemaker/foundation/"), name)

for name, fname in [("mattersim-v1.0.0-1m", "mattersim-v1.0.0-1M.pth"), ("mattersim-v1.0.0-5m", "mattersim-v1.0.0-5M.pth")]:
    _register(ModelSpec(name, "mattersim", fname.removesuffix(".pth"),
                        "MatterSim data (~17 M PBE(+U) structures, 0-5000 K, 0-1000 GPa)", UNIVERSAL, licence="MIT",
                        weights="hub-only: local .pth", files=(fname,),
                        cache_dirs=("~/.local/mattersim/pretrained_models",),
                        url="https://github.com/microsoft/mattersim/tree/main/pretrained_models"))

_ORB = "https://orbitalmaterials-public-models.s3.us-west-1.amazonaws.com/forcefields/"
for name, fname, data in [
    ("orb-v2", "orb-v2-20241011.ckpt", "MPtrj + Alexandria"),
    ("orb-v3-conservative-inf-omat", "orb-v3-conservative-inf-omat-20250404.ckpt", "OMat24"),
    ("orb-v3-conservative-20-omat", "orb-v3-conservative-20-omat-20250404.ckpt", "OMat24"),
    ("orb-v3-direct-20-omat", "orb-v3-direct-20-omat-20250404.ckpt", "OMat24"),
    ("orb-v3-conservative-inf-mpa", "orb-v3-conservative-inf-mpa-20250404.ckpt", "MPtrj + Alexandria"),
]:
    _register(ModelSpec(name, "orb", fname.removesuffix(".ckpt"), data, UNIVERSAL, licence="Apache-2.0",
                        weights="hub-only: local .ckpt", options={"architecture": name.replace("-", "_")},
                        files=(fname,), url=_ORB + fname))

for name, fname, data, opts, notes in [
    ("uma-s-1p1", "uma-s-1p1.pt", "OMat24 + OMol25 + OC20 + ODAC25 + OMC25 (omat task)", {"task_name": "omat"},
     "fairchem-core >= 2"),
    ("uma-m-1p1", "uma-m-1p1.pt", "OMat24 + OMol25 + OC20 + ODAC25 + OMC25 (omat task)", {"task_name": "omat"},
     "fairchem-core >= 2"),
    ("esen-30m-oam", "esen_30m_oam.pt", "OMat24, fine-tuned on sAlex + MPtrj", {}, "fairchem-core >= 2"),
    ("eqv2-m-omat-mp-salex", "eqV2_86M_omat_mp_salex.pt", "OMat24, fine-tuned on sAlex + MPtrj", {},
     "fairchem-core 1.x (OCPCalculator)"),
    ("eqv2-s-omat-mp-salex", "eqV2_31M_omat_mp_salex.pt", "OMat24, fine-tuned on sAlex + MPtrj", {},
     "fairchem-core 1.x (OCPCalculator)"),
]:
    _register(ModelSpec(name, "fairchem", fname.removesuffix(".pt"), data, UNIVERSAL,
                        licence="Meta licence (gated; see model card)", weights="hub-only (gated): local .pt",
                        options=opts, files=(fname,), notes=notes, url="https://huggingface.co/facebook"))

for name, fname, data, opts in [
    ("dpa3-lam-2025.3.14-mptrj", "2025-03-14-dpa3-mptrj.pth", "MPtrj", {}),
    ("dpa3-lam-2025.3.14-openlam", "2025-03-14-dpa3-openlam.pth", "OpenLAM (multi-dataset)", {}),
    ("dpa-3.1-3m-omat", "DPA-3.1-3M.pt", "OpenLAM v1 (OMat24 head)", {"head": "Omat24"}),
]:
    _register(ModelSpec(name, "deepmd", fname.rsplit(".", 1)[0], data, UNIVERSAL, licence="LGPL-3.0 (deepmd-kit)",
                        weights="local frozen model (the DPA3-LAM pair ships in the matcalc sdist, tests/pes/)",
                        options=opts, files=(fname, f"DPA3-LAM-2025.3.14-PES/{fname}"),
                        notes="deepmd-kit 3.1.3 (the 2025-03-14 checkpoints fail with 3.2)"))

for name, fname in [("pet-mad-v1.0.2", "pet-mad-v1.0.2.pt"), ("pet-mad-v1.1.0", "pet-mad-v1.1.0.pt")]:
    _register(ModelSpec(name, "pet-mad", fname.removesuffix(".pt"), "MAD (~95 k PBEsol structures)", UNIVERSAL,
                        licence="BSD-3-Clause (code), CC-BY-4.0 (weights)", weights="hub-only: exported .pt",
                        files=(fname,), url="https://huggingface.co/lab-cosmo/pet-mad"))

for name, fname in [("nequip-oam-l-0.1", "nequip-oam-l-0.1.nequip.pth"), ("allegro-oam-l-0.1", "allegro-oam-l-0.1.nequip.pth")]:
    _register(ModelSpec(name, "nequip", fname.split(".nequip")[0], "OMat24, fine-tuned on sAlex + MPtrj", UNIVERSAL,
                        licence="MIT", weights="hub-only: compile with nequip-compile, pass the .nequip.pth/.pt2",
                        files=(fname, fname.replace(".pth", ".pt2")), url="https://www.nequip.net/"))

# GPAW (PBE): the reference's functional with our settings (alloybench.dft, docs/dft.md); no weights
def _gpaw_specs() -> None:
    from alloybench.dft import model as dft_model
    from alloybench.dft.settings import DEFAULT, LOW

    for name, key, settings, note in [
        ("gpaw", "default", DEFAULT, "PW 500 eV, k-density 18 (the packaged set's settings)"),
        ("gpaw-low", "low", LOW, "PW 250 eV, k-density 8: for tests, not for numbers"),
    ]:
        _register(ModelSpec(name, "dft", f"{dft_model.version()}-{settings.digest}", "none: PBE DFT (GPAW, PAW)",
                            dft_model.ELEMENTS, licence="GPL-3.0 (GPAW)", weights="none (a DFT code)",
                            options={"settings": key, "max_atoms": dft_model.MAX_ATOMS},
                            notes=f"{note}; serial engine only; Jobs of at most {dft_model.MAX_ATOMS} atoms"))


_gpaw_specs()

DEFAULT_MODEL = "sevennet-0"


# ----------------------------------------------------------------------------------- digests
def file_digest(path: Path) -> str:
    """Content hash of a weights file or folder: the store key follows the weights, not the path."""
    h = hashlib.sha256()
    files = sorted(p for p in path.rglob("*") if p.is_file()) if path.is_dir() else [path]
    for f in files:
        h.update(f.name.encode())
        with open(f, "rb") as fh:
            for chunk in iter(lambda: fh.read(1 << 20), b""):
                h.update(chunk)
    return h.hexdigest()[:16]


# ----------------------------------------------------------------------------------- dispatch
def _missing(what: str, fam: adapters.Family) -> MissingExtra:
    exc = MissingExtra(what, fam.extra or fam.name, fam.pip[0].split(">")[0].split("=")[0].split("[")[0]
                       if fam.pip else None)
    exc.args = (f"{exc.args[0]} (or: alloybench env create {fam.name})",)
    return exc


def _dispatch(family_name: str, what: str, source: str, weights: str | None, local: Callable[[], Model]) -> Model:
    """In-process when the family's package is importable here (or we are a worker);
    else described by a worker in the family's environment; else MissingExtra."""
    fam = adapters.family(family_name)
    if fam.installed() or os.environ.get(IN_WORKER):
        return local()
    from alloybench import envs

    if envs.env_ready(family_name):
        return describe_in_env(family_name, source, weights)
    raise _missing(what, fam)


def describe_in_env(family_name: str, source: str, weights: str | None) -> Model:
    """Resolve ``source`` inside the family's environment (no model is loaded)."""
    from alloybench import envs
    from alloybench.worker import describe_command, model_from_description

    python = envs.env_python(family_name)
    cmd = describe_command(python, source, weights)
    try:
        p = subprocess.run(cmd, capture_output=True, text=True, timeout=600, env=envs.worker_environ())
    except subprocess.TimeoutExpired as exc:
        raise UserError(f"model '{source}': describing it in env {family_name} timed out") from exc
    lines = [ln for ln in p.stdout.splitlines() if ln.startswith("{")]
    if not lines:
        tail = (p.stderr.strip().splitlines() or ["no output"])[-1]
        raise UserError(f"model '{source}' in env {envs.env_dir(family_name)}: {tail}")
    doc = json.loads(lines[-1])
    if doc.get("type") == "error":
        raise UserError(doc["message"])
    return model_from_description(doc, env=str(envs.env_dir(family_name)))


# ----------------------------------------------------------------------------------- resolution
def _from_spec(spec: ModelSpec, weights: Path | None = None, source: str | None = None) -> Model:
    source = source or spec.name
    if not (spec.installed() or os.environ.get(IN_WORKER)):
        return _dispatch(spec.family, f"model '{spec.name}'", source, str(weights) if weights else None,
                         lambda: _from_spec(spec, weights, source))
    if weights is None and spec.needs_weights():
        weights = spec.weights_path()
        if weights is None:
            raise UserError(f"model '{spec.name}': weights missing: {spec.weights_hint()}")
    wid = file_digest(weights) if weights else spec.version
    info = {"family": spec.family, "version": spec.version, "training_data": spec.training_data,
            "licence": spec.licence, "weights": str(weights) if weights else spec.weights}
    if spec.options:
        info["options"] = dict(spec.options)
    return Model(
        id=f"{spec.name}@{wid}",
        name=spec.name,
        family=spec.family,
        elements=spec.elements,
        make_calculator=lambda: spec.load(weights),
        info=info,
        source=source,
        weights=str(weights) if weights else None,
    )


def _split_weights(text: str) -> tuple[str, str | None]:
    """``NAME=PATH`` -> (NAME, PATH) when NAME is a registry name."""
    name, sep, path = text.partition("=")
    if sep and name.lower() in REGISTRY:
        return name, path
    return text, None


def resolve(name_or_path: str, weights: str | Path | None = None) -> Model:
    """A registry name (``NAME`` or ``NAME=WEIGHTS``), a local weights path,
    ``FAMILY:PATH``, a model file, ``kim:MODEL_ID``, or ``module:callable`` -> Model."""
    from alloybench.validate import check_model_text

    text, inline = _split_weights(check_model_text(name_or_path))
    weights = weights if weights is not None else inline
    try:
        return _resolve(text, weights)
    except OSError as exc:  # a name the file system refuses (too long, a loop...): the user's input
        raise UserError(f"model '{text[:80]}': {exc.strerror or exc}") from None
    except RuntimeError as exc:  # Path.expanduser: '~user' of no such user
        if "home directory" not in str(exc):
            raise
        raise UserError(f"model '{text[:80]}': no such home directory ({text.split('/')[0][:40]})") from None


def _resolve(text: str, weights: str | Path | None) -> Model:
    from alloybench.models.trust import require_trust

    spec = REGISTRY.get(text.lower())
    if spec is not None:
        w = None
        if weights is not None:
            if not spec.needs_weights():
                raise UserError(f"model '{spec.name}' takes no weights ({spec.weights}); drop '={weights}'")
            if not str(weights).strip():
                raise UserError(f"model '{spec.name}': the weights path is empty")
            w = Path(weights).expanduser()
            if not w.exists():
                raise UserError(f"model '{spec.name}': weights path not found: {weights}")
            w = w.resolve()
            adapters.check_weights_kind(spec.family, w, f"model '{spec.name}'")
            require_trust(spec.family, w, f"model '{spec.name}'")
        return _from_spec(spec, w, source=text)
    if weights is not None:
        raise UserError(f"unknown model '{text}' (NAME=PATH needs a registry name; see 'alloybench models')")
    head, sep, rest = text.partition(":")
    if sep and head.lower() == "kim":
        return _dispatch("kim", f"OpenKIM model {rest}", text, None, lambda: _with_source(adapters.from_kim(rest), text))
    if sep and head.lower() == "dft":
        raise UserError(f"GPAW takes no weights file ({rest[:80]}): use --model gpaw or gpaw-low")
    if sep and head.lower() in FAMILIES and rest:
        path = Path(rest).expanduser()
        if not path.exists():
            raise UserError(f"model path not found: {rest}")
        fam = head.lower()
        if fam != "lammps":
            adapters.check_weights_kind(fam, path, f"{FAMILIES[fam].title} model {path.name}")
        _guard(fam, path, f"{FAMILIES[fam].title} model {path.name}")
        return _dispatch(fam, f"{FAMILIES[fam].title} model {path.name}", text, None,
                         lambda: _with_source(adapters.from_path(path.resolve(), file_digest(path), fam,
                                                                source=text), text))
    path = Path(text).expanduser()
    if path.exists():
        fam = adapters.sniff_family(path)
        if fam == "modelfile":  # a model file, or a folder holding one (alloybench finetune's checkpoints)
            return load_model_file(path / "model.yaml" if path.is_dir() else path)
        if fam is None:
            raise UserError(f"cannot tell which kind of potential {path} is; say it as FAMILY:PATH "
                            f"(families: {', '.join(k for k in FAMILIES if k != 'classical')})")
        _guard(fam, path, f"{FAMILIES[fam].title} model {path.name}")
        if fam in ("eam",):
            return _with_source(adapters.from_path(path.resolve(), file_digest(path), fam), str(path.resolve()))
        return _dispatch(fam, f"{FAMILIES[fam].title} model {path.name}", str(path.resolve()), None,
                         lambda: _with_source(adapters.from_path(path.resolve(), file_digest(path), fam),
                                              str(path.resolve())))
    if adapters.CALLABLE.fullmatch(text):  # package.module:function
        return _with_source(adapters.from_callable(text), text)
    if any(ch in text for ch in "/\\.") or path.suffix:
        raise UserError(f"model path not found: {text}")
    raise UserError(f"unknown model '{text}' (see 'alloybench models')")


def _guard(fam: str, path: Path, what: str) -> None:
    """The trust check for a checkpoint, where the family could load it (here or in its
    environment); elsewhere the missing package is the message (and nothing can load it)."""
    from alloybench import envs
    from alloybench.models.trust import require_trust

    if FAMILIES[fam].installed() or os.environ.get(IN_WORKER) or envs.env_ready(fam):
        require_trust(fam, path, what)


def _with_source(model: Model, source: str) -> Model:
    from dataclasses import replace

    return replace(model, source=source) if not model.source else model


# ----------------------------------------------------------------------------------- model files
MODEL_FILE_KEYS = {"family", "name", "version", "training_data", "licence", "notes", "elements", "weights", "model",
                   "options", "pair_style", "pair_coeff", "files", "masses", "commands", "units"}


def load_model_file(path: Path) -> Model:
    """A ``.yaml``/``.json`` model file -> Model (see ``model_from_dict``)."""
    from alloybench.validate import MAX_MODEL_FILE_BYTES

    path = path.expanduser().resolve()
    if path.is_dir():
        raise UserError(f"model file {path} is a folder")
    if path.stat().st_size > MAX_MODEL_FILE_BYTES:
        raise UserError(f"model file {path} is {path.stat().st_size} bytes: a model file is a few lines "
                        f"(at most {MAX_MODEL_FILE_BYTES} bytes); name the weights file in it instead")
    try:
        text = path.read_text(encoding="utf-8")
        if path.suffix == ".json":
            doc = json.loads(text)
        else:
            import yaml

            doc = yaml.safe_load(text)
    except Exception as exc:  # noqa: BLE001 - any parse or decoding error is the user's file
        first = (str(exc).strip().splitlines() or [type(exc).__name__])[0][:200]
        raise UserError(f"bad model file {path}: {first}") from exc
    if not isinstance(doc, dict):
        raise UserError(f"bad model file {path}: expected a mapping with 'family'")
    return model_from_dict(doc, path.parent, source=str(path), label=path.stem)


def _check_elements(raw: Any, where: str) -> list[str] | None:
    if raw is None:
        return None
    if isinstance(raw, str):
        raw = raw.replace(",", " ").split()
    bad = [e for e in raw if e not in chemical_symbols[1:]]
    if bad:
        raise UserError(f"{where}: not a chemical element: {bad[0]}")
    return list(raw)


def model_from_dict(doc: dict[str, Any], base: Path, source: str, label: str | None = None) -> Model:
    """A model described by data (a model file, or ``lammps:FILE``).

    LAMMPS::

        family: lammps
        name: AlCu ADP (Apostol & Mishin 2011)   # optional metadata: version, training_data, licence, notes
        elements: [Al, Cu]            # LAMMPS atom types 1..n, in this order
        pair_style: adp
        pair_coeff: ["* * AlCu.adp Al Cu"]
        files: [AlCu.adp]             # relative to the model file; part of the store key
        commands: []                  # optional extra LAMMPS lines (after pair_coeff)
        masses: {Al: 26.98}           # optional (default: ASE's)

    Any other family::

        family: mace                  # or model: mace-omat-0-medium (a registry name)
        weights: my-finetuned.model   # relative to the model file
        options: {default_dtype: float64}
        elements: [Al, Cu, Mg, Zn]    # optional: what it covers (default: all)
    """
    from alloybench.models.trust import require_trust
    from alloybench.validate import model_file_doc

    where = f"model file {source}"
    unknown = sorted(str(k) for k in set(doc) - MODEL_FILE_KEYS)
    if unknown:
        raise UserError(f"{where}: unknown key '{unknown[0][:60]}' (known: {', '.join(sorted(MODEL_FILE_KEYS))})")
    doc = model_file_doc(doc, where)  # types checked (pydantic); lists normalised; None for absent keys
    fam_name = str(doc.get("family") or ("lammps" if doc.get("pair_style") else ""))
    elements = _check_elements(doc.get("elements"), where)
    meta = {k: str(doc[k]) for k in ("version", "training_data", "licence", "notes") if doc.get(k) is not None}
    name = str(doc.get("name") or label or fam_name)

    if doc.get("model"):  # a registry model with local weights / other options
        spec = REGISTRY.get(str(doc["model"]).lower())
        if spec is None:
            raise UserError(f"{where}: unknown model '{doc['model']}'")
        w = _local(base, doc.get("weights"), where) if doc.get("weights") else None
        return resolve(spec.name, w)
    if not fam_name:
        raise UserError(f"{where}: needs 'family' (one of {', '.join(FAMILIES)}) or 'model'")
    if fam_name not in FAMILIES:
        raise UserError(f"{where}: unknown model family '{fam_name[:60]}' (known: {', '.join(FAMILIES)})")
    fam = adapters.family(fam_name)

    if fam_name == "lammps":
        from alloybench.models.lammps import normalise

        opts = normalise(doc, base, where)
        files = [Path(f) for f in opts["files"]]
        h = hashlib.sha256(adapters.to_json({k: v for k, v in opts.items() if k != "files"}).encode())
        for f in files:
            h.update(file_digest(f).encode())
        digest = h.hexdigest()[:16]
        info = {"family": "lammps", "pair_style": opts["pair_style"], "weights": ", ".join(map(str, files)),
                **meta}

        def local() -> Model:
            return Model(f"lammps:{name}@{digest}", name, "lammps", frozenset(opts["elements"]),
                         lambda: adapters.load_lammps(None, **opts), info, source=source)

        return _dispatch("lammps", f"LAMMPS model {name}", source, None, local)

    weights = _local(base, doc.get("weights"), where) if doc.get("weights") else None
    options = dict(doc.get("options") or {})
    if weights is None and fam_name not in ("classical",):
        raise UserError(f"{where}: needs 'weights' (a path relative to the file)")
    if weights is not None:
        adapters.check_weights_kind(fam_name, weights, where)
        require_trust(fam_name, weights, where)
    digest = file_digest(weights) if weights else "builtin"
    if options:
        digest = hashlib.sha256((digest + adapters.to_json(options)).encode()).hexdigest()[:16]
    info = {"family": fam_name, "weights": str(weights), **meta}
    if options:
        info["options"] = options
    els = frozenset(elements) if elements else ((adapters.file_elements(fam_name, weights) if weights else None)
                                                or UNIVERSAL)

    def local_other() -> Model:
        return Model(f"{fam_name}:{name}@{digest}", name, fam_name, els, lambda: fam.loader(weights, **options), info,
                     source=source)

    return _dispatch(fam_name, f"{fam.title} model {name}", source, None, local_other)


def _local(base: Path, rel: Any, where: str) -> Path:
    p = (base / str(rel)).expanduser()
    if not p.exists():
        raise UserError(f"{where}: file not found: {p}")
    return p.resolve()


# ----------------------------------------------------------------------------------- listing
def listing() -> list[dict[str, str]]:
    """One row per registry model (aliases folded) for ``alloybench models``."""
    rows, seen = [], set()
    for spec in REGISTRY.values():
        if spec.name in seen:
            continue
        seen.add(spec.name)
        elements = "Z=1-89" if len(spec.elements) > 80 else " ".join(sorted(spec.elements))
        rows.append({"name": spec.name, "family": spec.family, "version": spec.version,
                     "training_data": spec.training_data, "elements": elements, "licence": spec.licence,
                     "status": spec.status()})
    return rows


__all__ = ["DEFAULT_MODEL", "FAMILIES", "REGISTRY", "Model", "ModelSpec", "listing", "load_model_file",
           "model_from_dict", "resolve"]
