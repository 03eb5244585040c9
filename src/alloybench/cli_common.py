"""What every alloybench command shares: the consoles and the one-line, exit-2 user error."""

from __future__ import annotations

import sys

import typer
from rich.console import Console

# tables are wide: never squeeze them into 80 columns when the output is not a terminal
out = Console(width=None if sys.stdout.isatty() else 160)
err = Console(stderr=True)


def trust_checkpoint_option() -> bool:
    """--trust-checkpoint, for every command that loads a model (the untrusted-checkpoint refusal names it)."""
    return typer.Option(False, "--trust-checkpoint",
                        help="allow a checkpoint that needs full unpickling (it can run code) "
                             "from outside the installed packages and $ALLOYBENCH_WEIGHTS")


def one_line(message: object) -> str:
    """The message with anything that would break it over lines (newlines, control and
    separator characters from the user's input) shown escaped."""
    return "".join(ch if ch.isprintable() or ch == " " else ascii(ch)[1:-1] for ch in str(message))


def fail(message: str) -> None:
    """A user's mistake: one line, exit status 2."""
    err.print(f"alloybench: error: {one_line(message)}", highlight=False, markup=False, soft_wrap=True)
    raise typer.Exit(2)


__all__ = ["err", "fail", "one_line", "out", "trust_checkpoint_option"]
