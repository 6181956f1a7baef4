"""Which of the code directory's files a python task ships: its handler module, every
module of the code directory that module imports (statically, transitively), the
`__init__.py` of each package on the way, and the files its `include = [...]` names.

So editing one task's module changes only that task's archive (and republishes only
its function); a shared module changes every task that imports it. The candidates are
what `packaging.select_code_files` ships (`.gitignore`, `.flowcignore`, flowc's own files
excluded): this module only narrows them down.

Imports are read with `ast` from every `import` statement anywhere in a module (inside
functions and `try` blocks too). What static analysis cannot see (`importlib` with a
computed name, data files read at run time) goes in `include`. When the handler module
is not among the files (a namespace package, a generated module), the task ships the
whole code directory, as before.
"""

from __future__ import annotations

import ast
import fnmatch
from collections.abc import Iterable, Mapping

from flowc.compiler.ir import PythonHandler, Task


def _module_files(dotted: str, files: Mapping[str, bytes]) -> list[str]:
    """The files that importing `dotted` runs: each package's `__init__.py`, then the
    module itself (`a/b.py` or `a/b/__init__.py`); [] if it is not in the code dir."""
    parts = dotted.split(".")
    out = []
    for depth in range(1, len(parts)):
        init = "/".join(parts[:depth]) + "/__init__.py"
        if init in files:
            out.append(init)
    path = "/".join(parts)
    for candidate in (path + ".py", path + "/__init__.py"):
        if candidate in files:
            return [*out, candidate]
    return []


def _package_of(name: str) -> list[str]:
    """The dotted package a file is in (`a/b/c.py` -> [a, b]; `a/__init__.py` -> [a])."""
    parts = name.removesuffix(".py").split("/")
    return parts[:-1]


def _imported(name: str, source: bytes) -> set[str]:
    """Dotted names a module's `import`s may load: `import a.b` -> a.b; `from a import
    b` -> a and a.b (b may be a submodule); relative imports resolved from `name`."""
    try:
        tree = ast.parse(source, filename=name)
    except (SyntaxError, ValueError):
        return set()  # the task fails at import time anyway; ship what we know
    out: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            out.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                package = _package_of(name)
                keep = len(package) - (node.level - 1)
                if keep < 0:
                    continue
                base = ".".join([*package[:keep], *([node.module] if node.module else [])])
            else:
                base = node.module or ""
            if base:
                out.add(base)
            out.update(f"{base}.{alias.name}" if base else alias.name for alias in node.names)
    return out


def included(patterns: Iterable[str], files: Iterable[str]) -> dict[str, list[str]]:
    """For each `include` pattern, the files it names: the file itself, everything under
    a directory, or a glob (`data/*.json`)."""
    names = list(files)
    out: dict[str, list[str]] = {}
    for pattern in patterns:
        clean = pattern.strip("/").removeprefix("./")
        out[pattern] = [n for n in names if n == clean or n.startswith(clean + "/")
                        or fnmatch.fnmatchcase(n, clean)]
    return out


def needed_files(files: Mapping[str, bytes], module: str,
                 include: Iterable[str] = ()) -> set[str] | None:
    """Names (of `files`) a task whose handler lives in `module` ships; None: all of them."""
    start = _module_files(module, files)
    if not start:
        return None
    needed: set[str] = set()
    todo = list(start)
    while todo:
        name = todo.pop()
        if name in needed:
            continue
        needed.add(name)
        for dotted in _imported(name, files[name]):
            todo.extend(f for f in _module_files(dotted, files) if f not in needed)
    for names in included(include, files).values():
        needed.update(names)
    return needed


def task_files(task: Task, files: Mapping[str, bytes]) -> dict[str, bytes]:
    """The part of the code directory's `files` that `task` ships (see module doc)."""
    if not isinstance(task, Task) or not isinstance(task.handler, PythonHandler):
        return dict(files)
    needed = needed_files(files, task.handler.module, task.include)
    if needed is None:
        return dict(files)
    return {name: data for name, data in files.items() if name in needed}
