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
from collections.abc import Callable
from pathlib import Path
from typing import Any

from alloybench.elements import element_list
from alloybench.errors import MissingExtra, UserError
from alloybench.models.families import FAMILIES, MODEL_FILE, Family, check_weights_kind, family, file_elements, \
    sniff_family
from alloybench.models.families.callable import CALLABLE, from_callable
from alloybench.models.families.emt import ELEMENTS as EMT_ELEMENTS
from alloybench.models.families.kim import from_kim
from alloybench.models.model import Model
from alloybench.models.registry import DEFAULT_MODEL, REGISTRY, UNIVERSAL, ModelSpec
from alloybench.models.remote import describe_in_env

IN_WORKER = "ALLOYBENCH_IN_WORKER"  # set in workers: resolve in-process, never dispatch again


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
def _missing(what: str, fam: Family) -> MissingExtra:
    exc = MissingExtra(what, fam.extra or fam.name, fam.pip[0].split(">")[0].split("=")[0].split("[")[0]
                       if fam.pip else None)
    exc.args = (f"{exc.args[0]} (or: alloybench env create {fam.name})",)
    return exc


def _dispatch(family_name: str, what: str, source: str, weights: str | None, local: Callable[[], Model]) -> Model:
    """In-process when the family's package is importable here (or we are a worker);
    else described by a worker in the family's environment; else MissingExtra."""
    fam = family(family_name)
    if fam.installed() or os.environ.get(IN_WORKER):
        return local()
    from alloybench import envs

    if envs.env_ready(family_name):
        return describe_in_env(family_name, source, weights)
    raise _missing(what, fam)


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

    def load_on(device: str | None = None):
        return spec.load(weights, device)

    return Model(
        id=f"{spec.name}@{wid}",
        name=spec.name,
        family=spec.family,
        elements=spec.elements,
        make_calculator=load_on,
        info=info,
        source=source,
        weights=str(weights) if weights else None,
        options=dict(spec.options),
        load_on=load_on,
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
            check_weights_kind(spec.family, w, f"model '{spec.name}'")
            require_trust(spec.family, w, f"model '{spec.name}'")
        return _from_spec(spec, w, source=text)
    if weights is not None:
        raise UserError(f"unknown model '{text}' (NAME=PATH needs a registry name; see 'alloybench models')")
    head, sep, rest = text.partition(":")
    if sep and head.lower() == "kim":
        return _dispatch("kim", f"OpenKIM model {rest}", text, None, lambda: _with_source(from_kim(rest), text))
    if sep and head.lower() == "dft":
        raise UserError(f"GPAW takes no weights file ({rest[:80]}): use --model gpaw or gpaw-low")
    if sep and head.lower() in FAMILIES and rest:
        path = Path(rest).expanduser()
        if not path.exists():
            raise UserError(f"model path not found: {rest}")
        fam = head.lower()
        if fam != "lammps":
            check_weights_kind(fam, path, f"{FAMILIES[fam].title} model {path.name}")
        _guard(fam, path, f"{FAMILIES[fam].title} model {path.name}")
        return _dispatch(fam, f"{FAMILIES[fam].title} model {path.name}", text, None,
                         lambda: _with_source(from_path(path.resolve(), file_digest(path), fam,
                                                                source=text), text))
    path = Path(text).expanduser()
    if path.exists():
        fam = sniff_family(path)
        if fam == MODEL_FILE:  # a model file, or a folder holding one (alloybench finetune's checkpoints)
            return load_model_file(path / "model.yaml" if path.is_dir() else path)
        if fam is None:
            raise UserError(f"cannot tell which kind of potential {path} is; say it as FAMILY:PATH "
                            f"(families: {', '.join(k for k in FAMILIES if k != 'classical')})")
        _guard(fam, path, f"{FAMILIES[fam].title} model {path.name}")
        if fam in ("eam",):
            return _with_source(from_path(path.resolve(), file_digest(path), fam), str(path.resolve()))
        return _dispatch(fam, f"{FAMILIES[fam].title} model {path.name}", str(path.resolve()), None,
                         lambda: _with_source(from_path(path.resolve(), file_digest(path), fam),
                                              str(path.resolve())))
    if CALLABLE.fullmatch(text):  # package.module:function
        return _with_source(from_callable(text), text)
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
    elements = element_list(doc.get("elements"), where)
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
    fam = family(fam_name)

    if fam_name == "lammps":
        from alloybench.models.lammps import normalise

        opts = normalise(doc, base, where)
        files = [Path(f) for f in opts["files"]]
        h = hashlib.sha256(to_json({k: v for k, v in opts.items() if k != "files"}).encode())
        for f in files:
            h.update(file_digest(f).encode())
        digest = h.hexdigest()[:16]
        info = {"family": "lammps", "pair_style": opts["pair_style"], "weights": ", ".join(map(str, files)),
                **meta}

        def local() -> Model:
            def load_on(device: str | None = None):
                return fam.load(None, opts, device)

            return Model(f"lammps:{name}@{digest}", name, "lammps", frozenset(opts["elements"]), load_on, info,
                         source=source, options=opts, load_on=load_on)

        return _dispatch("lammps", f"LAMMPS model {name}", source, None, local)

    weights = _local(base, doc.get("weights"), where) if doc.get("weights") else None
    options = dict(doc.get("options") or {})
    if weights is None and fam_name not in ("classical",):
        raise UserError(f"{where}: needs 'weights' (a path relative to the file)")
    if weights is not None:
        check_weights_kind(fam_name, weights, where)
        require_trust(fam_name, weights, where)
    digest = file_digest(weights) if weights else "builtin"
    if options:
        digest = hashlib.sha256((digest + to_json(options)).encode()).hexdigest()[:16]
    info = {"family": fam_name, "weights": str(weights), **meta}
    if options:
        info["options"] = options
    els = frozenset(elements) if elements else ((file_elements(fam_name, weights) if weights else None)
                                                or UNIVERSAL)

    def load_on(device: str | None = None):
        return fam.load(weights, options, device)

    def local_other() -> Model:
        return Model(f"{fam_name}:{name}@{digest}", name, fam_name, els, load_on, info, source=source,
                     options=options, load_on=load_on)

    return _dispatch(fam_name, f"{fam.title} model {name}", source, None, local_other)


def _local(base: Path, rel: Any, where: str) -> Path:
    p = (base / str(rel)).expanduser()
    if not p.exists():
        raise UserError(f"{where}: file not found: {p}")
    return p.resolve()


def from_path(path: Path, digest: str, family_name: str | None = None, options: dict[str, Any] | None = None,
              source: str | None = None) -> Model:
    """A local weights file, folder or model file -> Model (the family from
    ``family_name`` or from what the path holds)."""
    from alloybench.models.trust import require_trust

    fam = family_name or sniff_family(path)
    if fam == MODEL_FILE:
        return load_model_file(path)
    if fam is None:
        raise UserError(f"cannot tell which kind of potential {path} is; say it as FAMILY:PATH "
                        f"(families: {', '.join(k for k in FAMILIES if k != 'classical')})")
    if fam == "lammps":
        from alloybench.models.lammps import spec_for_file

        return model_from_dict(spec_for_file(path), path.parent, source=source or f"lammps:{path}")
    f = family(fam)
    check_weights_kind(fam, path, f"{f.title} model {path.name}")
    if not f.installed():
        raise MissingExtra(f"{f.title} model {path.name}", f.extra or f.name, f.pip[0] if f.pip else None)
    require_trust(fam, path, f"{f.title} model {path.name}")  # before anything could load it
    options = dict(options or {})
    elements = file_elements(fam, path) or UNIVERSAL

    def load_on(device: str | None = None):
        return f.load(path, options, device)

    info = {"weights": str(path), "options": options} if options else {"weights": str(path)}
    return Model(f"{fam}:{path.name}@{digest}", path.name, fam, elements, load_on, {"family": fam, **info},
                 options=options, load_on=load_on)


def to_json(obj: Any) -> str:
    return json.dumps(obj, sort_keys=True, default=str)


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


__all__ = ["DEFAULT_MODEL", "EMT_ELEMENTS", "FAMILIES", "REGISTRY", "UNIVERSAL", "Model", "ModelSpec", "file_digest",
           "from_path", "listing", "load_model_file", "model_from_dict", "resolve"]
