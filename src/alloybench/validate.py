"""Checks on what a user types or hands over, before anything is computed or written.

Every check raises ``UserError`` with one line naming the thing and what to do; the
CLI prints it and exits 2.  Nothing here creates a file or folder.
"""

from __future__ import annotations

import os
import shlex
import tempfile
from pathlib import Path
from typing import Any, Optional, Union

from pydantic import BaseModel, ConfigDict, StrictBool, StrictFloat, StrictInt, StrictStr, ValidationError, field_validator

from alloybench.errors import UserError

MAX_MODEL_CHARS = 1024  # a model name, path or module:function is far shorter
MAX_MODEL_FILE_BYTES = 1 << 20
NAME_MAX = 255  # bytes in one path component (Linux, macOS)
PATH_MAX = 4096
# LAMMPS commands that run programs or Python: a model file should never need them
LAMMPS_UNSAFE = ("shell", "python", "plugin")


def _show(text: str, n: int = 60) -> str:
    text = str(text)
    return text if len(text) <= n else text[:n] + f"... ({len(text)} characters)"


def check_model_text(text: Any) -> str:
    """What ``--model`` may be: non-empty, printable, of sane length."""
    if not isinstance(text, str):
        raise UserError(f"--model must be text, not {type(text).__name__}")
    stripped = text.strip()
    if not stripped:
        raise UserError("--model is empty: name a model (see 'alloybench models'), a weights path, "
                        "a model file or package.module:function")
    if len(stripped) > MAX_MODEL_CHARS:
        raise UserError(f"--model is {len(stripped)} characters long (at most {MAX_MODEL_CHARS}): "
                        f"name a model, a path or package.module:function")
    if any(ord(ch) < 32 or ord(ch) == 127 for ch in stripped):
        raise UserError(f"--model {_show(ascii(stripped))} contains control characters")
    return stripped


def split_list(values: Optional[list[str]], flag: str) -> Optional[list[str]]:
    """``--tasks a,b --tasks c`` -> [a, b, c]; None when not given; a UserError when given but empty."""
    if values is None or values == []:
        return None
    items = [v.strip() for raw in values for v in str(raw).split(",") if v.strip()]
    if not items:
        shown = ",".join(values)
        raise UserError(f"{flag} {shown!r} names nothing: give comma-separated names")
    for item in items:
        if any(ord(ch) < 32 for ch in item) or len(item) > 200:
            raise UserError(f"{flag}: {_show(ascii(item))} is not a name")
    return items


# ------------------------------------------------------------------------------- paths
def expand(path: Any, flag: str) -> Path:
    """``~`` expanded; a ``~user`` of no such user is the user's mistake."""
    try:
        return Path(path).expanduser()
    except RuntimeError:
        raise UserError(f"{flag} {_show(str(path), 60)}: no such home directory") from None
    except (TypeError, ValueError) as exc:
        raise UserError(f"{flag}: not a path ({exc})") from None


def _components_ok(path: Path, flag: str) -> None:
    raw = os.fsencode(str(path))
    if b"\x00" in raw:
        raise UserError(f"{flag}: the path contains a NUL character")
    if len(raw) > PATH_MAX:
        raise UserError(f"{flag}: the path is {len(raw)} bytes long (at most {PATH_MAX})")
    for part in path.parts:
        if len(os.fsencode(part)) > NAME_MAX:
            raise UserError(f"{flag}: the name {_show(part, 40)} is {len(os.fsencode(part))} bytes long "
                            f"(a file name may have at most {NAME_MAX}); choose a shorter one")


def _nearest_existing(path: Path, flag: str) -> Path:
    """The deepest existing ancestor of ``path`` (which does not exist); it must be a folder."""
    probe = path
    while True:
        parent = probe.parent
        try:
            exists = parent.exists()
        except OSError as exc:
            raise UserError(f"{flag} {path}: {exc.strerror or exc}") from None
        if exists:
            if not parent.is_dir():
                raise UserError(f"{flag} {path}: {parent} is a file, not a folder; choose another path")
            return parent
        if parent == probe:
            return parent
        probe = parent


def _writable_dir(folder: Path, what: str) -> None:
    if not os.access(folder, os.R_OK | os.W_OK | os.X_OK):
        raise UserError(f"{what}: {folder} is not writable (or not readable) by you; choose another folder")
    try:  # permissions bits are not the whole story (read-only mounts, quotas, ACLs)
        with tempfile.TemporaryFile(dir=folder, prefix=".alloybench-probe-"):
            pass
    except OSError as exc:
        raise UserError(f"{what}: cannot write in {folder} ({exc.strerror or exc}); choose another folder") from None


def check_out_dir(path: Path, flag: str = "--out") -> Path:
    """An output folder that exists and is usable, or that can be created; creates nothing."""
    path = expand(path, flag)
    _components_ok(path, flag)
    try:
        exists = path.exists()
        is_dir = path.is_dir()
    except OSError as exc:
        raise UserError(f"{flag} {path}: {exc.strerror or exc}") from None
    if exists and not is_dir:
        raise UserError(f"{flag} {path} is a file, not a folder; choose a folder")
    if exists:
        _writable_dir(path, f"{flag} {path}")
    else:
        _writable_dir(_nearest_existing(path, flag), f"{flag} {path}")
    return path


def check_out_file(path: Path, flag: str) -> Path:
    """A file the command will (atomically) write: not a folder, its folder usable or creatable."""
    path = expand(path, flag)
    _components_ok(path, flag)
    try:
        if path.is_dir():
            raise UserError(f"{flag} {path} is a folder; name a file")
        parent_exists = path.parent.exists()
    except OSError as exc:
        raise UserError(f"{flag} {path}: {exc.strerror or exc}") from None
    if parent_exists:
        if not path.parent.is_dir():
            raise UserError(f"{flag} {path}: {path.parent} is a file, not a folder")
        _writable_dir(path.parent, f"{flag} {path}")
    else:
        _writable_dir(_nearest_existing(path.parent, flag), f"{flag} {path}")
    return path


def check_in_dir(path: Path, what: str = "result folder") -> Path:
    path = expand(path, what)
    _components_ok(path, what)
    try:
        if path.exists() and not path.is_dir():
            raise UserError(f"{what} {path} is a file; give the folder 'alloybench run' wrote")
        if path.is_dir() and not os.access(path, os.R_OK | os.X_OK):
            raise UserError(f"{what} {path} is not readable by you")
    except OSError as exc:
        raise UserError(f"{what} {path}: {exc.strerror or exc}") from None
    return path


# ------------------------------------------------------------------------------- model files
Scalar = Union[StrictStr, StrictInt, StrictFloat]


def _as_list(value: Any) -> Any:
    if isinstance(value, str):
        return [value]
    return value


class ModelFileDoc(BaseModel):
    """The keys of a model file (see ``alloybench.models.model_from_dict``) and their types."""

    model_config = ConfigDict(extra="forbid")

    family: Optional[StrictStr] = None
    model: Optional[StrictStr] = None
    name: Optional[Scalar] = None
    version: Optional[Scalar] = None
    training_data: Optional[Scalar] = None
    licence: Optional[Scalar] = None
    notes: Optional[Scalar] = None
    elements: Optional[list[StrictStr]] = None
    weights: Optional[StrictStr] = None
    options: Optional[dict[StrictStr, Any]] = None
    pair_style: Optional[StrictStr] = None
    pair_coeff: Optional[list[StrictStr]] = None
    commands: Optional[list[StrictStr]] = None
    files: Optional[list[StrictStr]] = None
    masses: Optional[dict[StrictStr, Union[StrictFloat, StrictInt]]] = None
    units: Optional[StrictStr] = None

    @field_validator("elements", mode="before")
    @classmethod
    def _split_elements(cls, v: Any) -> Any:
        return v.replace(",", " ").split() if isinstance(v, str) else v

    @field_validator("pair_coeff", "commands", mode="before")
    @classmethod
    def _split_lines(cls, v: Any) -> Any:
        return [ln for ln in v.splitlines() if ln.strip()] if isinstance(v, str) else v

    @field_validator("files", mode="before")
    @classmethod
    def _one_file(cls, v: Any) -> Any:
        return _as_list(v)


_EXPECT = {"elements": "a list of element symbols", "options": "a mapping (key: value)",
           "masses": "a mapping of element to mass in u (numbers)", "files": "a list of file names",
           "pair_coeff": "a string or a list of strings", "commands": "a string or a list of strings",
           "weights": "a path (a string)", "family": "a family name (a string)", "model": "a registry name (a string)",
           "pair_style": "a string", "units": "a string"}


def model_file_doc(doc: dict[str, Any], where: str) -> dict[str, Any]:
    """Type-check a model file's mapping; UserError naming the first bad key."""
    try:
        parsed = ModelFileDoc.model_validate(doc)
    except ValidationError as exc:
        e = exc.errors()[0]
        key = str(e["loc"][0]) if e["loc"] else "?"
        got = doc.get(key, e.get("input"))
        expect = _EXPECT.get(key, "a string or a number")
        raise UserError(f"{where}: '{_show(key, 40)}' must be {expect} (got {type(got).__name__} "
                        f"{_show(repr(got), 40)})") from None
    out = parsed.model_dump()
    for key in ("name", "version", "training_data", "licence", "notes"):
        if out[key] is not None:
            out[key] = str(out[key])
    for key in ("pair_coeff", "commands"):
        for line in out[key] or []:
            try:
                words = shlex.split(line)
            except ValueError as exc:
                raise UserError(f"{where}: {key} line {_show(line, 40)!r}: {exc}") from None
            if key == "commands" and words and words[0].lower() in LAMMPS_UNSAFE:
                from alloybench.models.trust import trusted_by_user

                if not trusted_by_user():
                    raise UserError(f"{where}: the LAMMPS command '{words[0]}' would run programs or code: "
                                    f"refused (pass --trust-checkpoint if you trust this model file)")
    return out


def load_json_file(path: Path, what: str) -> Any:
    """A JSON file the user hands over; UserError when unreadable or not JSON."""
    import json

    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise UserError(f"cannot read {what} {path}: {getattr(exc, 'strerror', None) or exc}") from None
    try:
        return json.loads(text)
    except (ValueError, RecursionError) as exc:
        raise UserError(f"{what} {path} is not valid JSON ({str(exc)[:100]}): rebuild it with "
                        f"'alloybench run' on the same --out") from None


# ------------------------------------------------------------------------------- results files
Num = Optional[Union[StrictFloat, StrictInt]]


class _Loose(BaseModel):
    model_config = ConfigDict(extra="allow")


class _ModelPart(_Loose):
    name: StrictStr
    family: StrictStr = ""


class _RunPart(_Loose):
    tier: StrictStr = ""
    date: StrictStr = ""
    elements: Optional[list[StrictStr]] = None


class _Group(_Loose):
    unit: StrictStr = ""
    mae: Num = None
    score: Num = None
    n_failed: StrictInt = 0


class _Score(_Loose):
    overall: Num = None
    overall_ci95: Optional[tuple[Union[StrictFloat, StrictInt], Union[StrictFloat, StrictInt]]] = None
    categories: dict[StrictStr, Num] = {}
    groups: dict[StrictStr, _Group] = {}
    n_failed: StrictInt = 0


class _Metric(_Loose):
    task: StrictStr
    item: StrictStr
    name: StrictStr
    value: Num = None
    reference: Num = None
    error: Num = None
    unit: StrictStr = ""
    status: StrictStr = "ok"
    reason: StrictStr = ""
    score: Num = None


class _Failure(_Loose):
    task: StrictStr
    name: StrictStr
    stage: Optional[StrictStr] = ""
    reason: Optional[StrictStr] = ""


class _Timing(_Loose):
    wall_seconds: Num = None
    computed: StrictInt = 0
    reused: StrictInt = 0
    device: Optional[StrictStr] = ""
    per_task: dict[StrictStr, tuple[StrictInt, Union[StrictFloat, StrictInt]]] = {}


class _Cost(_Loose):
    single_point: list[dict[StrictStr, Any]] = []
    md: Optional[dict[StrictStr, Any]] = None
    memory: Optional[dict[StrictStr, Any]] = None


class ResultsDoc(_Loose):
    """What ``alloybench report`` reads from a results.json (the parts its tables use)."""

    alloybench_results: StrictInt
    model: _ModelPart
    run: _RunPart = _RunPart()
    score: _Score
    metrics: list[_Metric] = []
    failures: list[_Failure] = []
    timing: Optional[_Timing] = None
    cost: Optional[_Cost] = None


def check_results_doc(doc: Any, path: Path) -> dict[str, Any]:
    """A results.json as 'alloybench run' writes it, else a UserError naming the first bad field."""
    if not isinstance(doc, dict) or "alloybench_results" not in doc:
        raise UserError(f"{path} is not an alloybench results file (no 'alloybench_results' key): give a folder "
                        f"that 'alloybench run' wrote")
    try:
        ResultsDoc.model_validate(doc)
    except ValidationError as exc:
        e = exc.errors()[0]
        where = ".".join(str(x) for x in e["loc"])
        raise UserError(f"{path} is damaged or not from alloybench: field '{_show(where, 60)}': {e['msg']}; "
                        f"rebuild it with 'alloybench run' on the same --out") from None
    from alloybench.report import markdown

    try:  # the report's own reading of it, once, so no odd value ends in a traceback later
        markdown([doc])
    except (KeyError, TypeError, ValueError, AttributeError, IndexError) as exc:
        raise UserError(f"{path} is damaged or not from alloybench ({type(exc).__name__}: {str(exc)[:80]}); "
                        f"rebuild it with 'alloybench run' on the same --out") from None
    return doc


_ = (StrictBool,)
__all__ = ["ModelFileDoc", "ResultsDoc", "check_in_dir", "check_results_doc", "check_model_text", "check_out_dir", "check_out_file", "load_json_file",
           "model_file_doc", "split_list"]
