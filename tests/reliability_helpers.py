"""In-process CLI calls for the reliability tests (typer's CliRunner: no subprocess per input)."""

from __future__ import annotations

import hashlib
from pathlib import Path

from typer.testing import CliRunner

from alloybench.cli import app

RUNNER = CliRunner()


def cli(*args: str, env: dict[str, str] | None = None):
    return RUNNER.invoke(app, [str(a) for a in args], env=env)


def assert_usage_error(result, needle: str | None = None, one_line: bool = True) -> None:
    """Exit 2, no traceback, the message on one line (and containing ``needle``)."""
    exc = result.exception
    assert exc is None or isinstance(exc, SystemExit), f"{type(exc).__name__}: {exc}"
    text = result.output + (result.stderr or "")
    assert "Traceback" not in text, text
    assert result.exit_code == 2, (result.exit_code, text)
    if one_line:
        lines = [ln for ln in (result.stderr or "").splitlines() if ln.strip()]
        assert len(lines) == 1 and lines[0].startswith("alloybench: error:"), result.stderr
    if needle is not None:
        assert needle in (result.stderr or ""), result.stderr


def digest(path: Path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()
