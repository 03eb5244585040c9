"""The one progress bar every long command shows: description, bar, done/total, elapsed, ETA."""

from __future__ import annotations

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn


def progress_bar(console: Console, quiet: bool = False) -> Progress | None:
    """A rich Progress on ``console`` (None when ``quiet``); the caller starts and stops it."""
    if quiet:
        return None
    return Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                    TextColumn("ETA"), TimeRemainingColumn(), console=console)


class ProgressCallback:
    """A progress callback that is also the context holding its bar (nothing shown when quiet)."""

    def __init__(self, console: Console, quiet: bool = False):
        self.progress = progress_bar(console, quiet)

    def __enter__(self):
        if self.progress:
            self.progress.start()
        return self

    def __exit__(self, *exc: object) -> None:
        if self.progress:
            self.progress.stop()
