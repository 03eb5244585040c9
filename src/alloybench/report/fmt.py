"""Number formatting shared by the Markdown and HTML reports."""

from __future__ import annotations

import math
from typing import Any


def md_number(x: float | None, digits: int = 3) -> str:
    """The Markdown tables' format (unchanged since the first report: tables stay comparable)."""
    if x is None:
        return "–"
    if abs(x) >= 1000 or (abs(x) < 1e-3 and x != 0):
        return f"{x:.3g}"
    return f"{x:.{digits}f}"


def num(x: Any, digits: int = 3) -> str:
    """A value for an HTML cell: fixed digits; 3 significant digits in e-notation only for tiny or huge values."""
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return "–"
    if isinstance(x, int) and not isinstance(x, bool):
        return str(x)
    x = float(x) + 0.0  # no "-0.0000"
    if x == 0:
        x = 0.0
    if x != 0 and (abs(x) >= 1e5 or abs(x) < 1e-3):
        return f"{x:.3g}"
    return f"{x:.{digits}f}"


def seconds(x: Any, digits: int = 1) -> str:
    """Seconds as a plain number with thousands separators (thin spaces), never e-notation."""
    if x is None or (isinstance(x, float) and not math.isfinite(x)):
        return "–"
    return f"{float(x):,.{digits}f}".replace(",", "\u2009")


def sortval(x: Any) -> str:
    """data-sort attribute: a plain number, or empty (sorted last)."""
    if x is None or (isinstance(x, float) and not math.isfinite(x)):
        return ""
    return repr(float(x))


def escape_md(text: Any) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


__all__ = ["escape_md", "md_number", "num", "seconds", "sortval"]
