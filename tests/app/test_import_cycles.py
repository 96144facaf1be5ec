"""No import cycles among the modules of ``tracker/`` and ``attribution/``.

Every ``import`` statement counts: at module level, inside functions and under ``TYPE_CHECKING``. A
function-level import only delays a cycle to the first call; the rule is that a lower layer never
imports a higher one, and when two modules need each other the shared part moves down into a third
(as ``tracker/cli_support.py`` did for the command modules). Importing ``a.b.c`` also runs
``a/__init__.py`` and ``a/b/__init__.py``; those implicit edges are left out, as every module would
otherwise cycle with the package that builds the app.
"""
from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def module_files(package: Path) -> dict[str, Path]:
    """Return dotted module name -> file for every ``.py`` file under ``package`` (a folder)."""
    found = {}
    for path in sorted(package.rglob("*.py")):
        parts = list(path.relative_to(package.parent).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        found[".".join(parts)] = path
    return found


def import_graph(package: Path) -> dict[str, dict[str, int]]:
    """Return module -> {imported module of the same package: line of the first such import}."""
    files = module_files(package)
    graph: dict[str, dict[str, int]] = {name: {} for name in files}
    for name, path in files.items():
        here = name.split(".") if path.name == "__init__.py" else name.split(".")[:-1]
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
            if isinstance(node, ast.Import):
                targets = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:  # relative: from . import x, from ..a import b
                    base = ".".join(here[:len(here) - node.level + 1] + ([node.module] if node.module else []))
                # ``from a import b``: the module a.b if there is one, else a name defined in a
                targets = [f"{base}.{alias.name}" if f"{base}.{alias.name}" in files else base for alias in node.names]
            else:
                continue
            for target in targets:
                while target and target not in files:  # ``import a.b.name`` of a package's module: its module
                    target = target.rpartition(".")[0]
                if target and target != name:
                    graph[name].setdefault(target, node.lineno)
    return graph


def import_cycles(graph: dict[str, dict[str, int]]) -> list[list[str]]:
    """Return the strongly connected components with more than one module (Tarjan), each sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for nxt in sorted(graph[node]):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return sorted(found)


def describe(graph: dict[str, dict[str, int]], cycles: list[list[str]], package: Path) -> str:
    """The imports that close each cycle, as ``path:line: a -> b`` lines."""
    files = module_files(package)
    lines = []
    for cycle in cycles:
        lines.append("cycle: " + ", ".join(cycle))
        for module in cycle:
            for target, line in sorted(graph[module].items()):
                if target in cycle:
                    lines.append(f"  {files[module].relative_to(package.parent)}:{line}: {module} -> {target}")
    return "\n".join(lines)


@pytest.mark.parametrize("package", ["tracker", "attribution"])
def test_no_import_cycles(package: str) -> None:
    graph = import_graph(ROOT / package)
    assert len(graph) > 5  # the walk found the package's modules
    cycles = import_cycles(graph)
    assert not cycles, "import cycles (move the shared part down into a third module):\n" + describe(
        graph, cycles, ROOT / package)


def test_the_check_finds_every_kind_of_import(tmp_path: Path) -> None:
    """A tiny package with a cycle per kind of import: module level, in a function, relative, TYPE_CHECKING."""
    pkg = tmp_path / "pkg"
    (pkg / "sub").mkdir(parents=True)
    files = {
        "__init__.py": "",
        "base.py": "import os\n",  # nothing of the package: no edge
        "a.py": "from pkg import b\n",  # ``from package import module``
        "b.py": "def f():\n    from pkg.a import name  # noqa\n",  # in a function, a name of module a
        "c.py": "from .sub import d\n",  # relative
        "sub/__init__.py": "",
        "sub/d.py": "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from ..c import X\n",
        "e.py": "import pkg.base\nimport pkg.sub.d\n",  # ``import a.b``: e imports, nobody imports e
    }
    for name, text in files.items():
        (pkg / name).write_text(text, encoding="utf-8")
    graph = import_graph(pkg)
    assert graph["pkg.a"] == {"pkg.b": 1} and graph["pkg.b"] == {"pkg.a": 2}
    assert graph["pkg.c"] == {"pkg.sub.d": 1} and graph["pkg.sub.d"] == {"pkg.c": 3}
    assert graph["pkg.e"] == {"pkg.base": 1, "pkg.sub.d": 2} and graph["pkg.base"] == {}
    assert import_cycles(graph) == [["pkg.a", "pkg.b"], ["pkg.c", "pkg.sub.d"]]
    assert "pkg/b.py:2: pkg.b -> pkg.a" in describe(graph, import_cycles(graph), pkg).replace("\\", "/")


def test_a_longer_cycle_is_one_component() -> None:
    graph = {"a": {"b": 1}, "b": {"c": 1}, "c": {"a": 1, "d": 1}, "d": {}}
    assert import_cycles(graph) == [["a", "b", "c"]]
