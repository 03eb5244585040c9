"""Do two report.md files hold the same numbers?  ``python tools/compare_report_tables.py OLD.md NEW.md``

Every cell of every table in OLD is looked up in NEW by (section, first cell of its row,
column header); a leaderboard row (a table whose first column is "model") may have moved
to another section (the report now ranks universal and subsystem models apart), so it is
found by model name in any leaderboard table.  Cells must be equal as text (the numbers are
formatted by the same function, so tolerance 0).  Tables and columns that NEW adds are
not checked; a trailing "†" (a flagged value, newer reports) is not part of the number.  Exit status 1 and a list of differences when a cell differs or is missing.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

Cell = tuple[str, str, str]  # (section or "*", row key, column)


def _split(row: str) -> list[str]:
    cells = re.split(r"(?<!\\)\|", row.strip())[1:-1]
    return [c.strip() for c in cells]


def tables(text: str) -> dict[Cell, str]:
    """{(section, row key, column): cell} of every Markdown table."""
    out: dict[Cell, str] = {}
    section = ""
    lines = text.splitlines()
    i = 0
    while i < len(lines):
        line = lines[i]
        if line.startswith("#"):
            section = line.lstrip("#").strip()
        if line.startswith("|") and i + 1 < len(lines) and re.match(r"^\|(\s*-+\s*\|)+\s*$", lines[i + 1]):
            head = _split(line)
            where = "*" if head[0] == "model" and "overall score (95% CI)" in head else section
            i += 2
            seen: dict[str, int] = {}
            while i < len(lines) and lines[i].startswith("|"):
                cells = _split(lines[i])
                key = cells[0]
                # a row key that repeats within a table (e.g. the same item for two quantities) gets the next column too
                if len(head) > 1 and head[1] in ("quantity", "job"):
                    key = f"{cells[0]} / {cells[1]}"
                n = seen.get(key, 0)
                seen[key] = n + 1
                if n:
                    key = f"{key} #{n + 1}"
                for h, c in zip(head, cells):
                    out[(where, key, h)] = c.removesuffix("†")  # the flag mark newer reports add
                i += 1
            continue
        i += 1
    return out


def compare(old: str, new: str) -> list[str]:
    a, b = tables(old), tables(new)
    problems = []
    for k, v in a.items():
        if k not in b:
            problems.append(f"missing in new: {k} (old {v!r})")
        elif b[k] != v:
            problems.append(f"differs: {k}: old {v!r}, new {b[k]!r}")
    return problems


def main(argv: list[str]) -> int:
    if len(argv) != 2:
        print(__doc__.strip().splitlines()[0], file=sys.stderr)
        return 2
    old, new = (Path(p).read_text(encoding="utf-8") for p in argv)
    problems = compare(old, new)
    n = len(tables(old))
    for p in problems[:50]:
        print(p)
    print(f"{n} cells compared, {len(problems)} differ or are missing")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
