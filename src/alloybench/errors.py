"""Errors a user can cause: the CLI prints the message on one line and exits 2."""


class UserError(Exception):
    """Bad input from the user (unknown model, missing file, bad task name...)."""


class MissingExtra(UserError):
    """An optional dependency is not installed."""

    def __init__(self, what: str, extra: str, package: str | None = None):
        pkg = package or extra
        super().__init__(f"{what} needs the '{pkg}' package: pip install 'alloybench[{extra}]'")
