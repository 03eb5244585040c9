"""Models that live in another environment: how a worker describes one, and the Model the
parent builds from that description (it runs only through ``SubprocessEngine``)."""

from __future__ import annotations

import json
import os
import subprocess
from typing import Any

from alloybench.errors import UserError
from alloybench.models.model import Model

PROTOCOL = 1


def describe(model: Model) -> dict[str, Any]:
    return {"type": "model", "protocol": PROTOCOL, "id": model.id, "name": model.name, "family": model.family,
            "elements": sorted(model.elements) if model.elements is not None else None,
            "info": model.info, "source": model.source, "weights": model.weights}


def model_from_description(doc: dict[str, Any], env: str | None = None) -> Model:
    """A Model described by a worker: runs only through ``SubprocessEngine``."""

    def remote() -> None:
        raise UserError(f"model '{doc['name']}' runs in the environment {env}: use "
                        f"alloybench.engine.subprocess.engine_for(model)")

    elements = frozenset(doc["elements"]) if doc.get("elements") is not None else None
    info = dict(doc.get("info") or {})
    if env:
        info["env"] = env
    return Model(id=doc["id"], name=doc["name"], family=doc["family"], elements=elements, make_calculator=remote,
                 info=info, source=doc.get("source") or doc["name"], weights=doc.get("weights"), env=env,
                 options=dict(info.get("options") or {}))


def base_command(python: str | os.PathLike, verb: str, source: str, weights: str | None) -> list[str]:
    cmd = [str(python), "-m", "alloybench.worker", verb, source]
    if weights:
        cmd += ["--weights", str(weights)]
    return cmd


def describe_command(python, source: str, weights: str | None) -> list[str]:
    return base_command(python, "describe", source, weights)


def run_json_in_env(cmd: list[str], what: str, timeout: float) -> dict[str, Any]:
    """Run ``cmd`` (a family environment's Python) and return the JSON document on the last
    ``{`` line of its stdout, which may be an ``{"type": "error", "message": ...}`` the caller
    words; a timeout or no document at all is a UserError that starts with ``what``."""
    from alloybench import envs

    try:
        p = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, env=envs.worker_environ())
    except subprocess.TimeoutExpired:
        raise UserError(f"{what}: timed out after {timeout:.0f} s") from None
    lines = [ln for ln in p.stdout.splitlines() if ln.startswith("{")]
    if not lines:
        raise UserError(f"{what}: {(p.stderr.strip().splitlines() or ['no output'])[-1]}")
    return json.loads(lines[-1])


def describe_in_env(family_name: str, source: str, weights: str | None) -> Model:
    """Resolve ``source`` inside the family's environment (no model is loaded)."""
    from alloybench import envs

    cmd = describe_command(envs.env_python(family_name), source, weights)
    doc = run_json_in_env(cmd, f"model '{source}' in env {envs.env_dir(family_name)}", 600)
    if doc.get("type") == "error":
        raise UserError(doc["message"])
    return model_from_description(doc, env=str(envs.env_dir(family_name)))


__all__ = ["PROTOCOL", "base_command", "describe", "describe_command", "describe_in_env", "model_from_description",
           "run_json_in_env"]
