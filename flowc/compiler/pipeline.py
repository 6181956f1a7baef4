"""Source to checked IR in one call: read, parse, check.

    result = load("reports.flow", env="prod")
    if result.ok: use result.app
    else: render result.diagnostics (they carry spans into result.sources)
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from flowc.compiler.check import check_file
from flowc.compiler.ir import App
from flowc.diagnostics import Diagnostic, SourceCache, has_errors
from flowc.grammar.parser import parse_text, read_source


@dataclass
class LoadResult:
    app: App | None
    diagnostics: list[Diagnostic] = field(default_factory=list)
    sources: SourceCache = field(default_factory=SourceCache)

    @property
    def ok(self) -> bool:
        return self.app is not None and not has_errors(self.diagnostics)


def load(path: str | Path, env: str | None = None,
         sources: SourceCache | None = None) -> LoadResult:
    """Read and check a .flow file; never raises for bad input."""
    text, diagnostics = read_source(path)
    sources = sources if sources is not None else SourceCache()
    if text is None:
        return LoadResult(None, diagnostics, sources)
    return load_text(text, str(path), env, sources)


def load_text(text: str, path: str, env: str | None = None,
              sources: SourceCache | None = None) -> LoadResult:
    """Check source text as if it were the file at `path` (code paths are relative to it)."""
    sources = sources or SourceCache()
    sources.add(path, text)
    tree, diagnostics = parse_text(text, path)
    if tree is None or has_errors(diagnostics):
        return LoadResult(None, diagnostics, sources)
    app, check_diagnostics = check_file(tree, env)
    return LoadResult(app, diagnostics + check_diagnostics, sources)
