"""The package's shape: no import cycles between flowc's modules.

Every `import`/`from ... import` of a flowc module counts, wherever it stands (module
level, inside a function, under `if TYPE_CHECKING:`): a cycle hidden in a function is
still two modules that cannot be understood, or moved, one without the other.
"""

from __future__ import annotations

import ast
from pathlib import Path

import flowc

ROOT = Path(flowc.__file__).parent


def module_name(path: Path, root: Path = ROOT) -> str:
    parts = list(path.relative_to(root.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def import_graph(root: Path = ROOT) -> dict[str, set[str]]:
    """module -> the flowc modules it imports (`from pkg import mod` counts as pkg.mod)."""
    files = {module_name(p, root): p for p in root.rglob("*.py")}
    graph: dict[str, set[str]] = {}
    for name, path in files.items():
        package = name if path.name == "__init__.py" else name.rpartition(".")[0]
        deps: set[str] = set()
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Import):
                deps.update(alias.name for alias in node.names)
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:  # relative import
                    anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                    base = ".".join(anchor + ([base] if base else []))
                for alias in node.names:
                    sub = f"{base}.{alias.name}"
                    deps.add(sub if sub in files else base)
        graph[name] = {d for d in deps if d in files and d != name}
    return graph


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One import cycle as [a, b, ..., a], or None."""
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    path: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        path.append(node)
        for dep in sorted(graph[node]):
            if state.get(dep) == 1:
                return path[path.index(dep):] + [dep]
            if dep not in state and (cycle := visit(dep)):
                return cycle
        path.pop()
        state[node] = 2
        return None

    for node in sorted(graph):
        if node not in state and (cycle := visit(node)):
            return cycle
    return None


def test_flowc_has_no_import_cycle():
    graph = import_graph()
    assert len(graph) > 50 and "flowc.compiler.check" in graph  # the walk found the package
    cycle = find_cycle(graph)
    assert cycle is None, "import cycle: " + " -> ".join(cycle or ())


def test_the_cycle_finder_sees_function_level_and_type_checking_imports(tmp_path):
    pkg = tmp_path / "flowc"
    (pkg / "sub").mkdir(parents=True)
    (pkg / "__init__.py").write_text("")
    (pkg / "sub" / "__init__.py").write_text("")
    (pkg / "a.py").write_text("from flowc.sub import b\n")
    (pkg / "sub" / "b.py").write_text(
        "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from flowc import c\n")
    (pkg / "c.py").write_text("def f():\n    from flowc.a import x\n")
    cycle = find_cycle(import_graph(pkg))
    assert cycle == ["flowc.a", "flowc.sub.b", "flowc.c", "flowc.a"]
    (pkg / "c.py").write_text("def f():\n    pass\n")
    assert find_cycle(import_graph(pkg)) is None
