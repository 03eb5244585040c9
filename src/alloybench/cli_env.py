"""``alloybench env create|list|remove``: per-family environments (see alloybench.envs).

Mounted in cli.py with ``app.add_typer(env_app, name="env")``.
"""

from __future__ import annotations

from typing import Optional

import typer
from rich.console import Console
from rich.table import Table

from alloybench.errors import UserError

env_app = typer.Typer(help="Per-family environments (families whose packages cannot share one).",
                      no_args_is_help=True)
_out = Console()
_err = Console(stderr=True)


def _fail(message: str) -> None:
    _err.print(f"alloybench: error: {message}", highlight=False, markup=False)
    raise typer.Exit(2)


@env_app.command("create")
def env_create(
    family: str = typer.Argument(..., help="model family: mace, grace, orb, mattersim, fairchem, deepmd, ..."),
    python: Optional[str] = typer.Option(None, "--python", help="interpreter for the venv (default: this one)"),
    force: bool = typer.Option(False, "--force", help="rebuild an existing environment"),
    extra: Optional[list[str]] = typer.Option(None, "--pip", help="more pip requirements (repeatable)"),
) -> None:
    """Create ALLOYBENCH_ENVS/FAMILY (default ~/.alloybench/envs): CPU torch, alloybench, the family's packages."""
    from alloybench import envs

    try:
        envs.create(family, python=python, force=force, extra=extra,
                    log=lambda m: _err.print(m, highlight=False, markup=False))
    except UserError as exc:
        first, *rest = str(exc).splitlines()
        if rest:
            _err.print("\n".join(rest), highlight=False, markup=False)
        _fail(first)


@env_app.command("list")
def env_list() -> None:
    """Each family: importable here, its environment and package versions."""
    from alloybench import envs

    table = Table(title=f"alloybench environments ({envs.envs_root()})")
    for col in ("family", "here", "env", "packages", "installs"):
        table.add_column(col)
    for r in envs.listing():
        table.add_row(r["family"], r["here"], r["env"], r["packages"], r["install"])
    _out.print(table)


@env_app.command("remove")
def env_remove(family: str = typer.Argument(...)) -> None:
    """Delete a family's environment."""
    from alloybench import envs

    if not envs.remove(family):
        _fail(f"no environment for '{family}' in {envs.envs_root()}")
