"""No import cycle among alloybench's own modules (issue 19).

Every ``import`` and ``from ... import`` in the package is an edge, wherever it is written:
at module level, inside a function, under ``if TYPE_CHECKING``.  A function-level import
hides a cycle from Python until the day the import order changes; this test does not."""

from __future__ import annotations

import ast
from pathlib import Path

import alloybench

PACKAGE = "alloybench"


def package_root() -> Path:
    return Path(alloybench.__file__).resolve().parent


def module_names(root: Path) -> dict[str, Path]:
    """Dotted name -> file of every module in the package (``pkg/__init__.py`` is ``pkg``)."""
    found = {}
    for path in root.rglob("*.py"):
        parts = list(path.relative_to(root.parent).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts = parts[:-1]
        found[".".join(parts)] = path
    return found


def _absolute(module: str, node: ast.ImportFrom, is_package: bool) -> str:
    if not node.level:
        return node.module or ""
    base = module.split(".") if is_package else module.split(".")[:-1]
    base = base[:len(base) - (node.level - 1)]
    return ".".join(base + ([node.module] if node.module else []))


def imports_of(module: str, path: Path, known: set[str]) -> set[str]:
    """The package modules ``module`` imports: ``import a.b`` -> a.b; ``from a import b`` ->
    a.b when that is a module, else a."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    out: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            out.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            target = _absolute(module, node, path.name == "__init__.py")
            for alias in node.names:
                sub = f"{target}.{alias.name}"
                out.add(sub if sub in known else target)
    return {m for m in out if m in known and m != module}


def import_graph() -> dict[str, set[str]]:
    names = module_names(package_root())
    known = set(names)
    return {m: imports_of(m, p, known) for m, p in names.items()}


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan), each sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []
    counter = [0]

    def visit(v: str) -> None:
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on_stack.add(v)
        for w in sorted(graph.get(v, ())):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    import sys

    limit = sys.getrecursionlimit()
    sys.setrecursionlimit(max(limit, 10_000))
    try:
        for v in sorted(graph):
            if v not in index:
                visit(v)
    finally:
        sys.setrecursionlimit(limit)
    return found


def test_the_graph_sees_function_level_imports():
    graph = import_graph()
    assert "alloybench.models" in graph
    # cli.py imports alloybench.models inside its commands only
    assert "alloybench.models" in graph["alloybench.cli"]


def test_cycle_finder_finds_a_cycle():
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert cycles({"a": {"b"}, "b": set()}) == []


def test_no_import_cycle_among_package_modules():
    found = cycles(import_graph())
    assert not found, "import cycles among alloybench modules:\n" + "\n".join(" <-> ".join(c) for c in found)
