"""Per-family environments: families whose packages cannot share one environment
(MACE pins e3nn below SevenNet's, GRACE needs TensorFlow, deepmd-kit wants its own
torch ops...) each get a virtual environment under ``$ALLOYBENCH_ENVS`` (default
``~/.alloybench/envs``)/FAMILY with CPU torch first, then alloybench itself, then
the family's packages, then the family's own fixes (``Family.env_fix``).  ``resolve`` finds a family's environment when its package
is not importable here, and ``SubprocessEngine`` runs the Jobs in a worker there.

An environment is used only once ``alloybench-env.json`` is written, last, so a
half-built one is never picked up.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from alloybench.errors import UserError
from alloybench.models.families import FAMILIES

MARKER = "alloybench-env.json"
TORCH = os.environ.get("ALLOYBENCH_TORCH", "torch==2.13.0")


def envs_root() -> Path:
    return Path(os.environ.get("ALLOYBENCH_ENVS", "~/.alloybench/envs")).expanduser()


def env_dir(family: str) -> Path:
    return envs_root() / family


def env_python(family: str) -> Path:
    return env_dir(family) / "bin" / "python"


def env_ready(family: str) -> bool:
    d = env_dir(family)
    return (d / MARKER).exists() and (d / "bin" / "python").exists()


def env_info(family: str) -> dict[str, Any] | None:
    try:
        return json.loads((env_dir(family) / MARKER).read_text())
    except (OSError, ValueError):
        return None


def worker_environ(extra: dict[str, str] | None = None) -> dict[str, str]:
    """Environment for a worker: ours, less this venv's activation, plus the marker."""
    env = {k: v for k, v in os.environ.items() if k not in ("VIRTUAL_ENV", "PYTHONHOME")}
    env["ALLOYBENCH_IN_WORKER"] = "1"
    env.setdefault("PYTHONUNBUFFERED", "1")
    env.update(extra or {})
    return env


def source_tree() -> Path | None:
    """The repository alloybench runs from, when it is an editable/source checkout."""
    root = Path(__file__).resolve().parents[2]  # src/alloybench/envs.py -> the checkout
    return root if (root / "pyproject.toml").exists() and (root / "src" / "alloybench").is_dir() else None


def alloybench_requirement() -> str:
    tree = source_tree()
    if tree is not None:
        return f"-e{tree}"
    from importlib import metadata

    return f"alloybench=={metadata.version('alloybench')}"


# ------------------------------------------------------------------ create / list / remove
def _run(cmd: list[str], log: Callable[[str], None]) -> None:
    log("$ " + " ".join(cmd))
    p = subprocess.run(cmd, capture_output=True, text=True, env={**os.environ, "PIP_DISABLE_PIP_VERSION_CHECK": "1"})
    if p.returncode != 0:
        tail = "\n".join((p.stderr or p.stdout).strip().splitlines()[-15:])
        raise UserError(f"command failed ({p.returncode}): {' '.join(cmd)}\n{tail}")


def _apt(packages: tuple[str, ...], log: Callable[[str], None]) -> None:
    if not packages or shutil.which("apt-get") is None or os.geteuid() != 0:
        if packages:
            log(f"note: this family needs the system packages {' '.join(packages)}")
        return
    missing = [p for p in packages
               if subprocess.run(["dpkg", "-s", p], capture_output=True).returncode != 0]
    if missing:
        _run(["apt-get", "install", "-y", "-qq", *missing], log)


REQUIREMENTS = """
import json, sys
from importlib.metadata import requires
from packaging.requirements import Requirement
out = []
for dist in sys.argv[1:]:
    for raw in requires(dist) or []:
        r = Requirement(raw)
        if r.marker is None or r.marker.evaluate({"extra": ""}):
            out.append([r.name.lower(), str(r)])
print(json.dumps(out))
"""


def _install_swapped(env: Path, pip: list[str], packages: tuple[str, ...], swap: dict[str, str],
                     log: Callable[[str], None]) -> None:
    """Install ``packages`` without their dependencies, then those dependencies with the
    ``swap`` ones replaced (e.g. tensorflow[and-cuda] -> tensorflow-cpu: no CUDA download)."""
    _run([*pip, "--no-deps", *packages], log)
    _run([*pip, "packaging"], log)
    names = [p.split(">")[0].split("=")[0].split("[")[0].split("<")[0] for p in packages]
    p = subprocess.run([str(env / "bin" / "python"), "-c", REQUIREMENTS, *names], capture_output=True, text=True)
    if p.returncode != 0:
        raise UserError(f"cannot read the requirements of {' '.join(names)}: {p.stderr.strip()[-300:]}")
    reqs = [swap.get(name, req) for name, req in json.loads(p.stdout)]
    _run([*pip, *dict.fromkeys(reqs)], log)
    # a dependency may still have pulled a swapped-out distribution (tf_keras -> tensorflow);
    # both install into one folder: drop it, then lay the replacement down again
    listed = subprocess.run([str(env / "bin" / "python"), "-m", "pip", "list", "--format=json"], capture_output=True,
                            text=True).stdout
    present = {d["name"].lower() for d in json.loads(listed or "[]")}
    for old, new in swap.items():
        if old in present:
            _run([str(env / "bin" / "python"), "-m", "pip", "uninstall", "-y", "-q", old], log)
            _run([*pip, "--force-reinstall", "--no-deps", new], log)


def _client_dask_pins() -> list[str]:
    """dask and distributed pinned to this environment's versions, when it has them: a family
    environment hosts Dask workers only with the client's exact distributed."""
    try:
        import dask
        import distributed
    except ImportError:
        return []
    return [f"dask=={dask.__version__}", f"distributed=={distributed.__version__}"]


def create(family: str, python: str | None = None, force: bool = False, extra: list[str] | None = None,
           log: Callable[[str], None] = print) -> Path:
    """Create (or re-create with ``force``) the environment of ``family``."""
    if family not in FAMILIES or not FAMILIES[family].pip:
        known = ", ".join(k for k, f in FAMILIES.items() if f.pip)
        raise UserError(f"no environment recipe for '{family}' (known: {known})")
    fam = FAMILIES[family]
    d = env_dir(family)
    if env_ready(family) and not force:
        log(f"{d} exists (use --force to rebuild)")
        return d
    if d.exists():
        shutil.rmtree(d)
    d.parent.mkdir(parents=True, exist_ok=True)
    try:
        _apt(fam.apt, log)
        _run([python or sys.executable, "-m", "venv", str(d)], log)
        pip = [str(d / "bin" / "python"), "-m", "pip", "install", "-q"]
        if fam.torch:
            _run([*pip, TORCH], log)  # first: else a family's dependency pulls a CUDA build
            # and keep it: torchvision/torchaudio & co. would otherwise upgrade torch (to a CUDA build);
            # a family that needs another torch fails here, clearly, instead of downloading gigabytes
            (d / "constraints.txt").write_text(TORCH + "\n")
            pip += ["-c", str(d / "constraints.txt")]
        _run([*pip, alloybench_requirement()], log)
        if fam.swap:
            _install_swapped(d, pip, fam.pip, dict(fam.swap), log)
        else:
            _run([*pip, *fam.pip], log)
        if extra:
            _run([*pip, *extra], log)
        dask_pins = _client_dask_pins()
        if dask_pins:  # so that `--engine dask` can start this family's workers (env_python_with_dask)
            _run([*pip, *dask_pins], log)
        if fam.env_fix is not None:  # the family's own repairs (its module says why)
            fam.env_fix(d, log, lambda cmd: _run(cmd, log))
        check = subprocess.run([str(d / "bin" / "python"), "-c", f"import {fam.package}"], capture_output=True,
                               text=True, env=worker_environ())
        if check.returncode != 0:
            tail = (check.stderr.strip().splitlines() or ["?"])[-1]
            raise UserError(f"{family}: 'import {fam.package}' fails in the new environment: {tail}")
        versions = subprocess.run([str(d / "bin" / "python"), "-m", "pip", "list", "--format=json"],
                                  capture_output=True, text=True).stdout
        info = {"family": family, "created": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
                "python": subprocess.run([str(d / "bin" / "python"), "-c", "import sys; print(sys.version.split()[0])"],
                                         capture_output=True, text=True).stdout.strip(),
                "packages": {p["name"].lower(): p["version"] for p in json.loads(versions or "[]")},
                "requested": [*((TORCH,) if fam.torch else ()), alloybench_requirement(), *fam.pip, *(extra or []),
                              *dask_pins]}
        (d / MARKER).write_text(json.dumps(info, indent=1))
    except BaseException:
        shutil.rmtree(d, ignore_errors=True)
        raise
    log(f"created {d}")
    return d


def remove(family: str) -> bool:
    d = env_dir(family)
    if d.exists():
        shutil.rmtree(d)
        return True
    return False


def listing() -> list[dict[str, str]]:
    """Each family with a recipe: environment path, state, key package versions."""
    rows = []
    for name, fam in FAMILIES.items():
        if not fam.pip:
            continue
        info = env_info(name) if env_ready(name) else None
        pkgs = (info or {}).get("packages", {})
        keys = [p.split(">")[0].split("=")[0].split("[")[0].lower() for p in fam.pip] + ["torch"]
        rows.append({
            "family": name,
            "here": "yes" if fam.installed() else "no",
            "env": str(env_dir(name)) if info else ("(incomplete)" if env_dir(name).exists() else "-"),
            "packages": " ".join(f"{k}=={pkgs[k]}" for k in keys if k in pkgs),
            "install": " ".join(fam.pip),
        })
    return rows
