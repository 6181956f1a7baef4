"""Handler modules that cannot be imported as written (`flowc check`, issue 12).

A task's code directory goes first on `sys.path`, yet two layouts still import
something else than the user's file:
- a top-level name of the standard library (`code/ok.py`, `json.py`): the runtime has
  imported it, or imports it, before the handler (E127);
- a package directory without `__init__.py`: Python makes it a namespace package,
  which loses to any module or regular package of that name anywhere on the path, the
  standard library and site-packages included (W104).
"""

from __future__ import annotations

import sys
from pathlib import Path

from flowc.diagnostics import Diagnostic, Span

SHADOWING = frozenset(sys.stdlib_module_names) | frozenset(sys.builtin_module_names)


def import_problems(base_dir: str | Path, module: str, span: Span | None) -> list[Diagnostic]:
    """Diagnostics for `module` (dotted) as found under `base_dir`."""
    parts = module.split(".")
    top = parts[0]
    if top in SHADOWING:
        kind = "package" if len(parts) > 1 else "module"
        return [Diagnostic(
            "E127", f"`{module}`: `{top}` is also a module of Python's standard library, "
            f"which the runtime imports instead of this {kind}", span,
            help=f"rename `{top}` (for example to `{top}_jobs`) and the `python = ...` "
            "line with it",
        )]  # fmt: skip
    out = []
    for depth in range(1, len(parts)):
        package = Path(base_dir, *parts[:depth])
        if package.is_dir() and not (package / "__init__.py").is_file():
            name = ".".join(parts[:depth])
            out.append(Diagnostic(
                "W104", f"`{name}` has no __init__.py: Python imports it as a namespace "
                f"package, which any installed module named `{name}` shadows", span,
                help=f"add an empty {package / '__init__.py'}",
            ))  # fmt: skip
    return out
